"""The cookbook_dir publisher against a real git repository (R14: only approved versions)."""

from __future__ import annotations

import dataclasses
import subprocess
import threading
from pathlib import Path

import pytest

from infrawg.errors import Conflict, Invalid
from infrawg.provisioning.base import Plan, Provider, StalePlan
from infrawg.provisioning.providers.cookbook import (
    Approval,
    CookbookDirConfig,
    CookbookDirProvider,
    CookbookRelease,
    generate,
    publish,
)
from infrawg.provisioning.providers.cookbook.spec import AppSpec
from infrawg.provisioning.registry import build_config
from infrawg.registry import verify_class

APPROVED = Approval(approved=True, by="Grace Staff", comment="Looks right.")


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def _release(spec: AppSpec, approval: Approval = APPROVED) -> CookbookRelease:
    return CookbookRelease.of(spec.name, spec.version, generate(spec), approval)


def test_r14_publish_writes_a_git_commit_and_refuses_unapproved(
    spec: AppSpec, tmp_path: Path
) -> None:
    repo = tmp_path / "chef-repo"
    provider = CookbookDirProvider(CookbookDirConfig(directory=repo))

    for refused in (Approval(False, "Grace Staff"), Approval(True, "  ")):
        with pytest.raises(Conflict, match="has not been approved"):
            publish(provider, _release(spec, refused))
    mislabelled = CookbookRelease.of("other_app", "1.0.0", generate(spec), APPROVED)
    with pytest.raises(Invalid, match="does not name the cookbook other_app"):
        publish(provider, mislabelled)
    with pytest.raises(Invalid, match=r"does not say version 2\.0\.0"):
        publish(provider, CookbookRelease.of("hello_app", "2.0.0", generate(spec), APPROVED))
    assert not repo.exists()  # nothing written, not even the repository

    result = publish(provider, _release(spec))

    assert result.applied
    assert (repo / ".git").is_dir()
    log = _git(repo, "log", "--format=%an <%ae>|%cn|%B%x00").split("\x00")[0]
    author, committer, message = log.split("|", 2)
    assert (author, committer) == ("infrawg <infrawg@localhost>", "infrawg")
    assert message.startswith("hello_app 1.0.0, approved by Grace Staff\n")
    assert "Version: 1.0.0\nApproved-by: Grace Staff" in message
    committed = _git(repo, "ls-tree", "-r", "--name-only", "HEAD").split()
    assert committed == sorted(f"cookbooks/hello_app/{p}" for p in generate(spec))
    assert (
        _git(repo, "show", "HEAD:cookbooks/hello_app/recipes/default.rb")
        == generate(spec)["recipes/default.rb"]
    )
    assert all(check.ok for check in provider.verify(_release(spec))), provider.verify(
        _release(spec)
    )
    observed = provider.read("hello_app").state
    assert observed is not None and observed.version == "1.0.0"
    assert observed.approval == Approval(True, "Grace Staff")

    # Publishing the same version again changes nothing and commits nothing.
    assert provider.plan_for(_release(spec)).empty
    assert not publish(provider, _release(spec)).applied
    assert _git(repo, "rev-list", "--count", "HEAD").strip() == "1"

    # The next approved version is the next commit; a file it drops is gone from HEAD.
    newer = dataclasses.replace(spec, version="1.1.0", templates=spec.templates[:1])
    plan = provider.plan_for(_release(newer, Approval(True, "Linus Staff")))
    assert "- templates/hello.erb" in plan.render()
    provider.apply(plan)
    assert _git(repo, "rev-list", "--count", "HEAD").strip() == "2"
    subject = _git(repo, "log", "-1", "--format=%s").strip()
    assert subject == "hello_app 1.1.0, approved by Linus Staff"
    assert "cookbooks/hello_app/templates/hello.erb" not in _git(
        repo, "ls-tree", "-r", "--name-only", "HEAD"
    )
    assert all(c.ok for c in provider.verify(_release(newer, Approval(True, "Linus Staff"))))

    # execute refuses an unapproved release even when handed a plan directly.
    third = dataclasses.replace(spec, version="1.2.0")
    fresh = provider.plan_for(_release(third))
    forged: Plan[CookbookRelease] = dataclasses.replace(
        fresh, spec=_release(third, Approval(False, ""))
    )
    with pytest.raises(Conflict, match="has not been approved"):
        provider.apply(forged)
    assert _git(repo, "rev-list", "--count", "HEAD").strip() == "2"


def test_verify_sees_a_hand_edit_in_the_published_directory(spec: AppSpec, tmp_path: Path) -> None:
    provider = CookbookDirProvider(CookbookDirConfig(directory=tmp_path / "repo"))
    publish(provider, _release(spec))

    (tmp_path / "repo/cookbooks/hello_app/recipes/default.rb").write_text("# edited\n")

    failed = {c.name for c in provider.verify(_release(spec)) if not c.ok}
    assert failed == {"working tree clean"}
    assert not provider.plan_for(_release(spec)).empty  # the next publish puts it back


def test_cookbook_dir_implements_the_provider_interface(tmp_path: Path) -> None:
    assert verify_class(Provider, CookbookDirProvider, factory=None) == []
    config = build_config(CookbookDirConfig, {"directory": str(tmp_path), "subdirectory": ""})
    provider = CookbookDirProvider(config)
    assert provider.kind == "app" and provider.name == "cookbook_dir"
    assert provider.read("hello_app").state is None


def test_concurrent_publishers_share_one_repository(spec: AppSpec, tmp_path: Path) -> None:
    repo = tmp_path / "chef-repo"
    names = [f"app_{i}" for i in range(4)]
    barrier = threading.Barrier(len(names))
    errors: list[BaseException] = []

    def run(name: str) -> None:
        provider = CookbookDirProvider(CookbookDirConfig(directory=repo))
        release = _release(dataclasses.replace(spec, name=name))
        plan = provider.plan_for(release)
        barrier.wait()
        try:
            provider.apply(plan)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert _git(repo, "rev-list", "--count", "HEAD").strip() == str(len(names))
    listed = _git(repo, "ls-tree", "--name-only", "HEAD", "cookbooks/").split()
    assert listed == [f"cookbooks/{n}" for n in names]


def test_a_plan_made_before_another_publish_is_refused(spec: AppSpec, tmp_path: Path) -> None:
    first = CookbookDirProvider(CookbookDirConfig(directory=tmp_path / "repo"))
    second = CookbookDirProvider(CookbookDirConfig(directory=tmp_path / "repo"))
    old_plan = second.plan_for(_release(spec))
    publish(first, _release(dataclasses.replace(spec, version="1.0.1")))

    with pytest.raises(StalePlan):
        second.apply(old_plan)
    assert second.read("hello_app").state.version == "1.0.1"  # type: ignore[union-attr]
    # The very plan already carried out is not an error: executing it again changes nothing.
    done = first.plan_for(_release(dataclasses.replace(spec, version="1.0.2")))
    first.apply(done)
    assert first.execute(done) == ["hello_app 1.0.2 is already published"]
