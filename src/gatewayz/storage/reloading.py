"""An in-memory copy of a small table (the role book, the plan book) kept current from change
signals: each signal asks for a reload soon; signals arriving during a reload cause one more; a
failed reload is logged and tried again shortly."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

log = structlog.get_logger("gatewayz.reloading")
RETRY_SECONDS = 0.2


class SignalledReload:
    """Mixed into a book that has `async reload()`; `reload_name` names its task and log lines."""

    reload_name = "book"

    def __init__(self) -> None:
        self._wanted = 0
        self._task: asyncio.Task[None] | None = None

    async def reload(self) -> None:
        raise NotImplementedError

    def request_reload(self) -> None:
        """From a change signal: reload soon, once more if another signal came during a reload."""
        self._wanted += 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._reload_until_current(),
                                                                name=f"{self.reload_name}-reload")

    async def _reload_until_current(self) -> None:
        done = -1
        while done != self._wanted:
            done = self._wanted
            try:
                await self.reload()
            except Exception as exc:
                log.warning(f"{self.reload_name}_reload_failed", error=str(exc))
                await asyncio.sleep(RETRY_SECONDS)
                done = -1

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
