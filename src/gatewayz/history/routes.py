"""The history routes: OpenAI's Conversations API (`/v1/conversations...`) and the chat sessions
(`/v1/chat/sessions...`), two faces of one conversation store. The handlers live in
history/conversations_api.py and history/sessions_api.py, their documentation in
history/openapi_history.py. `/v1/chat/sessions/search` is declared before
`/v1/chat/sessions/{session_id}`, which would otherwise take it for an id."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from gatewayz.history import conversations_api as conversations
from gatewayz.history import openapi_history as docs
from gatewayz.history import sessions_api as sessions
from gatewayz.history.item_input import Includable
from gatewayz.history.tables import ID_LENGTH, MODEL_LENGTH
from gatewayz.http.params import QueryInt, Timestamp

router = APIRouter()
MAX_QUERY = 1000  # characters of a search query

Include = Query(None, description="Accepted as OpenAI defines it; the stored items already hold everything")
Brackets = Query(None, alias="include[]", include_in_schema=False)  # documented in openapi_history
PageLimit = Query(20, ge=1, le=100)
Cursor = Query(None, max_length=ID_LENGTH, description="The last id of the previous page")
_CONVERSATIONS = ["Conversations"]
_SESSIONS = ["Chat sessions"]


def _include(*given: list[Includable] | None) -> list[str]:
    return [value for values in given if values for value in values]


Handler = Callable[..., Awaitable[Response]]


def _route(
    method: str,
    path: str,
    extra: dict[str, Any],
    tags: list[str],
    *,
    status_code: int | None = None,
) -> Callable[[Handler], Handler]:
    """A history route's decorator: documented by `extra` (the answers are Responses: no response
    model). The handler's name makes the operation id, its docstring the description."""
    return router.api_route(
        path,
        methods=[method],
        tags=tags,
        openapi_extra=extra,
        response_model=None,
        status_code=status_code,
    )


def _forward(
    method: str, path: str, handler: Handler, extra: dict[str, Any], tags: list[str], status_code: int | None = None
) -> None:
    """Route `path` straight to `handler`, whose parameters are the request and the path's ids (a
    route with query parameters declares them in a function below)."""
    _route(method, path, extra, tags, status_code=status_code)(handler)


# -- the Conversations API ----------------------------------------------------------------------------


_forward("POST", "/v1/conversations", conversations.create_conversation, docs.CREATE_CONVERSATION, _CONVERSATIONS)
_forward(
    "GET",
    "/v1/conversations/{conversation_id}",
    conversations.retrieve_conversation,
    docs.CONVERSATION_OPERATION,
    _CONVERSATIONS,
)
_forward(
    "POST",
    "/v1/conversations/{conversation_id}",
    conversations.update_conversation,
    docs.UPDATE_CONVERSATION,
    _CONVERSATIONS,
)
_forward(
    "DELETE",
    "/v1/conversations/{conversation_id}",
    conversations.delete_conversation,
    docs.DELETE_CONVERSATION,
    _CONVERSATIONS,
)


@_route("GET", "/v1/conversations/{conversation_id}/items", docs.LIST_ITEMS, _CONVERSATIONS)
async def list_conversation_items(
    conversation_id: str,
    request: Request,
    limit: QueryInt = PageLimit,
    order: Literal["asc", "desc"] = "desc",
    after: str | None = Cursor,
    include: list[Includable] | None = Include,
    include_brackets: list[Includable] | None = Brackets,
) -> Response:
    """A page of a conversation's items, newest first unless `order=asc`."""
    return await conversations.list_items(
        request, conversation_id, limit=limit, order=order, after=after, include=_include(include, include_brackets)
    )


@_route("POST", "/v1/conversations/{conversation_id}/items", docs.CREATE_ITEMS, _CONVERSATIONS)
async def create_conversation_items(
    conversation_id: str,
    request: Request,
    include: list[Includable] | None = Include,
    include_brackets: list[Includable] | None = Brackets,
) -> Response:
    """Add up to 20 items at the end of a conversation."""
    return await conversations.create_items(request, conversation_id, include=_include(include, include_brackets))


@_route("GET", "/v1/conversations/{conversation_id}/items/{item_id}", docs.ITEM_OPERATION, _CONVERSATIONS)
async def retrieve_conversation_item(
    conversation_id: str,
    item_id: str,
    request: Request,
    include: list[Includable] | None = Include,
    include_brackets: list[Includable] | None = Brackets,
) -> Response:
    """One item of a conversation."""
    return await conversations.retrieve_item(
        request, conversation_id, item_id, include=_include(include, include_brackets)
    )


_forward(
    "DELETE",
    "/v1/conversations/{conversation_id}/items/{item_id}",
    conversations.delete_conversation_item,
    docs.DELETE_ITEM,
    _CONVERSATIONS,
)


# -- chat sessions ------------------------------------------------------------------------------------


_forward("POST", "/v1/chat/sessions", sessions.create_session, docs.CREATE_SESSION, _SESSIONS, status_code=201)


@_route("GET", "/v1/chat/sessions", docs.LIST_SESSIONS, _SESSIONS)
async def list_sessions(
    request: Request,
    limit: QueryInt = PageLimit,
    after: str | None = Cursor,
    q: str | None = Query(None, max_length=MAX_QUERY, description="Words the title or a message must hold"),
    model: str | None = Query(None, max_length=MODEL_LENGTH, description="Sessions whose last model is this"),
    since: Timestamp | None = Query(None, description="Updated at or after (RFC 3339)"),
    until: Timestamp | None = Query(None, description="Updated before (RFC 3339)"),
) -> Response:
    """The caller's sessions, newest-updated first."""
    return await sessions.list_sessions(request, limit=limit, after=after, q=q, model=model, since=since, until=until)


@_route("GET", "/v1/chat/sessions/search", docs.SEARCH_SESSIONS, _SESSIONS)
async def search_sessions(
    request: Request,
    q: str = Query(..., min_length=1, max_length=MAX_QUERY, description="Words to find (all of them)"),
    limit: QueryInt = PageLimit,
) -> Response:
    """Full-text search across all of the caller's sessions, with snippets."""
    return await sessions.search_sessions(request, q=q, limit=limit)


_forward("GET", "/v1/chat/sessions/{session_id}", sessions.get_session, docs.SESSION_OPERATION, _SESSIONS)
_forward("PATCH", "/v1/chat/sessions/{session_id}", sessions.update_session, docs.UPDATE_SESSION, _SESSIONS)
_forward("DELETE", "/v1/chat/sessions/{session_id}", sessions.delete_session, docs.DELETE_SESSION, _SESSIONS)
_forward(
    "POST",
    "/v1/chat/sessions/{session_id}/messages",
    sessions.append_messages,
    docs.APPEND_MESSAGES,
    _SESSIONS,
    status_code=201,
)


@_route("GET", "/v1/chat/sessions/{session_id}/export", docs.EXPORT_SESSION, _SESSIONS)
async def export_session(
    session_id: str,
    request: Request,
    format: Literal["json", "markdown"] = "json",
) -> Response:
    """Download a session: JSON (re-importable) or a Markdown transcript."""
    return await sessions.export_session(request, session_id, format=format)
