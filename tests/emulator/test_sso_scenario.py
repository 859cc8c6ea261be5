"""The [identity_center] scenario section: provisioned AWSReservedSSO_* roles and one-line errors."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from sso_support import B, C, sso_world

from stsdesk.demo import demo_scenario_path
from stsdesk.emulator.scenario import ScenarioError, load_scenario, scenario_from_dict
from stsdesk.emulator.sso_scenario import ROLE_PATH, role_name, world_dict


def test_assignments_provision_one_role_per_account_and_permission_set() -> None:
    sc = scenario_from_dict(sso_world())
    center = sc.identity_center
    assert center is not None
    sso_roles = [r for r in sc.roles if r.name.startswith("AWSReservedSSO_")]
    # ana and ben share dev's ReadOnly role: three roles for four assignments.
    assert sorted((r.account, r.name.rsplit("_", 1)[0]) for r in sso_roles) == [
        (B, "AWSReservedSSO_Admin"), (B, "AWSReservedSSO_ReadOnly"), (C, "AWSReservedSSO_ReadOnly")
    ]
    admin = next(r for r in sso_roles if "_Admin_" in r.name)
    assert admin.path == ROLE_PATH and admin.max_session_duration == 7200
    assert admin.arn == f"arn:aws:iam::{B}:role/aws-reserved/sso.amazonaws.com/{admin.name}"
    assert sc.role_by_arn(admin.arn) is admin
    assert admin.name == role_name(center.instance_id, B, "Admin")  # stable across loads
    assert [a.id for a in center.accounts_of["ana"]] == [B, C]
    assert "carol" not in center.accounts_of
    assert center.role_for("ana", B, "Admin") is not None and center.role_for("ben", B, "Admin") is None


def _with(change: dict[str, Any]) -> dict[str, Any]:
    world = sso_world()
    center = copy.deepcopy(world["identity_center"])
    center.update(change)
    world["identity_center"] = center
    return world


def _assignment(**entry: str) -> dict[str, Any]:
    base = {"user": "ana", "account": B, "permission_set": "ReadOnly"}
    return _with({"assignments": [{**base, **entry}]})


@pytest.mark.parametrize(
    ("world", "message"),
    [
        (_assignment(user="zed"), "identity_center.assignments[0]: user 'zed' is not in identity_center.users"),
        (_assignment(permission_set="Nope"),
         "identity_center.assignments[0]: unknown permission set 'Nope' (known: ReadOnly, Admin)"),
        (_assignment(account="999999999999"),
         "identity_center.assignments[0]: account 999999999999 is not declared under [[accounts]]"),
        (_assignment(account="12345"), "identity_center.assignments[0]: account '12345' is not valid (12 digits)"),
        (_with({"assignments": [{"user": "ana", "account": B, "permission_set": "Admin"}] * 2}),
         "identity_center.assignments[1]: ana is assigned Admin in 222222222222 twice"),
        (_with({"start_url": "http://d-1.awsapps.com/start"}), "identity_center: start_url 'http://d-1.awsapps.com"),
        (_with({"colour": "blue"}), "identity_center: unknown key 'colour'"),
        (_with({"users": []}), "identity_center: users must be a non-empty list of user names"),
        (_with({"users": ["ana", "ana"]}), "identity_center: user 'ana' is listed twice"),
        (_with({"users": ["a b"]}), "identity_center: users[0] must be 2-64 of"),
        (_with({"access_token_seconds": 10}), "identity_center: access_token_seconds must be a whole number"),
        (_with({"rotate_refresh_tokens": "yes"}), "identity_center: rotate_refresh_tokens must be true or false"),
        (_with({"permission_sets": [{"name": "X", "session_duration": 60}]}),
         "identity_center.permission_sets[0] (X): session_duration must be a whole number of seconds, 3600 to 43200"),
        (_with({"permission_sets": [{"name": "X", "policies": ["{not json"]}]}),
         "identity_center.permission_sets[0] (X): policies[0]:"),
        (_with({"permission_sets": [{"name": "X"}, {"name": "X"}]}),
         "identity_center.permission_sets[1] (X): permission set 'X' is declared twice"),
    ],
)
def test_bad_identity_center_is_one_clear_line(world: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict(world, "w.toml")
    text = str(caught.value)
    assert text.startswith(f"w.toml: {message}"), text
    assert "\n" not in text


def test_a_role_named_like_a_provisioned_one_is_refused() -> None:
    world = sso_world()
    center = scenario_from_dict(sso_world()).identity_center
    assert center is not None
    world["roles"].append({
        "account": B, "name": role_name(center.instance_id, B, "Admin"), "path": ROLE_PATH,
        "trust_policy": '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},'
                        '"Action":"sts:AssumeRole"}]}',
    })
    with pytest.raises(ScenarioError, match="is declared twice"):
        scenario_from_dict(world)


def test_large_world_builds_from_a_dict() -> None:
    sc = scenario_from_dict(world_dict(accounts=500, permission_sets=5, users=("ana", "ben")))
    center = sc.identity_center
    assert center is not None
    assert len(sc.roles) == 2500 and len(center.accounts_of["ana"]) == 500
    assert len(center.roles_of[("ben", "100000000499")]) == 5
    assert sc.accounts["100000000000"].display_name == "acct-0001"


def test_demo_world_has_an_identity_center() -> None:
    sc = load_scenario(demo_scenario_path())
    center = sc.identity_center
    assert center is not None
    assert center.start_url.endswith(".awsapps.com/start") and {"ana", "ben"} <= set(center.users)
    assert len(center.permission_sets) >= 2 and len(center.accounts_of["ana"]) >= 2
    named = [a for a in center.accounts_of["ana"] if a.name]
    assert named, "the demo's accounts carry names for ListAccounts"


def test_toml_section_loads(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text(
        '[[accounts]]\nid = "222222222222"\nname = "dev"\n'
        "[identity_center]\n"
        'start_url = "https://d-9067e0e0e0.awsapps.com/start"\nusers = ["ana"]\n'
        "[[identity_center.permission_sets]]\n"
        'name = "ReadOnly"\nsession_duration = 3600\n'
        "policies = ['''{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"ec2:Describe*\","
        "\"Resource\":\"*\"}]}''']\n"
        "[[identity_center.assignments]]\n"
        'user = "ana"\naccount = "222222222222"\npermission_set = "ReadOnly"\n'
    )
    sc = load_scenario(path)
    assert sc.identity_center is not None and sc.identity_center.region == "us-east-1"
    assert [r.name.rsplit("_", 1)[0] for r in sc.roles] == ["AWSReservedSSO_ReadOnly"]
