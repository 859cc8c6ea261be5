"""sync: shell-safe names, hostile portal values, and additions that never touch what is in the file."""

from __future__ import annotations

import shlex
from pathlib import Path

import botocore.configloader

from stsdesk.core.sso.discovery import SsoAccount
from stsdesk.core.sso.sync import check_prefix, plan, safe_part, write

EXISTING = """# my settings
[sso-session corp]
sso_start_url = https://d-1.awsapps.com/start
sso_region = us-east-1

[profile mine]   ; hand-written
sso_session = corp
sso_account_id = 222222222222
sso_role_name = ReadOnly
"""


def test_names_are_shell_safe() -> None:
    for text in ("Dev Account", "a;rm -rf ~", "$(id)", "`x`", "-rf", ".hidden", "naïve", "a\nb", "x'y\"z"):
        part = safe_part(text)
        assert shlex.quote(part) == part or part == ""
        assert not part.startswith(("-", "."))
    assert safe_part("Dev Account") == "Dev-Account"
    assert safe_part("!!!") == ""
    assert check_prefix("sso/") is None and check_prefix("a b") and check_prefix("-x")


def test_plan_marks_existing_and_dedupes_names() -> None:
    accounts = [
        SsoAccount("222222222222", "dev", "", ("ReadOnly", "Admin")),
        SsoAccount("333333333333", "dev", "", ("Admin",)),  # same account name, other account
    ]
    existing = {
        "mine": {"sso_session": "corp", "sso_account_id": "222222222222", "sso_role_name": "ReadOnly"},
        "other": {"sso_session": "elsewhere", "sso_account_id": "333333333333", "sso_role_name": "Admin"},
    }
    result = plan("corp", "us-east-1", accounts, existing)
    assert [(p.name, p.existing) for p in result.profiles] == [
        ("mine", "mine"),  # already configured under another name: not added again
        ("dev/Admin", None),
        ("dev-333333333333/Admin", None),  # another session's profile does not count
    ]
    assert [p.name for p in result.missing] == ["dev/Admin", "dev-333333333333/Admin"]
    taken = plan("corp", "us-east-1", accounts[:1], {**existing, "dev/Admin": {}})
    assert [p.name for p in taken.missing] == ["dev-222222222222/Admin"]  # never an existing section's name


def test_hostile_portal_values_cannot_inject_config_lines(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(EXISTING)
    accounts = [
        SsoAccount(
            "222222222222",
            "evil\n[profile x]\ncredential_process = /bin/sh",
            "",
            ("Admin\ncredential_process=sh", "Ok", "[x]", "a=b"),
        ),
        SsoAccount("22222222222\n", "bad id", "", ("Ok",)),
        SsoAccount("444444444444", "name = value ; [x]", "", ("Deploy",)),
    ]
    result = plan("corp", "us-east-1", accounts, {}, prefix="sso/")
    written = write(config, result)
    text = config.read_text()
    assert text.startswith(EXISTING)  # the user's part untouched, byte for byte
    parsed = botocore.configloader.raw_config_parse(str(config))
    assert all("credential_process" not in values for values in parsed.values())
    assert set(written) == {p.name for p in result.missing}
    assert "profile x" not in parsed and "x" not in parsed
    for name in written:
        values = parsed[f"profile {name}"]
        assert set(values) == {"sso_session", "sso_account_id", "sso_role_name", "region"}
        assert shlex.quote(name) == name and name.startswith("sso/")
    roles = {parsed[f"profile {n}"]["sso_role_name"] for n in written}
    assert roles == {"Ok", "a=b", "Deploy"}  # valid IAM names pass; ones with newlines or [ ] are skipped
    assert len(result.skipped) == 3


def test_write_twice_adds_nothing_and_keeps_a_backup(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(EXISTING)
    accounts = [SsoAccount("222222222222", "dev", "", ("ReadOnly", "Admin"))]
    first = write(config, plan("corp", "us-east-1", accounts, {}))
    assert first == ["dev/ReadOnly", "dev/Admin"]
    after = config.read_text()
    assert (tmp_path / "config.bak").read_text() == EXISTING
    existing = {
        "dev/ReadOnly": {"sso_session": "corp", "sso_account_id": "222222222222", "sso_role_name": "ReadOnly"},
        "dev/Admin": {"sso_session": "corp", "sso_account_id": "222222222222", "sso_role_name": "Admin"},
    }
    assert write(config, plan("corp", "us-east-1", accounts, existing)) == []
    assert config.read_text() == after


def test_bulk_append_writes_what_set_profile_writes(tmp_path: Path) -> None:
    from stsdesk.core.configfile import ConfigFile

    accounts = [SsoAccount(f"{500000000000 + i:012d}", f"acct {i}", "", ("ReadOnly", "Admin")) for i in range(40)]
    sync_plan = plan("corp", "us-east-1", accounts, {"mine": {}})
    for start in (EXISTING, EXISTING.rstrip("\n"), EXISTING + "\n\n", ""):
        bulk, single = tmp_path / "bulk", tmp_path / "single"
        bulk.write_text(start)
        single.write_text(start)
        assert len(write(bulk, sync_plan)) == 80
        one_by_one = ConfigFile.open(single)
        for p in sync_plan.missing:
            values = {"sso_session": "corp", "sso_account_id": p.account_id, "sso_role_name": p.role_name,
                      "region": "us-east-1"}
            one_by_one.set_profile(p.name, values)
        one_by_one.save()
        assert bulk.read_text() == single.read_text()
