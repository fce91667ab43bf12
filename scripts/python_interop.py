"""Checks our expositions with the Python client's independent parsers.

Usage: python_interop.py DIR, where DIR holds fixture.prom, fixture.om.txt and
expected.json as written by `cargo run --example encode_fixture -- DIR`. Every family
(name, type, help, unit) and every sample (name, labels, value, timestamp, exemplar)
must equal what expected.json says; NaN equals NaN. Exits 1 listing every mismatch.
"""

import json
import math
import sys
from pathlib import Path

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text


def number(v):
    """A JSON value from expected.json as a float ("NaN", "+Inf", "-Inf" allowed)."""
    return float(v)


def same_number(got, want):
    want = number(want)
    got = float(got)
    if math.isnan(want):
        return math.isnan(got)
    return got == want


def timestamp_ms(ts):
    """Python's timestamps: a float in seconds (text) or a Timestamp (OpenMetrics)."""
    if ts is None:
        return None
    if hasattr(ts, "sec"):
        return ts.sec * 1000 + ts.nsec // 1_000_000
    return round(ts * 1000)


def check(fmt, families, want, errors):
    def err(msg):
        errors.append(f"[{fmt}] {msg}")

    got_families = [(f.name, f.type, f.documentation, f.unit) for f in families]
    want_families = []
    for f in want["families"]:
        name = f["name"]
        # The text parser names a counter family without its `_total`.
        if fmt == "text" and f["type"] == "counter" and name.endswith("_total"):
            name = name[: -len("_total")]
        # Python's Metric stores the text format's `untyped` as `unknown`.
        kind = "unknown" if f["type"] == "untyped" else f["type"]
        want_families.append((name, kind, f["help"], f["unit"]))
    if got_families != want_families:
        err(f"families differ:\n  got  {got_families}\n  want {want_families}")

    got = [s for f in families for s in f.samples]
    if len(got) != len(want["samples"]):
        err(f"{len(got)} samples parsed, {len(want['samples'])} expected")
    for i, (g, w) in enumerate(zip(got, want["samples"])):
        where = f"sample {i} ({w['name']})"
        if g.name != w["name"]:
            err(f"{where}: name {g.name!r} != {w['name']!r}")
        if g.labels != w["labels"]:
            err(f"{where}: labels {g.labels!r} != {w['labels']!r}")
        if not same_number(g.value, w["value"]):
            err(f"{where}: value {g.value!r} != {w['value']!r}")
        if timestamp_ms(g.timestamp) != w["timestamp_ms"]:
            err(f"{where}: timestamp {g.timestamp!r} != {w['timestamp_ms']!r} ms")
        we, ge = w["exemplar"], g.exemplar
        if (we is None) != (ge is None):
            err(f"{where}: exemplar {ge!r} != {we!r}")
        elif we is not None:
            if ge.labels != we["labels"] or not same_number(ge.value, we["value"]):
                err(f"{where}: exemplar {ge!r} != {we!r}")
            got_ts = None if ge.timestamp is None else float(ge.timestamp)
            if (got_ts is None) != (we["timestamp"] is None) or (
                got_ts is not None and not same_number(got_ts, we["timestamp"])
            ):
                err(f"{where}: exemplar timestamp {ge.timestamp!r} != {we['timestamp']!r}")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: python_interop.py DIR")
    d = Path(sys.argv[1])
    expected = json.loads((d / "expected.json").read_text(encoding="utf-8"))
    errors = []
    for fmt, file, parse in [
        ("text", "fixture.prom", parse_text),
        ("openmetrics", "fixture.om.txt", parse_openmetrics),
    ]:
        body = (d / file).read_text(encoding="utf-8")
        try:
            families = list(parse(body))
        except Exception as e:  # the parser's own rejection is a failure too
            errors.append(f"[{fmt}] {file} rejected by the Python parser: {e!r}")
            continue
        check(fmt, families, expected[fmt], errors)
    if errors:
        print("python interop: MISMATCH", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        sys.exit(1)
    n = sum(len(expected[f]["samples"]) for f in expected)
    print(f"python interop: 2 passed, 0 failed ({n} samples match in both formats)")


if __name__ == "__main__":
    main()
