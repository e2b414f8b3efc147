"""What a query may name: the stored years, makes and models, and the preference options.

A user never has to guess a string: `cwo options` lists them, and a value
that names nothing stored is refused with the closest stored spellings
(:func:`suggest`, difflib, case-insensitive). Everything here only reads.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select

from custom_wheel_offset.errors import ConfigError
from custom_wheel_offset.storage.schema import preference_options, vehicles

if TYPE_CHECKING:
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

__all__ = [
    "PREFERENCE_KINDS",
    "PreferenceFilter",
    "StoredOptions",
    "check_preferences",
    "preference_options_by_type",
    "stored_options",
    "suggest",
]

PREFERENCE_KINDS = ("suspension", "trimming", "rubbing")
"""The option names as `cwo options` and the flags say them (trimming is stored as
``modification`` in fitments and preference sets, as the site calls it)."""


@dataclass(frozen=True, slots=True)
class PreferenceFilter:
    """Which preference sets a query keeps; None keeps every value of that kind."""

    suspension: str | None = None
    trimming: str | None = None
    rubbing: str | None = None

    def given(self) -> dict[str, str]:
        return {k: v for k in PREFERENCE_KINDS if (v := getattr(self, k)) is not None}


@dataclass(frozen=True, slots=True)
class StoredOptions:
    """What is stored: preference options per vehicle type, and names (narrowed by the query)."""

    preferences: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    years: list[int] = field(default_factory=list)
    makes: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "preferences": self.preferences,
            "years": self.years,
            "makes": self.makes,
            "models": self.models,
        }


def suggest(value: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The stored spellings closest to ``value`` (case and accents of the user forgiven)."""
    by_folded: dict[str, str] = {}
    for candidate in candidates:
        by_folded.setdefault(candidate.casefold(), candidate)
    close = difflib.get_close_matches(value.casefold(), list(by_folded), n=n, cutoff=0.6)
    return [by_folded[c] for c in close]


def did_you_mean(candidates: Sequence[str]) -> str:
    return "did you mean " + " or ".join(repr(c) for c in candidates) + "?"


def preference_options_by_type(db: OptimizedDatabaseManager) -> dict[str, dict[str, list[str]]]:
    """Vehicle type -> {suspension, trimming, rubbing: values in the site's order}."""
    p = preference_options.c
    query = select(p.vehicle_type, p.suspension, p.trimming, p.rubbing).order_by(p.vehicle_type)
    with db.read() as conn:
        rows = conn.execute(query).all()
    return {
        row.vehicle_type: {kind: list(json.loads(getattr(row, kind))) for kind in PREFERENCE_KINDS}
        for row in rows
    }


def stored_options(
    db: OptimizedDatabaseManager, *, year: int | None = None, make: str | None = None
) -> StoredOptions:
    """Preference options, the years stored, the makes (of ``year``), the models (of ``make``)."""
    v = vehicles.c
    present = v.gone_crawl.is_(None)
    with db.read() as conn:
        years_q = select(v.year).where(present).distinct().order_by(v.year)
        years = list(conn.execute(years_q).scalars())
        makes_q = select(v.make).where(present).distinct()
        if year is not None:
            makes_q = makes_q.where(v.year == year)
        makes = sorted(conn.execute(makes_q).scalars())
        models: list[str] = []
        if make is not None:
            models_q = select(v.model).where(present, v.make == make).distinct()
            if year is not None:
                models_q = models_q.where(v.year == year)
            models = sorted(conn.execute(models_q).scalars())
    return StoredOptions(preference_options_by_type(db), years, makes, models)


def check_preferences(db: OptimizedDatabaseManager, prefs: PreferenceFilter) -> None:
    """Refuse (exit 2) a preference value no vehicle type offers, with the closest ones."""
    given = prefs.given()
    if not given:
        return
    known: dict[str, set[str]] = {kind: set() for kind in PREFERENCE_KINDS}
    for options in preference_options_by_type(db).values():
        for kind in PREFERENCE_KINDS:
            known[kind].update(options[kind])
    for kind, value in given.items():
        if value in known[kind]:
            continue
        close = suggest(value, known[kind])
        hint = did_you_mean(close) + " " if close else ""
        raise ConfigError(
            f"--{kind} {value!r} is not an option stored for any vehicle type",
            hint=f"{hint}`cwo options` lists the {kind} values stored",
        )
