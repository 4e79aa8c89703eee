"""What is stored: only an HMAC of each key, never the plaintext, in any table or log."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from tests.support.databases import run_sql
from tests.support.identity import ADMIN_KEY, GwUser


def test_plaintext_key_never_reaches_the_database(user: GwUser, database_url: str, base_env: dict[str, str]) -> None:
    created = user.client.post("/user/api-keys", json={"name": "secret-check"}).json()
    plaintext = created["key"]
    rows = run_sql(database_url, "SELECT key_hash, prefix, last4 FROM api_keys WHERE id = :p0", created["id"])
    key_hash, prefix, last4 = rows[0]
    secret = base_env["GATEWAYZ_KEY_HASH_SECRET"].encode()
    assert key_hash == hmac.new(secret, plaintext.encode(), hashlib.sha256).hexdigest()
    assert key_hash != hashlib.sha256(plaintext.encode()).hexdigest()  # keyed, not a bare hash
    assert plaintext.startswith(str(prefix)) and plaintext.endswith(str(last4))
    assert len(str(prefix)) <= len("gw_live_") + 4
    for table in ("api_keys", "users", "security_events"):
        dump = str(run_sql(database_url, f"SELECT * FROM {table}"))
        assert plaintext not in dump
        assert plaintext[len("gw_live_") :] not in dump
        assert ADMIN_KEY not in dump


def test_the_bootstrap_admin_key_is_hashed_too(database_url: str, admin: Any) -> None:
    assert admin.get("/admin/users").status_code == 200
    dump = str(run_sql(database_url, "SELECT * FROM api_keys"))
    assert ADMIN_KEY not in dump
