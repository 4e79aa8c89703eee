"""Items a client gives the Conversations API (`POST /v1/conversations`, `.../items`), checked and
put in the shapes the API answers with (the openai SDK's `ConversationItem`).

They are Responses input items, so they are read by the Responses face's own reader
(`faces.responses_items.chat_messages`): whatever a conversation holds can later be replayed as
the earlier turns of a request, and a refusal here reads as it does on `POST /v1/responses`, in
OpenAI's wording, with the field named from `items` (`items[0].content[1].type`). The listed
shape comes from the same face (`responses_answer.input_items`: ids kept, `status` and the full
content part forms filled in); a valid `status` or `phase` the client gave is kept.

Accepted: `message` (user, system, developer, assistant; string or part content), `function_call`,
`function_call_output` and `reasoning` items. Refused (400 naming `items[n].type`): item references
and the hosted tools' items, which no chat provider can be given. Not kept: output text
annotations and logprobs, prompt-cache hints (they describe one request, not the conversation).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from gatewayz.errors import InvalidRequest
from gatewayz.inference.faces.responses_answer import input_items
from gatewayz.inference.faces.responses_checks import invalid_choice, invalid_type, invalid_value, string
from gatewayz.inference.faces.responses_items import chat_messages

JSON = dict[str, Any]

MAX_ITEMS_PER_CALL = 20  # "You may add up to 20 items at a time" (OpenAI's reference)
STATUSES = ("in_progress", "completed", "incomplete")
PHASES = ("commentary", "final_answer")
Includable = Literal[  # OpenAI's ResponseIncludable
    "file_search_call.results", "web_search_call.results", "web_search_call.action.sources",
    "message.input_image.image_url", "computer_call_output.output.image_url", "code_interpreter_call.outputs",
    "reasoning.encrypted_content", "message.output_text.logprobs",
]  # fmt: skip
INCLUDABLE: tuple[str, ...] = get_args(Includable)


def array_length(param: str, value: list[Any], low: int, high: int) -> None:
    """OpenAI's `empty_array` / `array_above_max_length` refusals."""
    if len(value) < low:
        raise InvalidRequest(
            f"Invalid '{param}': empty array. Expected an array with minimum length {low}, "
            "but got an empty array instead.", param=param, code="empty_array")
    if len(value) > high:
        raise InvalidRequest(
            f"Invalid '{param}': array too long. Expected an array with maximum length {high}, "
            f"but got an array with length {len(value)} instead.", param=param, code="array_above_max_length")


def conversation_items(value: Any, param: str = "items", *, required: bool = False) -> list[JSON]:
    """The checked items of a request, in their listed shapes (ids still missing where the
    client gave none: the store makes them). None (or absent) is no items unless `required`."""
    if value is None:
        if required:
            raise InvalidRequest(f"Missing required parameter: '{param}'.", param=param,
                                 code="missing_required_parameter")
        return []
    if not isinstance(value, list):
        raise invalid_type(param, "an array of items", value)
    array_length(param, value, 1 if required else 0, MAX_ITEMS_PER_CALL)
    for index, item in enumerate(value):
        _check_envelope(item, f"{param}[{index}]")
    try:
        chat_messages({"input": value}, None)
    except InvalidRequest as exc:
        if exc.param != "input":  # "missing input": only reasoning items, which is fine here
            raise _renamed(exc, param) from None
    return [_listed(item) for item in value]


def _check_envelope(item: Any, param: str) -> None:
    """What the chat reader does not look at but a stored item must get right."""
    if not isinstance(item, dict):
        raise invalid_type(param, "an object", item)
    given = item.get("id")
    if given is not None and (not isinstance(given, str) or not given):
        raise invalid_type(f"{param}.id", "a non-empty string", given)
    for field, allowed in (("status", STATUSES), ("phase", PHASES)):
        value = item.get(field)
        if value is not None and value not in allowed:
            raise invalid_value(f"{param}.{field}", value, allowed)
    if item.get("type") == "reasoning":
        _check_reasoning(item, param)


def _check_reasoning(item: JSON, param: str) -> None:
    """The chat reader drops reasoning items, so their fields are checked here."""
    for field, kind in (("summary", "summary_text"), ("content", "reasoning_text")):
        parts = item.get(field)
        if parts is None:
            continue
        if not isinstance(parts, list):
            raise invalid_type(f"{param}.{field}", "an array", parts)
        for index, part in enumerate(parts):
            where = f"{param}.{field}[{index}]"
            if not isinstance(part, dict):
                raise invalid_type(where, "an object", part)
            if part.get("type") != kind:
                raise invalid_choice(f"{where}.type", part.get("type"), (kind,))
            string(part, "text", where)
    encrypted = item.get("encrypted_content")
    if encrypted is not None and not isinstance(encrypted, str):
        raise invalid_type(f"{param}.encrypted_content", "a string", encrypted)


def _listed(item: JSON) -> JSON:
    (listed,) = input_items({"input": [item]})
    listed = {key: value for key, value in listed.items() if not (key == "id" and item.get("id") is None)}
    if item.get("status") is not None:
        listed["status"] = item["status"]
    if item.get("phase") is not None and listed.get("role") == "assistant":
        listed["phase"] = item["phase"]
    return listed


def _renamed(exc: InvalidRequest, param: str) -> InvalidRequest:
    """The Responses reader names fields from `input`; here they are under `param`."""
    old = exc.param or ""
    new = param + old[len("input"):] if old.startswith("input") else old or None
    message = exc.message.replace(f"'{old}", f"'{new}") if old and new else exc.message
    return InvalidRequest(message, param=new, code=exc.code)


def include_values(values: list[str], param: str = "include") -> list[str]:
    """`include` is accepted as OpenAI defines it; the stored items already hold what it can add."""
    for index, value in enumerate(values):
        if value not in INCLUDABLE:
            raise invalid_value(f"{param}[{index}]", value, INCLUDABLE)
    return values
