"""What authenticating a repeat caller costs in-process: an API key, a dashboard session (bearer
and cookie) and a verified JWT presented again, each after its first (database or signature) check.

    .venv/bin/python bench/signin.py                      # this tree
    PYTHONPATH=/path/to/other/src .venv/bin/python bench/signin.py   # another tree (keys only if it
                                                          # has no sign-in): the API-key path before/after

Each figure is the median over rounds of N calls of `Authenticator.authenticate` (what every route's
dependency runs) on a real SQLite database; the JWT figure is `TokenVerifier.verify` of a token
verified before. Results go to bench/results/signin.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.requests import Request

from benchlib import script_main, write_results
from gatewayz.accounts import service
from gatewayz.accounts.activity import KeyActivity
from gatewayz.accounts.auth import Authenticator
from gatewayz.accounts.cache import KeyCache
from gatewayz.audit.security_events import SecurityEventWriter
from gatewayz.settings import Settings
from gatewayz.storage.db import Database
from gatewayz.storage.migrate import migrate

try:
    from gatewayz.signin.jwks import StaticKey
    from gatewayz.signin.sessions import Sessions
    from gatewayz.signin.tokens import TokenRules, TokenVerifier
    HAS_SIGNIN = True
except ImportError:  # a tree from before sign-in: the API-key figure only
    HAS_SIGNIN = False


def request(headers: dict[str, str], method: str = "GET") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": method, "path": "/user/balance", "headers": raw, "query_string": b"",
                    "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "scheme": "http"})


async def timed(call: Callable[[], Awaitable[Any]], n: int, rounds: int) -> float:
    """Median µs per call."""
    await call()  # the first: database lookup / signature check, then cached
    per_call = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(n):
            await call()
        per_call.append((time.perf_counter() - started) / n * 1e6)
    return statistics.median(per_call)


async def run(n: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), environment="dev")
        db = Database(settings)
        await migrate(db.engine, settings)
        cache = KeyCache(settings.key_cache_ttl_seconds)
        auth = Authenticator(settings, db, cache, SecurityEventWriter(db), KeyActivity(db))
        secret = settings.key_hash_secret_bytes
        async with db.transaction() as session:
            user = await service.create_user(session, email="bench@example.com", name=None, role="user")
            _, key = await service.create_key(session, secret, user, service.first_key_spec(user),
                                              default_environment="dev")
            if HAS_SIGNIN:
                sessions = Sessions(db, secret, "dev", 3600)
                auth.sessions = sessions
                record, token = await sessions.create(session, user, "bench", None, None)
                csrf = sessions.csrf_for(record)
        key_conn = request({"authorization": f"Bearer {key}"})
        out = {"api_key_us": await timed(lambda: auth.authenticate(key_conn, "billing"), n, rounds)}
        if HAS_SIGNIN:
            bearer = request({"authorization": f"Bearer {token}"})
            cookie = request({"cookie": f"gw_session={token}"})
            cookie_post = request({"cookie": f"gw_session={token}", "x-csrf-token": csrf}, "POST")
            out["session_bearer_us"] = await timed(lambda: auth.authenticate(bearer, "billing"), n, rounds)
            out["session_cookie_us"] = await timed(lambda: auth.authenticate(cookie, "billing"), n, rounds)
            out["session_cookie_csrf_post_us"] = await timed(lambda: auth.authenticate(cookie_post, "billing"),
                                                             n, rounds)
            private = ec.generate_private_key(ec.SECP256R1())
            pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo).decode()
            verifier = TokenVerifier(TokenRules("privy.io", ("app",), ("ES256",)), StaticKey(pem))
            now = int(time.time())
            jwt_token = jwt.encode({"iss": "privy.io", "aud": "app", "sub": "did:privy:bench", "iat": now,
                                    "exp": now + 3600}, private, algorithm="ES256")
            started = time.perf_counter()
            await verifier.verify(jwt_token)
            out["jwt_first_verify_us"] = (time.perf_counter() - started) * 1e6
            out["jwt_repeat_us"] = await timed(lambda: verifier.verify(jwt_token), n, rounds)
        await db.close()
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    results = asyncio.run(run(max(1, min(args.n, 1_000_000)), max(1, min(args.rounds, 100))))
    for name, value in results.items():
        print(f"{name:32s} {value:9.2f} µs")
    write_results(Path(__file__).parent / "results" / "signin.json", results)
    return 0


if __name__ == "__main__":
    script_main(main)
