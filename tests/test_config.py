"""Options from instrument() keyword arguments, falling back to the OTEL_PYTHON_8X8_* variables."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from otel_8x8.config import ENVIRONMENT_VARIABLES, Options

HOSTS = "OTEL_PYTHON_8X8_HOSTS"
LOG_ERRORS = "OTEL_PYTHON_8X8_LOG_ERRORS"
LOG_LEVEL = "OTEL_PYTHON_8X8_LOG_LEVEL"
LOG_LIMIT = "OTEL_PYTHON_8X8_LOG_LIMIT"
LOG_INTERVAL = "OTEL_PYTHON_8X8_LOG_INTERVAL"


def test_defaults() -> None:
    options = Options.from_kwargs({}, environ={})
    assert options.hosts == ()
    assert options.log_errors is True
    assert options.log_level is None
    assert options.log_limit == 10
    assert options.log_interval == 60.0
    assert options.request_hook is None
    assert options.response_hook is None


def test_every_variable_documented() -> None:
    assert set(ENVIRONMENT_VARIABLES) == {HOSTS, LOG_ERRORS, LOG_LEVEL, LOG_LIMIT, LOG_INTERVAL}


# --- environment --------------------------------------------------------------------------------


def test_hosts_from_environment() -> None:
    options = Options.from_kwargs({}, environ={HOSTS: "gw.example.com, *.proxy.example.com,127.0.0.1:8080"})
    assert options.hosts == ("gw.example.com", "*.proxy.example.com", "127.0.0.1:8080")


@pytest.mark.parametrize("value", ["false", "FALSE", " False ", "0", "no", "off"])
def test_log_errors_off_from_environment(value: str) -> None:
    assert Options.from_kwargs({}, environ={LOG_ERRORS: value}).log_errors is False


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes", "on", ""])
def test_log_errors_on_from_environment(value: str) -> None:
    assert Options.from_kwargs({}, environ={LOG_ERRORS: value}).log_errors is True


@pytest.mark.parametrize(
    ("value", "level"),
    [("INFO", logging.INFO), ("info", logging.INFO), (" WARNING ", logging.WARNING), ("ERROR", logging.ERROR)],
)
def test_log_level_from_environment(value: str, level: int) -> None:
    assert Options.from_kwargs({}, environ={LOG_LEVEL: value}).log_level == level


@pytest.mark.parametrize("value", ["", "LOUD", "Level 5"])
def test_bad_log_level_ignored(value: str) -> None:
    assert Options.from_kwargs({}, environ={LOG_LEVEL: value}).log_level is None


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOSTS, "gw.example.com")
    monkeypatch.setenv(LOG_ERRORS, "false")
    monkeypatch.setenv(LOG_LEVEL, "INFO")
    options = Options.from_kwargs({})
    assert options.hosts == ("gw.example.com",)
    assert options.log_errors is False
    assert options.log_level == logging.INFO


# --- keyword arguments --------------------------------------------------------------------------

ENV = {HOSTS: "env.example.com", LOG_ERRORS: "false", LOG_LEVEL: "INFO"}


def test_kwargs_hosts_extend_environment() -> None:
    options = Options.from_kwargs({"hosts": ["kw.example.com", " *.kw2.example.com "]}, environ=ENV)
    assert options.hosts == ("env.example.com", "kw.example.com", "*.kw2.example.com")


def test_kwargs_hosts_as_comma_separated_string() -> None:
    options = Options.from_kwargs({"hosts": "a.example.com, b.example.com,"}, environ={})
    assert options.hosts == ("a.example.com", "b.example.com")


def test_kwargs_override_log_settings() -> None:
    options = Options.from_kwargs({"log_errors": True, "log_level": "ERROR"}, environ=ENV)
    assert options.log_errors is True
    assert options.log_level == logging.ERROR


def test_kwargs_log_level_as_int() -> None:
    assert Options.from_kwargs({"log_level": logging.DEBUG}, environ=ENV).log_level == logging.DEBUG


def test_kwargs_log_errors_false_over_default() -> None:
    assert Options.from_kwargs({"log_errors": False}, environ={}).log_errors is False


def test_environment_used_when_kwargs_absent() -> None:
    options = Options.from_kwargs({"log_errors": None}, environ=ENV)
    assert options.log_errors is False
    assert options.log_level == logging.INFO


def test_hooks_passed_through() -> None:
    def request_hook(span: Any, request: Any) -> None:
        pass

    def response_hook(span: Any, request: Any, response: Any) -> None:
        pass

    options = Options.from_kwargs({"request_hook": request_hook, "response_hook": response_hook}, environ={})
    assert options.request_hook is request_hook
    assert options.response_hook is response_hook


# --- the log limit ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "limit", "interval"),
    [
        ({LOG_LIMIT: "25", LOG_INTERVAL: "10"}, 25, 10.0),
        ({LOG_LIMIT: " 3 ", LOG_INTERVAL: "0.5"}, 3, 0.5),
        ({LOG_LIMIT: "0"}, 0, 60.0),
        ({LOG_LIMIT: "none"}, 0, 60.0),
        ({LOG_LIMIT: "NONE"}, 0, 60.0),
        ({LOG_LIMIT: "lots", LOG_INTERVAL: "soon"}, 10, 60.0),
        ({LOG_LIMIT: "", LOG_INTERVAL: "0"}, 10, 60.0),
        ({LOG_INTERVAL: "-5"}, 10, 60.0),
    ],
)
def test_log_limit_from_environment(environ: dict[str, str], limit: int, interval: float) -> None:
    options = Options.from_kwargs({}, environ=environ)
    assert (options.log_limit, options.log_interval) == (limit, interval)


def test_log_limit_keywords_win_over_environment() -> None:
    options = Options.from_kwargs({"log_limit": 4, "log_interval": 2}, environ={LOG_LIMIT: "none", LOG_INTERVAL: "9"})
    assert (options.log_limit, options.log_interval) == (4, 2.0)
    options = Options.from_kwargs({"log_limit": 0}, environ={LOG_LIMIT: "5"})
    assert options.log_limit == 0


def test_log_limit_keywords_absent_or_unreadable_fall_back() -> None:
    options = Options.from_kwargs({"log_limit": None, "log_interval": "x"}, environ={LOG_LIMIT: "7", LOG_INTERVAL: "3"})
    assert (options.log_limit, options.log_interval) == (7, 3.0)
