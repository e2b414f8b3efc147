"""Run the data-quality rules over a stored catalogue (the one I/O seam of the audit).

:func:`audit_database` streams the present vehicles and fitments (gone records
are left out, as `cwo export` leaves them out) through the pure rules of
:mod:`.rules` and returns an :class:`AuditResult`. It only reads.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from custom_wheel_offset.audit.rules import (
    RULES,
    CatalogueChecks,
    Finding,
    check_fitment,
    check_vehicle,
)

if TYPE_CHECKING:
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

__all__ = ["SEVERITIES", "AuditResult", "audit_database", "fails"]

SEVERITIES = ("warning", "error")
_BATCH = 2000


@dataclass(frozen=True, slots=True)
class AuditResult:
    """Every finding, and how many records were checked."""

    findings: tuple[Finding, ...]
    vehicles: int
    fitments: int

    def counts(self) -> dict[str, int]:
        """Findings per severity (``warning``, ``error``; zero included)."""
        tally: Counter[str] = Counter(f.severity for f in self.findings)
        return {severity: tally.get(severity, 0) for severity in SEVERITIES}

    def by_rule(self) -> dict[str, int]:
        """Findings per rule, every rule listed (zero included), in the documented order."""
        tally = Counter(f.rule for f in self.findings)
        return {rule: tally.get(rule, 0) for rule in RULES}

    def summary(self) -> dict[str, Any]:
        return {
            "checked": {"vehicles": self.vehicles, "fitments": self.fitments},
            "findings": self.counts(),
            "by_rule": self.by_rule(),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "items": [f.to_dict() for f in self.findings]}


def fails(result: AuditResult, fail_on: str | None) -> bool:
    """True when a finding is at least as severe as ``fail_on`` (None: never)."""
    if fail_on is None:
        return False
    if fail_on not in SEVERITIES:
        raise ValueError(f"fail_on must be one of {SEVERITIES}, got {fail_on!r}")
    worst = SEVERITIES.index(fail_on)
    return any(SEVERITIES.index(f.severity) >= worst for f in result.findings)


def audit_database(db: OptimizedDatabaseManager) -> AuditResult:
    """Every rule of docs/audit.md over the present catalogue of ``db`` (read-only)."""
    findings: list[Finding] = []
    catalogue = CatalogueChecks()
    vehicles = fitments = 0
    with db.read() as conn:
        for row in _stream(conn, _vehicle_query()):
            vehicles += 1
            findings.extend(check_vehicle(row))
            catalogue.add_vehicle(row)
        for row in _stream(conn, _fitment_query()):
            fitments += 1
            if row["status"] == "ok":
                findings.extend(check_fitment(row))
            catalogue.add_fitment(row)
    findings.extend(catalogue.findings())
    return AuditResult(tuple(findings), vehicles, fitments)


def _stream(conn: Any, query: Any) -> Any:
    result = conn.execution_options(yield_per=_BATCH).execute(query)
    for row in result:
        yield row._mapping


def _vehicle_query() -> Any:
    from custom_wheel_offset.storage.schema import vehicles

    return select_present(vehicles).order_by(vehicles.c.id)


def select_present(table: Any) -> Any:
    from sqlalchemy import select

    return select(table).where(table.c.gone_crawl.is_(None))


def _fitment_query() -> Any:
    from sqlalchemy import select

    from custom_wheel_offset.storage.schema import fitments, preference_sets, vehicles

    return (
        select(
            fitments,
            *(vehicles.c[k] for k in ("year", "make", "model", "trim", "drive", "vehicle_type")),
            preference_sets.c.suspension,
            preference_sets.c.modification,
            preference_sets.c.rubbing,
        )
        .join(vehicles, vehicles.c.id == fitments.c.vehicle_id)
        .join(preference_sets, preference_sets.c.id == fitments.c.prefset_id)
        .where(fitments.c.gone_crawl.is_(None), vehicles.c.gone_crawl.is_(None))
        .order_by(fitments.c.id)
    )
