"""`cwo audit`: data-quality checks over the stored catalogue (docs/audit.md)."""

from custom_wheel_offset.audit.audit import SEVERITIES, AuditResult, audit_database, fails
from custom_wheel_offset.audit.rules import BOUNDS, RULES, Finding

__all__ = ["BOUNDS", "RULES", "SEVERITIES", "AuditResult", "Finding", "audit_database", "fails"]
