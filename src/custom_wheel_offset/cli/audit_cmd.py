"""`cwo audit`: data-quality checks over the stored catalogue."""

from __future__ import annotations

import json

import click

from custom_wheel_offset.cli.options import db_option

__all__ = ["audit_cmd", "audit_lines"]

#: Findings listed per rule on the terminal; ``--json`` lists them all.
SHOWN_PER_RULE = 20


def audit_lines(result: object, *, shown_per_rule: int = SHOWN_PER_RULE) -> list[str]:
    """The terminal text of an :class:`~custom_wheel_offset.audit.AuditResult`."""
    from custom_wheel_offset.audit import AuditResult
    from custom_wheel_offset.redact import safe_text

    assert isinstance(result, AuditResult)
    counts = result.counts()
    lines = [
        f"audit: {result.vehicles} vehicle(s), {result.fitments} fitment(s) checked; "
        f"{counts['error']} error(s), {counts['warning']} warning(s)"
    ]
    for rule, n in result.by_rule().items():
        if not n:
            continue
        lines.append(f"{rule}: {n}")
        for finding in [f for f in result.findings if f.rule == rule][:shown_per_rule]:
            record = {k: v for k, v in finding.record.items() if k != "table"}
            # Quoted, so that names differing only by spaces are told apart.
            who = json.dumps(list(record.values()), ensure_ascii=False)
            lines.append(safe_text(f"  {finding.severity}: {who}: {finding.message}"))
        if n > shown_per_rule:
            lines.append(f"  ... and {n - shown_per_rule} more (--json lists all)")
    return lines


@click.command("audit")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    envvar="CWO_JSON",
    help="Machine-readable output: summary and every finding. Env: CWO_JSON.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["warning", "error"]),
    default=None,
    envvar="CWO_FAIL_ON",
    help="Exit 3 when a finding of this severity or worse exists (default: exit 0). "
    "Env: CWO_FAIL_ON.",
)
@db_option
@click.pass_context
def audit_cmd(ctx: click.Context, as_json: bool, fail_on: str | None, db: str | None) -> None:
    """Check the stored catalogue for data-quality anomalies.

    Each finding has its rule, severity (warning or error) and the record's
    identity: min above max; diameter, width, offset, hub bore or bolt circle
    outside plausible bounds; mm and inch bolt patterns that disagree; front
    and rear ranges that disagree with the vehicle's stagger; vehicles whose
    identity differs only by case or spaces; vehicles without fitments; a
    preference set whose ranges never vary across a make. Rules and bounds:
    docs/audit.md. Only reads the database.

    Example:

        cwo audit --db sqlite:///data/sandbox.db

        cwo audit --json --fail-on error
    """
    from custom_wheel_offset.audit import audit_database, fails
    from custom_wheel_offset.cli.data_cmds import open_database
    from custom_wheel_offset.errors import EXIT_AUDIT_FINDINGS

    manager = open_database(ctx, db)
    try:
        result = audit_database(manager)
    finally:
        manager.dispose()
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False, default=str))
    else:
        for line in audit_lines(result):
            click.echo(line)
    if fails(result, fail_on):
        ctx.exit(EXIT_AUDIT_FINDINGS)
