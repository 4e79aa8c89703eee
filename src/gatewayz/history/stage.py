"""History injection: the pipeline stage that sends a conversation's earlier turns along.

A request names a conversation (`session_id` / `conversation` on chat completions, `conversation`
on Responses). Before rate limits and the credit hold (so both count the injected tokens), this
stage loads the conversation, trims its earlier messages to the model's context window (newest
kept, a tool call never separated from its result), optionally replaces the trimmed-away prefix
by a summary, and puts them after the request's own system messages. After a successful answer
the service calls `record`, which appends the turn (the request's new items and the answer) in
one transaction, off the client's latency path, durably (retried, then spooled).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from gatewayz.accounts.principal import Principal
from gatewayz.billing.pricing import max_completion_tokens
from gatewayz.errors import InvalidRequest, NotFound
from gatewayz.history.conversation_items import ConversationError
from gatewayz.history.conversations import Conversation, ConversationStore
from gatewayz.history.history_cache import History, HistoryCache
from gatewayz.history.trim import context_length_of, history_budget, trim_history
from gatewayz.inference.estimate import estimate_prompt, message_count
from gatewayz.inference.pipeline import InferenceCall
from gatewayz.providers.catalog import Catalog
from gatewayz.settings import Settings

log = structlog.get_logger("gatewayz.history")
JSON = dict[str, Any]
Summarizer = Callable[[Principal, list[JSON], str | None], Awaitable[str | None]]
TITLE_LENGTH = 80
SUMMARY_PREFIX = "Summary of the earlier part of this conversation:\n"


@dataclass(slots=True)
class HistoryRequest:
    """What a face asked of history for one request (set on call.state["history"] at parse)."""

    conversation: str  # a conversation id, or "new"
    param: str  # the request field that named it (for errors): "session_id", "conversation"
    new_items: list[JSON]  # this turn's input as items, stored once the answer is in
    summarize: bool | None = None  # None: the conversation's own setting
    conversation_id: str | None = None  # resolved by admit
    sent: int = 0
    trimmed: int = 0
    extra: JSON = field(default_factory=dict)


def parse_history_options(value: Any) -> bool | None:
    """The `history` request field: `{"summarize": bool}`."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"summarize"}:
        raise InvalidRequest("'history' must be an object with at most 'summarize' (a boolean).", param="history",
                             code="invalid_value")
    summarize = value.get("summarize")
    if summarize is not None and not isinstance(summarize, bool):
        raise InvalidRequest("'history.summarize' must be a boolean.", param="history.summarize", code="invalid_type")
    return summarize


def conversation_ref(value: Any, param: str) -> str:
    if isinstance(value, dict):  # Responses also takes {"id": "conv_..."}
        value = value.get("id")
    if not isinstance(value, str) or not value or len(value) > 128 or not value.isprintable():
        raise InvalidRequest(f"'{param}' must be a conversation id (conv_...) or \"new\".", param=param,
                             code="invalid_value")
    return value


def title_from(items: list[JSON]) -> str | None:
    """A session's title from its first user message: its first line, cut at a word."""
    for item in items:
        if item.get("type") == "message" and item.get("role") == "user":
            for part in item.get("content") or ():
                text = part.get("text") if isinstance(part, dict) else None
                if isinstance(text, str) and text.strip():
                    line = text.strip().splitlines()[0]
                    if len(line) <= TITLE_LENGTH:
                        return line
                    cut = line[:TITLE_LENGTH].rsplit(" ", 1)[0] or line[:TITLE_LENGTH]
                    return cut + "…"
    return None


def _split_system(messages: list[JSON]) -> int:
    """How many leading system/developer messages the request has (history goes after them)."""
    count = 0
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ("system", "developer"):
            break
        count += 1
    return count


class HistoryStage:
    def __init__(self, store: ConversationStore, catalog: Catalog, settings: Settings) -> None:
        self.store = store
        self.cache = HistoryCache(settings.history_cache_mb * 1024 * 1024)
        self.catalog = catalog
        self.settings = settings
        self.summarizer: Summarizer | None = None  # bound by the inference service (it runs the summary call)
        self._background: set[asyncio.Task[Any]] = set()
        self._appending: dict[str, asyncio.Task[Any]] = {}  # conversation id -> its latest append

    # -- before the provider call ----------------------------------------------------------------

    async def admit(self, call: InferenceCall) -> None:
        request: HistoryRequest | None = call.state.get("history")
        if request is None:
            return
        principal = call.principal
        if request.conversation == "new":
            try:
                conversation = await self.store.create(
                    principal.user_id, principal.environment, api_key_id=principal.key_id,
                    title=title_from(request.new_items), model=call.model,
                )
            except ConversationError as exc:
                raise InvalidRequest(exc.message, param=exc.param or request.param) from exc
            history = self.cache.put(conversation.id, conversation.items_version, [], 0)
        else:
            await self._appended(request.conversation)
            conversation, history = await self._history(principal, request)
        request.conversation_id = conversation.id
        call.headers["x-gatewayz-session-id"] = conversation.id
        if conversation.item_count + len(request.new_items) + 1 > self.store.max_items:
            raise InvalidRequest(
                f"The conversation is full: it holds at most {self.store.max_items} items.",
                param=request.param, code="conversation_full",
            )
        messages = call.body.get("messages") or []
        head = _split_system(messages)
        budget = history_budget(
            self._context_length(call),
            max_tokens=max_completion_tokens(call.body, self.settings.history_answer_tokens),
            fixed_tokens=call.prompt_estimate().tokens,  # messages, tools, schemas: as the hold counts
            margin=self.settings.history_margin_tokens,
        )
        trimmed = trim_history(history.messages, budget=budget, costs=[count.total for count in history.counts])
        counted = history.counts[len(trimmed.dropped):]
        injected = [dict(message) for message in trimmed.kept]  # the cached ones stay as they are
        summarize = request.summarize if request.summarize is not None else bool(conversation.settings.get("summarize"))
        if trimmed.dropped and summarize:
            summary = await self._summary(call, conversation, trimmed.dropped)
            if summary:
                note = {"role": "system", "content": SUMMARY_PREFIX + summary}
                injected, counted = [note, *injected], [message_count(note), *counted]
        request.sent, request.trimmed = len(trimmed.kept), len(trimmed.dropped)
        call.headers["x-gatewayz-history"] = f"sent={request.sent}; trimmed={request.trimmed}"
        if injected:
            body = call.body
            call.body = {**body, "messages": [*messages[:head], *injected, *messages[head:]]}
            # The estimate of the new body, without counting the injected messages again.
            call.state["prompt_estimate"] = (call.body, estimate_prompt(call.endpoint, body, counted))

    async def _history(self, principal: Principal, request: HistoryRequest) -> tuple[Conversation, History]:
        """The conversation (tenant-checked) and its earlier messages: this process's copy when it
        is at the conversation's current version, else loaded (and kept)."""
        found = None
        if request.conversation in self.cache:  # the row says whether the copy is current
            conversation = await self.store.get(principal.user_id, principal.environment, request.conversation)
            history = self.cache.get(conversation.id, conversation.items_version) if conversation else None
            if conversation is not None and history is not None:
                return conversation, history
            if conversation is not None:
                found = await self.store.items_with_size(principal.user_id, principal.environment, conversation.id)
        else:
            found = await self.store.items_with_size(principal.user_id, principal.environment, request.conversation)
        if found is None:
            raise NotFound(f"Conversation '{request.conversation}' not found.", param=request.param,
                           code="conversation_not_found")
        conversation, items, size = found
        return conversation, self.cache.put(conversation.id, conversation.items_version,
                                            [stored.item for stored in items], size)

    async def finish(self, call: InferenceCall) -> None:
        return None  # the turn is appended by `record`, once the face has its answer items

    def _context_length(self, call: InferenceCall) -> int:
        default = self.settings.history_context_tokens
        if not call.routes:
            return default
        route = call.routes[0]
        return context_length_of(self.catalog.models(route.provider).get(route.upstream_model), default)

    async def _summary(self, call: InferenceCall, conversation: Any, dropped: list[JSON]) -> str | None:
        """The summary of the trimmed-away prefix: the stored one while it still covers it, else a
        new one made by the summary model (billed to the user as its own request) and stored."""
        if conversation.summary and (conversation.summary_upto or 0) >= len(dropped):
            return str(conversation.summary)
        if self.summarizer is None or not (self.settings.history_summary_model or call.principal.is_sandbox):
            call.headers["x-gatewayz-history-summary"] = "unavailable"
            return None
        summary = await self.summarizer(call.principal, dropped, conversation.summary)
        if summary:
            principal = call.principal
            await self.store.set_summary(principal.user_id, principal.environment, conversation.id, summary,
                                         len(dropped))
        return summary

    # -- after the answer ---------------------------------------------------------------------

    def record(self, call: InferenceCall, answer_items: list[JSON]) -> None:
        """Append the turn in the background (not on the client's latency path); durable."""
        request: HistoryRequest | None = call.state.get("history")
        if request is None or request.conversation_id is None or call.status != 200:
            return
        principal = call.principal
        usage = call.usage if isinstance(call.usage, dict) else None
        tokens = 0
        if usage is not None:
            total = usage.get("total_tokens")
            tokens = total if isinstance(total, int) and not isinstance(total, bool) and total >= 0 else 0
        task = asyncio.ensure_future(self._append(
            principal, request.conversation_id, [*request.new_items, *answer_items],
            request_id=call.request_id, model=call.model, provider=call.provider, usage=usage, tokens=tokens,
        ))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        conv_id = request.conversation_id
        self._appending[conv_id] = task
        task.add_done_callback(lambda done: self._appending.pop(conv_id, None) if self._appending.get(conv_id)
                               is done else None)

    async def _appended(self, conv_id: str) -> None:
        """A turn this process is still appending to the conversation is part of its history: a
        client sending its next message the moment the answer ends must see it. (Waits for the
        append's first attempt and retries, at most ~0.3 s; a turn deferred to the spool is not
        waited for.)"""
        task = self._appending.get(conv_id)
        if task is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(task)

    async def _append(self, principal: Principal, conv_id: str, items: list[JSON], **turn: Any) -> None:
        stored = await self.store.append_durable(principal.user_id, principal.environment, conv_id, items, **turn)
        if stored:
            self.cache.extend(conv_id, stored[0].position, [entry.item for entry in stored])
        else:
            self.cache.forget(conv_id)  # deferred or refused: whatever the store holds is read again

    async def drain(self) -> None:
        """At shutdown: let pending appends complete."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
