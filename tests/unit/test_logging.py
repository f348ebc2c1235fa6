"""Log lines go to the stderr of the moment they are written, not to the stream that was
stderr when logging was configured (a CLI run under a test runner is given a stream that is
closed when the run ends; later log lines must not fail on it)."""

from __future__ import annotations

import io
import json
import sys

import pytest
import structlog

from learning_analytics.presentation.observability import configure_logging


def test_lines_follow_stderr_after_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    at_configuration = io.StringIO()
    monkeypatch.setattr(sys, "stderr", at_configuration)
    configure_logging(level="INFO", json_logs=True)
    at_configuration.close()
    now = io.StringIO()
    monkeypatch.setattr(sys, "stderr", now)
    structlog.get_logger("test").warning("still_written", detail=1)
    line = json.loads(now.getvalue())
    assert (line["event"], line["detail"], line["level"]) == ("still_written", 1, "warning")
