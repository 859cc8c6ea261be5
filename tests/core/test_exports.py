"""Exports are evaluated in the real shells and read back byte for byte from the child's environment: bash,
zsh and fish here; python-dotenv for dotenv. PowerShell and cmd.exe cannot run on this machine (no registry we
reach has PowerShell; cmd.exe is Windows-only): their text is evaluated by the spec-based oracles of
tests/helpers/shell_oracles.py, and by the real pwsh when one is installed."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import dotenv
import pytest
from helpers.shell_oracles import OracleRefused, powershell_verbatim, run_cmd, run_powershell
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stsdesk.core.exports import (
    SHELLS,
    UnrepresentableValue,
    credential_process_json,
    exec_environment,
    render_exports,
)
from stsdesk.core.model import CredentialKind, Credentials

NASTY = "a'b\"c$d`e\\f!g h i%j^k&l|m<n>o ${HOME} $(echo pwned) \\' '' ‘quoted’ ü -x \\"
# Control characters (line breaks, tabs, ESC...) are refused by every format but json: tests/security.
EXPIRY = datetime(2036, 11, 26, 17, 28, 47, tzinfo=UTC)
STALE = {"AWS_SESSION_TOKEN": "stale-token", "AWS_SECURITY_TOKEN": "stale-legacy", "AWS_REGION": "eu-west-3"}


def make_creds(
    secret: str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    token: str | None = "FwoGZXIvYXdzEJr//////////wEaDOPsessiontoken+/=",
    expiration: datetime | None = EXPIRY,
    region: str | None = None,
) -> Credentials:
    return Credentials(
        access_key_id="ASIAEXAMPLE000000001",
        secret_access_key=secret,
        session_token=token,
        expiration=expiration,
        kind=CredentialKind.ASSUMED_ROLE if token else CredentialKind.LONG_TERM,
        region=region,
    )


def run_in_shell(argv_prefix: list[str], script: str, tmp_path: Path) -> dict[str, str]:
    """Source ``script`` in a fresh shell with stale AWS variables, return the exported environment."""
    path = tmp_path / "exports.sh"
    path.write_bytes(script.encode("utf-8"))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8", **STALE}
    result = subprocess.run(
        [*argv_prefix, f"source {path}; /usr/bin/env -0"],
        env=env,
        capture_output=True,
        check=True,
        timeout=20,
    )
    assert result.stderr == b""
    pairs = [item.split(b"=", 1) for item in result.stdout.split(b"\0") if item]
    return {k.decode(): v.decode("utf-8") for k, v in pairs}


SHELL_COMMANDS = {
    "bash": ["bash", "--norc", "--noprofile", "-c"],
    "zsh": ["zsh", "-f", "-c"],
    "fish": ["fish", "--no-config", "-c"],
}


@pytest.mark.parametrize("shell", sorted(SHELL_COMMANDS))
@pytest.mark.parametrize("secret", [NASTY, "plain", "'", "\\", "x\u00a0", "\u2019'\u2018"])
def test_real_shell_round_trip(shell: str, secret: str, tmp_path: Path) -> None:
    argv = SHELL_COMMANDS[shell]
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed (apt-get install -y zsh fish)")
    creds = make_creds(secret=secret, token=secret + "-token", region="us-west-2")
    env = run_in_shell(argv, render_exports(creds, shell, profile_name="dev"), tmp_path)
    assert env["AWS_SECRET_ACCESS_KEY"].encode() == secret.encode()
    assert env["AWS_SESSION_TOKEN"].encode() == (secret + "-token").encode()
    assert env["AWS_ACCESS_KEY_ID"] == "ASIAEXAMPLE000000001"
    assert env["AWS_CREDENTIAL_EXPIRATION"] == "2036-11-26T17:28:47Z"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-west-2"
    assert "AWS_SECURITY_TOKEN" not in env


@pytest.mark.parametrize("shell", sorted(SHELL_COMMANDS))
def test_real_shell_unsets_stale_token_for_long_term_keys(shell: str, tmp_path: Path) -> None:
    argv = SHELL_COMMANDS[shell]
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed")
    creds = make_creds(token=None, expiration=None)
    env = run_in_shell(argv, render_exports(creds, shell), tmp_path)
    assert "AWS_SESSION_TOKEN" not in env
    assert "AWS_SECURITY_TOKEN" not in env
    assert "AWS_CREDENTIAL_EXPIRATION" not in env
    assert env["AWS_REGION"] == "eu-west-3"  # no region known: the user's own setting is left alone


@pytest.mark.skipif(shutil.which("pwsh") is None, reason="pwsh (PowerShell 7) is not installed here")
def test_powershell_round_trip(tmp_path: Path) -> None:
    creds = make_creds(secret=NASTY)
    path = tmp_path / "exports.ps1"
    path.write_text(render_exports(creds, "powershell"), encoding="utf-8")
    result = subprocess.run(
        [
            "pwsh",
            "-NoProfile",
            "-NonInteractive",
            "-Command",
            f". '{path}'; [Console]::Out.Write($Env:AWS_SECRET_ACCESS_KEY)",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.decode("utf-8") == NASTY


PS_STALE = {**STALE, "PATH": "/usr/bin"}


PS_SECRETS = [NASTY, "plain", "'", "''", "\u2019'\u2018", "`$(x)`n @\u00a0", "\u201a\u201b\"\u201c"]


@pytest.mark.parametrize("secret", PS_SECRETS)
def test_powershell_oracle_round_trip(secret: str) -> None:
    creds = make_creds(secret=secret, token=secret + "-token", region="us-west-2")
    env = run_powershell(render_exports(creds, "powershell", profile_name="dev"), PS_STALE)
    assert env["AWS_SECRET_ACCESS_KEY"] == secret
    assert env["AWS_SESSION_TOKEN"] == secret + "-token"
    assert env["AWS_ACCESS_KEY_ID"] == "ASIAEXAMPLE000000001"
    assert env["AWS_CREDENTIAL_EXPIRATION"] == "2036-11-26T17:28:47Z"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-west-2"
    assert "AWS_SECURITY_TOKEN" not in env
    assert env["PATH"] == "/usr/bin"


def test_powershell_oracle_long_term_keys_unset_the_stale_ones() -> None:
    env = run_powershell(render_exports(make_creds(token=None, expiration=None), "powershell"), PS_STALE)
    assert "AWS_SESSION_TOKEN" not in env and "AWS_SECURITY_TOKEN" not in env
    assert "AWS_CREDENTIAL_EXPIRATION" not in env
    assert env["AWS_REGION"] == "eu-west-3"


# Control characters are refused by every evaluated format (tests/security); everything else must round-trip.
PRINTABLE = ("Cs", "Cc", "Zl", "Zp")


@settings(max_examples=200, deadline=None)
@given(secret=st.text(st.characters(blacklist_categories=PRINTABLE), min_size=1))
def test_powershell_oracle_round_trip_property(secret: str) -> None:
    env = run_powershell(render_exports(make_creds(secret=secret), "powershell"), PS_STALE)
    assert env["AWS_SECRET_ACCESS_KEY"] == secret


@given(
    secret=st.text(alphabet=st.sampled_from("ab$`\"; '\u2018\u2019\u201a\u201b"), min_size=1, max_size=12)
)
@settings(max_examples=300, deadline=None)
def test_powershell_oracle_quote_heavy_property(secret: str) -> None:
    env = run_powershell(render_exports(make_creds(secret=secret), "powershell"), PS_STALE)
    assert env["AWS_SECRET_ACCESS_KEY"] == secret


def test_powershell_oracle_follows_the_grammar() -> None:
    # The oracle itself, on literals written by hand from the spec: a doubled quote of any of the five kinds
    # stands for the second one; a single one ends the string; nothing else is special.
    assert powershell_verbatim("'it''s'", 0) == ("it's", 7)
    assert powershell_verbatim("\u2018a\u2019\u2018b\u201b", 0) == ("a\u2018b", 6)
    assert powershell_verbatim("'$x `n \"\\'", 0) == ("$x `n \"\\", 10)
    with pytest.raises(OracleRefused):
        powershell_verbatim("'never ends", 0)
    # Undoubled quotes would end the string early and leave code behind: the oracle refuses that text, so the
    # round trips above do test the doubling.
    with pytest.raises(OracleRefused):
        run_powershell("$Env:X = 'it's'\n", {})
    with pytest.raises(OracleRefused):
        run_powershell("$Env:X = 'a\u2019; Remove-Item C:\\ -Recurse'\n", {})
    assert run_powershell("$Env:X = 'a'; $Env:Y = ''\n", {"Y": "old"}) == {"X": "a"}


CMD_SAFE = "a^b&c|d<e>f (g) h ü ‘’ 'x' \\ / = ~ ` $ {HOME} nbsp\u00a0"
CMD_MODES = [(batch, delayed) for batch in (True, False) for delayed in (False, True)]


@pytest.mark.parametrize(("batch", "delayed"), CMD_MODES)
@pytest.mark.parametrize("secret", [CMD_SAFE, "plain", "^", "^^", "a=b=c", "&&", ")"])
def test_cmd_oracle_round_trip(secret: str, batch: bool, delayed: bool) -> None:
    creds = make_creds(secret=secret, token=secret + "-token", region="us-west-2")
    text = render_exports(creds, "cmd", profile_name="dev")
    env = run_cmd(text, {**STALE, "PATH": "C:\\Windows"}, batch=batch, delayed=delayed)
    assert env["AWS_SECRET_ACCESS_KEY"] == secret
    assert env["AWS_SESSION_TOKEN"] == secret + "-token"
    assert env["AWS_CREDENTIAL_EXPIRATION"] == "2036-11-26T17:28:47Z"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-west-2"
    assert "AWS_SECURITY_TOKEN" not in env


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(
        st.characters(blacklist_categories=PRINTABLE, blacklist_characters='%!"'), min_size=1
    )
)
def test_cmd_oracle_round_trip_property(secret: str) -> None:
    text = render_exports(make_creds(secret=secret), "cmd")
    for batch, delayed in CMD_MODES:
        assert run_cmd(text, {}, batch=batch, delayed=delayed)["AWS_SECRET_ACCESS_KEY"] == secret


def test_cmd_oracle_shows_why_the_refused_characters_are_refused() -> None:
    # What cmd.exe would do with the values render_exports refuses (so the refusals are not overcautious):
    assert run_cmd('set "K=50%PATH%off"', {"PATH": "C:\\W"}, batch=False, delayed=False)["K"] == "50C:\\Woff"
    assert run_cmd('set "K=50%%off"', {}, batch=True, delayed=False)["K"] == "50%off"
    assert run_cmd('set "K=50%%off"', {}, batch=False, delayed=False)["K"] == "50%%off"  # no escape works both ways
    assert run_cmd('set "K=hi!"', {}, batch=True, delayed=True)["K"] == "hi"
    assert run_cmd('set "K=a"b"', {}, batch=True, delayed=False)["K"] == 'a"b'
    with pytest.raises(OracleRefused):  # an odd quote leaves & unquoted: a second command
        run_cmd('set "K=a"b&c"', {}, batch=True, delayed=False)
    with pytest.raises(OracleRefused):  # without the quotes, & would run the rest as a command
        run_cmd("set K=a&calc", {}, batch=True, delayed=False)


def test_powershell_text_doubles_every_single_quote_kind() -> None:
    out = render_exports(make_creds(secret="it's ‘a’ \u201atest\u201b $x `n"), "powershell")
    assert "$Env:AWS_SECRET_ACCESS_KEY = 'it''s ‘‘a’’ \u201a\u201atest\u201b\u201b $x `n'" in out.splitlines()
    assert "Remove-Item Env:AWS_SECURITY_TOKEN -ErrorAction SilentlyContinue" in out.splitlines()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1))
def test_bash_round_trip_property(secret: str, tmp_path: Path) -> None:
    env = run_in_shell(SHELL_COMMANDS["bash"], render_exports(make_creds(secret=secret), "bash"), tmp_path)
    assert env["AWS_SECRET_ACCESS_KEY"].encode() == secret.encode()


def test_bash_text_shape() -> None:
    out = render_exports(make_creds(secret="it's"), "bash", region="eu-central-1", profile_name="prod")
    lines = out.splitlines()
    assert lines[0] == "# stsdesk: profile prod, expires 2036-11-26T17:28:47Z"
    assert "export AWS_SECRET_ACCESS_KEY='it'\\''s'" in lines
    assert "unset AWS_SECURITY_TOKEN" in lines
    assert "export AWS_DEFAULT_REGION='eu-central-1'" in lines


def test_unsafe_profile_name_is_not_echoed_into_a_comment() -> None:
    out = render_exports(make_creds(), "bash", profile_name="x\n$(touch /tmp/pwned)")
    assert "pwned" not in out
    assert out.splitlines()[0] == "# stsdesk: expires 2036-11-26T17:28:47Z"


def test_cmd_text_keeps_metacharacters_inside_quotes() -> None:
    out = render_exports(make_creds(secret="a^b&c|d<e>f (g) h"), "cmd", region="us-east-1", profile_name="p")
    lines = out.splitlines()
    assert lines[0] == "REM stsdesk: profile p, expires 2036-11-26T17:28:47Z"
    assert 'set "AWS_SECRET_ACCESS_KEY=a^b&c|d<e>f (g) h"' in lines
    assert 'set "AWS_SECURITY_TOKEN="' in lines
    assert 'set "AWS_REGION=us-east-1"' in lines


@pytest.mark.parametrize("bad", ["50%off", "%PATH%", "hi!", 'q"q', "two\nlines", "cr\r"])
def test_cmd_refuses_values_it_cannot_carry(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        render_exports(make_creds(secret="s3cr3t" + bad), "cmd")
    message = str(info.value)
    assert "AWS_SECRET_ACCESS_KEY" in message
    assert "s3cr3t" not in message
    assert "\n" not in message
    assert isinstance(info.value, UnrepresentableValue)


def test_nul_is_refused_everywhere_but_json() -> None:
    creds = make_creds(token="tok\0en")
    for shell in SHELLS:
        if shell == "json":
            assert json.loads(render_exports(creds, shell))["AWS_SESSION_TOKEN"] == "tok\0en"
            continue
        with pytest.raises(UnrepresentableValue, match="AWS_SESSION_TOKEN"):
            render_exports(creds, shell)


def test_dotenv_round_trip_with_python_dotenv() -> None:
    secret = NASTY.replace("${HOME}", "$ {HOME}").replace("$d", "$-d").replace("$(", "$ (")
    assert "$" in secret
    out = render_exports(make_creds(secret=secret, region="ap-south-1"), "dotenv")
    values = dotenv.dotenv_values(stream=io.StringIO(out))
    assert values["AWS_SECRET_ACCESS_KEY"] == secret
    assert values["AWS_CREDENTIAL_EXPIRATION"] == "2036-11-26T17:28:47Z"
    assert values["AWS_REGION"] == "ap-south-1"
    assert "AWS_SECURITY_TOKEN" not in values  # dotenv cannot unset: the key is simply absent


@pytest.mark.parametrize("bad", ["${HOME}", "$HOME", "$$", "$_x"])
def test_dotenv_refuses_interpolated_dollars(bad: str) -> None:
    with pytest.raises(UnrepresentableValue, match="AWS_SECRET_ACCESS_KEY for dotenv"):
        render_exports(make_creds(secret="x" + bad), "dotenv")


def test_json_is_a_flat_object_of_set_variables() -> None:
    data = json.loads(render_exports(make_creds(secret=NASTY, region="us-east-2"), "json"))
    assert data == {
        "AWS_ACCESS_KEY_ID": "ASIAEXAMPLE000000001",
        "AWS_SECRET_ACCESS_KEY": NASTY,
        "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEJr//////////wEaDOPsessiontoken+/=",
        "AWS_CREDENTIAL_EXPIRATION": "2036-11-26T17:28:47Z",
        "AWS_REGION": "us-east-2",
        "AWS_DEFAULT_REGION": "us-east-2",
    }


def test_region_falls_back_to_the_credentials_region() -> None:
    data = json.loads(render_exports(make_creds(region="sa-east-1"), "json"))
    assert data["AWS_REGION"] == "sa-east-1"
    data = json.loads(render_exports(make_creds(region="sa-east-1"), "json", region="us-east-1"))
    assert data["AWS_DEFAULT_REGION"] == "us-east-1"


def test_unknown_shell_names_the_choices() -> None:
    with pytest.raises(ValueError, match="choose one of bash, zsh, fish, powershell, cmd, dotenv, json"):
        render_exports(make_creds(), "tcsh")


def test_credential_process_json_full() -> None:
    plus_two = timezone(timedelta(hours=2))
    creds = make_creds(expiration=datetime(2036, 11, 26, 19, 28, 47, tzinfo=plus_two))
    assert json.loads(credential_process_json(creds)) == {
        "Version": 1,
        "AccessKeyId": "ASIAEXAMPLE000000001",
        "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "SessionToken": "FwoGZXIvYXdzEJr//////////wEaDOPsessiontoken+/=",
        "Expiration": "2036-11-26T17:28:47Z",
    }


def test_credential_process_json_long_term_keys_omit_token_and_expiration() -> None:
    data = json.loads(credential_process_json(make_creds(token=None, expiration=None)))
    assert set(data) == {"Version", "AccessKeyId", "SecretAccessKey"}


def test_credential_process_json_is_accepted_by_botocore() -> None:
    from botocore.credentials import ProcessProvider

    class FakeProcess:
        returncode = 0

        def communicate(self) -> tuple[bytes, bytes]:
            return credential_process_json(make_creds()).encode(), b""

    provider = ProcessProvider(
        "p",
        lambda: {"profiles": {"p": {"credential_process": "stsdesk credential-process p"}}},
        popen=lambda *a, **k: FakeProcess(),
    )
    loaded = provider.load()
    assert loaded is not None
    frozen = loaded.get_frozen_credentials()
    assert frozen.token == "FwoGZXIvYXdzEJr//////////wEaDOPsessiontoken+/="
    assert frozen.secret_key == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_exec_environment_removes_overrides_and_keeps_the_rest() -> None:
    base = {
        "PATH": "/bin",
        "AWS_PROFILE": "other",
        "AWS_DEFAULT_PROFILE": "other",
        "AWS_SESSION_TOKEN": "stale",
        "AWS_SECURITY_TOKEN": "stale",
        "AWS_CREDENTIAL_EXPIRATION": "2000-01-01T00:00:00Z",
        "AWS_REGION": "eu-west-1",
    }
    snapshot = dict(base)
    env = exec_environment(base, make_creds(token=None, expiration=None), None)
    assert base == snapshot
    assert env == {
        "PATH": "/bin",
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "ASIAEXAMPLE000000001",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    }


def test_exec_environment_sets_token_expiration_and_region() -> None:
    env = exec_environment({"AWS_REGION": "eu-west-1"}, make_creds(region="us-east-1"), "ca-central-1")
    assert env["AWS_SESSION_TOKEN"] == "FwoGZXIvYXdzEJr//////////wEaDOPsessiontoken+/="
    assert env["AWS_CREDENTIAL_EXPIRATION"] == "2036-11-26T17:28:47Z"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "ca-central-1"


def test_exec_environment_reaches_a_child_process() -> None:
    env = exec_environment({"PATH": "/usr/bin:/bin"}, make_creds(secret=NASTY), "us-east-1")
    out = subprocess.run(
        [sys.executable, "-c", "import os, sys; sys.stdout.write(os.environ['AWS_SECRET_ACCESS_KEY'])"],
        env=env,
        capture_output=True,
        check=True,
        timeout=20,
    ).stdout
    assert out.decode("utf-8") == NASTY


def test_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, stsdesk.core.exports; "
        "print(sorted(m for m in ('boto3', 'botocore', 'urllib.request', 'PySide6') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True, timeout=20)
    assert out.stdout.strip() == "[]"
