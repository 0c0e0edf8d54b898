"""Dependencies point down: a domain imports only from the layers below it.

The layers, lowest first (STYLE.md): the foundation (errors, ids, money,
settings, the database plumbing, customer identity), then the catalogue
(campaigns, affiliates, API keys, the audit log, codes), the ledger
(accounting), and the checkout, which reads the catalogue and appends to
the ledger; the performance reports read all of them. HTTP routes are
edges: they may use any service below them, but never another domain's
routes. The app, the CLI and the demo sit on top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "promo"

LAYERS: list[set[str]] = [
    # auth.roles: who calls (Role, Principal), a type every layer may name.
    {"errors", "clock", "ids", "money", "settings", "schemas", "identity", "observability"}
    | {"csv_cells", "pii"}
    | {"auth.roles"},
    {"db"},
    {"jobs"},
    {"events"},
    # Commission plans and their pricing rules (pure), which campaigns and
    # affiliates attach and the ledger and checkout price with.
    {"plans"},
    {"campaigns"},
    {"affiliates"},
    {"auth"},
    {"audit"},
    # Console accounts (people): sign-in and sessions, audited as actors; an
    # invitation, a link or a deactivation writes its own audit line.
    {"people"},
    {"codes"},
    {"ledger"},
    {"checkout"},
    # Conversions without an order: priced as the checkout prices a code.
    {"conversions"},
    # Referral programs: enrol referrers (codes), reward them (checkout, ledger).
    {"referrals"},
    # Performance reports: read the ledger and the checkout's redemptions.
    {"reports"},
    {"customers", "retention", "webhooks"},
    {"deps", "health", "api_document", "audit_routes"},
    # The web console: an edge over every service, below only the app.
    {"console"},
]
# Modules that put the others together, above every layer.
TOP = {"app", "cli", "cli_users", "demo", "openapi", "job_kinds", "__main__", "__init__"}


def is_routes(name: str) -> bool:
    return name.endswith("routes.py")


def layer_of(name: str) -> int:
    """The layer of a package (``codes``) or of a module named on its own (``auth.roles``)."""
    for index, members in enumerate(LAYERS):
        if name in members:
            return index
    if "." in name:
        return layer_of(name.split(".")[0])
    raise AssertionError(f"promo.{name} belongs to no layer: add it to LAYERS")


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def imported(path: Path) -> set[str]:
    """The top-level promo packages ``path`` imports (anywhere in the module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("promo."):
            found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.module == "promo":
            found.update(f"promo.{alias.name}" for alias in node.names)
    return found


def domain_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_only_from_its_layer_or_below(path: Path) -> None:
    domain = domain_of(path)
    if domain in TOP or path.relative_to(PACKAGE).as_posix() == "db/models.py":
        return  # db/models.py gathers every domain's tables for the metadata
    own = layer_of(domain)
    edge = is_routes(path.name)
    wrong = []
    for module in imported(path):
        target = module.split(".")[1]
        if target == domain:
            continue
        if target in TOP:
            wrong.append(module)
        elif edge:
            if is_routes(module.rsplit(".", 1)[-1] + ".py"):
                wrong.append(f"{module} (routes use services, never other routes)")
        elif layer_of(".".join(module.split(".")[1:3])) > own:
            wrong.append(module)
    assert not wrong, f"promo/{path.relative_to(PACKAGE)} imports from above: {sorted(wrong)}"


def test_every_domain_is_in_a_layer() -> None:
    for path in modules():
        domain = domain_of(path)
        if domain not in TOP:
            layer_of(domain)
