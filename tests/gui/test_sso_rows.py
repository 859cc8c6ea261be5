"""The Identity Center rows of the tree without Qt (gui/sso_tree.py): sessions at the top, accounts beneath,
configured profiles moved under their account, discovered roles the config lacks as in-memory profiles named
as `sso sync` names them, legacy sessions matched by start URL, and the broker's tree gaining (and losing) the
in-memory profiles."""

from __future__ import annotations

from pathlib import Path

from stsdesk.core.profiles import build_tree
from stsdesk.core.sso.config import SsoSession
from stsdesk.core.sso.discovery import SsoAccount
from stsdesk.gui.profile_store import GENERATED_KEY, GROUP_KEY, LABEL_KEY
from stsdesk.gui.sso_tree import account_row_name, build_rows, session_row_name, with_generated

URL = "https://d-9067e0e0e0.awsapps.com/start"
LEGACY_URL = "https://d-1111111111.awsapps.com/start/"
CORP = SsoSession("corp", URL, "us-east-1")
LEGACY = SsoSession(None, LEGACY_URL, "eu-west-1")


def _tree() -> object:
    raw = {
        "dev": {"sso_session": "corp", "sso_account_id": "222222222222", "sso_role_name": "ReadOnly",
                "region": "eu-central-1"},
        "dev-chained": {"source_profile": "dev", "role_arn": "arn:aws:iam::222222222222:role/Deploy"},
        "old": {"sso_start_url": LEGACY_URL, "sso_region": "eu-west-1", "sso_account_id": "333333333333",
                "sso_role_name": "Admin"},
        "plain": {"role_arn": "arn:aws:iam::444444444444:role/X", "source_profile": "base"},
        "base": {"aws_access_key_id": "AKIAEXAMPLE"},
    }
    sessions = {"corp": {"sso_start_url": URL, "sso_region": "us-east-1"}}
    return build_tree(raw, Path("/nonexistent/config"), Path("/nonexistent/credentials"), sso_sessions=sessions)


def test_configured_profiles_move_under_their_session_and_account() -> None:
    tree = _tree()
    rows = build_rows(tree, [CORP, LEGACY], {}, {"corp": "ana"})  # type: ignore[arg-type]
    top = [p.name for p in rows.roots]
    assert top[:2] == [session_row_name(CORP), session_row_name(LEGACY)]
    assert "dev" not in top and "old" not in top and "base" in top
    assert rows.roots[0].extra[LABEL_KEY] == "corp — ana" and rows.roots[0].extra[GROUP_KEY] == "sso-session"
    [account] = rows.children(session_row_name(CORP))
    assert account.name == account_row_name(CORP, "222222222222")
    assert [p.name for p in rows.children(account.name)] == ["dev"]
    assert [p.name for p in rows.children("dev")] == ["dev-chained"]  # chains stay beneath their source
    [legacy_account] = rows.children(session_row_name(LEGACY))
    assert [p.name for p in rows.children(legacy_account.name)] == ["old"]
    assert rows.generated == {}


def test_discovered_roles_not_in_the_config_become_in_memory_profiles() -> None:
    tree = _tree()
    corp = [SsoAccount("222222222222", "Dev", "", ("ReadOnly", "Admin")),
            SsoAccount("555555555555", "Ops", "", ("Ops",))]
    legacy = [SsoAccount("333333333333", "Prod", "", ("Admin", "ReadOnly"))]
    rows = build_rows(tree, [CORP, LEGACY], {"corp": corp, LEGACY_URL: legacy})  # type: ignore[arg-type]
    assert set(rows.generated) == {"Dev/Admin", "Ops/Ops", "Prod/ReadOnly"}  # dev and old point at the rest
    admin = rows.generated["Dev/Admin"]
    assert (admin.sso_session, admin.sso_account_id, admin.sso_role_name, admin.region) == (
        "corp", "222222222222", "Admin", "eu-central-1")  # the region of the session's configured profiles
    legacy_role = rows.generated["Prod/ReadOnly"]
    assert (legacy_role.sso_session, legacy_role.sso_start_url, legacy_role.sso_region) == (
        None, LEGACY_URL, "eu-west-1")
    accounts = [a.extra[LABEL_KEY] for a in rows.children(session_row_name(CORP))]
    assert accounts == ["Dev (222222222222)", "Ops (555555555555)"]
    dev_roles = [p.name for p in rows.children(account_row_name(CORP, "222222222222"))]
    assert dev_roles == ["Dev/Admin", "dev"]  # by role name: Admin, ReadOnly

    augmented = with_generated(tree, rows.generated)  # type: ignore[arg-type]
    assert GENERATED_KEY in augmented.profiles["Dev/Admin"].extra and augmented.chain("Dev/Admin")[-1] is admin
    again = build_rows(augmented, [CORP, LEGACY], {"corp": corp, LEGACY_URL: legacy})
    assert set(again.generated) == set(rows.generated)  # a rebuild makes them afresh, not "configured"
    shrunk = with_generated(augmented, {})
    assert "Dev/Admin" not in shrunk.profiles and "dev" in shrunk.profiles
    assert with_generated(shrunk, {}) is shrunk


def test_a_name_taken_by_another_profile_gets_the_account_id() -> None:
    tree = _tree()
    found = [SsoAccount("666666666666", "plain", "", ("X",)), SsoAccount("777777777777", "Ops", "", ("Ops",))]
    rows = build_rows(tree, [CORP], {"corp": [*found, SsoAccount("888888888888", "Ops", "", ("Ops",))]})  # type: ignore[arg-type]
    assert "Ops/Ops" in rows.generated and "Ops-888888888888/Ops" in rows.generated
