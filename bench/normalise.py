"""Micro-benchmark of gatewayz.inference.normalise: the cost of answering in OpenAI's schema.

    .venv/bin/python bench/normalise.py [--rounds N]

Times, per call, completing (in place) a typical non-streaming chat completion, a tool-call
completion, a stream chunk and an embeddings answer: once already complete (the common case, an
OpenAI upstream) and once with the required fields missing (a lax upstream). Alongside, the
orjson.dumps the gateway does anyway on the same object, so the figure reads as a ratio.
Each sample gets a fresh copy (copying is not timed: it is subtracted via a copy-only baseline).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gatewayz.inference import normalise

COMPLETE: dict[str, Any] = {
    "id": "chatcmpl-abc123", "object": "chat.completion", "created": 1_700_000_000, "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello! How can I help you today?",
                                         "refusal": None, "annotations": []},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21,
              "prompt_tokens_details": {"cached_tokens": 0}, "cost": 0.0000123},
    "system_fingerprint": "fp_1",
}
LAX = {"model": "llama", "choices": [{"message": {"content": "Hello! How can I help you today?"},
                                      "finish_reason": "stop"}],
       "usage": {"prompt_tokens": 12, "completion_tokens": 9}}
TOOLS = {"id": "x", "object": "chat.completion", "created": 1, "model": "m", "choices": [
    {"index": 0, "message": {"role": "assistant", "content": None,
                             "tool_calls": [{"id": f"call_{i}", "function": {"name": "f", "arguments": "{}"}}
                                            for i in range(3)]}, "finish_reason": "tool_calls"}]}
CHUNK = {"id": "chatcmpl-abc123", "object": "chat.completion.chunk", "created": 1_700_000_000,
         "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": {"content": " world"}, "logprobs": None,
                                               "finish_reason": None}]}
LAX_CHUNK = {"choices": [{"delta": {"content": " world"}}]}
EMBED = {"object": "list", "model": "e", "data": [{"object": "embedding", "index": i, "embedding": [0.1] * 8}
                                                  for i in range(4)], "usage": {"prompt_tokens": 4, "total_tokens": 4}}
LAX_EMBED = {"data": [{"embedding": [0.1] * 8} for _ in range(4)]}


def per_call_us(work: Callable[[Any], Any], sample: Any, rounds: int) -> float:
    """Best of 5 runs of `rounds` calls, each on its own deep copy, minus the copy-only baseline."""

    def run(fn: Callable[[Any], Any]) -> float:
        copies = [copy.deepcopy(sample) for _ in range(rounds)]
        started = time.perf_counter()
        for item in copies:
            fn(item)
        return (time.perf_counter() - started) / rounds * 1e6

    best = min(run(work) for _ in range(5))
    empty = min(run(lambda _: None) for _ in range(5))
    return max(best - empty, 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50_000)
    rounds = parser.parse_args().rounds
    chunks = normalise.Chunks("req123", "gpt-4o-mini")
    cases = [
        ("completion, already complete", lambda d: normalise.completion(d, "req123", "m"), COMPLETE),
        ("completion, lax upstream", lambda d: normalise.completion(d, "req123", "m"), LAX),
        ("completion, 3 tool calls", lambda d: normalise.completion(d, "req123", "m"), TOOLS),
        ("stream chunk, already complete", chunks.chunk, CHUNK),
        ("stream chunk, lax upstream", chunks.chunk, LAX_CHUNK),
        ("embeddings (4), already complete", lambda d: normalise.embeddings(d, "e", None), EMBED),
        ("embeddings (4), lax upstream", lambda d: normalise.embeddings(d, "e", None), LAX_EMBED),
    ]
    print(f"{'case':36} {'normalise µs':>13} {'orjson.dumps µs':>16} {'ratio':>6}")
    for name, work, sample in cases:
        cost = per_call_us(work, sample, rounds)
        dumps = per_call_us(orjson.dumps, sample, rounds)
        print(f"{name:36} {cost:13.2f} {dumps:16.2f} {cost / dumps if dumps else 0:6.2f}")


if __name__ == "__main__":
    main()
