"""What a run prints and writes: the machine, the command, the settings, one table."""

from __future__ import annotations

import os
import platform
import shlex
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DASH = "—"


def command_line() -> str:
    """The command as typed from the repository root (``python -m benchmarks ...``)."""
    python = Path(sys.executable)
    try:
        python = python.relative_to(Path.cwd())
    except ValueError:
        pass
    return shlex.join([str(python), "-m", "benchmarks", *sys.argv[1:]])


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def machine(postgres_version: str) -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"nproc {len(os.sched_getaffinity(0))}, {_memory_gib():.1f} GiB RAM, "
        f"CPU {_cpu_model()}, {platform.system()} {platform.release()}; "
        f"{postgres_version}; load average at start {load}"
    )


def versions() -> str:
    names = ("litestar", "uvicorn", "uvloop", "httptools", "sqlalchemy", "asyncpg", "msgspec")
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return f"Python {platform.python_version()}, " + ", ".join(found)


@dataclass
class Row:
    scenario: str
    target: str
    throughput: str
    p50: str = DASH
    p99: str = DASH
    errors: str = DASH
    app_cpu: str = DASH
    db_cpu: str = DASH
    vs_bare: str = DASH
    vs_pgbench: str = DASH
    notes: str = ""


HEADERS = (
    "scenario",
    "run by",
    "throughput",
    "p50 ms",
    "p99 ms",
    "errors",
    "app CPU ms/req",
    "PG CPU ms/req",
    "vs bare",
    "vs pgbench",
    "notes",
)


def table(rows: list[Row]) -> str:
    cells = [
        [
            r.scenario,
            r.target,
            r.throughput,
            r.p50,
            r.p99,
            r.errors,
            r.app_cpu,
            r.db_cpu,
            r.vs_bare,
            r.vs_pgbench,
            r.notes,
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(HEADERS)]
    right = {2, 3, 4, 5, 6, 7, 8, 9}

    def line(values: list[str] | tuple[str, ...]) -> str:
        padded = [
            v.rjust(widths[i]) if i in right else v.ljust(widths[i]) for i, v in enumerate(values)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * (w - 1) + ":" if i in right else "-" * w for i, w in enumerate(widths)]
    return "\n".join([line(HEADERS), "| " + " | ".join(rule) + " |", *map(line, cells)])


def ratio(value: float, reference: float | None) -> str:
    if not reference:
        return DASH
    return f"{value / reference:.2f}"


def write_markdown(stamp: str, header: list[str], body: str) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{stamp}.md"
    lines = [f"# Benchmark run {stamp}", "", *(f"- {h}" for h in header), "", body, ""]
    path.write_text("\n".join(lines))
    return path
