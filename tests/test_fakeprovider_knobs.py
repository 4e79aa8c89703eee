"""Fake provider knobs gateway tests rely on: cuts, delays, injected statuses, disconnect detection,
per-request overrides, concurrency and the separate-process mode.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import anthropic
import httpx
import openai
import pytest

from tests.fakeprovider import FakeProvider, Scenario
from tests.fakeprovider.fixtures import fake, fake_provider
from tests.fakeprovider_helpers import ANT_HEADERS, OAI_HEADERS, ROOT, ant, http, oai, sse_events

__all__ = ["ant", "fake", "fake_provider", "http", "oai"]  # re-exported so pytest sees the fixtures in this module


def test_cut_stream_after_k_chunks(fake: FakeProvider, oai: openai.OpenAI) -> None:
    fake.set(cut_after_chunks=2)
    got = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in oai.chat.completions.create(
            model="m", stream=True, messages=[{"role": "user", "content": "a b c d e"}]
        ):
            got.append(chunk)
    assert len(got) == 2
    rec = fake.wait_idle()[-1]
    assert rec.cut and rec.chunks_sent == 2 and not rec.disconnected and not rec.completed


def test_cut_raw_stream_has_no_done(fake: FakeProvider, http: httpx.Client) -> None:
    fake.set(cut_after_chunks=3)
    body = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        http.stream(
            "POST",
            "/v1/chat/completions",
            headers=OAI_HEADERS,
            json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "a b c d e"}]},
        ) as r,
    ):
        for part in r.iter_bytes():
            body += part
    assert body.count(b"data: ") == 3 and b"[DONE]" not in body


def test_slow_first_byte_and_latency(fake: FakeProvider, http: httpx.Client) -> None:
    fake.set(latency_ms=150, first_byte_delay_ms=300)
    start = time.perf_counter()
    with http.stream(
        "POST",
        "/v1/chat/completions",
        headers=OAI_HEADERS,
        json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]},
    ) as r:
        headers_at = time.perf_counter() - start
        first = next(r.iter_raw())
        first_at = time.perf_counter() - start
    assert first.startswith(b"data: ")
    assert 0.14 <= headers_at < 0.45
    assert first_at - headers_at >= 0.28


def test_slow_first_byte_non_stream_sends_headers_first(fake: FakeProvider, http: httpx.Client) -> None:
    fake.set(first_byte_delay_ms=400)
    start = time.perf_counter()
    with http.stream(
        "POST",
        "/v1/chat/completions",
        headers=OAI_HEADERS,
        json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
    ) as r:
        headers_at = time.perf_counter() - start
        body = r.read()
    assert headers_at < 0.3 and time.perf_counter() - start >= 0.39
    assert json.loads(body)["choices"][0]["message"]["content"] == "Echo: x"


def test_chunk_delay(fake: FakeProvider, http: httpx.Client) -> None:
    fake.set(chunk_delay_ms=40)
    start = time.perf_counter()
    r = http.post(
        "/v1/chat/completions",
        headers=OAI_HEADERS,
        json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "a b"}]},
    )
    # role + 3 words + finish + [DONE] = 6 events, 5 gaps
    assert len(sse_events(r.text)) == 6 and time.perf_counter() - start >= 0.2


def test_status_for_n_requests_over_http_control(fake: FakeProvider, http: httpx.Client) -> None:
    r = http.post("/_fake/scenario", json={"status": 500, "status_times": 1})
    assert r.json()["status"] == 500
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    assert http.post("/v1/chat/completions", headers=OAI_HEADERS, json=body).status_code == 500
    assert http.post("/v1/chat/completions", headers=OAI_HEADERS, json=body).status_code == 200
    recorded = http.get("/_fake/requests").json()
    assert [r["status"] for r in recorded] == [500, 200]
    assert http.post("/_fake/scenario", json={"nope": 1}).status_code == 400
    http.post("/_fake/reset")
    assert http.get("/_fake/requests").json() == []
    assert http.get("/_fake/scenario").json() == Scenario().to_dict()


def test_status_always_when_times_unset(fake: FakeProvider, http: httpx.Client) -> None:
    fake.set(status=502)
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    assert {http.post("/v1/chat/completions", headers=OAI_HEADERS, json=body).status_code for _ in range(3)} == {502}


def test_disconnect_mid_stream_is_recorded(fake: FakeProvider) -> None:
    fake.set(chunk_delay_ms=300)
    with (
        httpx.Client(base_url=fake.url) as client,
        client.stream(
            "POST",
            "/v1/chat/completions",
            headers=OAI_HEADERS,
            json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "a b c d"}]},
        ) as r,
    ):
        next(r.iter_raw())
    rec = fake.wait_for_disconnect(timeout=5)
    assert rec.disconnected and not rec.completed and not rec.cut
    assert rec.chunks_sent < 6


def test_disconnect_during_latency_is_recorded(fake: FakeProvider) -> None:
    fake.set(latency_ms=3000)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            fake.url + "/v1/messages",
            headers=ANT_HEADERS,
            timeout=0.3,
            json={"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
        )
    rec = fake.wait_for_disconnect(timeout=5)
    assert rec.protocol == "anthropic" and rec.status is None


def test_per_request_header_override(fake: FakeProvider, http: httpx.Client) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    r = http.post(
        "/v1/chat/completions",
        json=body,
        headers={**OAI_HEADERS, "x-fake-scenario": json.dumps({"reply": "special", "omit_usage": True})},
    )
    assert r.json()["choices"][0]["message"]["content"] == "special" and "usage" not in r.json()
    r = http.post("/v1/chat/completions", json=body, headers=OAI_HEADERS)
    assert r.json()["choices"][0]["message"]["content"] == "Echo: x"
    fake.set(status=500, status_times=1)
    override = {**OAI_HEADERS, "x-fake-scenario": '{"status": 418}'}
    assert http.post("/v1/chat/completions", json=body, headers=override).status_code == 418
    assert http.post("/v1/chat/completions", json=body, headers=OAI_HEADERS).status_code == 500  # not consumed
    bad = http.post("/v1/chat/completions", json=body, headers={**OAI_HEADERS, "x-fake-scenario": '{"zz": 1}'})
    assert bad.status_code == 400 and "zz" in bad.json()["error"]["message"]


def test_inline_directive_survives_protocol_translation(fake: FakeProvider, ant: anthropic.Anthropic) -> None:
    msg = ant.messages.create(
        model="c",
        max_tokens=50,
        messages=[{"role": "user", "content": '[[fake:{"reply": "from directive"}]] ignored words'}],
    )
    assert msg.content[0].text == "from directive"
    assert msg.usage.input_tokens == 2  # the directive itself is not counted
    with pytest.raises(anthropic.RateLimitError):
        ant.messages.create(
            model="c", max_tokens=5, messages=[{"role": "user", "content": '[[fake:{"status": 429}]] hi'}]
        )
    echoed = ant.messages.create(
        model="c", max_tokens=50, messages=[{"role": "user", "content": '[[fake:{"latency_ms": 1}]] plain'}]
    )
    assert echoed.content[0].text == "Echo: plain"


def test_error_after_chunks_sends_protocol_error_event(
    fake: FakeProvider, ant: anthropic.Anthropic, oai: openai.OpenAI
) -> None:
    fake.set(error_after_chunks=3)
    with (
        pytest.raises(anthropic.APIStatusError) as info,
        ant.messages.stream(model="c", max_tokens=50, messages=[{"role": "user", "content": "a b c"}]) as stream,
    ):
        stream.get_final_message()
    assert "overloaded_error" in str(info.value)
    with pytest.raises(openai.APIError):
        list(oai.chat.completions.create(model="m", stream=True, messages=[{"role": "user", "content": "a"}]))


def test_omit_usage(fake: FakeProvider, oai: openai.OpenAI) -> None:
    fake.set(omit_usage=True)
    assert oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}]).usage is None
    chunks = list(
        oai.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], stream=True, stream_options={"include_usage": True}
        )
    )
    assert all(c.usage is None for c in chunks) and all(c.choices for c in chunks)


def test_drop_connection(fake: FakeProvider, oai: openai.OpenAI) -> None:
    fake.set(drop_connection=True)
    with pytest.raises(openai.APIConnectionError):
        oai.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert fake.wait_idle()[-1].cut


def test_set_rejects_unknown_fields_and_reset_restores(fake: FakeProvider) -> None:
    with pytest.raises(TypeError):
        fake.set(latncy_ms=5)
    fake.set(reply="r", latency_ms=1)
    fake.reset()
    assert fake.scenario == Scenario() and fake.requests == []


def test_concurrent_requests(fake: FakeProvider) -> None:
    import concurrent.futures

    fake.set(latency_ms=100)
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    start = time.perf_counter()
    with (
        httpx.Client(base_url=fake.url, limits=httpx.Limits(max_connections=20)) as client,
        concurrent.futures.ThreadPoolExecutor(20) as pool,
    ):
        codes = list(
            pool.map(
                lambda _: client.post("/v1/chat/completions", json=body, headers=OAI_HEADERS).status_code, range(20)
            )
        )
    assert codes == [200] * 20
    assert time.perf_counter() - start < 1.5  # latency overlaps; handlers don't serialise


def test_separate_process_mode() -> None:
    cmd = [sys.executable, "-m", "tests.fakeprovider", "--port", "0", "--latency-ms", "20", "--reply", "proc"]
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("fakeprovider listening on http://127.0.0.1:"), line
            url = line.split()[-1]
            with openai.OpenAI(
                base_url=url + "/v1", api_key="k", max_retries=0, _strict_response_validation=True
            ) as client:
                resp = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
            assert resp.choices[0].message.content == "proc"
            assert httpx.get(url + "/_fake/requests").json()[0]["path"] == "/v1/chat/completions"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    assert proc.returncode == 0  # SIGTERM is handled as a clean shutdown
