"""A process's copy of the conversation histories it injects: the earlier turns as chat messages,
each with its token count, so that a request naming a session costs one short read of the
conversation row instead of loading, converting and counting every item again.

An entry is valid for one `Conversation.items_version` (next position, item count): appends add
items at the end and bump both, deletes remove items and lower the count, so the items of a
conversation are the same whenever its version reads the same, whichever process wrote them.
The stage reads the conversation row first (tenant-checked) and uses an entry only at the
version it reads; any other version drops the entry and the items are loaded again. After this
process appends a turn, `extend` adds it to the entry (when nobody appended in between), so a
session in use stays warm.

Bounded by bytes (the memory the copy takes, reckoned from the items' JSON size) with
least-recently-used eviction; `max_bytes = 0` turns it off. An append starting with a function
call (it would join the last assistant message) drops the entry instead: the next read loads it.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

from gatewayz.errors import InvalidRequest
from gatewayz.history.turns import items_as_messages
from gatewayz.inference.estimate import MessageCount, message_count

JSON = dict[str, Any]
ENTRY_OVERHEAD_BYTES = 512  # the entry's own objects, beyond its messages
# Python objects of the messages and counts per byte of the items' JSON text (tracemalloc, a
# 50-message text conversation: tests/unit/test_history_cache.py checks it stays an overestimate).
MEMORY_PER_JSON_BYTE = 2.5


@dataclass(slots=True)
class History:
    """A conversation's items at `version`, as the chat messages they are sent as."""

    version: tuple[int, int]
    messages: list[JSON]  # never handed out: the stage injects copies
    counts: list[MessageCount]  # one per message
    size: int


def _counted(messages: list[JSON]) -> list[MessageCount]:
    return [message_count(message) for message in messages]


class HistoryCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self.size = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, History] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, conv_id: object) -> bool:
        return conv_id in self._entries

    def get(self, conv_id: str, version: tuple[int, int]) -> History | None:
        entry = self._entries.get(conv_id)
        if entry is not None and entry.version == version:
            self._entries.move_to_end(conv_id)
            self.hits += 1
            return entry
        if entry is not None:
            self._drop(conv_id)
        self.misses += 1
        return None

    def put(self, conv_id: str, version: tuple[int, int], items: list[JSON], size: int) -> History:
        """The history of `items` (raises InvalidRequest for an item that cannot be sent, as
        `items_as_messages` does); kept when it fits."""
        messages = items_as_messages(items)
        entry = History(version, messages, _counted(messages), int(size * MEMORY_PER_JSON_BYTE) + ENTRY_OVERHEAD_BYTES)
        self._keep(conv_id, entry)
        return entry

    def extend(self, conv_id: str, base_position: int, new_items: list[JSON]) -> None:
        """This process appended `new_items` at `base_position`: add them to the entry, if it is
        the conversation as it was just before (else drop it: it will be loaded again)."""
        entry = self._entries.get(conv_id)
        if entry is None:
            return
        if entry.version[0] != base_position or not new_items:
            self._drop(conv_id)
            return
        if new_items[0].get("type") == "function_call":  # it would join the last assistant message
            self._drop(conv_id)
            return
        try:
            added = items_as_messages(new_items)
        except InvalidRequest:
            self._drop(conv_id)
            return
        size = entry.size + int(len(orjson.dumps(new_items)) * MEMORY_PER_JSON_BYTE)
        version = (base_position + len(new_items), entry.version[1] + len(new_items))
        self._drop(conv_id)
        self._keep(conv_id, History(version, [*entry.messages, *added], [*entry.counts, *_counted(added)], size))

    def forget(self, conv_id: str) -> None:
        if conv_id in self._entries:
            self._drop(conv_id)

    def _keep(self, conv_id: str, entry: History) -> None:
        if conv_id in self._entries:
            self._drop(conv_id)
        if entry.size > self.max_bytes // 4:  # one conversation never takes most of the room
            return
        self._entries[conv_id] = entry
        self.size += entry.size
        while self.size > self.max_bytes and self._entries:
            _, old = self._entries.popitem(last=False)
            self.size -= old.size

    def _drop(self, conv_id: str) -> None:
        entry = self._entries.pop(conv_id)
        self.size -= entry.size
