"""Application hosting (R14): an application described by a tenant member becomes a Chef
cookbook, checked, reviewed version by version by staff, and published once approved.

    files = generate(spec)                      # AppSpec -> {path: text}, deterministic
    diff = diff_versions(old, files, "1.0.0", "1.1.0")
    results = check_cookbook(files)             # ruby -wc, erb | ruby -c, RuboCop, metadata,
                                                # the static cookbook check
    shown = review(spec, previous)              # all of it for one version, as staff see it
    publish(CookbookDirProvider(config), CookbookRelease.of(name, version, files, approval))

Converging runs in the operators' Chef (their Chef Infra Server, or chef-client --local-mode
reading the published repository), not in this site. The `app` kind (forms, review pages,
versions in the database, the approval rule) wraps this engine.
"""

from infrawg.provisioning.providers.cookbook.checks import (
    CheckResult,
    StaticReport,
    Tools,
    check_cookbook,
    metadata_fields,
    passed,
    previews,
    rubocop,
    ruby_syntax,
    static_check,
    template_syntax,
)
from infrawg.provisioning.providers.cookbook.generator import CONVERGE_NOTE, diff_versions, generate
from infrawg.provisioning.providers.cookbook.publisher import (
    Approval,
    CookbookDirConfig,
    CookbookDirProvider,
    CookbookRelease,
    publish,
)
from infrawg.provisioning.providers.cookbook.review import VersionReview, review
from infrawg.provisioning.providers.cookbook.spec import (
    AppSpec,
    Attribute,
    ConfigTemplate,
    Port,
    ServiceUnit,
)

__all__ = [
    "CONVERGE_NOTE",
    "AppSpec",
    "Approval",
    "Attribute",
    "CheckResult",
    "ConfigTemplate",
    "CookbookDirConfig",
    "CookbookDirProvider",
    "CookbookRelease",
    "Port",
    "ServiceUnit",
    "StaticReport",
    "Tools",
    "VersionReview",
    "check_cookbook",
    "diff_versions",
    "generate",
    "metadata_fields",
    "passed",
    "previews",
    "publish",
    "review",
    "rubocop",
    "ruby_syntax",
    "static_check",
    "template_syntax",
]
