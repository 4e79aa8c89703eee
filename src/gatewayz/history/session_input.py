"""Bodies of the chat sessions face, checked: unknown fields, session settings, and messages in
Chat Completions form turned into conversation items (history/turns.py `message_items`).

`message_items` drops what it cannot store without a word (it also reads answers), so every
message is checked here first, in OpenAI's wording, and a refusal names the field
(`messages[2].content[0].image_url.url`). What is accepted is exactly what it converts: system,
developer, user, assistant and tool messages; text, image and inline file parts (user messages);
function tool calls.
"""

from __future__ import annotations

from typing import Any

from gatewayz.errors import InvalidRequest
from gatewayz.history.item_input import array_length, conversation_items
from gatewayz.history.turns import message_items
from gatewayz.inference.faces.responses_checks import invalid_choice, invalid_type, missing, string

JSON = dict[str, Any]

MAX_MESSAGES_PER_CALL = 100
SETTINGS = {"summarize": bool}  # the settings a session keeps (history injection reads them)
CHAT_ROLES = ("system", "developer", "user", "assistant", "tool")
_PARTS = {"user": ("text", "image_url", "file"), "assistant": ("text", "refusal")}
_IMAGE_DETAILS = ("auto", "low", "high")


def only_fields(body: JSON, allowed: tuple[str, ...], parent: str = "") -> None:
    """OpenAI refuses parameters it does not know rather than ignore a typo."""
    for key in body:
        if key not in allowed:
            param = f"{parent}.{key}" if parent else key
            raise InvalidRequest(f"Unknown parameter: '{param[:200]}'.", param=param[:200], code="unknown_parameter")


def session_settings(value: Any) -> dict[str, Any] | None:
    """`settings`: an object of known settings (None clears them all)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_type("settings", "an object", value)
    only_fields(value, tuple(SETTINGS), "settings")
    for key, kind in SETTINGS.items():
        if key in value and not isinstance(value[key], kind):
            raise invalid_type(f"settings.{key}", "a boolean", value[key])
    return value


def given_items(body: JSON, *, required: bool) -> tuple[list[JSON], list[str]]:
    """The items of `messages` (chat form) or `items` (Conversations form), at most one of them;
    with, for each item, the field it came from (to name it when the store refuses the item)."""
    if body.get("messages") is not None and body.get("items") is not None:
        raise InvalidRequest("Give either 'messages' or 'items', not both.", param="items", code="invalid_value")
    if body.get("items") is not None:
        items = conversation_items(body["items"], required=required)
        return items, [f"items[{n}]" for n in range(len(items))]
    value = body.get("messages")
    if value is None:
        if required:
            raise missing("messages")
        return [], []
    if not isinstance(value, list):
        raise invalid_type("messages", "an array of messages", value)
    array_length("messages", value, 1 if required else 0, MAX_MESSAGES_PER_CALL)
    items: list[JSON] = []
    origins: list[str] = []
    for index, message in enumerate(value):
        param = f"messages[{index}]"
        converted = message_items(_checked(message, param))
        if not converted:
            raise InvalidRequest(f"'{param}' has nothing to store: give it text, parts or tool calls.",
                                 param=f"{param}.content", code="invalid_value")
        items += converted
        origins += [param] * len(converted)
    return items, origins


def _checked(message: Any, param: str) -> JSON:
    if not isinstance(message, dict):
        raise invalid_type(param, "an object", message)
    role = message.get("role")
    if role not in CHAT_ROLES:
        raise missing(f"{param}.role") if role is None else invalid_choice(f"{param}.role", role, CHAT_ROLES)
    for field in ("name", "tool_call_id"):  # whatever the role: a client sending junk has a bug
        if message.get(field) is not None and not isinstance(message[field], str):
            raise invalid_type(f"{param}.{field}", "a string", message[field])
    if message.get("refusal") is not None and not isinstance(message["refusal"], str):
        raise invalid_type(f"{param}.refusal", "a string", message["refusal"])
    if message.get("tool_calls") is not None and not isinstance(message["tool_calls"], list):
        raise invalid_type(f"{param}.tool_calls", "an array", message["tool_calls"])
    if role == "assistant":
        return _assistant(message, param)
    if role == "tool":
        string(message, "tool_call_id", param, non_empty=True)
    _content(message.get("content"), f"{param}.content", _PARTS.get(role, ("text",)), required=True)
    return message


def _assistant(message: JSON, param: str) -> JSON:
    """Refusal parts become the message's `refusal` (how `message_items` keeps them)."""
    content = message.get("content")
    _content(content, f"{param}.content", _PARTS["assistant"], required=False)
    refusal = message.get("refusal")
    calls = message.get("tool_calls")
    if calls is not None:
        for index, call in enumerate(calls):
            where = f"{param}.tool_calls[{index}]"
            if not isinstance(call, dict):
                raise invalid_type(where, "an object", call)
            string(call, "id", where, non_empty=True)
            if call.get("type", "function") != "function":
                raise invalid_choice(f"{where}.type", call.get("type"), ("function",))
            function = call.get("function")
            if not isinstance(function, dict):
                raise missing(f"{where}.function") if function is None else invalid_type(
                    f"{where}.function", "an object", function)
            string(function, "name", f"{where}.function", non_empty=True)
            string(function, "arguments", f"{where}.function")
    if isinstance(content, list):
        refusals = [p["refusal"] for p in content if p.get("type") == "refusal"]
        if refusals:
            message = {**message, "content": [p for p in content if p.get("type") != "refusal"],
                       "refusal": "".join([refusal or "", *refusals])}
    return message


def _content(content: Any, param: str, allowed: tuple[str, ...], *, required: bool) -> None:
    if content is None:
        if required:
            raise missing(param)
        return
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise invalid_type(param, "a string or an array of content parts", content)
    for index, part in enumerate(content):
        where = f"{param}[{index}]"
        if not isinstance(part, dict):
            raise invalid_type(where, "an object", part)
        kind = part.get("type")
        if kind not in allowed:
            raise missing(f"{where}.type") if kind is None else invalid_choice(f"{where}.type", kind, allowed)
        if kind in ("text", "refusal"):
            string(part, kind, where)
        elif kind == "image_url":
            _image(part.get("image_url"), f"{where}.image_url")
        else:
            _file(part.get("file"), f"{where}.file")


def _image(image: Any, param: str) -> None:
    if isinstance(image, str) and image:
        return
    if not isinstance(image, dict):
        raise missing(param) if image is None else invalid_type(param, "an object", image)
    string(image, "url", param, non_empty=True)
    detail = image.get("detail")
    if detail is not None and detail not in _IMAGE_DETAILS:
        raise invalid_choice(f"{param}.detail", detail, _IMAGE_DETAILS)


def _file(file: Any, param: str) -> None:
    if not isinstance(file, dict):
        raise missing(param) if file is None else invalid_type(param, "an object", file)
    if file.get("file_data") is None and file.get("file_id") is not None:
        raise InvalidRequest("Files by 'file_id' are not supported by this gateway (it has no file store); send "
                             "'file_data' (a base64 data URL) instead.", param=f"{param}.file_id",
                             code="unsupported_value")
    string(file, "file_data", param, non_empty=True)
    if file.get("filename") is not None:
        string(file, "filename", param)
