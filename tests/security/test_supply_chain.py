"""Finding 8: dependency floors past known advisories, and a bundle built from a hash-locked set.

ADVISORY_FLOORS is the table docs/SECURITY.md explains (each floor: the advisory it clears). The lock file
must pin every runtime dependency (and PyInstaller) to one version with sha256 hashes, satisfy pyproject's
ranges, and be what packaging/build.sh installs, with --require-hashes.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "packaging" / "requirements.lock"

ADVISORY_FLOORS = {
    "cryptography": "50.0.0",  # CVE-2026-69247; 46.0.7 CVE-2026-39892; 46.0.5 CVE-2026-26007; 44.0.1 CVE-2024-12797
    "pyjwt": "2.12.0",  # CVE-2026-32597; 2.10.1 CVE-2024-53861
    "lxml": "6.1.0",  # XXE in iterparse()/ETCompatXMLParser; 5.4.0 bundled libxml2 CVEs
    "signxml": "4.0.4",  # CVE-2025-48995
    "urllib3": "2.7.0",  # CVE-2026-44431/44432; 2.6.3 CVE-2026-21441; 2.5.0 CVE-2025-50181
    "pyside6-essentials": "6.11.1",  # CVE-2026-9499; 6.9.2 CVE-2025-5992; 6.9.1 CVE-2025-5455
}


def _dependencies() -> dict[str, Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(text) for text in project["dependencies"]]
    return {canonicalize_name(r.name): r for r in requirements}


def _locked() -> dict[str, tuple[Version, list[str]]]:
    """name -> (pinned version, hashes) from the lock file."""
    text = LOCK.read_text()
    entries: dict[str, tuple[Version, list[str]]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9_.\-]+)==([^\s;\\]+)", block)
        if match:
            hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", block)
            entries[canonicalize_name(match.group(1))] = (Version(match.group(2)), hashes)
    return entries


@pytest.mark.parametrize("name", sorted(ADVISORY_FLOORS))
def test_dependency_floor_is_past_known_advisories(name: str) -> None:
    requirement = _dependencies().get(name)
    assert requirement is not None, f"{name} must be a declared dependency (with a floor)"
    floor = Version(ADVISORY_FLOORS[name])
    lower = [Version(s.version) for s in requirement.specifier if s.operator in (">=", ">")]
    assert lower and max(lower) >= floor, f"{requirement}: floor below {floor}"


def test_lock_pins_every_dependency_with_hashes_inside_pyproject_ranges() -> None:
    locked = _locked()
    assert locked, "packaging/requirements.lock has no pins"
    for name, (_version, hashes) in locked.items():
        assert hashes, f"{name} is locked without a hash"
    for name, requirement in _dependencies().items():
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        assert name in locked, f"{name} is not in the lock (run make lock)"
        assert requirement.specifier.contains(locked[name][0], prereleases=True), (
            f"locked {name}=={locked[name][0]} is outside {requirement.specifier} (run make lock)"
        )
    assert "pyinstaller" in locked  # the bundle's build tool is locked too
    assert "setuptools" in locked  # PyInstaller needs it: unpinned, --require-hashes would refuse the install


def test_bundle_is_built_from_the_lock_with_require_hashes() -> None:
    build = (REPO / "packaging" / "build.sh").read_text()
    install = [line for line in build.splitlines() if "pip install" in line or "-r \"$LOCK\"" in line]
    assert "LOCK=packaging/requirements.lock" in build
    assert any("--require-hashes" in line for line in install)
    assert '-m venv "$BUILD_VENV"' in build and "BIN=$BUILD_VENV/bin" in build  # not the development .venv
    makefile = (REPO / "Makefile").read_text()
    lock_rule = makefile.split("\nlock:", 1)[1].split("\n\n", 1)[0]
    assert "pip-compile" in lock_rule and "--generate-hashes" in lock_rule and "requirements.lock" in lock_rule
