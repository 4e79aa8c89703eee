"""Responses' stored state: `store`, `previous_response_id`, and the retrieve/delete/input_items reads.

The earlier turns of a `previous_response_id` chain are rebuilt from the gateway's own store
(history domain) before admission, so the credit hold and token limits see the whole prompt,
and so multi-turn state works on providers that have no Responses API at all. A user only ever
sees their own responses (another user's id, or a sandbox id from a live key, is a 404).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gatewayz.accounts.auth import Authenticator
from gatewayz.accounts.principal import Principal
from gatewayz.errors import InvalidRequest, NotFound
from gatewayz.history.responses import ResponseStore, StoredResponseRecord
from gatewayz.history.stage import HistoryRequest, conversation_ref
from gatewayz.inference.faces import responses_request
from gatewayz.inference.faces.base import StreamRenderer
from gatewayz.inference.pipeline import InferenceCall

JSON = dict[str, Any]
MAX_ID_LENGTH = 128
PAGE_DEFAULT, PAGE_MAX = 20, 100
MISS_RETRY_DELAYS = (0.05, 0.2)  # a stored response another process has answered but not yet written
T = TypeVar("T")


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _response_id(value: Any, param: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH or not value.isprintable():
        raise InvalidRequest(f"'{param}' must be a response id (resp_...).", param=param, code="invalid_value")
    return value


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id[:MAX_ID_LENGTH]}' not found.", code=None)


class ResponsesState:
    def __init__(self, store: ResponseStore, auth: Authenticator) -> None:
        self.store = store
        self.auth = auth
        self._pending: dict[str, asyncio.Future[None]] = {}  # saves still running, by response id

    # -- the pipeline's side -------------------------------------------------------------------

    async def prepare(self, principal: Principal, raw: JSON) -> tuple[JSON, str, JSON]:
        """The chat body of a Responses request, with the earlier turns of its chain (or of its
        conversation: the history stage injects those, and appends this turn afterwards)."""
        if raw.get("conversation") is not None:
            return self._in_conversation(raw)
        previous = raw.get("previous_response_id")
        earlier: list[JSON] | None = None
        if previous is not None:
            previous = _response_id(previous, "previous_response_id")
            earlier = await self._found(
                lambda: self.store.earlier_items(principal.user_id, principal.environment, previous), previous
            )
            if earlier is None:
                raise InvalidRequest(f"Previous response with id '{previous}' not found.",
                                     param="previous_response_id", code="previous_response_not_found")
        body = responses_request.to_chat(raw, earlier)
        return body, body["model"], {"previous_response_id": previous, "store": raw.get("store") is not False}

    def _in_conversation(self, raw: JSON) -> tuple[JSON, str, JSON]:
        if raw.get("previous_response_id") is not None:
            raise InvalidRequest("'previous_response_id' and 'conversation' cannot be used together.",
                                 param="conversation", code="invalid_value")
        own = {k: v for k, v in raw.items() if k != "conversation"}
        body = responses_request.to_chat(own)
        turn = HistoryRequest(conversation_ref(raw["conversation"], "conversation"), "conversation",
                              new_items=responses_request.input_items(own))
        if turn.conversation == "new":
            raise InvalidRequest("'conversation' must name an existing conversation (create one with "
                                 "POST /v1/conversations).", param="conversation", code="invalid_value")
        return body, body["model"], {"previous_response_id": None, "store": raw.get("store") is not False,
                                     "state": {"history": turn}}

    async def keep(self, call: InferenceCall, answer: JSON) -> None:
        """Store the answer (and its input items) unless the request said `store: false`.

        The save runs after the answer has gone out (it is not on the client's latency path): a
        read of the id in this process waits for it (`_saved`), one in another process that
        comes too early is retried briefly before it is a 404; a save the database cannot take
        is kept in the spool (ResponseStore.save)."""
        ctx = call.face_ctx
        if not ctx.extra.get("store") or not answer:
            return
        task = asyncio.ensure_future(self._save(call, answer))
        self._pending[ctx.response_id] = task
        task.add_done_callback(lambda _: self._pending.pop(ctx.response_id, None))

    async def _save(self, call: InferenceCall, answer: JSON) -> None:
        ctx, principal = call.face_ctx, call.principal
        await self.store.save(StoredResponseRecord(
            id=ctx.response_id,
            user_id=principal.user_id,
            api_key_id=principal.key_id,
            environment=principal.environment,
            model=call.model,
            status=str(answer.get("status") or "completed"),
            previous_response_id=ctx.extra.get("previous_response_id"),
            created_at=ctx.created,
            response=answer,
            input_items=responses_request.input_items(ctx.request),
        ))

    async def at_stream_end(self, call: InferenceCall, renderer: StreamRenderer) -> None:
        await self.keep(call, renderer.result())

    async def _saved(self, response_id: str) -> None:
        """Wait for this process's save of the id, if one is still running."""
        pending = self._pending.get(response_id)
        if pending is not None:
            await asyncio.shield(pending)

    async def _found(self, lookup: Callable[[], Awaitable[T | None]], response_id: str) -> T | None:
        """A stored response read right after it was answered by another process may not be
        written yet: a miss on one of our ids is looked up again shortly before it counts."""
        await self._saved(response_id)
        found = await lookup()
        if found is None and response_id.startswith("resp_"):
            for delay in MISS_RETRY_DELAYS:
                await asyncio.sleep(delay)
                found = await lookup()
                if found is not None:
                    break
        return found

    async def drain(self) -> None:
        """At shutdown: let pending saves complete."""
        if self._pending:
            await asyncio.gather(*list(self._pending.values()), return_exceptions=True)

    # -- the HTTP reads --------------------------------------------------------------------------

    async def _record(self, request: Request, response_id: str) -> tuple[Principal, StoredResponseRecord]:
        principal = await self.auth.authenticate(request, "inference")
        record = None
        if len(response_id) <= MAX_ID_LENGTH:
            record = await self._found(
                lambda: self.store.get(principal.user_id, principal.environment, response_id), response_id
            )
        if record is None:
            raise _not_found(response_id)
        return principal, record

    async def retrieve(self, request: Request, response_id: str) -> Response:
        _, record = await self._record(request, response_id)
        return _json(record.response)

    async def delete(self, request: Request, response_id: str) -> Response:
        principal, record = await self._record(request, response_id)
        await self.store.delete(principal.user_id, principal.environment, record.id)
        return _json({"id": record.id, "object": "response.deleted", "deleted": True})

    async def input_items(
        self, request: Request, response_id: str, *, limit: int, order: str, after: str | None
    ) -> Response:
        """OpenAI's list page: newest first by default, `after` an item id of the previous page."""
        _, record = await self._record(request, response_id)
        items = record.input_items if order == "asc" else record.input_items[::-1]
        start = 0
        if after is not None:
            positions = [n for n, item in enumerate(items) if item.get("id") == after]
            if not positions:
                raise InvalidRequest(f"No input item with id '{after[:MAX_ID_LENGTH]}'.", param="after",
                                     code="invalid_value")
            start = positions[0] + 1
        page = items[start:start + limit]
        return _json({
            "object": "list",
            "data": page,
            "first_id": page[0].get("id") if page else None,
            "last_id": page[-1].get("id") if page else None,
            "has_more": start + limit < len(items),
        })
