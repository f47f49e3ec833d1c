#!/usr/bin/env python3
"""What `#[cached]` costs the build: one crate of N cached functions (mixed sync and async,
different argument and return types) written twice, once on memo and once on the `cached`
crate, each built from scratch (its dependencies already built, no incremental cache) in
alternating rounds. Prints the median CPU time (user + system, the compiler's processes
included) of each, and their ratio.

Run from anywhere: python3 benches/compile_time.py [--functions 100] [--rounds 5]
"""

import argparse
import os
import resource
import statistics
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "target" / "compile-time"


def cached_version() -> str:
    """The `cached` version the workspace's benchmarks use, from Cargo.lock."""
    lines = (ROOT / "Cargo.lock").read_text().splitlines()
    for i, line in enumerate(lines):
        if line == 'name = "cached"':
            return lines[i + 1].split('"')[1]
    raise SystemExit("no `cached` in Cargo.lock")


# (sync?, parameters, return type, body): four kinds, taken in turn.
KINDS = [
    (True, "id: u64", "u64", "id.wrapping_mul(31)"),
    (True, "name: String, page: u32", "Option<String>", "(page > 0).then(|| format!(\"{name}:{page}\"))"),
    (False, "id: u64", "Result<u64, String>", "if id % 7 == 0 { Err(\"seven\".to_owned()) } else { Ok(id + 1) }"),
    (False, "key: String", "Vec<u32>", "key.bytes().map(u32::from).collect()"),
]


def source(flavor: str, functions: int) -> str:
    out = ["#![allow(dead_code)]", ""]
    out.append("use memo_runtime::cached;" if flavor == "memo" else "use cached::proc_macro::cached;")
    for i in range(functions):
        sync, params, ret, body = KINDS[i % len(KINDS)]
        if flavor == "memo":
            attr = "#[cached(ttl = 60)]"
        else:
            # `cached` 4 stores neither an `Err` nor a `None`, as memo does without `negative_ttl`.
            attr = "#[cached(ttl_secs = 60)]"
        asyncness = "" if sync else "async "
        out.append(f"\n{attr}\npub {asyncness}fn f{i}({params}) -> {ret} {{\n    {body}\n}}")
    return "\n".join(out) + "\n"


def manifest(flavor: str) -> str:
    if flavor == "memo":
        dep = f'memo-runtime = {{ path = "{ROOT / "memo-runtime"}" }}'
    else:
        dep = f'cached = {{ version = "={cached_version()}", default-features = false, features = ["proc_macro", "async", "time_stores"] }}'
    return f'[package]\nname = "on-{flavor}"\nversion = "0.0.0"\nedition = "2024"\npublish = false\n\n[dependencies]\n{dep}\n\n[workspace]\n'


def write(flavor: str, functions: int) -> Path:
    crate = WORK / flavor
    (crate / "src").mkdir(parents=True, exist_ok=True)
    (crate / "Cargo.toml").write_text(manifest(flavor))
    (crate / "src" / "lib.rs").write_text(source(flavor, functions))
    return crate


def build(crate: Path) -> None:
    env = dict(os.environ, CARGO_INCREMENTAL="0", CARGO_TARGET_DIR=str(WORK / "target"))
    subprocess.run(["cargo", "build", "-q", "--manifest-path", str(crate / "Cargo.toml")], check=True, env=env)


def cpu_seconds(crate: Path) -> float:
    """CPU time of rebuilding the crate itself (its dependencies are up to date)."""
    (crate / "src" / "lib.rs").touch()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    build(crate)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--functions", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    crates = {flavor: write(flavor, args.functions) for flavor in ("memo", "cached")}
    for crate in crates.values():
        build(crate)  # dependencies, once
    times = {flavor: [] for flavor in crates}
    for _ in range(args.rounds):
        for flavor, crate in crates.items():
            times[flavor].append(cpu_seconds(crate))
    memo, cached = (statistics.median(times[f]) for f in ("memo", "cached"))
    print(f"{args.functions} #[cached] functions, debug build, no incremental, median of {args.rounds} rounds (CPU s):")
    for flavor in crates:
        print(f"  {flavor:<7} {statistics.median(times[flavor]):6.2f}   rounds: {' '.join(f'{t:.2f}' for t in times[flavor])}")
    print(f"  memo / cached = {memo / cached:.2f}x")


if __name__ == "__main__":
    main()
