"""Scenario files: the demo world loads; every malformed entry is refused with file, entry and problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stsdesk.emulator.scenario import ScenarioError, load_scenario, scenario_from_dict

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo.toml"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "111111111111"},
                                                 "Action": "sts:AssumeRole"}]}


def minimal() -> dict:
    return {
        "accounts": [{"id": "111111111111", "alias": "one"}],
        "users": [{"account": "111111111111", "name": "bob",
                   "access_keys": [{"id": "AKIAAAAAAAAAAAAAAAAA", "secret": "s" * 40}]}],
        "roles": [{"account": "111111111111", "name": "R", "trust_policy": json.dumps(TRUST)}],
    }


def test_demo_world_loads_with_everything_design_promises() -> None:
    sc = load_scenario(DEMO)
    assert {a.alias for a in sc.accounts.values()} == {"identity", "dev", "prod"}
    alice = sc.user_by_arn("arn:aws:iam::111111111111:user/alice")
    assert alice is not None and alice.mfa is not None
    assert sc.key(alice.access_keys[0].id) == (alice.arn, alice.access_keys[0])
    names = {r.name for r in sc.roles}
    assert {"ReadOnly", "Developer", "Admin", "Deployer", "SamlDeveloper", "CiDeployer"} <= names
    assert sc.saml_provider("arn:aws:iam::222222222222:saml-provider/CorpIdP") is not None
    assert sc.oidc_providers_in("222222222222")[0].arn == (
        "arn:aws:iam::222222222222:oidc-provider/token.example.test")
    assert "DenyRunInstances" in DEMO.read_text()


def test_role_lookup_by_arn_and_by_name_ignoring_path() -> None:
    data = minimal()
    data["roles"][0]["path"] = "/team/"
    sc = scenario_from_dict(data)
    assert sc.role_by_arn("arn:aws:iam::111111111111:role/team/R") is not None
    assert sc.role_by_arn("arn:aws:iam::111111111111:role/R") is not None
    assert sc.role_by_arn("arn:aws:iam::111111111111:role/Nope") is None
    assert sc.roles[0].unique_id.startswith("AROA") and len(sc.roles[0].unique_id) == 21


def test_users_without_keys_get_generated_keys() -> None:
    data = minimal()
    del data["users"][0]["access_keys"]
    sc = scenario_from_dict(data)
    (owner, key), = sc.generated_keys
    assert owner.endswith(":user/bob") and key.id.startswith("AKIA") and len(key.id) == 20
    assert len(key.secret) == 40 and sc.key(key.id) is not None


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["accounts"][0].update(id="123"), "accounts[0]: id '123' is not valid (12 digits)"),
        (lambda d: d["users"][0].update(account="999999999999"), "users[0]: account 999999999999 is not declared"),
        (lambda d: d["roles"][0].update(trust_policy="{not json"), "roles[0] (R): trust_policy:"),
        (lambda d: d["roles"][0].pop("trust_policy"), "roles[0] (R): trust_policy is required"),
        (lambda d: d["roles"][0].update(max_session_duration=100), "max_session_duration must be"),
        (lambda d: d["users"][0].update(mfa={"serial": "arn:x", "seed": "JBSWY3DPEHPK3PXP"}), "serial must be"),
        (lambda d: d["users"][0].update(mfa={"serial": "arn:aws:iam::1:mfa/x", "seed": "not-base32!"}),
         "seed must be base32"),
        (lambda d: d["users"][0]["access_keys"][0].update(id="BADKEY"), "access_keys[0]: id 'BADKEY'"),
        (lambda d: d.update(colour="blue"), "unknown top-level key 'colour'"),
        (lambda d: d["accounts"].append({"id": "111111111111"}), "account 111111111111 is declared twice"),
        (lambda d: d.update(faults={"latency_ms": "slow"}), "faults: latency_ms must be a whole number"),
        (lambda d: d.update(oidc_providers=[{"account": "111111111111", "url": "http://x"}]),
         "url must start with https://"),
    ],
)
def test_malformed_entries_name_file_entry_and_problem(mutate, expected: str) -> None:  # type: ignore[no-untyped-def]
    data = minimal()
    mutate(data)
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, "world.toml")
    message = str(info.value)
    assert message.startswith("world.toml: ")
    assert expected in message
    assert "\n" not in message


def test_duplicate_access_key_is_refused() -> None:
    data = minimal()
    data["users"].append({"account": "111111111111", "name": "carol",
                          "access_keys": [{"id": "AKIAAAAAAAAAAAAAAAAA", "secret": "t" * 40}]})
    with pytest.raises(ScenarioError, match="used by both"):
        scenario_from_dict(data)


def test_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "w.toml"
    bad.write_text("accounts = [\n")
    with pytest.raises(ScenarioError, match=r"^w\.toml: not valid TOML"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="cannot read scenario file"):
        load_scenario(tmp_path / "missing.toml")
    other = tmp_path / "w.yaml"
    other.write_text("x: 1")
    with pytest.raises(ScenarioError, match=r"must end in \.toml or \.json"):
        load_scenario(other)
    good = tmp_path / "w.json"
    good.write_text(json.dumps(minimal()))
    assert load_scenario(good).roles[0].name == "R"


def test_secrets_do_not_show_in_reprs() -> None:
    sc = scenario_from_dict(minimal())
    assert "s" * 40 not in repr(sc.users[0])
