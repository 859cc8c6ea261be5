"""Writing profiles back: comment-preserving edits, atomic saves, concurrent-change refusal, validators."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from stsdesk.core.configfile import (
    ConfigFile,
    validate_duration,
    validate_mfa_serial,
    validate_profile_name,
    validate_role_arn,
)
from stsdesk.core.errors import ConfigError
from stsdesk.core.profiles import load_profiles

ORIGINAL = """\
# Managed by hand. Do not reorder.
[default]
region = us-east-1 ; trailing text is part of the value

# identity account
[profile dev]
role_arn = arn:aws:iam::222222222222:role/Developer
source_profile = default
mfa_serial = arn:aws:iam::111111111111:mfa/alice

; prod needs care
[profile prod]
role_arn = arn:aws:iam::333333333333:role/Admin
source_profile = default
# end of file comment
"""

BAD_ROLE_NAME = "role name: letters, digits and + = , . @ _ - only (1–64 characters)"
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def config(home: Path) -> Path:
    path = home / ".aws" / "config"
    path.parent.mkdir(mode=0o700)
    path.write_text(ORIGINAL)
    path.chmod(0o600)
    return path


def test_section_names_config_and_credentials(config: Path, home: Path) -> None:
    cfg = ConfigFile.open(config)
    assert cfg.section_for("dev") == "profile dev"
    assert cfg.section_for("new") == "profile new"
    assert cfg.section_for("default") == "default"
    creds = ConfigFile.open(home / ".aws" / "credentials", credentials=True)
    assert creds.section_for("dev") == "dev"
    assert creds.section_for("default") == "default"


def test_existing_profile_default_section_is_reused(home: Path) -> None:
    path = home / "config"
    path.write_text("[profile default]\nregion = a\n")
    cfg = ConfigFile.open(path)
    assert cfg.section_for("default") == "profile default"
    cfg.set_profile("default", {"region": "b"})
    cfg.save()
    assert path.read_text() == "[profile default]\nregion = b\n"


def test_get_returns_values_or_none(config: Path) -> None:
    cfg = ConfigFile.open(config)
    assert cfg.get("dev") == {
        "role_arn": "arn:aws:iam::222222222222:role/Developer",
        "source_profile": "default",
        "mfa_serial": "arn:aws:iam::111111111111:mfa/alice",
    }
    assert cfg.get("nope") is None
    assert cfg.profiles() == ["default", "dev", "prod"]


def test_changing_a_value_keeps_everything_else_byte_for_byte(config: Path) -> None:
    cfg = ConfigFile.open(config)
    cfg.set_profile("dev", {"source_profile": "prod"})
    cfg.save()
    assert config.read_text() == ORIGINAL.replace(
        "source_profile = default\nmfa", "source_profile = prod\nmfa"
    )


def test_new_key_goes_after_the_last_option_and_none_deletes(config: Path) -> None:
    cfg = ConfigFile.open(config)
    cfg.set_profile("dev", {"duration_seconds": "3600", "mfa_serial": None, "missing_key": None})
    cfg.save()
    expected = ORIGINAL.replace(
        "mfa_serial = arn:aws:iam::111111111111:mfa/alice\n\n; prod",
        "duration_seconds = 3600\n\n; prod",
    )
    assert config.read_text() == expected


def test_new_profile_is_appended_and_readable_by_botocore(config: Path, home: Path) -> None:
    cfg = ConfigFile.open(config)
    cfg.set_profile("ops", {"role_arn": "arn:aws:iam::444444444444:role/Ops", "source_profile": "dev"})
    cfg.save()
    text = config.read_text()
    assert text.startswith(ORIGINAL)
    assert text[len(ORIGINAL) :] == (
        "\n[profile ops]\nrole_arn = arn:aws:iam::444444444444:role/Ops\nsource_profile = dev\n"
    )
    tree = load_profiles(config, home / ".aws" / "credentials")
    assert tree.get("ops").chain == ("default", "dev", "ops")


def test_setting_only_deletions_on_a_missing_profile_writes_nothing(config: Path) -> None:
    cfg = ConfigFile.open(config)
    cfg.set_profile("ghost", {"region": None})
    cfg.save()
    assert config.read_text() == ORIGINAL
    assert not config.with_name("config.bak").exists()


def test_remove_profile_keeps_the_others(config: Path) -> None:
    cfg = ConfigFile.open(config)
    cfg.remove_profile("dev")
    cfg.remove_profile("not-there")  # no-op
    cfg.save()
    text = config.read_text()
    assert "[profile dev]" not in text and "Developer" not in text
    assert "[profile prod]\nrole_arn = arn:aws:iam::333333333333:role/Admin\n" in text
    assert text.startswith("# Managed by hand. Do not reorder.\n[default]\n")
    assert text.endswith("# end of file comment\n")


def test_credentials_file_uses_bare_section_names(home: Path) -> None:
    path = home / ".aws" / "credentials"
    path.parent.mkdir()
    path.write_text("[default]\naws_access_key_id = AKIAOLD\n")
    creds = ConfigFile.open(path, credentials=True)
    creds.set_profile("ci", {"aws_access_key_id": "AKIACI"})
    creds.set_profile("default", {"aws_access_key_id": None})
    creds.save()
    assert path.read_text() == "[default]\n\n[ci]\naws_access_key_id = AKIACI\n"
    assert creds.get("ci") == {"aws_access_key_id": "AKIACI"}


def test_concurrent_modification_is_refused(config: Path) -> None:
    cfg = ConfigFile.open(config)
    cfg.set_profile("dev", {"region": "eu-west-1"})
    config.write_text(ORIGINAL + "[profile other]\nregion = x\n")  # someone else edits meanwhile
    with pytest.raises(ConfigError) as raised:
        cfg.save()
    assert str(raised.value) == (
        "~/.aws/config changed on disk since it was read; nothing was written, try again"
    )
    assert config.read_text() == ORIGINAL + "[profile other]\nregion = x\n"
    assert not config.with_name("config.bak").exists()


def test_file_deleted_since_open_is_refused(config: Path) -> None:
    cfg = ConfigFile.open(config)
    cfg.set_profile("dev", {"region": "x"})
    config.unlink()
    with pytest.raises(ConfigError, match="changed on disk"):
        cfg.save()
    assert not config.exists()


def test_backup_holds_the_previous_content_and_saves_chain(config: Path) -> None:
    cfg = ConfigFile.open(config)
    cfg.set_profile("dev", {"region": "r1"})
    cfg.save()
    assert config.with_name("config.bak").read_text() == ORIGINAL
    first = config.read_text()
    cfg.set_profile("dev", {"region": "r2"})
    cfg.save()  # the same object may save again: its view of the disk is up to date
    assert config.with_name("config.bak").read_text() == first
    assert "region = r2" in config.read_text()


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("fail_on_call", [1, 2])
def test_failed_replace_leaves_the_original_intact(
    config: Path, monkeypatch: pytest.MonkeyPatch, fail_on_call: int
) -> None:
    cfg = ConfigFile.open(config)
    cfg.set_profile("dev", {"region": "eu-west-1"})
    real_replace = os.replace
    calls: list[str] = []

    def flaky_replace(src: str, dst: str) -> None:
        calls.append(str(dst))
        if len(calls) == fail_on_call:  # 1: while writing the backup, 2: the file itself
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky_replace)
    with pytest.raises(ConfigError, match=r"could not write ~/.aws/config .*the file is unchanged"):
        cfg.save()
    assert len(calls) == fail_on_call
    assert config.read_text() == ORIGINAL
    assert _leftovers(config.parent) == []
    monkeypatch.setattr(os, "replace", real_replace)
    cfg.save()  # nothing was lost: a retry writes the change
    assert "region = eu-west-1" in config.read_text()


@posix_only
def test_creates_directory_0700_and_file_0600(home: Path) -> None:
    path = home / ".aws" / "config"
    cfg = ConfigFile.open(path)
    assert cfg.get("default") is None
    cfg.set_profile("default", {"region": "us-east-1"})
    cfg.save()
    assert path.read_text() == "[default]\nregion = us-east-1\n"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not path.with_name("config.bak").exists()  # there was no previous content


@posix_only
def test_existing_mode_is_kept(config: Path) -> None:
    config.chmod(0o640)
    cfg = ConfigFile.open(config)
    cfg.set_profile("prod", {"region": "x"})
    cfg.save()
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    assert stat.S_IMODE(config.with_name("config.bak").stat().st_mode) == 0o640


@posix_only
def test_symlinked_config_is_written_through_the_link(home: Path) -> None:
    real = home / "dotfiles" / "aws-config"
    real.parent.mkdir()
    real.write_text("[default]\nregion = a\n")
    link = home / "config"
    link.symlink_to(real)
    cfg = ConfigFile.open(link)
    cfg.set_profile("default", {"region": "b"})
    cfg.save()
    assert link.is_symlink()
    assert real.read_text() == "[default]\nregion = b\n"


def test_crlf_lines_outside_the_change_are_kept(home: Path) -> None:
    path = home / "config"
    path.write_bytes(b"# c\r\n[default]\r\nregion = a\r\n\r\n[profile x]\r\nregion = b\r\n")
    cfg = ConfigFile.open(path)
    cfg.set_profile("x", {"region": "c"})
    cfg.save()
    assert path.read_bytes().startswith(b"# c\r\n[default]\r\nregion = a\r\n\r\n[profile x]\r\n")


def test_file_without_final_newline_gets_a_clean_new_section(home: Path) -> None:
    path = home / "config"
    path.write_text("[default]\nregion = a")
    cfg = ConfigFile.open(path)
    cfg.set_profile("x", {"region": "b"})
    cfg.save()
    assert path.read_text() == "[default]\nregion = a\n\n[profile x]\nregion = b\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("region = a\n", "~/config line 1: a setting comes before the first [section] header"),
        ("[a]\nk = 1\n[a]\n", "~/config line 3: section [a] appears twice"),
        ("[a]\nk = 1\nk = 2\n", "~/config line 3: 'k' is set twice in [a]"),
    ],
)
def test_malformed_file_is_refused_and_untouched(home: Path, text: str, expected: str) -> None:
    path = home / "config"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        ConfigFile.open(path)
    assert str(raised.value).startswith(expected)
    assert path.read_text() == text


def test_non_utf8_file_is_refused(home: Path) -> None:
    path = home / "config"
    path.write_bytes(b"[a]\nk = caf\xe9\n")
    with pytest.raises(ConfigError, match=r"^~/config line 2: not valid UTF-8 text$"):
        ConfigFile.open(path)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"region": "x\n[profile evil]"}, "single line"),
        ({"bad key": "x"}, "not a valid config key"),
        ({"k=v": "x"}, "not a valid config key"),
    ],
)
def test_values_that_could_corrupt_the_file_are_refused(
    config: Path, values: dict[str, str | None], message: str
) -> None:
    cfg = ConfigFile.open(config)
    with pytest.raises(ConfigError, match=message):
        cfg.set_profile("dev", values)
    assert cfg.text() == ORIGINAL


def test_invalid_new_profile_name_is_refused(config: Path) -> None:
    cfg = ConfigFile.open(config)
    with pytest.raises(ConfigError, match="profile name 'a b': no spaces"):
        cfg.set_profile("a b", {"region": "x"})


# --- validators --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["dev", "default", "acct-1_prod.admin", "team/dev", "a@b+c"])
def test_valid_profile_names(name: str) -> None:
    assert validate_profile_name(name) is None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "enter a profile name"),
        ("   ", "enter a profile name"),
        (" dev", "remove the spaces at the start or end"),
        ("dev ", "remove the spaces at the start or end"),
        ("my dev", "no spaces: the AWS CLI cannot read profile names with spaces"),
        ("dev]", "no brackets [ ]"),
        ('"dev"', "use letters, digits and _ - . @ + / : = , only"),
        ("x" * 129, "at most 128 characters"),
    ],
)
def test_invalid_profile_names(name: str, message: str) -> None:
    assert validate_profile_name(name) == message


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::123456789012:role/Developer",
        "arn:aws-us-gov:iam::123456789012:role/path/to/Role+Name=,.@_-",
        "arn:aws-cn:iam::123456789012:role/service-role/x",
        "  arn:aws:iam::123456789012:role/Trimmed  ",
    ],
)
def test_valid_role_arns(arn: str) -> None:
    assert validate_role_arn(arn) is None


@pytest.mark.parametrize(
    ("arn", "message"),
    [
        ("", "enter a role ARN"),
        ("Developer", "should look like arn:aws:iam::123456789012:role/Name"),
        ("arn:aws-iso:iam::123456789012:role/R", "partition must be aws, aws-us-gov or aws-cn"),
        ("arn:aws:sts::123456789012:role/R", "must be an IAM ARN (arn:aws:iam::…)"),
        ("arn:aws:iam:us-east-1:123456789012:role/R", "IAM ARNs have no region: arn:aws:iam::…"),
        ("arn:aws:iam::12345:role/R", "account ID must be 12 digits"),
        ("arn:aws:iam::123456789012:user/alice", "must end with :role/NAME"),
        ("arn:aws:iam::123456789012:role/", BAD_ROLE_NAME),
        ("arn:aws:iam::123456789012:role/" + "r" * 65, BAD_ROLE_NAME),
        ("arn:aws:iam::123456789012:role/has space", BAD_ROLE_NAME),
    ],
)
def test_invalid_role_arns(arn: str, message: str) -> None:
    assert validate_role_arn(arn) == message


@pytest.mark.parametrize(
    "serial",
    ["arn:aws:iam::123456789012:mfa/alice", "arn:aws-cn:iam::123456789012:mfa/path/dev", "GAHT12345678"],
)
def test_valid_mfa_serials(serial: str) -> None:
    assert validate_mfa_serial(serial) is None


@pytest.mark.parametrize(
    ("serial", "message"),
    [
        ("", "enter the MFA device ARN or serial number"),
        ("SHORT", "an ARN (arn:aws:iam::123456789012:mfa/NAME) or a serial of 9–256 letters/digits"),
        (
            "has spaces in it",
            "an ARN (arn:aws:iam::123456789012:mfa/NAME) or a serial of 9–256 letters/digits",
        ),
        ("arn:aws:iam::123456789012:role/R", "must end with :mfa/NAME"),
        ("arn:aws:iam::1234:mfa/alice", "account ID must be 12 digits"),
        ("arn:aws:iam::123456789012:mfa/al ice", "device name: letters, digits and + = / : , . @ _ - only"),
    ],
)
def test_invalid_mfa_serials(serial: str, message: str) -> None:
    assert validate_mfa_serial(serial) == message


@pytest.mark.parametrize("seconds", [900, 3600, 43200, "900", " 3600 "])
def test_valid_durations(seconds: str | int) -> None:
    assert validate_duration(seconds) is None


@pytest.mark.parametrize(
    ("seconds", "message"),
    [
        (899, "at least 900 seconds (15 minutes)"),
        (43201, "at most 43200 seconds (12 hours)"),
        ("1h", "enter a whole number of seconds"),
        ("", "enter a whole number of seconds"),
        ("-900", "enter a whole number of seconds"),
    ],
)
def test_invalid_durations(seconds: str | int, message: str) -> None:
    assert validate_duration(seconds) == message
