"""One home per decision: the region exported for a profile, which MFA rule applies, and what to do about an
error, each decided by one core function that the CLI, the bridge, the GUI and the tray call."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from test_broker import AKID, CONFIG, USER_SERIAL, Prompt, make_broker, memory_keyring  # noqa: F401

from stsdesk.core.broker_sources import sts_target
from stsdesk.core.errors import ENTER_MFA_CODE, REMEDY_ACTIONS, STORE_SECRET, MfaRequired, Remedy
from stsdesk.core.mfa_rule import NO_MFA, MfaRequirement, mfa_cache_key, mfa_requirement
from stsdesk.core.profiles import build_tree
from stsdesk.core.region import configured_region, export_region
from stsdesk.core.secrets import user_key

ROLE = "arn:aws:iam::222222222222:role/ReadOnly"
REGIONS: dict[str, dict[str, Any]] = {
    "user": {"aws_access_key_id": "AKIAREGION0000000001", "region": "eu-west-1"},
    "role": {"role_arn": ROLE, "source_profile": "user"},  # no region: its source's
    "own": {"role_arn": ROLE, "source_profile": "user", "region": "sa-east-1"},
    "nowhere": {"aws_access_key_id": "AKIAREGION0000000002"},
    "chained": {"role_arn": ROLE, "source_profile": "role"},
}


def _tree(tmp_path: Path, raw: dict[str, dict[str, Any]]) -> Any:
    return build_tree(raw, tmp_path / "config", tmp_path / "credentials")


def test_region_of_a_role_without_one_is_its_nearest_sources(tmp_path: Path) -> None:
    tree = _tree(tmp_path, REGIONS)
    empty: dict[str, str] = {}
    assert export_region(tree, "role", "us-east-1", env=empty) == "eu-west-1"
    assert export_region(tree, "chained", "us-east-1", env=empty) == "eu-west-1"
    assert export_region(tree, "own", "us-east-1", env=empty) == "sa-east-1"
    # The files win over the environment, as for the STS call; the environment over the session and default.
    assert export_region(tree, "role", "us-east-1", env={"AWS_REGION": "ca-central-1"}) == "eu-west-1"
    assert export_region(tree, "nowhere", "us-east-1", env={"AWS_DEFAULT_REGION": "ca-central-1"}) == (
        "ca-central-1"
    )
    assert export_region(tree, "nowhere", "us-east-1", "eu-north-1", env=empty) == "eu-north-1"
    assert export_region(tree, "nowhere", "us-east-1", env=empty) == "us-east-1"


def test_exported_region_is_the_sts_calls(tmp_path: Path) -> None:
    tree = _tree(tmp_path, REGIONS)
    for env in ({}, {"AWS_REGION": "ca-central-1"}):
        for name in REGIONS:
            chain = tree.chain(name)
            assert sts_target(chain, "us-west-2", env).region == export_region(tree, name, "us-west-2", env=env)
            assert configured_region(chain, env) in (None, sts_target(chain, "us-west-2", env).region)


def test_mfa_rule_per_profile_shape(tmp_path: Path) -> None:
    tree = _tree(tmp_path, CONFIG)
    session = mfa_cache_key(AKID, USER_SERIAL)
    assert mfa_requirement(tree.chain("alice")) == MfaRequirement(True, USER_SERIAL, session)
    assert mfa_requirement(tree.chain("plain")) == NO_MFA  # alice's own device does not apply to her roles
    assert mfa_requirement(tree.chain("dev")) == MfaRequirement(True, USER_SERIAL, session)
    assert mfa_requirement(tree.chain("deployer")) == MfaRequirement(True, USER_SERIAL, session)
    assert mfa_requirement(tree.chain("admin")) == MfaRequirement(True, USER_SERIAL, None)  # 4 h: fresh code
    saml = _tree(tmp_path, {"s": {"role_arn": ROLE, "saml_principal_arn": "arn:aws:iam::2:saml-provider/X",
                                  "mfa_serial": USER_SERIAL}})
    assert mfa_requirement(saml.chain("s")) == NO_MFA  # SAML roles never ask for a code


@pytest.mark.usefixtures("memory_keyring")
@pytest.mark.parametrize("name", ["alice", "plain", "dev", "deployer", "admin"])
def test_the_broker_follows_the_rule(tmp_path: Path, name: str) -> None:
    """What mfa_requirement predicts is what the broker does: asks (or not), and caches the MFA session under
    the predicted key."""
    prompt = Prompt([])
    broker, _fake = make_broker(tmp_path, prompt)
    rule = mfa_requirement(broker.tree.chain(name))
    asyncio.run(broker.credentials_for(name))
    assert bool(prompt.requests) is rule.needed
    if rule.session_key is not None:
        assert broker.cache.peek(rule.session_key) is not None
    # A second profile vouched for by the same MFA session asks for no code.
    if rule.session_key is not None and name != "alice":
        asyncio.run(broker.credentials_for("ops"))
        assert len(prompt.requests) == 1


@pytest.mark.usefixtures("memory_keyring")
def test_remedies_are_data(tmp_path: Path) -> None:
    broker, _fake = make_broker(tmp_path)  # no prompt
    with pytest.raises(MfaRequired) as raised:
        asyncio.run(broker.credentials_for("dev"))
    assert raised.value.remedy == Remedy(ENTER_MFA_CODE, "dev")
    assert "--mfa-code" not in str(raised.value)  # core names no command; each front end says what to do
    assert broker.last_remedy("dev") == Remedy(ENTER_MFA_CODE, "dev")
    assert {STORE_SECRET, ENTER_MFA_CODE} == REMEDY_ACTIONS
    for remedy in (Remedy(STORE_SECRET, "bob", "AKIAX"), Remedy(ENTER_MFA_CODE, "dev")):
        assert Remedy.from_json(remedy.to_json()) == remedy
    assert Remedy.from_json({"action": "rm -rf"}) is None and Remedy.from_json("x") is None


@pytest.mark.usefixtures("memory_keyring")
@pytest.mark.parametrize(
    ("extra", "name", "partition"),
    [
        ({"gov": {"stsdesk_access_key_id": AKID, "region": "us-gov-west-1"}}, "gov", "aws-us-gov"),
        ({"cn": {"role_arn": "arn:aws-cn:iam::222222222222:role/R", "source_profile": "alice"}}, "cn", "aws-cn"),
        ({}, "plain", "aws"),
    ],
)
def test_console_partition_is_the_role_arns_else_the_regions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: dict[str, dict[str, str]], name: str, partition: str
) -> None:
    """What the Settings dialog's partition once claimed to set: decided per profile, for the CLI and the GUI."""
    import test_broker

    from stsdesk.core import console_fetch

    seen: list[str] = []
    monkeypatch.setattr(console_fetch, "console_sign_in", lambda creds, part, *rest: seen.append(part) or "url")
    monkeypatch.setattr(test_broker, "CONFIG", {**CONFIG, **extra})

    async def federation_token(source: Any, **kwargs: Any) -> tuple[Any, str]:
        return source, "arn:aws-us-gov:sts::111111111111:federated-user/x"

    broker, fake = make_broker(tmp_path)
    fake.get_federation_token = federation_token  # type: ignore[attr-defined]
    if name == "gov":
        broker.secrets.set(user_key("gov", AKID), "gov-secret")
    assert asyncio.run(broker.console_url(name)) == "url"
    assert seen == [partition]


def test_a_remedy_crosses_the_bridge_and_the_terminal_says_it_as_a_command() -> None:
    """The GUI's broker raises with a remedy; the terminal gets it as data and words it for the shell."""
    import shutil
    import tempfile

    from stsdesk.cli.remedies import cli_message
    from stsdesk.core.bridge import BridgeError, BridgeServer, bridge_request
    from stsdesk.core.errors import ConfigError
    from stsdesk.core.model import Credentials

    remedy = Remedy(STORE_SECRET, "bob", "AKIAX")

    async def handler(profile: str, duration: int | None) -> Credentials:
        raise ConfigError(f"no secret access key for profile '{profile}' (AKIAX)", remedy=remedy)

    base = Path(tempfile.mkdtemp(prefix="sb", dir="/tmp"))  # AF_UNIX paths are short
    directory = base / "b"

    async def main() -> BaseException:
        server = BridgeServer(directory, handler)
        await server.start()
        try:
            loop = asyncio.get_running_loop()
            with pytest.raises(BridgeError) as raised:
                await loop.run_in_executor(None, lambda: bridge_request(directory, "bob", None, 10.0))
            return raised.value
        finally:
            await server.close()

    try:
        error = asyncio.run(main())
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert isinstance(error, BridgeError) and error.remedy == remedy
    assert "add-user" not in str(error)  # the GUI sent the problem and the remedy as data, no CLI words
    assert cli_message(error) == (
        "no secret access key for profile 'bob' (AKIAX); run: stsdesk add-user bob --access-key-id AKIAX"
    )
