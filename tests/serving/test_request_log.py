"""The app's log: one line per request (id, method, path without query, status, duration)."""

from __future__ import annotations

import io
import logging
import re

from infrawg.serving import LOG_FORMAT, RequestIdFilter


def enabled(monkeypatch) -> logging.Logger:
    # The migrations' logging.config.fileConfig disabled the loggers that existed then.
    logger = logging.getLogger("infrawg.request")
    monkeypatch.setattr(logger, "disabled", False)
    return logger


def test_each_request_logs_one_line_without_its_query_string(client, caplog, monkeypatch):
    enabled(monkeypatch)
    caplog.set_level(logging.INFO, logger="infrawg.request")
    response = client.get("/charter?token=secret-in-the-query")
    lines = [r.getMessage() for r in caplog.records if r.name == "infrawg.request"]
    assert len(lines) == 1
    assert re.fullmatch(r"GET /charter 200 \d+\.\dms", lines[0]), lines
    assert "secret" not in caplog.text
    assert response.headers["X-Request-Id"]


def test_the_log_format_carries_the_request_id(client, caplog, monkeypatch):
    logger = enabled(monkeypatch)
    caplog.set_level(logging.INFO, logger="infrawg.request")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger.addHandler(handler)
    try:
        response = client.get("/charter", headers={"X-Request-Id": "proxy-id-12345678"})
    finally:
        logger.removeHandler(handler)
    assert response.headers["X-Request-Id"] == "proxy-id-12345678"
    assert "infrawg.request rid=proxy-id-12345678: GET /charter 200 " in stream.getvalue()


def test_the_log_level_is_a_setting():
    from infrawg.config import infrawg_settings

    assert infrawg_settings({})["LOG_LEVEL"] == "INFO"
    assert infrawg_settings({"INFRAWG_LOG_LEVEL": "warning"})["LOG_LEVEL"] == "warning"
