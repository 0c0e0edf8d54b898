"""Sampling profiles of the service's workers during a benchmark run (``--profile``).

py-spy samples every worker process of `promo serve` from outside while a
scenario is measured, so the profile costs the workers nothing; each worker
writes collapsed stacks (``benchmarks/results/profile-<stamp>-<shape>-<pid>.txt``,
for flame graph tools) and the run prints the functions where the samples of
all workers were spent: by their own code (self) and with what they call
(total).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
REPO = str(Path(__file__).resolve().parents[1]) + "/"
TOP = 25


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise RuntimeError("py-spy is not installed: pip install -e '.[bench]'")
    return found


Recorders = list[tuple[Path, subprocess.Popen[bytes]]]


def start(pids: list[int], seconds: float, stamp: str, shape: str) -> Recorders:
    """Start one py-spy per worker for ``seconds``; wait for them with ``finish``."""
    RESULTS.mkdir(exist_ok=True)
    recorders = []
    for pid in pids:
        out = RESULTS / f"profile-{stamp}-{shape}-{pid}.txt"
        command = [
            py_spy(), "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
            "--rate", "250", "--format", "raw", "--output", str(out), "--nonblocking",
        ]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        recorders.append((out, process))
    return recorders


def finish(recorders: Recorders) -> str:
    """Wait for the recorders; the top functions of all their samples, as text."""
    self_time: Counter[str] = Counter()
    total_time: Counter[str] = Counter()
    samples = 0
    for out, process in recorders:
        process.wait(timeout=120)
        if not out.exists():
            continue
        for line in out.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack:
                continue
            count = int(count_text)
            frames = stack.split(";")
            samples += count
            self_time[_short(frames[-1])] += count
            for frame in {_short(f) for f in frames}:
                total_time[frame] += count
    if not samples:
        return "    (no samples)"
    lines = [f"    {samples:,} samples; self, then total, as % of samples:"]
    for title, counter in (("self", self_time), ("total", total_time)):
        lines.append(f"    -- {title}")
        for frame, count in counter.most_common(TOP):
            lines.append(f"    {100 * count / samples:5.1f}%  {frame}")
    return "\n".join(lines)


def _short(frame: str) -> str:
    """``function (path/to/module.py:123)`` with the path cut to the package."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", REPO, "lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    path = where.rsplit(":", 1)[0]
    return f"{name} ({path})"
