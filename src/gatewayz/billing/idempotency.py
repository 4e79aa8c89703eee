"""`Idempotency-Key` on inference POSTs: a retry gets the first answer back and is never charged twice.

The first request with a key claims it (one INSERT guarded by a unique constraint on user + key
environment + key: a sandbox answer can never be replayed to a live key, nor the reverse);
a retry while it runs gets 409; after it succeeded, retries for 24 hours replay its stored
response (`idempotent-replayed: true`). A failed first request releases the key so a retry can
really run. A claim left by a crashed process is taken over once it is older than the credit
hold TTL.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import orjson
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from gatewayz.billing.tables import IdempotencyRecord
from gatewayz.errors import Conflict, InvalidRequest
from gatewayz.inference.pipeline import AnswerFromStore, InferenceCall, StoredResponse
from gatewayz.storage.db import Database
from gatewayz.storage.types import utcnow

RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 255


def request_hash(call: InferenceCall) -> str:
    # The face is part of the request: one key reused across /v1/chat and /v1/messages with an
    # equivalent body must not replay a chat answer to an Anthropic client.
    # The body as the client sent it: stages before this one may extend `call.body` (history
    # injection), and a retry must match the first request, not what the gateway added to it.
    # `fingerprint` is what the body does not carry but a retry must match too (an edit's files).
    sent = call.face_ctx.request if call.face_ctx is not None else call.body
    payload = orjson.dumps({"endpoint": call.endpoint, "face": call.face, "body": sent,
                            "fingerprint": call.state.get("fingerprint")}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(payload).hexdigest()


class IdempotencyStage:
    def __init__(self, db: Database, stale_after_seconds: float) -> None:
        self.db = db
        self.stale_after = timedelta(seconds=stale_after_seconds)

    async def admit(self, call: InferenceCall) -> None:
        key = call.idempotency_key
        if key is None:
            return
        if not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidRequest(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} characters.",
                                 param="Idempotency-Key")
        digest = request_hash(call)
        user_id, environment = call.principal.user_id, call.principal.environment
        for _ in range(2):
            now = utcnow()
            try:
                async with self.db.begin() as session:
                    row_id = (await session.execute(insert(IdempotencyRecord).values(
                        user_id=user_id, environment=environment, key=key, request_hash=digest, state="running",
                        created_at=now, expires_at=now + RETENTION,
                    ).returning(IdempotencyRecord.id))).scalar_one()
                call.state["idempotency"] = int(row_id)
                return
            except IntegrityError:
                pass
            async with self.db.transaction() as session:  # rare path: the ORM's objects are clearer
                record = (await session.execute(select(IdempotencyRecord).where(
                    IdempotencyRecord.user_id == user_id, IdempotencyRecord.environment == environment,
                    IdempotencyRecord.key == key))).scalar_one_or_none()
                if record is None:
                    continue
                stale = record.state == "running" and record.created_at < now - self.stale_after
                if record.expires_at < now or stale:
                    await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record.id))
                    continue
                if record.request_hash != digest:
                    raise InvalidRequest("This Idempotency-Key was already used with a different request.",
                                         param="Idempotency-Key", code="idempotency_key_reused")
                if record.state == "running":
                    raise Conflict("A request with this Idempotency-Key is still being processed; retry later.",
                                   code="idempotency_key_in_use")
                raise AnswerFromStore(StoredResponse(
                    int(record.status_code or 200), record.content_type or "application/json",
                    dict(record.headers or {}), (record.body or "").encode(),
                ))
        raise Conflict("Could not claim the Idempotency-Key; retry.", code="idempotency_key_in_use")

    async def finish(self, call: InferenceCall) -> None:
        row_id = call.state.get("idempotency")
        if row_id is not None and call.status != 200:
            async with self.db.begin() as session:
                await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == row_id))

    async def record_response(self, call: InferenceCall, response: StoredResponse) -> None:
        row_id = call.state.get("idempotency")
        if row_id is None:
            return
        async with self.db.begin() as session:
            await session.execute(update(IdempotencyRecord).where(IdempotencyRecord.id == row_id).values(
                state="done", status_code=response.status_code, content_type=response.content_type,
                headers=response.headers, body=response.body.decode(),
            ))
