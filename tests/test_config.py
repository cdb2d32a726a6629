"""Options from instrument() keyword arguments, falling back to the OTEL_PYTHON_8X8_* variables."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from otel_8x8.config import ENVIRONMENT_VARIABLES, Options

HOSTS = "OTEL_PYTHON_8X8_HOSTS"
LOG_ERRORS = "OTEL_PYTHON_8X8_LOG_ERRORS"
LOG_LEVEL = "OTEL_PYTHON_8X8_LOG_LEVEL"


def test_defaults() -> None:
    options = Options.from_kwargs({}, environ={})
    assert options.hosts == ()
    assert options.log_errors is True
    assert options.log_level is None
    assert options.request_hook is None
    assert options.response_hook is None


def test_every_variable_documented() -> None:
    assert set(ENVIRONMENT_VARIABLES) == {HOSTS, LOG_ERRORS, LOG_LEVEL}


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
