"""The windows algorithm of `windows.py`, as two Lua scripts: one round trip per admission.

Every window that applies to a request (user, key, model, endpoint, global; requests, tokens,
in-flight) is checked and, only if all pass, consumed inside one EVALSHA, so concurrent requests
in any number of gateway processes can never both take the last unit. Finishing a request
(release its in-flight lease, correct its token reservation) is a second script call, made only
when the request holds a lease or a token reservation.

The time comes from the caller (so tests can inject it and both implementations see the same
clock); gateway replicas are expected to run NTP, and a skew well under one bucket width (100 ms
at the finest) does not matter. All keys of one request go to one script call, so this does not
support Redis Cluster (keys in different slots); a single Redis, or Sentinel, does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio import Redis

from gatewayz.limits.windows import CONCURRENCY_RETRY_MS, Check, Correction, Outcome

KEY_GRACE_MS = 60_000  # keys outlive what they remember by this much (clock skew, slow tests)

_COMMON = """
local function roll(key, cur, n)
  local st = redis.call('HMGET', key, 't', 'o', 'n')
  local oldest = tonumber(st[2])
  if not oldest then return nil end
  local total, newest = tonumber(st[1]) or 0, tonumber(st[3]) or oldest
  local low = cur - n
  if oldest < low then
    if newest < low then
      redis.call('DEL', key)
      return nil
    end
    local fields = {}
    for b = oldest, low - 1 do fields[#fields + 1] = tostring(b) end
    local values = redis.call('HMGET', key, unpack(fields))
    for i = 1, #values do
      if values[i] then total = total - tonumber(values[i]) end
    end
    redis.call('HDEL', key, unpack(fields))
    oldest = low
    redis.call('HSET', key, 't', total, 'o', oldest)
  end
  return {total, oldest, newest}
end

local function add(key, st, cur, amount, ttl)
  if st then
    st[1] = st[1] + amount
    if cur > st[3] then st[3] = cur end
    if cur < st[2] then st[2] = cur end
  else
    st = {amount, cur, cur}
  end
  redis.call('HINCRBY', key, tostring(cur), amount)
  redis.call('HSET', key, 't', st[1], 'o', st[2], 'n', st[3])
  redis.call('PEXPIRE', key, ttl)
  return st
end
"""

ADMIT_LUA = (
    _COMMON
    + """
-- KEYS: one counter per check.
-- ARGV: mode ('admit' | 'peek'), now_ms, lease, then per check: kind, limit, window_ms, bucket_ms, cost
local peek = ARGV[1] == 'peek'
local now, lease = tonumber(ARGV[2]), ARGV[3]
local count = #KEYS
local checks, allowed = {}, true
for i = 1, count do
  local a = 3 + (i - 1) * 5
  local c = {kind = ARGV[a + 1], limit = tonumber(ARGV[a + 2]), win = tonumber(ARGV[a + 3]),
             bw = tonumber(ARGV[a + 4]), cost = tonumber(ARGV[a + 5]), key = KEYS[i]}
  if c.kind == 'concurrent' then
    redis.call('ZREMRANGEBYSCORE', c.key, '-inf', now)
    c.used = redis.call('ZCARD', c.key)
  else
    c.n = c.win / c.bw
    c.cur = math.floor(now / c.bw)
    c.st = roll(c.key, c.cur, c.n)
    c.used = c.st and c.st[1] or 0
  end
  if c.used + c.cost > c.limit then allowed = false end
  checks[i] = c
end
local out = {allowed and 1 or 0}
for i = 1, count do
  local c = checks[i]
  local failed = (not allowed) and (not peek) and c.used + c.cost > c.limit
  local reset, retry = 0, 0
  if c.kind == 'concurrent' then
    if allowed and not peek then
      redis.call('ZADD', c.key, now + c.win, lease)
      redis.call('PEXPIRE', c.key, c.win + KEY_GRACE_MS)
      c.used = c.used + 1
    end
    if failed then retry = CONCURRENCY_RETRY_MS end
  else
    if allowed and not peek and c.cost > 0 then
      c.st = add(c.key, c.st, c.cur, c.cost, c.win + c.bw + KEY_GRACE_MS)
      c.used = c.used + c.cost
    end
    if failed and c.st then
      local need, last = c.used + c.cost - c.limit, math.max(c.st[3], c.cur)
      local fields = {}
      for b = c.st[2], last do fields[#fields + 1] = tostring(b) end
      local values = redis.call('HMGET', c.key, unpack(fields))
      local freed = 0
      retry = (c.n + 1) * c.bw
      for j = 1, #values do
        if values[j] then freed = freed + tonumber(values[j]) end
        if freed >= need then
          retry = (c.st[2] + j - 1 + c.n + 1) * c.bw - now
          break
        end
      end
    end
    if c.st and c.st[1] > 0 then reset = (c.st[3] + c.n + 1) * c.bw - now end
  end
  out[#out + 1] = c.used
  out[#out + 1] = reset
  out[#out + 1] = retry
end
return out
"""
).replace("KEY_GRACE_MS", str(KEY_GRACE_MS)).replace("CONCURRENCY_RETRY_MS", str(CONCURRENCY_RETRY_MS))

FINISH_LUA = (
    _COMMON
    + """
-- KEYS: the counters to fix. ARGV: now_ms, lease, then per key: op ('release' | 'tokens'),
-- window_ms, bucket_ms, admitted_bucket, delta
local now, lease = tonumber(ARGV[1]), ARGV[2]
for i = 1, #KEYS do
  local a = 2 + (i - 1) * 5
  local key, op = KEYS[i], ARGV[a + 1]
  if op == 'release' then
    redis.call('ZREM', key, lease)
  else
    local win, bw = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
    local admitted, delta = ARGV[a + 4], tonumber(ARGV[a + 5])
    local n, cur = win / bw, math.floor(now / bw)
    local st = roll(key, cur, n)
    if delta > 0 then
      add(key, st, cur, delta, win + bw + KEY_GRACE_MS)
    elseif delta < 0 and st then
      local held = tonumber(redis.call('HGET', key, admitted)) or 0
      local take = math.min(-delta, held)
      if take > 0 then
        if held == take then
          redis.call('HDEL', key, admitted)
        else
          redis.call('HINCRBY', key, admitted, -take)
        end
        redis.call('HSET', key, 't', st[1] - take)
      end
    end
  end
end
return 1
"""
).replace("KEY_GRACE_MS", str(KEY_GRACE_MS))


class Script:
    """A Lua script called by SHA; reloaded if Redis forgot it (a restart, SCRIPT FLUSH)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()


class EvalBatcher:
    """Sends the script calls of concurrent requests together: one pipeline per round trip.

    Each request is still one atomic EVALSHA, and still one round trip; what is shared is the
    client's per-command cost (in redis-py most of the time of a round trip is Python, not the
    network): bench/limits.py measured 1.8x more one-window admissions per second with 64 requests
    in flight. An idle process sends its single call directly, as if there were no batching.
    """

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._pending: list[tuple[Script, list[str], list[Any], asyncio.Future[Any]]] = []
        self._flushing = False
        self._task: asyncio.Future[None] | None = None

    def submit(self, script: Script, keys: list[str], args: list[Any]) -> asyncio.Future[Any]:
        """Queue a call; calls go out in submission order (so a release precedes any later
        admission from this process)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((script, keys, args, future))
        if not self._flushing:
            self._flushing = True
            self._task = asyncio.ensure_future(self._flush())
        return future

    async def call(self, script: Script, keys: list[str], args: list[Any]) -> Any:
        """Submit and wait; when nothing is in flight, send at once from the caller's own task
        (no hand-off to the flusher: the idle latency of a plain EVALSHA)."""
        if self._flushing:
            return await self.submit(script, keys, args)
        self._flushing = True
        try:
            return await self._evalsha(script, keys, args)
        finally:
            if self._pending:  # what queued up meanwhile goes out as one pipeline
                self._task = asyncio.ensure_future(self._flush())
            else:
                self._flushing = False

    async def drain(self) -> None:
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    results = await self._send(batch)
                except BaseException as exc:
                    for *_, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    continue
                for (*_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._flushing = False

    async def _send(self, batch: list[tuple[Script, list[str], list[Any], asyncio.Future[Any]]]) -> list[Any]:
        if len(batch) == 1:
            script, keys, args, _ = batch[0]
            return [await self._evalsha(script, keys, args)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for script, keys, args, _ in batch:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            results = await pipe.execute(raise_on_error=False)
        for index, result in enumerate(results):  # other errors are raised by the caller's task
            if isinstance(result, _no_script_error()):
                script, keys, args, _ = batch[index]
                results[index] = await self._evalsha(script, keys, args)
        return list(results)

    async def _evalsha(self, script: Script, keys: list[str], args: list[Any]) -> Any:
        try:
            return await self.redis.evalsha(script.sha, len(keys), *keys, *args)
        except _no_script_error():
            script.sha = await self.redis.script_load(script.source)
            return await self.redis.evalsha(script.sha, len(keys), *keys, *args)


def _no_script_error() -> type[Exception]:
    from redis.exceptions import NoScriptError  # imported on first use: redis is optional

    return NoScriptError


class RedisLimiter:
    """Same interface and results as `LocalLimiter`, shared by every process using this Redis."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._admit = Script(ADMIT_LUA)
        self._finish = Script(FINISH_LUA)
        self._batcher = EvalBatcher(redis)

    async def load(self) -> None:
        """Load the scripts once, up front (EVALSHA after that; NOSCRIPT reloads them)."""
        for script in (self._admit, self._finish):
            script.sha = await self.redis.script_load(script.source)

    async def _call(self, script: Script, keys: list[str], args: list[Any]) -> Any:
        result = await self._batcher.call(script, keys, args)
        if isinstance(result, Exception):  # one command of a pipeline failed (e.g. a script error)
            raise result
        return result

    async def admit(
        self, checks: list[Check], costs: list[int], lease: str, now: int, *, peek: bool = False
    ) -> tuple[bool, list[Outcome]]:
        args: list[Any] = ["peek" if peek else "admit", now, lease]
        for check, cost in zip(checks, costs, strict=True):
            args += (check.kind, check.limit, check.window_ms, check.bucket_ms, cost)
        reply = await self._call(self._admit, [c.key for c in checks], args)
        outcomes = [Outcome(int(reply[i]), int(reply[i + 1]), int(reply[i + 2])) for i in range(1, len(reply), 3)]
        return bool(reply[0]), outcomes

    async def finish(self, releases: list[Check], corrections: list[Correction], lease: str, now: int) -> None:
        future = self.finish_later(releases, corrections, lease, now)
        if future is not None:
            result = await future
            if isinstance(result, Exception):
                raise result

    def finish_later(
        self, releases: list[Check], corrections: list[Correction], lease: str, now: int
    ) -> asyncio.Future[Any] | None:
        """Queue the finish without waiting for it: the response need not wait for a round trip,
        and it still reaches Redis before any later admission sent by this process."""
        keys: list[str] = []
        args: list[Any] = [now, lease]
        for check in releases:
            keys.append(check.key)
            args += ("release", 0, 0, 0, 0)
        for fix in corrections:
            keys.append(fix.check.key)
            args += ("tokens", fix.check.window_ms, fix.check.bucket_ms, fix.admitted_bucket, fix.delta)
        return self._batcher.submit(self._finish, keys, args) if keys else None

    async def drain(self) -> None:
        await self._batcher.drain()
