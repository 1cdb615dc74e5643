"""What installing and CI do that a user would not guess is said in the README."""
from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_variable_ci_exports_is_explained():
    exported = re.findall(r"^export (\w+)=", (ROOT / ".ci/run").read_text(), flags=re.M)
    assert exported
    for name in exported:
        assert re.search(rf"{name}=1`: .+", README), f"README does not say what {name} is for"


def test_extras_that_cap_pillow_are_named_in_the_readme():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    packages = {Requirement(r).name for reqs in extras.values() for r in reqs if not r.startswith("visadapt")}
    for package in sorted(packages):
        try:
            requires = metadata.requires(package) or []
        except metadata.PackageNotFoundError:
            continue
        for req in map(Requirement, requires):
            caps = [s.version for s in req.specifier if s.operator in ("<", "<=")]
            if req.name.lower() == "pillow" and caps and not req.marker:
                major = caps[0].split(".")[0]
                assert f"`{package}`" in README and f"`pillow<{major}`" in README, \
                    f"{package} requires {req}; the README should say which extra caps Pillow"
