"""SSO profiles and [sso-session] sections in the profile tree, judged against botocore's own resolution."""

from __future__ import annotations

from pathlib import Path

import botocore.session
import pytest
from botocore.credentials import SSOProvider
from botocore.exceptions import InvalidConfigError

from stsdesk.core.model import ProfileKind
from stsdesk.core.profiles import load_profiles
from stsdesk.core.sso.errors import SsoConfigError
from stsdesk.core.sso.service import SsoService

START = "https://d-9067e0e0e0.awsapps.com/start"
CONFIG = f"""
[sso-session corp]
sso_start_url = {START}
sso_region = eu-west-1
sso_registration_scopes = sso:account:access

[profile dev]
sso_session = corp
sso_account_id = 222222222222
sso_role_name = ReadOnly
region = eu-central-1

[profile legacy]
sso_start_url = {START}/
sso_region = us-east-1
sso_account_id = 333333333333
sso_role_name = Admin

[profile chained]
source_profile = dev
role_arn = arn:aws:iam::444444444444:role/Target

[profile slash]
sso_session = corp
sso_start_url = {START}/
sso_account_id = 222222222222
sso_role_name = ReadOnly

[profile nosession]
sso_session = other
sso_account_id = 222222222222
sso_role_name = ReadOnly
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config"
    path.write_text(CONFIG)
    return path


def _botocore_config(config: Path, profile: str) -> dict[str, str]:
    session = botocore.session.Session(profile=profile)
    session.set_config_variable("config_file", str(config))
    provider = SSOProvider(lambda: session.full_config, session.create_client, profile)
    result: dict[str, str] = provider._load_sso_config()
    return result


def test_kinds_chain_and_values_agree_with_botocore(config: Path, tmp_path: Path) -> None:
    tree = load_profiles(config, tmp_path / "none")
    assert tree.get("dev").kind is ProfileKind.SSO and tree.get("dev").error is None
    assert tree.get("dev").account_id == "222222222222"
    assert tree.get("legacy").kind is ProfileKind.SSO and tree.get("legacy").error is None
    assert [p.name for p in tree.chain("chained")] == ["dev", "chained"]
    service = SsoService(tmp_path, secrets=None, token_dir=tmp_path / "cache", env={})  # type: ignore[arg-type]
    for name in ("dev", "legacy"):
        ours = service.target(tree, name)
        theirs = _botocore_config(config, name)
        assert (ours.session.start_url, ours.session.region) == (theirs["sso_start_url"], theirs["sso_region"])
        assert (ours.account_id, ours.role_name) == (theirs["sso_account_id"], theirs["sso_role_name"])
    assert service.target(tree, "dev").session.name == "corp"
    assert service.target(tree, "legacy").session.legacy


@pytest.mark.parametrize("profile", ["slash", "nosession"])
def test_profiles_botocore_refuses_carry_a_one_line_error(config: Path, tmp_path: Path, profile: str) -> None:
    with pytest.raises(InvalidConfigError):
        _botocore_config(config, profile)
    tree = load_profiles(config, tmp_path / "none")
    error = tree.get(profile).error
    assert error is not None and "\n" not in error
    assert tree.get("dev").error is None  # the rest of the tree keeps working
    if profile == "slash":
        assert "trailing slash" in error


def test_sessions_and_lookup(config: Path, tmp_path: Path) -> None:
    tree = load_profiles(config, tmp_path / "none")
    service = SsoService(tmp_path, secrets=None, token_dir=tmp_path / "cache", env={})  # type: ignore[arg-type]
    labels = [s.label for s in service.sessions(tree)]
    assert labels == ["corp", f"{START}/"]
    assert service.session(tree, "corp").scopes == ("sso:account:access",)
    assert service.session(tree, "dev").name == "corp"  # by profile
    assert service.session(tree, f"{START}/").legacy
    assert service.session(tree, f"{START}/").api_start_url == START
    with pytest.raises(SsoConfigError, match="several sign-in sessions"):
        service.session(tree)
    with pytest.raises(SsoConfigError, match="no sso-session or SSO profile 'nope'"):
        service.session(tree, "nope")
    assert service.profiles_of(tree, service.session(tree, "corp")) == ["dev", "chained"]


def test_bad_session_section_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("[sso-session s]\nsso_start_url = http://plain.example/start\nsso_region = us-east-1\n"
                    "[profile p]\nsso_session = s\nsso_account_id = 222222222222\nsso_role_name = R\n")
    tree = load_profiles(path, tmp_path / "none")
    assert tree.get("p").error is not None and "https://" in str(tree.get("p").error)
