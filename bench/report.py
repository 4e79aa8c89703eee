"""The printed tables of ``run.py`` and its summary figures: every target against the upstream called
directly, each gateway against the bare Python proxy (the issue-13 table), each face against chat.

``results["targets"]`` holds the figures of every non-face target by name, in the order measured
(direct first); ``results["kinds"]`` says which is "direct", "baseline" or "gateway".
"""

from __future__ import annotations

from typing import Any

from targets import ratio

BARE = "bare proxy"
NAN = float("nan")


def _get(stats: dict[str, Any], key: str, field: str) -> float:
    return float(stats.get(key, {}).get(field, NAN))


def target_summary(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per target (not direct): req/s, added c=1 latency over direct, CPU per request, and their
    ratios to the bare proxy's (``*_vs_bare``) when it was measured."""
    targets = results["targets"]
    direct = targets["direct"]
    rows: dict[str, dict[str, float]] = {}
    for name, t in targets.items():
        if name == "direct":
            continue
        row = {
            "rps": _get(t, "throughput", "rps"),
            "cpu_us_per_req_loaded": _get(t, "throughput", "target_cpu_us_per_req"),
            "cpu_us_per_req_c1": float(t.get("cpu_us_per_req", NAN)),
            "added_p50_ms": _get(t, "latency", "p50_ms") - _get(direct, "latency", "p50_ms"),
            "added_p99_ms": _get(t, "latency", "p99_ms") - _get(direct, "latency", "p99_ms"),
            "added_stream_ttfb_p50_ms": _get(t, "stream", "ttfb_p50_ms") - _get(direct, "stream", "ttfb_p50_ms"),
        }
        row["rps_vs_direct"] = ratio(row["rps"], _get(direct, "throughput", "rps"))
        rows[name] = row
    if BARE in rows:
        bare = rows[BARE]
        for row in rows.values():
            for k in ("rps", "cpu_us_per_req_loaded", "cpu_us_per_req_c1", "added_p50_ms"):
                row[f"{k}_vs_bare"] = ratio(row[k], bare[k])
    return rows


def _fmt(value: float, spec: str) -> str:
    return "—" if value != value else format(value, spec)  # NaN: not measured


def report(results: dict[str, Any]) -> None:
    """Every metric of every target, side by side."""
    targets: dict[str, Any] = results["targets"]
    names = list(targets)
    conns = results["params"]["connections"]
    rows: list[tuple[str, str, str]] = [
        (f"throughput rps (c={conns})", "throughput", "rps"),
        (f"  c={conns} p50 ms", "throughput", "p50_ms"),
        (f"  c={conns} p99 ms", "throughput", "p99_ms"),
        ("  server CPU µs/req", "throughput", "target_cpu_us_per_req"),
        ("  upstream CPU µs/req", "throughput", "upstream_cpu_us_per_req"),
        ("c=1 p50 ms", "latency", "p50_ms"),
        ("c=1 p99 ms", "latency", "p99_ms"),
        ("c=1 stream ttfb p50 ms", "stream", "ttfb_p50_ms"),
        ("c=1 stream ttfb p99 ms", "stream", "ttfb_p99_ms"),
        ("c=1 stream p50 ms", "stream", "p50_ms"),
        ("c=1 stream p99 ms", "stream", "p99_ms"),
    ]
    width = max(12, *(len(n) + 2 for n in names))
    print(f"\n{'metric':<26}" + "".join(f"{n:>{width}}" for n in names))
    for label, key, field in rows:
        values = [_get(targets[n], key, field) for n in names]
        if all(v != v for v in values):
            continue
        print(f"{label:<26}" + "".join(f"{_fmt(v, '.3f'):>{width}}" for v in values))
    cpu = [float(targets[n].get("cpu_us_per_req", NAN)) for n in names]
    if any(v == v for v in cpu):
        print(f"{'server CPU µs/req (c=1)':<26}" + "".join(f"{_fmt(v, '.0f'):>{width}}" for v in cpu))
    print(
        f"server CPU: direct = the upstream's; a proxy's or gateway's = its own processes only. "
        f"load generator: {results['params']['load_generator']}; workers: {results['params']['workers']}"
    )
    for name, billing in results.get("billing", {}).items():
        print(f"{name}: {billing}")


def report_vs_bare(results: dict[str, Any]) -> None:
    """The issue-13 table: req/s under load, added p50 at c=1, CPU per request; x = over the bare proxy."""
    rows = results["summary"]["targets"]
    conns = results["params"]["connections"]
    have_bare = BARE in rows
    head = [f"req/s c={conns}", "x bare", "added p50", "x bare", "added p99", "CPU µs/req", "x bare"]
    head += ["CPU c=1", "x bare", "+ttfb p50"]
    print(f"\n{'setup (vs direct; x = / bare proxy)':<40}" + "".join(f"{h:>11}" for h in head))
    for name, row in rows.items():
        cells = [
            _fmt(row["rps"], ".0f"),
            _fmt(row.get("rps_vs_bare", NAN), ".3f"),
            _fmt(row["added_p50_ms"], "+.3f"),
            _fmt(row.get("added_p50_ms_vs_bare", NAN), ".2f"),
            _fmt(row["added_p99_ms"], "+.3f"),
            _fmt(row["cpu_us_per_req_loaded"], ".0f"),
            _fmt(row.get("cpu_us_per_req_loaded_vs_bare", NAN), ".2f"),
            _fmt(row["cpu_us_per_req_c1"], ".0f"),
            _fmt(row.get("cpu_us_per_req_c1_vs_bare", NAN), ".2f"),
            _fmt(row["added_stream_ttfb_p50_ms"], "+.3f"),
        ]
        label = results.get("labels", {}).get(name, name)
        print(f"{label[:39]:<40}" + "".join(f"{c:>11}" for c in cells))
    if not have_bare:
        print("(no bare proxy in this run: --no-bare)")
    print("added = target − direct (ms, c=1, same interleaved rounds); CPU µs/req: loaded = during the throughput run")


def face_summary(results: dict[str, Any], budget_ms: float) -> dict[str, dict[str, float | bool]]:
    """Each face against gateway chat measured in the same rounds: the difference and ratio."""
    chat = results["gateway"]
    out: dict[str, dict[str, float | bool]] = {}
    for name, face in results["faces"].items():
        row: dict[str, float | bool] = {}
        for key, fields in (("latency", ("p50_ms", "p99_ms")), ("stream", ("ttfb_p50_ms", "p50_ms"))):
            if key in face and key in chat:
                for k in fields:
                    row[f"{key}_{k}_vs_chat"] = face[key][k] - chat[key][k]
                row[f"{key}_p50_ratio"] = ratio(face[key]["p50_ms"], chat[key]["p50_ms"])
        if "cpu_us_per_req" in face and "cpu_us_per_req" in chat:
            row["cpu_us_per_req_vs_chat"] = face["cpu_us_per_req"] - chat["cpu_us_per_req"]
        row["within_budget"] = row["latency_p50_ms_vs_chat"] <= budget_ms
        out[name] = row
    return out


def report_faces(results: dict[str, Any], budget_ms: float) -> None:
    """The faces against gateway chat: c=1 p50/p99 and differences, streams, gateway CPU."""
    if not results["faces"]:
        return
    chat = results["gateway"]
    rows = [("gateway chat", chat), *results["faces"].items()]
    sections = [("latency", "p50", "p99_ms"), ("stream", "ttfb_p50", "p50_ms")]
    for key, first, second in sections:
        if key not in chat:
            continue
        what = "c=1" if key == "latency" else "c=1 stream: ttfb p50 / total p50"
        head = [f"{first.replace('_', ' ')} ms", f"{second[:3]} ms"]
        head += [f"{h[:-3]} +ms" for h in head]
        print(f"\n{what:<34}" + "".join(f"{h:>14}" for h in head) + f"{'p50 x':>8}")
        for name, face in rows:
            a, b = face[key][f"{first}_ms"], face[key][second]
            line = f"{name:<34}{a:>14.3f}{b:>14.3f}"
            if face is not chat:
                da, db = a - chat[key][f"{first}_ms"], b - chat[key][second]
                line += f"{da:>+14.3f}{db:>+14.3f}{ratio(face[key]['p50_ms'], chat[key]['p50_ms']):>8.3f}"
                if key == "latency":
                    line += "  ok" if da <= budget_ms else f"  OVER the {budget_ms:g} ms budget"
            print(line)
    if "cpu_us_per_req" in chat:
        print(f"\n{'gateway CPU µs per request (c=1)':<34}{'µs':>14}{'+µs':>14}{'x':>8}")
        for name, face in rows:
            extra = face["cpu_us_per_req"] - chat["cpu_us_per_req"]
            extra_cols = (
                "" if face is chat else f"{extra:>+14.0f}{ratio(face['cpu_us_per_req'], chat['cpu_us_per_req']):>8.3f}"
            )
            print(f"{name:<34}{face['cpu_us_per_req']:>14.0f}{extra_cols}")
