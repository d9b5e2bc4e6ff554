"""`make bench`: the offline plan of a stack against its floor, `python -m tools.bench [stack]`.

Runs `python -m tools.plan <stack>` and `python -m tools.floor <its inventory.json>`
alternately, RUNS times each, each in a fresh interpreter (so imports count, as they do
for `make plan`), and prints both medians and their ratio. Alternating spreads the noise
of a shared machine over both. The goal for prod is a ratio of at most 1.5.
This is a measurement, not a test: nothing fails on a slow run.
"""

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RUNS = 3
GOAL = 1.5


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run. On a shared machine CPU time is the
    steadier of the two: it does not count the time other processes hold the cores."""
    start, cpu_start = time.perf_counter(), _children_cpu()
    finished = subprocess.run(command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed, cpu = time.perf_counter() - start, _children_cpu() - cpu_start
    if finished.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({finished.returncode}):\n{finished.stderr}")
    return elapsed, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench", description="Time the offline plan against its floor."
    )
    parser.add_argument("stack", nargs="?", default="prod")
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-") as out:
        plan = [sys.executable, "-m", "tools.plan", args.stack, "--out", out]
        floor = [sys.executable, "-m", "tools.floor", str(Path(out) / args.stack / "inventory.json")]
        plan_times: list[tuple[float, float]] = []
        floor_times: list[tuple[float, float]] = []
        for run in range(1, args.runs + 1):
            plan_times.append(timed(plan))  # first: it writes the inventory the floor replays
            floor_times.append(timed(floor))
            (plan_wall, plan_cpu), (floor_wall, floor_cpu) = plan_times[-1], floor_times[-1]
            print(
                f"run {run}: plan {plan_wall:.2f} s (cpu {plan_cpu:.2f} s), floor {floor_wall:.2f} s (cpu {floor_cpu:.2f} s)",
                flush=True,
            )
    for label, index in (("wall", 0), ("cpu", 1)):
        plan_median = statistics.median(t[index] for t in plan_times)
        floor_median = statistics.median(t[index] for t in floor_times)
        ratio = plan_median / floor_median
        print(
            f"{args.stack} ({label}): plan median {plan_median:.2f} s, floor median {floor_median:.2f} s, "
            f"ratio {ratio:.2f} (goal <= {GOAL}: {'met' if ratio <= GOAL else 'not met'})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
