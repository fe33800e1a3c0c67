"""The CLI's log formatter writes exactly what logging's default formatter writes."""

from __future__ import annotations

import logging

from mlflow.gateway.server.serve import _SecondCachedFormatter

FORMAT = "%(asctime)s %(levelname)s %(message)s"


def _record(created: float) -> logging.LogRecord:
    record = logging.LogRecord("mlflow.gateway.access", logging.INFO, __file__, 1, "line %d",
                               (7,), None)
    record.created = created
    record.msecs = int((created - int(created)) * 1000) + 0.0
    return record


def test_lines_equal_the_default_formatters_across_seconds() -> None:
    ours, reference = _SecondCachedFormatter(FORMAT), logging.Formatter(FORMAT)
    # Within a second, across a second, back to an earlier second, and a day later.
    for created in (1_700_000_000.001, 1_700_000_000.999, 1_700_000_001.5, 1_700_000_000.25,
                    1_700_086_400.0):
        record = _record(created)
        assert ours.format(record) == reference.format(record)
        assert ours.format(record).endswith("INFO line 7")


def test_an_explicit_date_format_is_honoured() -> None:
    ours, reference = _SecondCachedFormatter(FORMAT), logging.Formatter(FORMAT)
    record = _record(1_700_000_000.5)
    assert ours.formatTime(record, "%H:%M") == reference.formatTime(record, "%H:%M")
