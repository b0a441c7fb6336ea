"""The registry of outside systems (infrawg/registry.py): one conformance check per interface,
every implementation built once in create_app, and a bad setting stops start-up naming it."""

from __future__ import annotations

import json
import logging
from typing import Protocol

import pytest

from infrawg import create_app, registry
from infrawg.notices.mail import MailBackend, OutboxBackend, SMTPBackend
from infrawg.provisioning.base import Provider
from infrawg.provisioning.registry import available_providers
from tests.conftest import base_config

MAIL_BACKENDS = registry.implementations("mail")


@pytest.fixture
def registry_log(monkeypatch, caplog):
    # Alembic's fileConfig (the migrations of the session's database) disables loggers.
    monkeypatch.setattr(logging.getLogger("infrawg.registry"), "disabled", False)
    caplog.set_level(logging.WARNING, logger="infrawg.registry")
    return caplog


def refusal(database_url, **settings) -> str:
    with pytest.raises(registry.ConfigurationError) as refused:
        create_app(base_config(database_url) | settings)
    message = str(refused.value)
    assert message.startswith("infrawg will not start"), message
    return message


# -- verify_class --------------------------------------------------------------------------------


class Greeter(Protocol):
    def greet(self, name: str, *, loud: bool = False) -> str: ...


class GoodGreeter:
    @classmethod
    def create(cls, config):
        return cls()

    def greet(self, name: str, *, loud: bool = False) -> str:
        return name


class RudeGreeter:
    def greet(self, who, loud=False):
        return who


class MuteGreeter:
    @staticmethod
    def create(config):
        return MuteGreeter()


def test_verify_class_accepts_a_conforming_class_and_names_what_others_lack():
    assert registry.verify_class(Greeter, GoodGreeter) == []
    problems = registry.verify_class(Greeter, RudeGreeter)
    assert any("RudeGreeter.greet(self, who, loud=False) does not match" in p for p in problems)
    assert "RudeGreeter has no create(config) classmethod" in problems
    problems = registry.verify_class(Greeter, MuteGreeter)
    assert problems == [
        "MuteGreeter has no method greet()",
        "MuteGreeter has no create(config) classmethod",
    ]


def test_verify_class_refuses_a_provider_with_abstract_methods_left():
    class Half(Provider):
        kind, name = "dns", "half"

        def validate(self, spec):
            pass

    problems = registry.verify_class(Provider, Half, factory=None)
    assert "Half.read() is still abstract" in problems
    assert "Half.validate() is still abstract" not in problems


# -- one conformance test per interface ---------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MAIL_BACKENDS))
def test_every_mail_backend_implements_the_interface(name):
    assert registry.verify_class(MailBackend, MAIL_BACKENDS[name]) == []


@pytest.mark.parametrize("name", sorted(available_providers()))
def test_every_registered_provider_implements_the_interface(name):
    cls = available_providers()[name]
    assert registry.verify_class(Provider, cls, factory=None) == []
    assert registry.find_class("providers", name) is cls


def test_the_built_ins_are_found_by_name():
    assert {"outbox": OutboxBackend, "smtp": SMTPBackend} == MAIL_BACKENDS
    assert set(registry.implementations("list")) == {"log", "mailman3"}
    assert set(available_providers()) <= set(registry.implementations("providers"))


# -- built once, in create_app ------------------------------------------------------------------


def test_every_outside_system_is_built_once_when_the_app_is(app, client):
    mail = registry.find_service("mail", app)
    assert isinstance(mail, OutboxBackend)
    assert registry.find_service("list") is app.extensions["infrawg_list_backend"]
    assert set(registry.find_service("providers")) == {"zonefile"}
    client.get("/")
    assert registry.find_service("mail", app) is mail


def test_development_implementations_warn_when_built(database_url, registry_log):
    create_app(base_config(database_url) | {"MAIL_BACKEND": "outbox", "LIST_BACKEND": "log"})
    messages = [r.getMessage() for r in registry_log.records]
    assert any(m.startswith("DEVELOPMENT MAIL BACKEND") for m in messages)
    assert any(m.startswith("DEVELOPMENT LIST BACKEND") for m in messages)

    registry_log.clear()
    create_app(base_config(database_url) | {"MAIL_BACKEND": "smtp"})
    messages = [r.getMessage() for r in registry_log.records]
    assert not any("MAIL BACKEND" in m for m in messages)


# -- a bad setting stops start-up and names it --------------------------------------------------


def test_an_unknown_mail_backend_stops_start_up(database_url):
    message = refusal(database_url, MAIL_BACKEND="sendmail")
    assert "INFRAWG_MAIL_BACKEND='sendmail' is not one of outbox, smtp" in message


def test_unparsable_providers_json_stops_start_up(database_url):
    message = refusal(database_url, PROVIDERS='{"zones": ')
    assert "INFRAWG_PROVIDERS is not JSON" in message
    message = refusal(database_url, PROVIDERS='{"zones": "rfc2136"}')
    assert "INFRAWG_PROVIDERS must map each provider name to its settings" in message


def test_an_unknown_provider_stops_start_up(database_url):
    message = refusal(database_url, PROVIDERS=json.dumps({"zones": {"provider": "route53"}}))
    assert "INFRAWG_PROVIDERS: the provider 'zones' (route53)" in message
    assert "rfc2136" in message  # what is installed


def test_a_provider_with_bad_settings_stops_start_up(database_url, tmp_path):
    message = refusal(database_url, PROVIDERS={"zonefile": {"directory": str(tmp_path)}})
    assert "INFRAWG_PROVIDERS: the provider 'zonefile'" in message
    assert "'key_directory' is required" in message


def test_a_missing_or_literal_secret_reference_stops_start_up(database_url, monkeypatch):
    monkeypatch.delenv("INFRAWG_TEST_NO_SUCH_KEY", raising=False)
    bind = {"provider": "rfc2136", "server": "127.0.0.1", "tsig_key_name": "infrawg"}
    message = refusal(
        database_url, PROVIDERS={"bind": bind | {"tsig_secret": "env:INFRAWG_TEST_NO_SUCH_KEY"}}
    )
    assert "INFRAWG_PROVIDERS: the provider 'bind' (rfc2136)" in message
    assert "INFRAWG_TEST_NO_SUCH_KEY" in message
    message = refusal(database_url, PROVIDERS={"bind": bind | {"tsig_secret": "hunter2"}})
    assert "reference" in message and "hunter2" not in message


def test_providers_from_a_json_file_are_built_at_start_up(database_url, tmp_path):
    path = tmp_path / "providers.json"
    settings = {"directory": str(tmp_path / "z"), "key_directory": str(tmp_path / "k")}
    path.write_text(json.dumps({"files": {"provider": "zonefile", **settings}}))
    app = create_app(base_config(database_url) | {"PROVIDERS": str(path)})
    built = registry.find_service("providers", app)
    assert list(built) == ["files"]
    assert built["files"].kind == "dns"


class RelayBackend:
    @classmethod
    def create(cls, config):
        return cls()

    def send(self, message):
        raise NotImplementedError


class FakeEntryPoint:
    def __init__(self, name, obj):
        self.name, self.obj = name, obj

    def load(self):
        return self.obj


def test_an_installed_mail_backend_is_found_by_its_entry_point(database_url, monkeypatch):
    installed = {"infrawg.mail_backends": [FakeEntryPoint("relay", RelayBackend)]}
    monkeypatch.setattr(registry, "entry_points", lambda group: installed.get(group, []))
    assert registry.implementations("mail")["relay"] is RelayBackend
    app = create_app(base_config(database_url) | {"MAIL_BACKEND": "relay"})
    assert isinstance(registry.find_service("mail", app), RelayBackend)
    message = refusal(database_url, MAIL_BACKEND="pigeon")
    assert "is not one of outbox, relay, smtp" in message
