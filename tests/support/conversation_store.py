"""Shared by the conversation store's tests (tests/test_conversation_*.py): each module gets its own
database, migrated by replaying every migration (so 0006 itself is what creates the tables and the
search indexes), and the same small builders of items."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from gatewayz.accounts.tables import User
from gatewayz.history.conversations import ConversationStore
from tests.support.databases import session_database
from tests.support.store_env import StoreEnv, store_env

WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
    "quebec romeo sierra tango uniform victor whiskey xray yankee zulu"
).split()



class Env(StoreEnv):
    def store(self, data_dir: Path, **limits: int) -> ConversationStore:
        return ConversationStore(self.sql, data_dir, **limits)


def store_fixtures() -> tuple[Any, Any, Any]:
    """A module's `store_url`, `env` and `store` fixtures: `store_url, env, store = store_fixtures()`."""

    @pytest.fixture(scope="module", name="store_url")
    def store_url_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
        with session_database(tmp_path_factory.mktemp("conversations")) as url:
            yield url

    @pytest.fixture(scope="module", name="env")
    async def env_fixture(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
        async with store_env(store_url, tmp_path_factory.mktemp("conversations-data"), Env) as opened:
            yield opened

    @pytest.fixture(name="store")
    def store_fixture(env: Env, tmp_path: Path) -> ConversationStore:
        return env.store(tmp_path)

    return store_url_fixture, env_fixture, store_fixture


def msg(role: str, text: str) -> dict[str, Any]:
    kind = "output_text" if role == "assistant" else "input_text"
    return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}


def call(name: str, arguments: str, call_id: str = "call_1") -> dict[str, Any]:
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}


def output(text: str, call_id: str = "call_1") -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": text}


def texts(items: list[Any]) -> list[str]:
    return [i.item["content"][0]["text"] if i.item["type"] == "message" else i.item["type"] for i in items]


async def set_updated(env: Env, conv_id: str, when: datetime) -> None:
    async with env.sql.transaction() as tx:
        await tx.execute("UPDATE conversations SET updated_at = :at WHERE id = :id", {"at": tx.ts(when), "id": conv_id})


async def fts_consistent(env: Env) -> None:
    """SQLite: FTS5's own check that its index matches the content tables (raises if not)."""
    if env.sql.dialect != "sqlite":
        return
    async with env.sql.transaction() as tx:
        for table in ("history_fts_items", "history_fts_titles"):
            await tx.execute(f"INSERT INTO {table} ({table}, rank) VALUES ('integrity-check', 1)", {})



async def fresh_user(env: Env) -> int:
    async with env.db.transaction() as session:
        user = User(email=f"l-{secrets.token_hex(4)}@example.com", role="user")
        session.add(user)
        await session.flush()
        return user.id
