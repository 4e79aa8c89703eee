"""OpenAI's Conversations API over the conversation store: create, retrieve, update (metadata) and
delete conversations; list, add, retrieve and delete their items. The openai SDK is the judge of
every answer's shape (`Conversation`, `ConversationDeletedResource`, `ConversationItemList`,
`ConversationItem`).

Every call needs an API key with the `inference` scope, and sees only the conversations of the
key's owner in the key's environment (a sandbox key and a live key of one user have separate
histories): anyone else's id is a 404 exactly like an id that never existed. Bodies are read raw
(as every /v1 route does: the key is checked before the body is read) and checked field by field;
what the store refuses by its rules (a full conversation, an item over the size limit) is a 400
naming the field and the limit.

The helpers at the top (`principal`, `read_body`, `refusals`, `json_response`) are shared with
the chat sessions face (history/sessions_api.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gatewayz.accounts.principal import Principal
from gatewayz.errors import InvalidRequest, NotFound
from gatewayz.history.conversation_items import ConversationError
from gatewayz.history.conversation_rows import Conversation, StoredItem
from gatewayz.history.conversations import ConversationStore
from gatewayz.history.item_input import conversation_items, include_values
from gatewayz.history.session_input import only_fields
from gatewayz.history.session_shapes import title_from_items
from gatewayz.inference.request import read_json_object
from gatewayz.services import services

JSON = dict[str, Any]
SHOWN_ID = 128  # how much of an unknown id an error message repeats
T = TypeVar("T")


# -- shared with the sessions face -------------------------------------------------------------------


async def principal(request: Request) -> Principal:
    return await services(request).auth.authenticate(request, "inference")


def store(request: Request) -> ConversationStore:
    return services(request).conversations


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return length != "0" if length is not None else "transfer-encoding" in request.headers


async def read_body(request: Request, allowed: tuple[str, ...], *, optional: bool = False) -> JSON:
    """The JSON object body, with only `allowed` fields; an absent body is `{}` when `optional`."""
    if optional and not _has_body(request):
        return {}
    body = await read_json_object(request)
    only_fields(body, allowed)
    return body


@contextmanager
def refusals(origins: list[str] | None = None) -> Iterator[None]:
    """The store's refusals as 400s. `origins` renames `items[n]` to the request field item n
    came from (a chat message gives one or more items)."""
    try:
        yield
    except ConversationError as exc:
        param = exc.param
        if origins and param is not None:
            if param == "items":
                param = origins[0].partition("[")[0]
            elif param.startswith("items["):
                index = param[len("items[") :].partition("]")[0]
                if index.isdigit() and int(index) < len(origins):
                    param = origins[int(index)]
        raise InvalidRequest(str(exc), param=param, code=exc.code) from None


def not_found(what: str, value: str) -> NotFound:
    """The same answer for an id that never existed and for anyone else's (nothing is revealed)."""
    code = "item_not_found" if what == "Item" else "conversation_not_found"  # as history injection says it
    return NotFound(f"{what} with id '{value[:SHOWN_ID]}' not found.", code=code)


def found(value: T | None, what: str, value_id: str) -> T:
    """What the store found, or the 404 naming `what` when it found nothing."""
    if value is None:
        raise not_found(what, value_id)
    return value


async def delete_answer(request: Request, conversation_id: str, what: str, deleted_object: str) -> Response:
    """Delete a conversation (a session is one) and answer OpenAI's deleted-resource object."""
    who = await principal(request)
    if not await store(request).delete(who.user_id, who.environment, conversation_id):
        raise not_found(what, conversation_id)
    return json_response({"id": conversation_id, "object": deleted_object, "deleted": True})


# -- shapes -------------------------------------------------------------------------------------------


def conversation_object(conversation: Conversation) -> JSON:
    return {
        "id": conversation.id,
        "object": "conversation",
        "created_at": conversation.created_at,
        "metadata": conversation.metadata,
    }


def item_list(items: list[StoredItem], has_more: bool) -> JSON:
    """OpenAI's list page; `first_id`/`last_id` are null on an empty page."""
    return {
        "object": "list",
        "data": [stored.item for stored in items],
        "first_id": items[0].id if items else None,
        "last_id": items[-1].id if items else None,
        "has_more": has_more,
    }


# -- conversations ------------------------------------------------------------------------------------


async def create_conversation(request: Request) -> Response:
    """Create a conversation, with up to 20 initial items and metadata."""
    who = await principal(request)
    body = await read_body(request, ("items", "metadata"), optional=True)
    items = conversation_items(body.get("items"))
    with refusals():
        conversation = await store(request).create(
            who.user_id,
            who.environment,
            api_key_id=who.key_id,
            metadata=body.get("metadata"),
            items=items,
            title=title_from_items(items),
        )
    return json_response(conversation_object(conversation))


async def retrieve_conversation(request: Request, conversation_id: str) -> Response:
    """A conversation of the caller's."""
    who = await principal(request)
    conversation = await store(request).get(who.user_id, who.environment, conversation_id)
    if conversation is None:
        raise not_found("Conversation", conversation_id)
    return json_response(conversation_object(conversation))


async def update_conversation(request: Request, conversation_id: str) -> Response:
    """Replace a conversation's metadata."""
    who = await principal(request)
    body = await read_body(request, ("metadata",))
    if "metadata" not in body:
        raise InvalidRequest(
            "Missing required parameter: 'metadata'.", param="metadata", code="missing_required_parameter"
        )
    with refusals():
        conversation = await store(request).update(
            who.user_id, who.environment, conversation_id, metadata=body["metadata"]
        )
    return json_response(conversation_object(found(conversation, "Conversation", conversation_id)))


async def delete_conversation(request: Request, conversation_id: str) -> Response:
    """Delete a conversation and its items."""
    return await delete_answer(request, conversation_id, "Conversation", "conversation.deleted")


# -- items --------------------------------------------------------------------------------------------


async def list_items(
    request: Request, conversation_id: str, *, limit: int, order: str, after: str | None, include: list[str]
) -> Response:
    """A page of items, newest first unless `order=asc`; `after` is the last id of the previous page."""
    who = await principal(request)
    include_values(include)
    with refusals():
        page = await store(request).items(
            who.user_id, who.environment, conversation_id, limit=limit, after=after, order=order
        )
    if page is None:
        raise not_found("Conversation", conversation_id)
    return json_response(item_list(*page))


async def create_items(request: Request, conversation_id: str, *, include: list[str]) -> Response:
    """Append up to 20 items; answers them as stored (with their ids), as a list page."""
    who = await principal(request)
    include_values(include)
    body = await read_body(request, ("items",))
    items = conversation_items(body.get("items"), required=True)
    conversations = store(request)
    with refusals():
        stored = await conversations.append(who.user_id, who.environment, conversation_id, items)
    if stored is None:
        raise not_found("Conversation", conversation_id)
    await name_untitled(conversations, who, conversation_id, items)
    return json_response(item_list(stored, False))


async def name_untitled(
    conversations: ConversationStore, who: Principal, conversation_id: str, items: list[JSON]
) -> Conversation | None:
    """Give a conversation without a title one from the first user message just added. Returns
    the conversation when it was renamed."""
    title = title_from_items(items)
    if title is None:
        return None
    conversation = await conversations.get(who.user_id, who.environment, conversation_id)
    if conversation is None or conversation.title is not None:
        return None
    return await conversations.update(who.user_id, who.environment, conversation_id, title=title)


async def retrieve_item(request: Request, conversation_id: str, item_id: str, *, include: list[str]) -> Response:
    who = await principal(request)
    include_values(include)
    stored = await store(request).get_item(who.user_id, who.environment, conversation_id, item_id)
    if stored is None:
        raise not_found("Item", item_id)
    return json_response(stored.item)


async def delete_conversation_item(request: Request, conversation_id: str, item_id: str) -> Response:
    """Delete one item; answers the conversation."""
    # the answer is the conversation, as OpenAI's is
    who = await principal(request)
    conversations = store(request)
    if not await conversations.delete_item(who.user_id, who.environment, conversation_id, item_id):
        raise not_found("Item", item_id)
    conversation = await conversations.get(who.user_id, who.environment, conversation_id)
    if conversation is None:  # deleted meanwhile
        raise not_found("Conversation", conversation_id)
    return json_response(conversation_object(conversation))
