"""An application as a tenant member would describe it, and its generated cookbook (R14)."""

from __future__ import annotations

import pytest

from infrawg.provisioning.providers.cookbook import (
    AppSpec,
    Attribute,
    ConfigTemplate,
    Port,
    ServiceUnit,
    generate,
)


def hello_app(**changes: object) -> AppSpec:
    fields: dict[str, object] = {
        "name": "hello_app",
        "version": "1.0.0",
        "maintainer": "Ada Tenant",
        "maintainer_email": "ada@tenant.example",
        "description": "A small web application of the Example tenant",
        "packages": ("nginx", "python3"),
        "service": ServiceUnit(
            name="hello",
            command="/usr/bin/python3 -m http.server 8080",
            user="hello",
            working_directory="/srv/hello",
        ),
        "ports": (Port(8080), Port(8125, "udp")),
        "templates": (
            ConfigTemplate(
                path="/etc/hello/hello.conf",
                content="port = <%= @port %>\ngreeting = <%= @greeting %>\n",
            ),
            ConfigTemplate(
                path="/etc/nginx/sites-available/hello",
                content="server {\n  listen 80;\n  location / { proxy_pass "
                "http://127.0.0.1:<%= @port %>; }\n}\n",
                mode="644",
            ),
        ),
        "attributes": (Attribute("port", 8080), Attribute("greeting", "hello, world")),
        "vm": "web1.vms.infrawg.test",
    }
    fields.update(changes)
    return AppSpec(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def spec() -> AppSpec:
    return hello_app()


@pytest.fixture(scope="session")
def files(spec: AppSpec) -> dict[str, str]:
    return generate(spec)
