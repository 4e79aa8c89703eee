"""Reading a request body into the internal (chat) model, per face: the `prepare` step of the pipeline.

A prepare returns the chat body, the model, and facts for the face's context; facts under
"state" go onto the call for later stages (the history stage reads `state["history"]`).
"""

from __future__ import annotations

from typing import Any

from gatewayz.accounts.principal import Principal
from gatewayz.errors import InvalidRequest
from gatewayz.history.stage import HistoryRequest, conversation_ref, parse_history_options
from gatewayz.history.turns import chat_items
from gatewayz.inference import request as parse
from gatewayz.inference.faces import messages_request

JSON = dict[str, Any]


HISTORY_FIELDS = ("session_id", "conversation", "history")  # the gateway's own: never forwarded


def prepare_chat_history(raw: JSON) -> tuple[JSON, str, JSON]:
    """`session_id` (or `conversation`) and `history` on a chat request: the body without them,
    and what the history stage is to do."""
    body = {k: v for k, v in raw.items() if k not in HISTORY_FIELDS}
    model = parse.check_chat(body)
    param = "session_id" if "session_id" in raw else "conversation"
    if raw.get(param) is None:
        raise InvalidRequest("'history' needs a 'session_id'.", param="session_id",
                             code="missing_required_parameter")
    messages = body["messages"]
    request = HistoryRequest(
        conversation_ref(raw[param], param), param,
        new_items=chat_items(messages[_leading_system(messages):]),
        summarize=parse_history_options(raw.get("history")),
    )
    return body, model, {"state": {"history": request}}


def _leading_system(messages: list[JSON]) -> int:
    count = 0
    while count < len(messages) and messages[count].get("role") in ("system", "developer"):
        count += 1
    return count


async def prepare_chat(principal: Principal, raw: JSON) -> tuple[JSON, str, JSON]:
    if "session_id" in raw or "conversation" in raw or "history" in raw:
        return prepare_chat_history(raw)
    return raw, parse.check_chat(raw), {}


async def prepare_embeddings(principal: Principal, raw: JSON) -> tuple[JSON, str, JSON]:
    for name in HISTORY_FIELDS:
        if name in raw:
            raise InvalidRequest(f"'{name}' is for chat requests; embeddings have no history.", param=name,
                                 code="unsupported_parameter")
    return raw, parse.check_embeddings(raw), {}


async def prepare_messages(principal: Principal, raw: JSON) -> tuple[JSON, str, JSON]:
    body = messages_request.to_chat(raw)
    return body, body["model"], {}
