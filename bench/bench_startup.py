"""Benchmark: what a whole `assetflow` process costs when the work itself is small.

1. A chain of 100 assets that each return a small dict (stored as JSON):
   `assetflow materialize` as a new process, from nothing (target: under 0.3 s),
   against a plain `python chain.py` that calls the same 100 functions and writes
   their JSON files beside and renames them.
2. A no-op `assetflow materialize` over 1,000 fresh assets, as a new process
   (target: under 0.3 s), against a bare `python -c pass`.
3. What the imports of that no-op process cost, by top-level package
   (`python -X importtime`).

Medians of alternating turns; each side runs as a new process with bytecode caching on.
`--chain N` times a chain of N assets instead (the target is for 100).

    python bench/bench_startup.py [--repeats N] [--chain N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Targets for the whole process.
TARGET_CHAIN_S = 0.3
TARGET_NOOP_S = 0.3
CHAIN = 100
FRESH = 1_000


def child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def assetflow_command() -> list[str]:
    script = Path(sys.executable).parent / "assetflow"
    return [str(script)] if script.exists() else [sys.executable, "-m", "assetflow.cli"]


def chain_module(count: int) -> str:
    lines = ["from assetflow import asset", "", "", "@asset", "def a0() -> dict:"]
    lines += ["    return {'n': 0}", ""]
    for i in range(1, count):
        lines += ["", "@asset", f"def a{i}(a{i - 1}: dict) -> dict:"]
        lines += [f"    return {{'n': a{i - 1}['n'] + 1}}", ""]
    return "\n".join(lines)


PLAIN_CHAIN = """
import json
import os
import sys
from pathlib import Path

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
value = None
for i in range({count}):
    fn = globals()[f"a{{i}}"]
    value = fn() if i == 0 else fn(value)
    target = out / f"a{{i}}.json"
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(json.dumps(value))
    os.replace(temporary, target)
"""


def make_project(root: Path, module: str) -> Path:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.assetflow]\nmodules = ["assets"]\n')
    (root / "assets.py").write_text(module)
    return root


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=child_env())
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return wall


def bench_chain(work: Path, repeats: int, length: int = CHAIN) -> None:
    module = chain_module(length)
    plain = work / "plain"
    plain.mkdir()
    script = plain / "chain.py"
    body = module.replace("from assetflow import asset\n", "").replace("@asset\n", "")
    script.write_text(body + PLAIN_CHAIN.format(count=length))
    runs, baselines = [], []
    for turn in range(repeats + 1):  # the first turn of each warms up, uncounted
        root = make_project(work / f"chain-{turn}", module)
        wall = timed([*assetflow_command(), "--project", str(root), "materialize"], root)
        base = timed([sys.executable, str(script), str(plain / f"out-{turn}")], plain)
        if turn:
            runs.append(wall)
            baselines.append(base)
    run, base = statistics.median(runs), statistics.median(baselines)
    target = f"(target < {TARGET_CHAIN_S} s) " + ("OK" if run < TARGET_CHAIN_S else "MISSED")
    print(
        f"1. `assetflow materialize` of a {length}-asset JSON chain, new process: {run:.3f} s "
        f"{target if length == CHAIN else '(no target)'}; plain script {base:.3f} s, "
        f"ratio {run / base:.1f}x"
    )


def bench_noop(work: Path, repeats: int) -> None:
    module = chain_module(FRESH)
    root = make_project(work / "fresh", module)
    command = [*assetflow_command(), "--project", str(root), "materialize"]
    timed(command, root)  # materialize once: everything is fresh after
    runs, bare = [], []
    for _ in range(repeats):
        runs.append(timed(command, root))
        bare.append(timed([sys.executable, "-c", "pass"], root))
    run, base = statistics.median(runs), statistics.median(bare)
    ok = "OK" if run < TARGET_NOOP_S else "MISSED"
    print(
        f"2. no-op `assetflow materialize` over {FRESH:,} fresh assets, new process: "
        f"{run:.3f} s (target < {TARGET_NOOP_S} s) {ok}; bare Python start-up {base:.3f} s, "
        f"ratio {run / base:.1f}x"
    )


def bench_imports(root: Path) -> None:
    """The imports of a no-op `materialize` process, top-level packages by cumulative cost."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "assetflow.cli", "materialize"],
        cwd=root,
        capture_output=True,
        text=True,
        env=child_env(),
    )
    costs: dict[str, int] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        if cumulative.strip().isdigit() and name.startswith(" ") and not name.startswith("  "):
            top = name.strip().split(".")[0]
            costs[top] = costs.get(top, 0) + int(cumulative)
    total = sum(costs.values())
    slowest = sorted(((us, name) for name, us in costs.items()), reverse=True)[:6]
    shown = ", ".join(f"{name} {us / 1000:.0f} ms" for us, name in slowest)
    print(f"3. imports of a no-op `materialize` process: {total / 1000:.0f} ms ({shown})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed turns of each side")
    parser.add_argument("--chain", type=int, default=CHAIN, help="assets in the timed chain")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="assetflow-bench-startup-") as tmp:
        bench_chain(Path(tmp), args.repeats, args.chain)
        bench_noop(Path(tmp), args.repeats)
        bench_imports(Path(tmp) / "fresh")


if __name__ == "__main__":
    main()
