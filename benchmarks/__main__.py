"""`python -m benchmarks`: the benchmark of issue 9, start to finish, in one command.

Starts its own PostgreSQL (default settings), seeds it, runs `promo serve`
and a bare Litestar app (2 workers each) under wrk, and pgbench, then prints
one table (requests/s, p50, p99, ratios to the ceilings, bulk, export, RSS)
and writes it to ``benchmarks/results/<timestamp>.md``. Everything it
started is stopped, also on failure or Ctrl-C. See ``benchmarks/RESULTS.md``.

    .venv/bin/python -m benchmarks                          # everything, ~5 minutes
    .venv/bin/python -m benchmarks --duration 3 --rows 100000
    .venv/bin/python -m benchmarks --only redeem-many,pgbench
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import NoReturn

from benchmarks import harness, scenarios


def _terminate(signum: int, frame: object) -> NoReturn:
    # Unwind through the harness's cleanup (servers, PostgreSQL) on SIGTERM too.
    sys.exit(128 + signum)


def main() -> int:
    names = [shape.name for shape in scenarios.SHAPES]
    choices = ", ".join([*names, *scenarios.TARGETS, *scenarios.EXTRAS])
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--duration", type=float, default=10, help="seconds per scenario (default 10)"
    )
    parser.add_argument(
        "--warmup", type=float, default=2, help="seconds of warm-up before each (default 2)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run each server's scenarios this many times, every other round in reverse "
        "order, and report their sums (a scenario's place in the order moves its rate: "
        "later ones meet bigger tables and autovacuum; default 1)",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=16,
        help="wrk connections and pgbench clients (default 16)",
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="wrk and pgbench threads (default 2)"
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=1_000_000,
        help="codes of the bulk batch and ledger rows of the export (default 1,000,000)",
    )
    parser.add_argument(
        "--only",
        metavar="SCENARIO[,SCENARIO...]",
        help=f"run only these: a shape, a target, target:shape, or an extra ({choices})",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample promo's workers with py-spy during each measured promo scenario "
        "and print where their time goes (benchmarks/profile.py)",
    )
    parser.add_argument(
        "--statements",
        action="store_true",
        help="print PostgreSQL's planning and execution time per statement during each "
        "measured promo scenario (pg_stat_statements)",
    )
    options = parser.parse_args()
    if options.rounds < 1:
        parser.error("--rounds must be at least 1")
    if options.connections < options.threads:
        parser.error("--connections must be at least --threads")
    signal.signal(signal.SIGTERM, _terminate)
    return harness.run(options)


if __name__ == "__main__":
    sys.exit(main())
