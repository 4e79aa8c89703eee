"""The durable spool (storage/spool.py): lines survive, are taken whole, and none is lost while
writers append during a drain."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from gatewayz.storage.spool import Spool


def test_lines_are_taken_whole_and_forgotten_once_finished(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "data" / "pending.jsonl")
    assert not spool.pending() and spool.take() == []
    lines = ['{"text": "a\u2028b\u2029c\x85d\x0ce"}', '{"n": 2}']  # JSON may hold what splitlines breaks on
    for line in lines:
        spool.append(line)
    assert stat.S_IMODE(spool.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(spool.path.parent.stat().st_mode) == 0o700
    (taken,) = spool.take()
    assert taken.lines == lines and not spool.path.exists()
    spool.finish(taken)
    assert not spool.pending() and spool.take() == []


def test_a_line_break_would_split_a_line_so_it_is_refused(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "pending.jsonl")
    for bad in ("one\ntwo", "one\rtwo"):
        with pytest.raises(ValueError):
            spool.append(bad)
    assert not spool.pending()


def test_what_a_dead_drainer_took_is_taken_again_with_new_lines(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "pending.jsonl")
    spool.append("first")
    (_abandoned,) = spool.take()  # this drainer dies before finishing
    spool.append("second")  # a writer after the rename starts a new file
    taken = spool.take()
    assert sorted(line for t in taken for line in t.lines) == ["first", "second"]
    for t in taken:
        spool.finish(t)
    assert not spool.pending()


def test_rejected_lines_are_kept_apart_and_never_drained(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "pending.jsonl")
    spool.reject("broken\nline")
    assert spool.rejected_path.read_text() == "broken line\n"
    assert not spool.pending() and spool.take() == []


def test_no_line_is_lost_or_doubled_while_writers_race_a_drainer(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "pending.jsonl")
    writers, per_writer = 4, 150
    seen: list[str] = []
    done = threading.Event()

    def write(n: int) -> None:
        for i in range(per_writer):
            spool.append(f"{n}-{i}")

    def drain() -> None:
        while not done.is_set() or spool.pending():
            for taken in spool.take():
                seen.extend(taken.lines)
                spool.finish(taken)

    drainer = threading.Thread(target=drain)
    drainer.start()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    drainer.join(timeout=60)
    assert sorted(seen) == sorted(f"{n}-{i}" for n in range(writers) for i in range(per_writer))
