#!/usr/bin/env python3
"""Writes the README's benchmark table from the criterion results in target/criterion.

Run after the benches:
    cargo bench -p memo-benches --bench stampede --bench l2 --bench freshness && python3 benches/table.py
It replaces the text between the `<!-- bench:start -->` and `<!-- bench:end -->` markers. (The
hit-path, request-memo, tags, L1-engine, hit-ratio, memory and miss-path tables are written by
their own benches, run with `-- --readme`.)
"""

import json
import os
import pathlib
import platform
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent
CRITERION = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "criterion"


def ns(group, bench):
    path = CRITERION / group / bench / "new" / "estimates.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())["mean"]["point_estimate"]


def main():
    lines = []
    cpu = platform.processor() or platform.machine()
    try:
        model = re.search(r"model name\s*:\s*(.*)", pathlib.Path("/proc/cpuinfo").read_text()).group(1)
        cpu = f"{model}, {os.cpu_count()} cores"
    except (OSError, AttributeError):
        pass
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    lines.append(f"Measured with `cargo bench -p memo-benches --bench stampede --bench l2` on {cpu} ({rustc}),")
    lines.append("then written here by `python3 benches/table.py`. Means of criterion samples; lower time is better.")
    lines.append("")
    l2_file = CRITERION / "l2_hit.txt"
    if l2_file.exists():
        l2 = dict(line.split() for line in l2_file.read_text().split("\n") if line.strip())
        lines.append("| Redis L2 (`cargo bench -p memo-benches --bench l2`), ~200-byte value, L1 kept empty; interleaved rounds, median | time per call | vs raw GET |")
        lines.append("|---|---|---|")
        raw = float(l2["raw_redis_get"])
        for label, bench in [
            ("raw `GET` of the same bytes (ConnectionManager)", "raw_redis_get"),
            ("**memo** L2 hit (bounded read, decode, fill L1)", "memo_l2_hit"),
            ("`cached` `AsyncRedisCache::async_cache_get`", "cached_async_redis_cache"),
        ]:
            t = float(l2[bench])
            lines.append(f"| {label} | {t / 1e3:.1f} µs | {t / raw:.2f}x |")
        for size in ["200B", "20KB"]:
            enc, dec = ns(f"envelope_{size}", "encode"), ns(f"envelope_{size}", "decode")
            if enc is not None and dec is not None:
                lines.append(f"| envelope {size}: encode / decode | {enc:.0f} ns / {dec:.0f} ns | |")
        breaker = CRITERION / "l2_breaker.txt"
        if breaker.exists():
            lines.append("")
            lines.append(breaker.read_text().strip() + ".")
        lines.append("")
    runs = {}
    runs_file = CRITERION / "stampede_runs.txt"
    if runs_file.exists():
        for line in runs_file.read_text().split("\n"):
            if line.strip():
                group, bench, count = line.split()
                runs[(group, bench)] = count
    stampede_names = {
        "memo": "**memo** async `#[cached]`",
        "cached_sync_writes": "`cached` async, `sync_writes = true`",
        "cached_by_key": "`cached` async, `sync_writes = \"by_key\"`",
        "moka_get_with": "moka `get_with`",
    }
    for title, group in [
        ("Stampede: 1,000 tasks on one cold key, 50 ms loader", "stampede_one_key_1000_callers"),
        ("Stampede: 100 cold keys x 10 tasks, 50 ms loader", "stampede_hundred_keys_10_callers"),
    ]:
        lines.append(f"| {title} | wall time | loader runs |")
        lines.append("|---|---|---|")
        for bench, label in stampede_names.items():
            t = ns(group, bench)
            if t is not None:
                lines.append(f"| {label} | {t / 1e6:.1f} ms | {runs.get((group, bench), '?')} |")
        lines.append("")
    table = "\n".join(lines).rstrip() + "\n"
    readme = ROOT / "README.md"
    text = replace_between(readme.read_text(), "bench", table)
    freshness = CRITERION / "freshness.md"
    if freshness.exists():
        text = replace_between(text, "freshness", freshness.read_text())
    readme.write_text(text)
    print(table)


def replace_between(text, marker, content):
    start, end = f"<!-- {marker}:start -->\n", f"<!-- {marker}:end -->"
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    return before + start + content + end + after


if __name__ == "__main__":
    main()
