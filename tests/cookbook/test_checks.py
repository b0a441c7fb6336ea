"""Each check catches what it is for, in a hand-broken copy of a generated cookbook (R14)."""

from __future__ import annotations

import pytest

from infrawg.provisioning.providers.cookbook import (
    Tools,
    metadata_fields,
    passed,
    rubocop,
    ruby_syntax,
    static_check,
    template_syntax,
)
from infrawg.provisioning.providers.cookbook.checks import STATIC_CHECK_SCRIPT


def _append(files: dict[str, str], path: str, text: str) -> tuple[dict[str, str], int]:
    """`files` with `text` added at the end of `path`, and the line number it starts on."""
    before = files[path]
    return {**files, path: before + text}, before.count("\n") + 1


def test_r14_ruby_syntax_error_is_caught(files: dict[str, str]) -> None:
    broken, start = _append(files, "recipes/default.rb", "package 'curl' do\n  action :install\n")

    results = ruby_syntax(broken)

    [error] = [r for r in results if not r.passed]
    assert error.file == "recipes/default.rb"
    assert "syntax error" in error.message
    assert error.line is not None and error.line >= start
    assert all(r.passed for r in results if r.file != "recipes/default.rb")
    # The static check cannot load it either, and says so on the same file.
    [problem] = static_check(broken).results
    assert not problem.passed and "syntax error" in problem.message


def test_r14_ruby_warning_fails_too(files: dict[str, str]) -> None:
    broken, start = _append(files, "attributes/default.rb", "unused = 1\n")

    [warning] = [r for r in ruby_syntax(broken) if not r.passed]

    assert (warning.file, warning.line) == ("attributes/default.rb", start)
    assert "unused" in warning.message


def test_r14_template_syntax_error_is_caught(files: dict[str, str]) -> None:
    broken = {**files, "templates/hello.conf.erb": "port = 1\nname = x\n<%= foo( %>\nend\n"}

    results = template_syntax(broken)

    [error] = [r for r in results if not r.passed]
    assert (error.file, error.line) == ("templates/hello.conf.erb", 3)
    assert "syntax error" in error.message
    assert [r.file for r in results if r.passed] == ["templates/hello.erb"]


def test_r14_rubocop_offence_reported_with_file_and_line(files: dict[str, str]) -> None:
    broken, start = _append(files, "recipes/default.rb", '\npackage "curl"\n')

    results = rubocop(broken)

    [offence] = [r for r in results if not r.passed]
    assert (offence.file, offence.line) == ("recipes/default.rb", start + 1)
    assert offence.message.startswith("Style/StringLiterals:")
    assert {r.file for r in results if r.passed} == {
        p for p in files if p.endswith(".rb") and p != "recipes/default.rb"
    }


CASES = {
    "unknown resource": ("\nnginx_site 'default'\n", 1, "unknown resource or method 'nginx_site'"),
    "unknown property": (
        "\npackage 'curl' do\n  versoin '7.88'\nend\n",
        2,
        "package[curl] has no property 'versoin'",
    ),
    "missing template": (
        "\ntemplate '/etc/motd' do\n  source 'motd.erb'\nend\n",
        1,
        "template[/etc/motd]: templates/motd.erb does not exist in the cookbook",
    ),
    "bad notification": (
        "\nfile '/etc/hello/extra' do\n  content 'x'\n"
        "  notifies :restart, 'service[nginx]', :delayed\nend\n",
        3,
        "file[/etc/hello/extra] notifies service[nginx], which the recipe does not declare",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_r14_static_check_catches_unknown_resource_property_missing_template_and_bad_notification(
    files: dict[str, str], case: str
) -> None:
    text, offset, message = CASES[case]
    assert passed(list(static_check(files).results))
    broken, start = _append(files, "recipes/default.rb", text)

    [problem] = static_check(broken).results

    assert not problem.passed
    assert (problem.file, problem.line, problem.message) == (
        "recipes/default.rb",
        start + offset,
        message,
    )


def test_static_check_reports_unset_attributes_and_unpassed_template_variables(
    files: dict[str, str],
) -> None:
    broken = {**files, "templates/hello.erb": "listen <%= @port %> <%= @workers %>\n"}
    broken, start = _append(broken, "recipes/default.rb", "\nlog_level = node['hello_app']['x']\n")

    messages = {(r.line, r.message) for r in static_check(broken).results}

    assert (start + 1, "node['hello_app']['x'] is not set in attributes/") in messages
    assert any("templates/hello.erb uses @workers" in m for _, m in messages)


def test_r14_metadata_fields_checked(files: dict[str, str]) -> None:
    good = metadata_fields(files, expected_name="hello_app")
    assert passed(good)
    assert [r.message.split()[0] for r in good] == [
        "name",
        "version",
        "license",
        "maintainer",
        "maintainer_email",
        "description",
        "supports",
        "chef_version",
    ]

    metadata = "\n".join(
        line
        for line in files["metadata.rb"].splitlines()
        if not line.startswith(("license", "supports", "chef_version"))
    )
    metadata = metadata.replace("version '1.0.0'", "version '1.0'")
    metadata = metadata.replace("maintainer_email 'ada@tenant.example'", "maintainer_email 'ada'")
    broken = {**files, "metadata.rb": metadata + "\n"}

    results = {r.message: r for r in metadata_fields(broken, expected_name="other_app")}

    failed = {m for m, r in results.items() if not r.passed}
    assert failed == {
        "name must be the cookbook's name (other_app), lower-case letters, digits and _",
        "version must be three numbers (x.y.z)",
        "license must name the licence (an SPDX identifier such as Apache-2.0)",
        "maintainer_email must be an email address",
        "supports must name a platform",
        "chef_version must be a constraint such as '>= 17.0'",
    }
    version_line = metadata.splitlines().index("version '1.0'") + 1
    assert results["version must be three numbers (x.y.z)"].line == version_line
    assert results["supports must name a platform"].line is None  # no such line at all


def test_r14_a_recipe_that_never_ends_is_stopped_at_the_timeout(files: dict[str, str]) -> None:
    looping = {**files, "recipes/default.rb": "x = 0\nx += 1 while x >= 0\n"}

    [result] = static_check(looping, Tools(timeout=2)).results

    assert not result.passed and result.message == "ran longer than 2 s"


def test_static_check_follows_include_recipe_and_names_the_included_file(
    files: dict[str, str],
) -> None:
    broken, _ = _append(files, "recipes/default.rb", "include_recipe 'hello_app::extra'\n")
    broken["recipes/extra.rb"] = "\nnotify_me 'x'\n"

    [problem] = static_check(broken).results

    assert (problem.file, problem.line) == ("recipes/extra.rb", 2)
    assert problem.message == "unknown resource or method 'notify_me'"


def test_the_shipped_static_check_passes_ruby_wc_and_the_pinned_rubocop() -> None:
    own = {"static_check.rb": STATIC_CHECK_SCRIPT.read_text()}

    results = ruby_syntax(own) + rubocop(own)

    assert passed(results), [r for r in results if not r.passed]
