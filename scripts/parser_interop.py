"""Compares our parser with the Python client's on the captured expositions.

Usage: parser_interop.py HARNESS FILE...: for each FILE (`.om.txt` is OpenMetrics,
anything else the text format) runs `HARNESS parse --format F FILE` (one JSON object
per sample) and Python's parser, and requires the same samples in the same order:
name, labels, value (NaN equals NaN) and timestamp. Python's text parser names
counter samples `_total` even when the input does not; that renaming is undone.
Exits 1 listing every mismatch.
"""

import json
import math
import subprocess
import sys

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text


def timestamp_ms(ts):
    if ts is None:
        return None
    if hasattr(ts, "sec"):
        return ts.sec * 1000 + ts.nsec // 1_000_000
    return round(ts * 1000)


def value_of(v):
    return {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}.get(v, v) if isinstance(v, str) else float(v)


def same_value(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def python_samples(path, openmetrics):
    with open(path, encoding="utf-8") as f:
        body = f.read()
    parse = parse_openmetrics if openmetrics else parse_text
    out = []
    for family in parse(body):
        for s in family.samples:
            out.append((family.type, s.name, dict(s.labels), float(s.value), timestamp_ms(s.timestamp)))
    return out


def our_samples(harness, path, openmetrics):
    fmt = "openmetrics" if openmetrics else "text"
    run = subprocess.run([harness, "parse", "--format", fmt, path], capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"{path}: our parser failed: {run.stderr.strip()}")
    return [json.loads(line) for line in run.stdout.splitlines()]


def compare(harness, path):
    openmetrics = path.endswith(".om.txt")
    theirs = python_samples(path, openmetrics)
    ours = our_samples(harness, path, openmetrics)
    errors = []
    if len(theirs) != len(ours):
        errors.append(f"{path}: {len(ours)} samples, Python has {len(theirs)}")
    for i, (t, o) in enumerate(zip(theirs, ours)):
        typ, name, labels, value, ts = t
        renamed = not openmetrics and typ == "counter" and name == o["name"] + "_total"
        if name != o["name"] and not renamed:
            errors.append(f"{path} sample {i}: name {o['name']!r}, Python {name!r}")
        if labels != o["labels"]:
            errors.append(f"{path} sample {i} ({name}): labels {o['labels']}, Python {labels}")
        if not same_value(value, value_of(o["value"])):
            errors.append(f"{path} sample {i} ({name}): value {o['value']}, Python {value}")
        if ts != o["timestamp_ms"]:
            errors.append(f"{path} sample {i} ({name}): timestamp {o['timestamp_ms']}, Python {ts}")
    return len(ours), errors


def main():
    harness, paths = sys.argv[1], sys.argv[2:]
    errors = []
    for path in paths:
        n, errs = compare(harness, path)
        print(f"{path}: {n} samples, {len(errs)} mismatches")
        errors += errs
    for e in errors:
        print("MISMATCH " + e)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
