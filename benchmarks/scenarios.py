"""What a benchmark run measures: the scenarios of issue 9 and who runs each.

A shape is a kind of request stream (validate many codes, redeem one hot
code, ...); each is run by some of the targets: ``promo`` (`promo serve`),
``bare`` (the bare Litestar ceiling) and ``pgbench`` (the database's own
ceiling). ``--only`` picks shapes, targets, ``target:shape`` pairs and the
extras (bulk, export, memory).
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.seed import Pool

VALIDATE_CODES = 100_000
# Pools of single-use codes are sized for this rate over warm-up + run; a pool
# that runs dry shows as errors (codes taken twice answer 409).
MAX_RATE = 4_000


@dataclass(frozen=True)
class Shape:
    name: str
    label: str
    targets: tuple[str, ...]


SHAPES = (
    Shape("validate-many", "validate: many codes (100k, 10 campaigns)", ("promo", "bare")),
    Shape("validate-hot", "validate: one hot code", ("promo", "bare")),
    Shape(
        "redeem-many",
        "redeem: single-use codes across 10 campaigns",
        ("promo", "bare", "pgbench"),
    ),
    Shape(
        "redeem-affiliate",
        "redeem: affiliate codes across 10 campaigns, inline commission (10%)",
        ("promo",),
    ),
    Shape(
        "redeem-plan",
        "redeem: affiliate codes across 10 campaigns, tiered per-category plan",
        ("promo",),
    ),
    Shape(
        "redeem-campaign",
        "redeem: codes of ONE campaign with a limit and a budget",
        ("promo", "bare", "pgbench"),
    ),
    Shape(
        "redeem-campaign-nolimit",
        "redeem: codes of one campaign without campaign limits",
        ("promo",),
    ),
    Shape("redeem-hot", "redeem: one hot code (limit 100M)", ("promo", "bare", "pgbench")),
    Shape("nodb", "validate body, no database (framework ceiling)", ("bare",)),
)
EXTRAS = ("bulk", "export", "memory")
TARGETS = ("promo", "bare", "pgbench")
# The ceilings a scenario is compared with, when not its own shape.
CEILING_SHAPE = {
    "redeem-campaign-nolimit": "redeem-campaign",
    "redeem-affiliate": "redeem-many",
    "redeem-plan": "redeem-many",
}

Run = tuple[str, Shape]


def select(only: str | None) -> tuple[list[Run], set[str]]:
    """The (target, shape) runs and extras named by ``--only`` (all without it)."""
    runs = [(target, shape) for target in TARGETS for shape in SHAPES if target in shape.targets]
    if not only:
        return runs, set(EXTRAS)
    wanted = {part.strip() for part in only.split(",") if part.strip()}
    known = (
        {shape.name for shape in SHAPES}
        | set(TARGETS)
        | set(EXTRAS)
        | {f"{target}:{shape.name}" for target, shape in runs}
    )
    if unknown := wanted - known:
        choices = ", ".join(sorted(known))
        raise SystemExit(f"--only: unknown {', '.join(sorted(unknown))}; choose from {choices}")
    chosen = [
        (target, shape)
        for target, shape in runs
        if {target, shape.name, f"{target}:{shape.name}"} & wanted
    ]
    return chosen, set(EXTRAS) & wanted


def plan_pools(runs: list[Run], seconds: float) -> dict[str, Pool]:
    size = max(20_000, int(MAX_RATE * seconds))
    pools: dict[str, Pool] = {}
    for target, shape in runs:
        if shape.name == "validate-many":
            pools.setdefault("validate", Pool("many", VALIDATE_CODES))
        elif shape.name == "redeem-many":
            pools[f"{target}:{shape.name}"] = Pool("many", size)
        elif shape.name == "redeem-plan":
            pools[f"{target}:{shape.name}"] = Pool("plan", size)
        elif shape.name == "redeem-affiliate":
            pools[f"{target}:{shape.name}"] = Pool("affiliate", size)
        elif shape.name == "redeem-campaign":
            pools[f"{target}:{shape.name}"] = Pool(f"limited-{target}", size)
        elif shape.name == "redeem-campaign-nolimit":
            pools[f"{target}:{shape.name}"] = Pool(f"nolimit-{target}", size)
    return pools
