"""SSE framing of upstream streams: any chunking, the three line ends, big events, the limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from gatewayz.inference.sse import MAX_EVENT_BYTES, EventParser, EventTooLarge, read_events

STREAM = b"event: first\r\ndata: 1\r\ndata:2\r\nid: 7\r\n\r\n: comment\rdata: 3\r\rdata\n\n\n\ndata: {\"a\": 1}\n\n"
EXPECTED = [("first", b"1\n2"), (None, b"3"), (None, b""), (None, b'{"a": 1}')]


def _parse(*chunks: bytes, limit: int = MAX_EVENT_BYTES) -> list[tuple[str | None, bytes]]:
    parser = EventParser(limit)
    out = []
    for chunk in chunks:
        out.extend(parser.feed(chunk))
    return out + parser.close()


def test_every_two_cut_chunking_gives_the_same_events() -> None:
    for i in range(len(STREAM) + 1):
        for j in range(i, len(STREAM) + 1):
            assert _parse(STREAM[:i], STREAM[i:j], STREAM[j:]) == EXPECTED, (i, j)


def test_byte_by_byte() -> None:
    assert _parse(*(STREAM[i : i + 1] for i in range(len(STREAM)))) == EXPECTED


def test_a_crlf_split_between_chunks_is_one_line_end() -> None:
    assert _parse(b"data: a\r", b"\n", b"\r\n") == [(None, b"a")]
    assert _parse(b"data: a\r", b"", b"\n\r\n") == [(None, b"a")]  # an empty read changes nothing


def test_an_unterminated_last_event_still_counts() -> None:
    assert _parse(b"data: [DONE]") == [(None, b"[DONE]")]
    assert _parse(b"data: x\n") == [(None, b"x")]


def test_an_event_name_does_not_leak_into_the_next_event() -> None:
    assert _parse(b"event: ping\n\ndata: x\n\n") == [(None, b"x")]


def test_events_of_many_megabytes_in_small_reads() -> None:
    payload = b"x" * 5_000_000
    stream = b"data: " + payload + b"\n\n"
    assert _parse(*(stream[i : i + 4096] for i in range(0, len(stream), 4096))) == [(None, payload)]


@pytest.mark.parametrize("unterminated", [False, True])
def test_an_event_over_the_limit_is_refused(unterminated: bool) -> None:
    stream = b"data: " + b"x" * 2000 + (b"" if unterminated else b"\n\n")
    with pytest.raises(EventTooLarge, match="larger than"):
        _parse(*(stream[i : i + 100] for i in range(0, len(stream), 100)), limit=1000)


def test_the_limit_counts_every_data_line_of_one_event() -> None:
    line = b"data: " + b"x" * 400 + b"\n"
    assert len(_parse(line * 2 + b"\n", line * 2 + b"\n", limit=1000)) == 2
    with pytest.raises(EventTooLarge):
        _parse(line * 3 + b"\n", limit=1000)


def test_the_default_limit_is_16_mib() -> None:
    assert MAX_EVENT_BYTES == 16 * 1024 * 1024
    assert EventTooLarge(MAX_EVENT_BYTES).message == "sent a stream event larger than 16 MiB"


def test_read_events_over_an_async_body() -> None:
    async def body() -> AsyncIterator[bytes]:
        for i in range(0, len(STREAM), 5):
            yield STREAM[i : i + 5]

    async def collect() -> list[tuple[str | None, bytes]]:
        return [event async for event in read_events(body())]

    assert asyncio.run(collect()) == EXPECTED
