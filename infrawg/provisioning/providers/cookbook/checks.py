"""The checks every cookbook version gets before staff review it (R14), with the real tools.

- `ruby -wc` on every `.rb` (a warning fails too: the generator writes warning-free Ruby);
- `erb -x -T - | ruby -c` on every template (Debian's ruby ships erb);
- RuboCop (Debian's 1.39) with the pinned configuration `data/rubocop.yml`;
- the metadata fields (name, version, license, maintainer, supports, chef_version...);
- the static cookbook check (`data/static_check.rb`): the recipes loaded against a stub of the
  Chef resource DSL. It is not a converge; converging runs in the operators' Chef.

Each check returns `CheckResult`s: a failed one per problem found, and a passed one per file
(or field) that held, so the review shows what was checked and not only what failed. The files
are written to a scratch directory; nothing runs in the site's own directories.
"""

from __future__ import annotations

import functools
import json
import posixpath
import re
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infrawg.errors import Invalid
from infrawg.provisioning.base import ProviderError
from infrawg.provisioning.providers.cookbook.spec import (
    CHEF_VERSION,
    COOKBOOK_NAME,
    EMAIL,
    LICENSE,
    VERSION,
    template_variables,
)

__all__ = [
    "DATA",
    "METADATA",
    "RUBOCOP",
    "RUBOCOP_CONFIG",
    "RUBY_SYNTAX",
    "STATIC",
    "STATIC_CHECK_SCRIPT",
    "TEMPLATE_SYNTAX",
    "CheckResult",
    "StaticReport",
    "Tools",
    "check_cookbook",
    "metadata_fields",
    "passed",
    "previews",
    "rubocop",
    "ruby_syntax",
    "static_check",
    "template_syntax",
]

DATA = Path(__file__).parent / "data"
RUBOCOP_CONFIG = DATA / "rubocop.yml"
STATIC_CHECK_SCRIPT = DATA / "static_check.rb"

RUBY_SYNTAX = "ruby -wc"
TEMPLATE_SYNTAX = "erb -x -T - | ruby -c"
RUBOCOP = "RuboCop"
METADATA = "metadata fields"
STATIC = "static cookbook check"

_DIAGNOSTIC = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+): (?P<message>.+)$", re.M)


@dataclass(frozen=True)
class CheckResult:
    """One finding of one check: where (file, line when known), what, and whether it held."""

    check: str
    file: str
    line: int | None
    message: str
    passed: bool


@dataclass(frozen=True)
class StaticReport:
    """The static cookbook check's findings and what it evaluated: the metadata fields, the
    merged node attributes and every declared resource with its properties (plain JSON)."""

    results: tuple[CheckResult, ...]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)
    resources: tuple[Mapping[str, Any], ...] = ()

    def resource(self, type_: str, name: str) -> Mapping[str, Any]:
        return next(r for r in self.resources if r["type"] == type_ and r["name"] == name)


@dataclass(frozen=True)
class Tools:
    """Where the tools are and how long any one run may take (a hung tool is a failed check)."""

    ruby: str = "/usr/bin/ruby"
    erb: str = "/usr/bin/erb"
    rubocop: str = "/usr/bin/rubocop"
    timeout: float = 60.0


TOOLS = Tools()


@contextmanager
def _written(files: Mapping[str, str]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="infrawg-cookbook-") as scratch:
        root = Path(scratch) / "cookbook"
        root.mkdir()
        for path, text in files.items():
            if path.startswith("/") or posixpath.normpath(path) != path or path.startswith(".."):
                raise ValueError(f"{path!r} is not a path inside the cookbook")
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        yield root


def _run(
    args: list[str], tools: Tools, cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str] | None:
    """Run a tool with an empty environment; None when it ran past the timeout."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(cwd)}
    try:
        return subprocess.run(  # noqa: S603 - fixed tools, our arguments
            args,
            cwd=cwd,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=tools.timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    except FileNotFoundError as exc:
        raise ProviderError(f"{args[0]} is not installed (Debian: ruby, rubocop)") from exc


def _timed_out(check: str, path: str, tools: Tools) -> CheckResult:
    return CheckResult(check, path, None, f"ran longer than {tools.timeout:.0f} s", False)


def ruby_syntax(files: Mapping[str, str], tools: Tools = TOOLS) -> list[CheckResult]:
    """`ruby -wc` on every `.rb` file: syntax errors and warnings, with their lines."""
    results = []
    with _written(files) as root:
        for path in sorted(p for p in files if p.endswith(".rb")):
            done = _run([tools.ruby, "-wc", path], tools, root)
            if done is None:
                results.append(_timed_out(RUBY_SYNTAX, path, tools))
                continue
            found = [
                CheckResult(RUBY_SYNTAX, path, int(m["line"]), m["message"], False)
                for m in _DIAGNOSTIC.finditer(done.stderr)
                if m["file"] == path
            ]
            if done.returncode != 0 and not found:
                found.append(CheckResult(RUBY_SYNTAX, path, None, done.stderr.strip(), False))
            results += found or [CheckResult(RUBY_SYNTAX, path, None, "Syntax OK", True)]
    return results


def template_syntax(files: Mapping[str, str], tools: Tools = TOOLS) -> list[CheckResult]:
    """Every `templates/**.erb` compiled by `erb -x -T -` and the Ruby checked by `ruby -c`;
    a line is the template's (erb puts one line of its own first)."""
    results = []
    with _written(files) as root:
        for path in sorted(p for p in files if p.startswith("templates/") and p.endswith(".erb")):
            compiled = _run([tools.erb, "-x", "-T", "-", path], tools, root)
            if compiled is None:
                results.append(_timed_out(TEMPLATE_SYNTAX, path, tools))
                continue
            if compiled.returncode != 0:
                message = compiled.stderr.strip() or "erb failed"
                results.append(CheckResult(TEMPLATE_SYNTAX, path, None, message, False))
                continue
            done = _run([tools.ruby, "-c"], tools, root, stdin=compiled.stdout)
            if done is None:
                results.append(_timed_out(TEMPLATE_SYNTAX, path, tools))
                continue
            found = [
                CheckResult(TEMPLATE_SYNTAX, path, max(int(m["line"]) - 1, 1), m["message"], False)
                for m in _DIAGNOSTIC.finditer(done.stderr)
                if m["file"] == "-"
            ]
            if done.returncode != 0 and not found:
                found.append(CheckResult(TEMPLATE_SYNTAX, path, None, done.stderr.strip(), False))
            results += found or [CheckResult(TEMPLATE_SYNTAX, path, None, "Syntax OK", True)]
    return results


def rubocop(files: Mapping[str, str], tools: Tools = TOOLS) -> list[CheckResult]:
    """RuboCop with the pinned configuration on every `.rb` file: one result per offence."""
    paths = sorted(p for p in files if p.endswith(".rb"))
    if not paths:
        return []
    with _written(files) as root:
        args = [tools.rubocop, "--config", str(RUBOCOP_CONFIG), "--format", "json"]
        done = _run([*args, "--no-color", "--cache", "false", *paths], tools, root)
    if done is None:
        return [_timed_out(RUBOCOP, path, tools) for path in paths]
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        # Exit 2: RuboCop itself failed (a broken configuration, a crash); say so, in full.
        message = (done.stderr or done.stdout).strip()[-2000:] or f"exit {done.returncode}"
        return [CheckResult(RUBOCOP, paths[0], None, message, False)]
    results = []
    for entry in report.get("files", []):
        offences = entry.get("offenses", [])
        for o in offences:
            location = o.get("location", {})
            line = location.get("start_line", location.get("line"))
            message = f"{o['cop_name']}: {o['message']}"
            results.append(CheckResult(RUBOCOP, entry["path"], line, message, False))
        if not offences:
            results.append(CheckResult(RUBOCOP, entry["path"], None, "no offences", True))
    return results


def static_check(files: Mapping[str, str], tools: Tools = TOOLS) -> StaticReport:
    """The static cookbook check: metadata.rb, attributes/*.rb and recipes/default.rb
    evaluated against the stub DSL in `data/static_check.rb` (see its header)."""
    with _written(files) as root:
        done = _run([tools.ruby, str(STATIC_CHECK_SCRIPT), str(root)], tools, root.parent)
    if done is None:
        return StaticReport((_timed_out(STATIC, "recipes/default.rb", tools),))
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        message = (done.stderr or done.stdout).strip()[-2000:] or f"exit {done.returncode}"
        return StaticReport((CheckResult(STATIC, "recipes/default.rb", None, message, False),))
    results = tuple(
        CheckResult(STATIC, p["file"] or "recipes/default.rb", p["line"], p["message"], False)
        for p in report["problems"]
    ) or (
        CheckResult(
            STATIC,
            "recipes/default.rb",
            None,
            f"{len(report['resources'])} resources, every property, template and notification "
            "target known",
            True,
        ),
    )
    return StaticReport(
        results=results,
        metadata=report["metadata"],
        attributes=report["attributes"],
        resources=tuple(report["resources"]),
    )


_PREVIEW_TAG = re.compile(r"<%%|<%=\s*@([a-z][a-z0-9_]*)\s*%>")


def previews(files: Mapping[str, str], report: StaticReport) -> dict[str, str]:
    """Each template's file as Chef would write it with the attributes' defaults, keyed by its
    destination path, for the review. Only templates made of `<%= @name %>` tags (the ones a
    spec can hold) are previewed; each value is printed as Ruby's `to_s` printed it."""
    out: dict[str, str] = {}
    for resource in report.resources:
        if resource["type"] != "template":
            continue
        path = str(resource["properties"].get("path") or resource["name"])
        source = resource["properties"].get("source") or posixpath.basename(path) + ".erb"
        text = files.get(f"templates/{source}")
        printed = resource.get("printed", {})
        try:
            names = template_variables(text or "")
        except Invalid:
            continue
        if text is None or not set(names) <= printed.keys():
            continue
        out[path] = _PREVIEW_TAG.sub(functools.partial(_print_tag, printed), text)
    return dict(sorted(out.items()))


def _print_tag(printed: Mapping[str, str], match: re.Match[str]) -> str:
    return printed[match[1]] if match[1] else "<%"


def _field_line(text: str, name: str) -> int | None:
    match = re.search(rf"^\s*{name}\b", text, re.M)
    return text.count("\n", 0, match.start()) + 1 if match else None


def metadata_fields(
    files: Mapping[str, str],
    tools: Tools = TOOLS,
    *,
    expected_name: str | None = None,
    report: StaticReport | None = None,
) -> list[CheckResult]:
    """metadata.rb's fields as Chef reads them (evaluated by the static check's stub): name,
    version (x.y.z), license, maintainer, maintainer_email, description, supports and
    chef_version present and well-formed; `expected_name` is the cookbook being reviewed."""
    text = files.get("metadata.rb")
    if text is None:
        return [CheckResult(METADATA, "metadata.rb", None, "metadata.rb is missing", False)]
    fields = dict((report or static_check(files, tools)).metadata)

    def check(name: str, ok: bool, problem: str) -> CheckResult:
        value = fields.get(name)
        message = f"{name} {value!r}" if ok else problem
        return CheckResult(METADATA, "metadata.rb", _field_line(text, name), message, ok)

    def text_field(name: str) -> bool:
        return isinstance(fields.get(name), str) and bool(fields[name].strip())

    name, version = fields.get("name"), fields.get("version")
    license_ = fields.get("license")
    chef_version = fields.get("chef_version")
    name_ok = isinstance(name, str) and bool(COOKBOOK_NAME.match(name))
    return [
        check(
            "name",
            name_ok and (expected_name is None or name == expected_name),
            f"name must be the cookbook's name{f' ({expected_name})' if expected_name else ''}, "
            "lower-case letters, digits and _",
        ),
        check(
            "version",
            isinstance(version, str) and bool(VERSION.match(version)),
            "version must be three numbers (x.y.z)",
        ),
        check(
            "license",
            isinstance(license_, str) and bool(LICENSE.match(license_.replace(" ", "-"))),
            "license must name the licence (an SPDX identifier such as Apache-2.0)",
        ),
        check("maintainer", text_field("maintainer"), "maintainer must be set"),
        check(
            "maintainer_email",
            isinstance(fields.get("maintainer_email"), str)
            and bool(EMAIL.match(fields["maintainer_email"])),
            "maintainer_email must be an email address",
        ),
        check("description", text_field("description"), "description must be set"),
        check("supports", bool(fields.get("supports")), "supports must name a platform"),
        check(
            "chef_version",
            isinstance(chef_version, str) and bool(CHEF_VERSION.match(chef_version)),
            "chef_version must be a constraint such as '>= 17.0'",
        ),
    ]


def check_cookbook(
    files: Mapping[str, str],
    tools: Tools = TOOLS,
    *,
    expected_name: str | None = None,
    report: StaticReport | None = None,
) -> list[CheckResult]:
    """Every check on one version, in review order (RuboCop, the slow one, runs alongside);
    pass the static check's `report` when it has run already."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        slow = pool.submit(rubocop, files, tools)
        report = report or static_check(files, tools)
        results = ruby_syntax(files, tools) + template_syntax(files, tools)
        results += slow.result()
    results += metadata_fields(files, tools, expected_name=expected_name, report=report)
    return results + list(report.results)


def passed(results: list[CheckResult]) -> bool:
    """Whether a version passed every check (what the review shows next to the approve button)."""
    return all(r.passed for r in results)
