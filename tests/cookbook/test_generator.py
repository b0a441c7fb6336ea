"""The generated cookbook (R14): every check passes, bytes are stable, versions diff, and
nothing a tenant types becomes Ruby. Real ruby, erb and RuboCop throughout."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infrawg.errors import Invalid
from infrawg.provisioning.providers.cookbook import (
    Attribute,
    ConfigTemplate,
    ServiceUnit,
    check_cookbook,
    diff_versions,
    generate,
    passed,
    previews,
    static_check,
)
from infrawg.provisioning.providers.cookbook.checks import (
    METADATA,
    RUBOCOP,
    RUBY_SYNTAX,
    STATIC,
    TEMPLATE_SYNTAX,
)
from infrawg.provisioning.providers.cookbook.ruby import literal, string
from infrawg.provisioning.providers.cookbook.spec import AppSpec

from .conftest import hello_app

ROOT = Path(__file__).resolve().parents[2]


def test_r14_generated_cookbook_passes_every_check(files: dict[str, str]) -> None:
    results = check_cookbook(files, expected_name="hello_app")

    assert passed(results), [r for r in results if not r.passed]
    assert {r.check for r in results} == {RUBY_SYNTAX, TEMPLATE_SYNTAX, RUBOCOP, METADATA, STATIC}
    ruby_files = {p for p in files if p.endswith(".rb")}
    assert ruby_files == {
        "metadata.rb",
        "attributes/default.rb",
        "recipes/default.rb",
        "Policyfile.rb",
        "test/integration/default/default_test.rb",
    }
    assert {r.file for r in results if r.check == RUBY_SYNTAX} == ruby_files
    assert {r.file for r in results if r.check == RUBOCOP} == ruby_files
    assert {r.file for r in results if r.check == TEMPLATE_SYNTAX} == {
        "templates/hello.conf.erb",
        "templates/hello.erb",
    }
    kitchen = yaml.safe_load(files["kitchen.yml"])
    assert kitchen["verifier"] == {"name": "inspec"}
    assert kitchen["suites"][0]["verifier"]["inspec_tests"] == ["test/integration/default"]
    assert "not in infrawg" in files["README.md"]  # converging is the operators' Chef's


def test_r14_static_check_sees_what_the_recipe_declares(files: dict[str, str]) -> None:
    report = static_check(files)

    template = report.resource("template", "/etc/hello/hello.conf")
    assert template["properties"]["variables"] == {"port": 8080, "greeting": "hello, world"}
    assert template["notifications"] == [["notifies", ":restart", "service[hello]", ":delayed"]]
    unit = report.resource("systemd_unit", "hello.service")["properties"]["content"]
    assert unit["Service"]["ExecStart"] == "/usr/bin/python3 -m http.server 8080"
    assert unit["Service"]["User"] == "hello"
    assert report.resource("package", "nginx, python3")
    rule = report.resource("firewall_rule", "hello_app udp 8125")["properties"]
    assert rule == {"port": 8125, "protocol": ":udp", "command": ":allow"}
    assert report.metadata["depends"] == [["firewall", ">= 6.0"]]


def test_r14_generation_is_deterministic_and_versions_diff(
    spec: AppSpec, files: dict[str, str]
) -> None:
    again = generate(hello_app())
    assert again == files
    assert list(again) == list(files) == sorted(files)
    assert diff_versions(files, again, "1.0.0", "1.0.0") == ""
    # Nor does it depend on the interpreter's hash seed (set order, dict order).
    program = (
        "import hashlib, json; from tests.cookbook.conftest import hello_app; "
        "from infrawg.provisioning.providers.cookbook import generate; "
        "print(hashlib.sha256(json.dumps(generate(hello_app())).encode()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", program],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert digests == {hashlib.sha256(json.dumps(files).encode()).hexdigest()}

    newer = dataclasses.replace(
        spec,
        version="1.1.0",
        packages=(*spec.packages, "curl"),
        attributes=(Attribute("port", 8081), spec.attribute("greeting")),
        templates=spec.templates[:1],
    )
    diff = diff_versions(files, generate(newer), "1.0.0", "1.1.0")
    lines = diff.splitlines()

    assert "--- 1.0.0/metadata.rb" in lines and "+++ 1.1.0/metadata.rb" in lines
    assert "-version '1.0.0'" in lines and "+version '1.1.0'" in lines
    assert "-default['hello_app']['port'] = 8080" in lines
    assert "+default['hello_app']['port'] = 8081" in lines
    assert "+package %w(nginx python3 curl)" in lines
    # A template taken out is a whole-file deletion.
    assert "--- 1.0.0/templates/hello.erb" in lines and "+++ /dev/null" in lines
    assert "kitchen.yml" not in diff  # unchanged files are not shown


def test_a_spec_round_trips_through_json(spec: AppSpec) -> None:
    again = AppSpec.from_dict(json.loads(json.dumps(spec.to_dict())))

    assert again == spec
    assert generate(again) == generate(spec)
    with pytest.raises(Invalid, match="not an application description"):
        AppSpec.from_dict({**spec.to_dict(), "colour": "blue"})
    with pytest.raises(Invalid, match="valid version"):
        AppSpec.from_dict({**spec.to_dict(), "version": "1.0"})


def test_r14_template_tags_are_values_only() -> None:
    path = "/etc/x.conf"
    for code in ("<% system('id') %>", "<%= @port.to_s + `id` %>", "<%== @port %>", "<%= @port"):
        with pytest.raises(Invalid, match="Only tags of the form"):
            ConfigTemplate(path=path, content=code)
    literal_tag = ConfigTemplate(path=path, content="a <%% b %> <%= @port %>\n")
    assert literal_tag.variables == ("port",)
    with pytest.raises(Invalid, match="not one of the attributes"):
        hello_app(templates=(ConfigTemplate(path=path, content="<%= @nope %>"),))
    with pytest.raises(Invalid, match="one line"):
        ServiceUnit(name="x", command="run\nExecStartPre=/bin/evil")


HOSTILE = [
    "'; system('touch {marker}'); '",
    '"; system("touch {marker}"); "',
    "#{{File.write('{marker}', 'x')}}",
    "\\#{{`touch {marker}`}}",
    "`touch {marker}`",
    "%x(touch {marker})",
    "back\\slash \\' \\\" \\\\",
    "line one\nline two\r\n\ttab\x1b[31m",
    "nul \x00 then 1: \x001 del \x7f",
    "#@ivar #$stdout #{{}} #",
    "=begin\n__END__\nend",
    "unicode é ☃ \u2028 \u202e",
]


def test_r14_tenant_input_cannot_inject_ruby(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = [h.format(marker=marker) for h in HOSTILE]

    # Each literal, read by Ruby itself, is the string it came from.
    program = "require 'json'\nprint JSON.generate([" + ", ".join(string(h) for h in hostile)
    program += "])\n"
    done = subprocess.run(
        ["/usr/bin/ruby", "-e", program], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == hostile
    assert (
        literal({"a": [1, 2.5, True, None, "#{x}"]}) == "{ 'a' => [1, 2.5, true, nil, \"\\#{x}\"] }"
    )

    one_line = [h for h in hostile if "\n" not in h and not any(ord(c) < 32 for c in h)]
    spec = hello_app(
        description=one_line[0],
        maintainer=one_line[2],
        service=ServiceUnit(name="hello", command=one_line[3]),
        attributes=(
            Attribute("port", 8080),
            Attribute("greeting", hostile[0]),
            *(Attribute(f"hostile_{i}", h) for i, h in enumerate(hostile)),
            Attribute("list", tuple(hostile[:4])),
            Attribute("words", ("alpha", "beta-gamma", "naïve")),
        ),
    )
    files = generate(spec)
    # Hostile text makes a cookbook like any other: every check passes, RuboCop's included.
    results = check_cookbook(files, expected_name="hello_app")
    assert passed(results), [r for r in results if not r.passed]
    report = static_check(files)

    assert passed(list(report.results)), report.results
    attributes = report.attributes["hello_app"]
    assert [attributes[f"hostile_{i}"] for i in range(len(hostile))] == hostile
    assert attributes["list"] == hostile[:4]
    assert attributes["words"] == ["alpha", "beta-gamma", "naïve"]
    assert report.metadata["description"] == one_line[0]
    assert report.metadata["maintainer"] == one_line[2]
    unit = report.resource("systemd_unit", "hello.service")["properties"]["content"]
    assert unit["Service"]["ExecStart"] == one_line[3]
    template = report.resource("template", "/etc/hello/hello.conf")
    assert template["properties"]["variables"]["greeting"] == hostile[0]

    # A unit of the tenant's own is one string, whatever it holds.
    unit_text = "\n".join(hostile)
    own_unit = generate(hello_app(service=ServiceUnit(name="hello", unit=unit_text)))
    report = static_check(own_unit)
    assert passed(list(report.results)), report.results
    assert report.resource("systemd_unit", "hello.service")["properties"]["content"] == unit_text
    assert not marker.exists()


def test_static_check_refuses_to_shell_out_or_write(files: dict[str, str], tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for recipe in (
        f"::Kernel.system('touch {marker}')\n",
        f"::File.write('{marker}', 'x')\n",
        f"::IO.popen(['touch', '{marker}'])\n",
        f"::Process.spawn('touch {marker}')\n",
        f"::Object.new.send(:system, 'touch {marker}')\n",
        f"`touch {marker}`\n",
        f"%x(touch {marker})\n",
        "::Kernel.puts('{\"problems\": []}')\n::Kernel.exit!(0)\n",
    ):
        report = static_check({**files, "recipes/default.rb": recipe})

        assert not marker.exists(), recipe
        [problem] = report.results
        # Printing a fake report goes nowhere; the refusal is on the recipe's last line.
        assert not problem.passed and problem.line == recipe.count("\n"), recipe
        assert "refused" in problem.message or "unknown resource" in problem.message


def test_previews_print_what_ruby_erb_prints(tmp_path: Path) -> None:
    content = "a = <%= @a %>\nb = <%= @b %> <%% literal %%> -%>\nc = <%= @c %>, <%=@d%>\n"
    values = {"a": HOSTILE[2], "b": 2.5e20, "c": ["x", 1, "y z"], "d": False}
    spec = hello_app(
        templates=(ConfigTemplate(path="/etc/hello/x.conf", content=content),),
        attributes=tuple(Attribute(k, v) for k, v in values.items()),  # type: ignore[arg-type]
    )
    files = generate(spec)

    preview = previews(files, static_check(files))["/etc/hello/x.conf"]

    template = tmp_path / "x.conf.erb"
    template.write_text(content)
    erb = subprocess.run(
        [
            "/usr/bin/ruby",
            "-rerb",
            "-rjson",
            "-e",
            # As Chef renders a template: the variables are instance variables.
            "ctx = Object.new; JSON.parse($stdin.read).each { |k, v| "
            'ctx.instance_variable_set(:"@#{k}", v) }; '
            "print ERB.new(File.read(ARGV[0]), trim_mode: '-')"
            ".result(ctx.instance_eval { binding })",
            str(template),
        ],
        input=json.dumps(values),
        capture_output=True,
        text=True,
        check=True,
    )
    assert preview == erb.stdout
    assert preview.startswith(f"a = {HOSTILE[2]}\nb = 2.5e+20 <% literal %%> -%>\n")
