"""The chat sessions face (`/v1/chat/sessions`): conversations as chat apps and the dashboard use
them. Same store, same ids, same isolation as the Conversations API (history/conversations_api.py):
a session made here is a conversation there, and the reverse.

- create: `title`, `model`, `metadata`, `settings`, and optionally the first `messages` (chat
  form) or `items`; without a title, the first user message's words become it.
- list: newest-updated first, `limit` with an `after` cursor (the last id of the previous page),
  filtered by `q` (full text over titles and messages), `model` and `since`/`until` (RFC 3339,
  on `updated_at`: since inclusive, until exclusive).
- search: across all of the caller's sessions, one hit per session with a snippet (`**` marks
  the words found).
- get (with every message), patch (`title`, `metadata`, `settings`; metadata and settings are
  replaced whole, null clears), delete.
- messages: append without inference, in chat form (`messages`) or as items.
- export: a download, JSON (re-importable through `POST /v1/conversations`) or Markdown.
Shapes: history/session_shapes.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gatewayz.history.conversation_rows import Conversation
from gatewayz.history.conversations import UNSET
from gatewayz.history.conversations_api import (
    delete_answer,
    found,
    json_response,
    name_untitled,
    not_found,
    principal,
    read_body,
    refusals,
    store,
)
from gatewayz.history.session_input import given_items, session_settings
from gatewayz.history.session_shapes import (
    export_json,
    export_markdown,
    session_message,
    session_object,
    title_from_items,
)

JSON = dict[str, Any]
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)  # no session is older; earlier bounds are clamped to it


def _clamped(moment: datetime | None) -> datetime | None:
    return None if moment is None else max(moment, EARLIEST)


def _page(conversations: list[Conversation], has_more: bool) -> JSON:
    return {
        "object": "list",
        "data": [session_object(c) for c in conversations],
        "first_id": conversations[0].id if conversations else None,
        "last_id": conversations[-1].id if conversations else None,
        "has_more": has_more,
    }


async def create_session(request: Request) -> Response:
    """Create a chat session (title, model, metadata, settings; optionally its first messages)."""
    who = await principal(request)
    body = await read_body(request, ("title", "model", "metadata", "settings", "messages", "items"), optional=True)
    items, origins = given_items(body, required=False)
    settings = session_settings(body.get("settings"))
    title = body.get("title")
    conversations = store(request)
    with refusals(origins):
        conversation = await conversations.create(
            who.user_id,
            who.environment,
            api_key_id=who.key_id,
            title=title_from_items(items) if title is None else title,
            model=body.get("model"),
            metadata=body.get("metadata"),
            settings=settings,
            items=items,
        )
    messages: list[JSON] = []
    if items:
        pair = await conversations.all_items(who.user_id, who.environment, conversation.id)
        messages = [session_message(stored) for stored in pair[1]] if pair else []
    return json_response({**session_object(conversation), "messages": messages}, 201)


async def list_sessions(
    request: Request,
    *,
    limit: int,
    after: str | None,
    q: str | None,
    model: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Response:
    who = await principal(request)
    with refusals():
        page, more = await store(request).list(
            who.user_id,
            who.environment,
            limit=limit,
            after=after,
            q=q,
            model=model,
            since=_clamped(since),
            until=_clamped(until),
        )
    return json_response(_page(page, more))


async def search_sessions(request: Request, *, q: str, limit: int) -> Response:
    """One hit per session, newest-updated first: the session, the item that matched (null: the
    title did) and a snippet."""
    who = await principal(request)
    with refusals():
        hits = await store(request).search(who.user_id, who.environment, q, limit=limit + 1)
    data = [
        {"session": session_object(hit.conversation), "item_id": hit.item_id, "snippet": hit.snippet}
        for hit in hits[:limit]
    ]
    return json_response({"object": "list", "data": data, "has_more": len(hits) > limit})


async def get_session(request: Request, session_id: str) -> Response:
    """A session with all its messages."""
    who = await principal(request)
    pair = await store(request).all_items(who.user_id, who.environment, session_id)
    if pair is None:
        raise not_found("Session", session_id)
    conversation, items = pair
    return json_response({**session_object(conversation), "messages": [session_message(s) for s in items]})


async def update_session(request: Request, session_id: str) -> Response:
    """Change a session's title, metadata or settings."""
    who = await principal(request)
    body = await read_body(request, ("title", "metadata", "settings"))
    changes: JSON = {name: body[name] for name in ("title", "metadata") if name in body}
    if "settings" in body:
        changes["settings"] = session_settings(body["settings"])
    with refusals():
        conversation = await store(request).update(
            who.user_id,
            who.environment,
            session_id,
            title=changes.get("title", UNSET),
            metadata=changes.get("metadata", UNSET),
            settings=changes.get("settings", UNSET),
        )
    return json_response(session_object(found(conversation, "Session", session_id)))


async def delete_session(request: Request, session_id: str) -> Response:
    """Delete a session and its messages."""
    return await delete_answer(request, session_id, "Session", "chat.session.deleted")


async def append_messages(request: Request, session_id: str) -> Response:
    """Append messages (chat form) or items, without calling a model."""
    # `model` records which model wrote the assistant messages (and becomes the session's model)
    who = await principal(request)
    body = await read_body(request, ("messages", "items", "model"))
    items, origins = given_items(body, required=True)
    conversations = store(request)
    with refusals(origins):
        stored = await conversations.append(who.user_id, who.environment, session_id, items, model=body.get("model"))
    if stored is None:
        raise not_found("Session", session_id)
    conversation = await name_untitled(conversations, who, session_id, items) or await conversations.get(
        who.user_id, who.environment, session_id
    )
    if conversation is None:  # deleted meanwhile
        raise not_found("Session", session_id)
    return json_response(
        {"object": "list", "data": [session_message(s) for s in stored], "session": session_object(conversation)}, 201
    )


async def export_session(request: Request, session_id: str, *, format: str) -> Response:
    who = await principal(request)
    pair = await store(request).all_items(who.user_id, who.environment, session_id)
    if pair is None:
        raise not_found("Session", session_id)
    conversation, items = pair
    if format == "markdown":
        content, media, suffix = export_markdown(conversation, items).encode(), "text/markdown; charset=utf-8", "md"
    else:
        content, media, suffix = export_json(conversation, items), "application/json", "json"
    return Response(
        content, media_type=media, headers={"content-disposition": f'attachment; filename="{conversation.id}.{suffix}"'}
    )
