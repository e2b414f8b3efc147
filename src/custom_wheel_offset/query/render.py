"""Plain-text and CSV forms of query answers (pure: data in, lines out).

The ``--json`` forms are the answers' ``as_json`` dictionaries, documented in
docs/querying.md; these are for people reading a terminal.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from custom_wheel_offset.exporting.format import AXLE_RANGE_KEYS, csv_cell

__all__ = [
    "FITS_CSV_COLUMNS",
    "explain_lines",
    "fits_csv",
    "fits_lines",
    "lookup_lines",
    "options_lines",
]

FITS_CSV_COLUMNS: tuple[str, ...] = (
    "year",
    "make",
    "model",
    "trim",
    "drive",
    "vehicle_type",
    "bolt_pattern_mm",
    "bolt_pattern_in",
    "hub_bore_mm",
    "suspension",
    "modification",
    "rubbing",
    *(f"{axle}_{k}" for axle in ("front", "rear") for k in AXLE_RANGE_KEYS),
)


def _n(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


def _span(lo: float | None, hi: float | None) -> str:
    return f"{_n(lo)}-{_n(hi)}"


def axle_text(axle: Mapping[str, Any]) -> str:
    """``18-22" x 8-10" ET 20..45`` for one axle's ranges."""
    return (
        f'{_span(axle["diameter_min"], axle["diameter_max"])}" x '
        f'{_span(axle["width_min"], axle["width_max"])}" '
        f"ET {_n(axle['offset_min'])}..{_n(axle['offset_max'])}"
    )


def _ranges_text(rng: Mapping[str, Any]) -> str:
    if rng["status"] != "ok":
        return "no data"
    front, rear = axle_text(rng["front"]), axle_text(rng["rear"])
    return f"{front}" if front == rear else f"front {front} | rear {rear}"


def _identity(r: Mapping[str, Any]) -> str:
    return f"{r['year']} {r['make']} {r['model']} {r['trim']} ({r['drive']})"


def _prefs(r: Mapping[str, Any]) -> str:
    return f"{r['suspension']} / {r['modification']} / {r['rubbing']}"


def vehicle_header(v: Mapping[str, Any]) -> list[str]:
    bolt = v["bolt_pattern_mm"] or "?"
    if v["bolt_pattern_in"]:
        bolt += f" ({v['bolt_pattern_in']})"
    return [
        _identity(v),
        f"  type {v['vehicle_type'] or '?'}, bolt pattern {bolt}, hub bore "
        f"{_n(v['hub_bore_mm'])} mm, {v['lug_type'] or 'lug'} {v['lug_size'] or '?'}",
    ]


def lookup_lines(vehicles: Sequence[Mapping[str, Any]]) -> list[str]:
    """Per vehicle: its specs, then one line per preference set with its ranges."""
    out: list[str] = []
    for v in vehicles:
        out += vehicle_header(v)
        out += [f"  {_prefs(r)}: {_ranges_text(r)}" for r in v["ranges"]]
        if not v["ranges"]:
            out.append("  (no fitment ranges stored for these preferences)")
    return out


def fits_lines(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    return [f"{_identity(r)}  {_prefs(r)}: {_ranges_text({**r, 'status': 'ok'})}" for r in rows]


def fits_csv(rows: Iterable[Mapping[str, Any]], *, raw: bool = False) -> str:
    """The fits rows as CSV (front/rear flattened; formula-looking text defused unless raw)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(FITS_CSV_COLUMNS)
    for r in rows:
        flat = {**r, **{f"{a}_{k}": r[a][k] for a in ("front", "rear") for k in AXLE_RANGE_KEYS}}
        writer.writerow([csv_cell(flat[c], raw=raw) for c in FITS_CSV_COLUMNS])
    return buf.getvalue()


def explain_lines(vehicles: Sequence[Mapping[str, Any]]) -> list[str]:
    out: list[str] = []
    for v in vehicles:
        out += vehicle_header(v)
        out += [f"  does not fit: {why}" for why in v["vehicle_failures"]]
        for r in v["ranges"]:
            verdict = "fits" if r["fits"] else "no: " + "; ".join(r["failures"])
            out.append(f"  {_prefs(r)}: {verdict}")
    return out


def options_lines(stored: Mapping[str, Any]) -> list[str]:
    out = []
    for vtype, options in stored["preferences"].items():
        out.append(f"{vtype}:")
        for kind, values in options.items():
            out.append(f"  {kind}: " + " | ".join(values))
    years = stored["years"]
    out.append("years: " + (", ".join(map(str, years)) if years else "(none)"))
    for what in ("makes", "models"):
        if stored[what]:
            out.append(f"{what}: " + " | ".join(stored[what]))
    return out
