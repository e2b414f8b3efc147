"""Logging for the command line: only the CLI calls :func:`configure_logging`.

Under cron (no TTY) every line is plain text or JSON (``--log-format json``),
with no control characters; on a terminal the same lines go to stderr beside
the progress display. Every handler cwo installs has a :class:`SafeRecordFilter`:
a record's message and traceback reach no output with a URL secret or a raw
control character (text from the network can hold ``ESC ] 0 ; ... BEL``).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from custom_wheel_offset.redact import safe_text

__all__ = [
    "JsonFormatter",
    "SafeRecordFilter",
    "configure_logging",
    "logs_through",
    "summary_line",
]

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class SafeRecordFilter(logging.Filter):
    """Masks URL secrets and escapes control characters in a record, in place.

    A handler's filter, not a logger's: records of child loggers reach the
    root's handlers without passing the root logger's filters. Rewriting the
    record is idempotent, so a record seen by two handlers stays the same.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = safe_text(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            # A traceback keeps its lines; only what is inside a line is escaped.
            record.exc_text = "\n".join(safe_text(line) for line in record.exc_text.splitlines())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message (and exc when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            out["exc"] = record.exc_text
        elif record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def summary_line(message: str, log_format: str, **fields: Any) -> str:
    """The closing ``cwo: ...`` line, or with ``--log-format json`` a JSON object like the logs'.

    Printed whatever ``--quiet`` says, so it is not a log record; ``fields``
    (outcome, exit code) are added to the JSON object.
    """
    if log_format != "json":
        return f"cwo: {safe_text(message)}"
    record = logging.makeLogRecord(
        {"name": "cwo", "levelno": logging.INFO, "levelname": "INFO", "msg": safe_text(message)}
    )
    out = json.loads(JsonFormatter().format(record))
    out.update(fields)
    return json.dumps(out, ensure_ascii=False)


def configure_logging(
    *,
    quiet: bool = False,
    debug: bool = False,
    log_file: str | None = None,
    log_format: str = "text",
    stream: TextIO | None = None,
) -> None:
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    formatter: logging.Formatter = (
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_cwo", False):
            root.removeHandler(handler)
            handler.close()
    handlers: list[logging.Handler] = [logging.StreamHandler(stream or sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(SafeRecordFilter())
        handler._cwo = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    # Third-party chatter stays out of the user's log unless debugging.
    for noisy in ("urllib3", "sqlalchemy", "alembic"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)


class _ConsoleHandler(logging.Handler):
    """Writes formatted records through a rich console, which keeps a live display below them.

    Unlike rich's own handler it adds no columns or date format of its own: a
    line looks the same as in the log file and under cron.
    """

    def __init__(self, console: Any) -> None:
        super().__init__()
        self._console = console

    def emit(self, record: logging.LogRecord) -> None:
        from rich.text import Text

        try:
            line = self.format(record)
            self._console.print(Text(line), soft_wrap=True, highlight=False)
        except RecursionError:  # as logging.StreamHandler does
            raise
        except Exception:  # noqa: BLE001 - logging must not raise; handleError reports it
            self.handleError(record)


@contextmanager
def logs_through(console: Any) -> Iterator[None]:
    """While a rich progress display is live, log through its console.

    Two writers on one terminal garble each other's lines; rich keeps the
    display below the log lines when both go through the same console. The
    lines keep the stream handler's format (text with ISO dates, or JSON).
    """
    root = logging.getLogger()
    streams = [
        h
        for h in root.handlers
        if getattr(h, "_cwo", False)
        and isinstance(h, logging.StreamHandler)
        and not isinstance(h, logging.FileHandler)
    ]
    if console is None or not streams:
        yield
        return
    handler = _ConsoleHandler(console)
    handler.setFormatter(streams[0].formatter or logging.Formatter(TEXT_FORMAT))
    handler.setLevel(streams[0].level)
    handler.addFilter(SafeRecordFilter())
    for h in streams:
        root.removeHandler(h)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        for h in streams:
            root.addHandler(h)
