"""A private, throwaway redis-server for tests that must stop, flush or restart Redis (never the
machine's shared one on 6379)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from tests.support.servers import free_port


class ThrowawayRedis:
    """redis-server on a free loopback port, without persistence; restartable on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ThrowawayRedis:
        binary = shutil.which("redis-server")
        assert binary, "redis-server must be installed"
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--dir", str(self.workdir)]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self._answers():
            assert time.monotonic() < deadline and self.process.poll() is None, "redis-server did not start"
            time.sleep(0.05)
        return self

    def _answers(self) -> bool:
        ping = subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True, check=False)
        return ping.stdout.strip() == b"PONG"

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
