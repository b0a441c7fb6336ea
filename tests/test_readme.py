"""The README stays true for a newcomer: the two commands and every setting are in it."""

from pathlib import Path

from infrawg.config import DEFAULTS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_opens_with_the_two_commands():
    commands = README.split("## Two commands", 1)[1].split("##", 1)[0]
    assert "make run" in commands
    assert "make test" in commands


def test_every_infrawg_setting_is_documented_in_the_readme():
    missing = [name for name in DEFAULTS if f"`INFRAWG_{name}`" not in README]
    assert not missing, f"settings missing from the README's table: {missing}"
