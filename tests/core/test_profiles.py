"""Loading the AWS config files into a ProfileTree: botocore semantics, kinds, chains and broken profiles."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from stsdesk.core.errors import ConfigError, ProfileCycleError, ProfileNotFound
from stsdesk.core.model import ProfileKind
from stsdesk.core.profiles import ProfileTree, aws_config_paths, load_profiles

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ROLE = "arn:aws:iam::222222222222:role/Developer"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".aws").mkdir()
    return tmp_path


def load(home: Path, config: str, credentials: str | None = None) -> ProfileTree:
    config_file = home / ".aws" / "config"
    credentials_file = home / ".aws" / "credentials"
    config_file.write_text(config)
    if credentials is not None:
        credentials_file.write_text(credentials)
    return load_profiles(config_file, credentials_file)


# --- paths -------------------------------------------------------------------------------------------------


def test_config_paths_default_to_home_aws() -> None:
    config, credentials = aws_config_paths({"HOME": "/home/u"})
    assert config == Path("/home/u/.aws/config")
    assert credentials == Path("/home/u/.aws/credentials")


def test_config_paths_honour_environment_and_expand_tilde() -> None:
    env = {"HOME": "/home/u", "AWS_CONFIG_FILE": "~/cfg/aws", "AWS_SHARED_CREDENTIALS_FILE": "/etc/creds"}
    assert aws_config_paths(env) == (Path("/home/u/cfg/aws"), Path("/etc/creds"))


def test_config_paths_empty_variable_counts_as_unset() -> None:
    config, _ = aws_config_paths({"HOME": "/home/u", "AWS_CONFIG_FILE": ""})
    assert config == Path("/home/u/.aws/config")


def test_config_paths_read_os_environ_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "c"))
    monkeypatch.delenv("AWS_SHARED_CREDENTIALS_FILE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert aws_config_paths() == (tmp_path / "c", tmp_path / ".aws" / "credentials")


# --- reading -----------------------------------------------------------------------------------------------


def test_missing_files_give_an_empty_tree(tmp_path: Path) -> None:
    tree = load_profiles(tmp_path / "nope", tmp_path / "nope2")
    assert dict(tree.profiles) == {}
    assert tree.roots() == []
    assert tree.errors == []


def test_loads_config_and_credentials_in_file_order(home: Path) -> None:
    tree = load(
        home,
        "[default]\nregion = eu-west-1\n\n[profile dev]\nrole_arn = " + ROLE + "\nsource_profile = default\n"
        "mfa_serial = arn:aws:iam::111111111111:mfa/alice\nduration_seconds = 7200\nexternal_id = x1\n",
        f"[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = {SECRET}\n"
        f"[ci]\naws_access_key_id = AKIACI\naws_secret_access_key = {SECRET}\naws_session_token = tok\n",
    )
    assert list(tree.profiles) == ["default", "dev", "ci"]
    default = tree.get("default")
    assert default.kind is ProfileKind.IAM_USER
    assert default.access_key_id == "AKIAEXAMPLE"
    assert default.region == "eu-west-1"
    assert default.extra["key_storage"] == "file"
    dev = tree.get("dev")
    assert dev.kind is ProfileKind.ROLE
    assert (dev.source, dev.chain, dev.error) == ("default", ("default", "dev"), None)
    assert (dev.duration_seconds, dev.external_id, dev.role_arn) == (7200, "x1", ROLE)
    assert dev.needs_mfa and dev.account_id == "222222222222"
    assert dev.region is None  # botocore does not inherit region from the source profile
    assert [p.name for p in tree.chain("dev")] == ["default", "dev"]


def test_no_secret_ends_up_in_any_profile(home: Path) -> None:
    tree = load(
        home,
        f"[profile cfgkeys]\naws_access_key_id = AKIA1\naws_secret_access_key = {SECRET}\n",
        f"[ci]\naws_access_key_id = AKIA2\naws_secret_access_key = {SECRET}\n"
        "aws_session_token = SESSIONTOK\n",
    )
    for profile in tree.profiles.values():
        text = repr(dataclasses.asdict(profile))
        assert SECRET not in text and "SESSIONTOK" not in text
        assert "aws_secret_access_key" not in profile.extra
    assert tree.get("cfgkeys").access_key_id == "AKIA1"


def test_botocore_section_rules(home: Path) -> None:
    tree = load(
        home,
        '[profile a]\nregion = r1\n[notaprofile]\nregion = r2\n[profile "with space"]\nregion = r3\n'
        "[profile too many parts]\nregion = r4\n[profile default]\nregion = r5\n",
        "[bare]\nregion = r6\n",
    )
    assert list(tree.profiles) == ["a", "with space", "default", "bare"]
    assert tree.get("default").region == "r5"
    assert tree.get("bare").region == "r6"


def test_credentials_values_win_over_config(home: Path) -> None:
    tree = load(home, "[profile p]\nregion = from-config\noutput = json\n", "[p]\nregion = from-creds\n")
    profile = tree.get("p")
    assert profile.region == "from-creds"  # as botocore's Session.full_config merges them
    assert profile.extra["output"] == "json"


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (f"role_arn = {ROLE}\nsource_profile = base", ProfileKind.ROLE),
        (f"role_arn = {ROLE}\nweb_identity_token_file = /t", ProfileKind.WEB_IDENTITY_ROLE),
        (
            f"role_arn = {ROLE}\nweb_identity_token_file = /t\nsource_profile = base",
            ProfileKind.WEB_IDENTITY_ROLE,
        ),
        (f"role_arn = {ROLE}\nsaml_principal_arn = arn:aws:iam::1:saml-provider/x", ProfileKind.SAML_ROLE),
        (f"role_arn = {ROLE}\nstsdesk_saml_provider = CorpIdP", ProfileKind.SAML_ROLE),
        ("stsdesk_federation_name = bob\nsource_profile = base", ProfileKind.FEDERATED_USER),
        ("stsdesk_federation_policy = {}\nsource_profile = base", ProfileKind.FEDERATED_USER),
        ("aws_access_key_id = AKIA", ProfileKind.IAM_USER),
        ("stsdesk_access_key_id = AKIA", ProfileKind.IAM_USER),
        (
            "stsdesk_access_key_id = AKIA\ncredential_process = stsdesk credential-process p",
            ProfileKind.IAM_USER,
        ),
        ("credential_process = /bin/get-creds", ProfileKind.CREDENTIAL_PROCESS),
        (
            "sso_session = corp\nsso_account_id = 111122223333\nsso_role_name = r\n"
            "[sso-session corp]\nsso_start_url = https://d-1.awsapps.com/start\nsso_region = us-east-1",
            ProfileKind.SSO,
        ),
        ("region = us-east-1", ProfileKind.OTHER),
    ],
)
def test_kind_rules(home: Path, body: str, kind: ProfileKind) -> None:
    tree = load(home, f"[profile base]\naws_access_key_id = AKIA\n\n[profile p]\n{body}\n")
    profile = tree.get("p")
    assert profile.kind is kind
    assert profile.error is None


def test_web_identity_ignores_source_profile_like_botocore(home: Path) -> None:
    tree = load(
        home,
        f"[profile base]\nregion = x\n[profile w]\nrole_arn = {ROLE}\nweb_identity_token_file = /t\n"
        "source_profile = base\n",
    )
    web = tree.get("w")
    assert web.source is None and web.chain == ("w",)
    assert web.extra["source_profile"] == "base"
    assert tree.children("base") == []


def test_keyring_key_marked_and_preferred(home: Path) -> None:
    tree = load(home, "[profile u]\nstsdesk_access_key_id = AKIAKEYRING\naws_access_key_id = AKIAFILE\n")
    user = tree.get("u")
    assert user.access_key_id == "AKIAKEYRING"
    assert user.extra["key_storage"] == "keyring"


def test_credential_source_role_has_no_source(home: Path) -> None:
    tree = load(home, f"[profile ec2]\nrole_arn = {ROLE}\ncredential_source = Ec2InstanceMetadata\n")
    role = tree.get("ec2")
    assert (role.kind, role.source, role.error) == (ProfileKind.ROLE, None, None)
    assert role.extra["credential_source"] == "Ec2InstanceMetadata"
    assert [p.name for p in tree.roots()] == ["ec2"]


def test_role_with_both_or_neither_source_is_broken(home: Path) -> None:
    tree = load(
        home,
        f"[profile base]\naws_access_key_id = A\n[profile both]\nrole_arn = {ROLE}\nsource_profile = base\n"
        f"credential_source = Environment\n[profile neither]\nrole_arn = {ROLE}\n",
    )
    assert "source_profile and credential_source" in (tree.get("both").error or "")
    assert "needs source_profile" in (tree.get("neither").error or "")
    assert tree.get("base").error is None


def test_fields_mapped_from_stsdesk_keys(home: Path) -> None:
    tree = load(
        home,
        "[profile base]\naws_access_key_id = A\n[profile fed]\nsource_profile = base\n"
        "stsdesk_federation_name = bob\nstsdesk_federation_policy = {}\n"
        "stsdesk_federation_endpoint = http://127.0.0.1:1/federation\nsts_regional_endpoints = regional\n"
        "endpoint_url = http://127.0.0.1:1\nsource_identity = alice\nrole_session_name = s\n",
    )
    fed = tree.get("fed")
    assert (fed.federation_name, fed.federation_policy) == ("bob", "{}")
    assert fed.federation_endpoint == "http://127.0.0.1:1/federation"
    assert (fed.endpoint_url, fed.sts_regional_endpoints) == ("http://127.0.0.1:1", "regional")
    assert (fed.source_identity, fed.role_session_name) == ("alice", "s")
    assert fed.chain == ("base", "fed")


def test_federated_user_needs_an_iam_user_source(home: Path) -> None:
    tree = load(
        home,
        f"[profile base]\naws_access_key_id = A\n[profile role]\nrole_arn = {ROLE}\nsource_profile = base\n"
        "[profile fed]\nsource_profile = role\nstsdesk_federation_name = bob\n",
    )
    assert "must be an IAM user" in (tree.get("fed").error or "")


def test_bad_duration_breaks_only_that_profile_and_its_children(home: Path) -> None:
    tree = load(
        home,
        f"[profile base]\naws_access_key_id = A\n[profile bad]\nrole_arn = {ROLE}\nsource_profile = base\n"
        f"duration_seconds = 1h\n[profile below]\nrole_arn = {ROLE}\nsource_profile = bad\n"
        f"[profile good]\nrole_arn = {ROLE}\nsource_profile = base\nduration_seconds = 900\n",
    )
    assert tree.get("bad").error == "duration_seconds '1h' is not a whole number of seconds"
    assert tree.get("bad").duration_seconds is None
    assert "'bad'" in (tree.get("below").error or "")
    assert tree.get("good").error is None and tree.get("good").duration_seconds == 900
    assert len(tree.errors) == 2
    with pytest.raises(ConfigError, match="profile 'bad': duration_seconds"):
        tree.chain("bad")


def test_missing_source_and_inherited_error(home: Path) -> None:
    tree = load(
        home,
        f"[profile orphan]\nrole_arn = {ROLE}\nsource_profile = ghost\n"
        f"[profile child]\nrole_arn = {ROLE}\nsource_profile = orphan\n"
        f"[profile grandchild]\nrole_arn = {ROLE}\nsource_profile = child\n[profile fine]\nregion = x\n",
    )
    assert tree.get("orphan").error == "source_profile 'ghost' does not exist"
    grandchild_error = tree.get("grandchild").error or ""
    assert "'orphan'" in grandchild_error and "ghost" in grandchild_error  # names the broken ancestor
    assert [p.name for p in tree.roots()] == ["orphan", "fine"]
    assert [p.name for p in tree.children("orphan")] == ["child"]
    assert tree.chain("fine")[0].name == "fine"
    with pytest.raises(ConfigError) as raised:
        tree.chain("child")
    assert not isinstance(raised.value, ProfileCycleError)
    assert len(tree.errors) == 3 and all(line.count("\n") == 0 for line in tree.errors)


def test_cycle_marks_every_member_and_spares_the_rest(home: Path) -> None:
    tree = load(
        home,
        f"[profile a]\nrole_arn = {ROLE}\nsource_profile = b\n"
        f"[profile b]\nrole_arn = {ROLE}\nsource_profile = a\n"
        f"[profile c]\nrole_arn = {ROLE}\nsource_profile = b\n[profile d]\naws_access_key_id = A\n"
        f"[profile e]\nrole_arn = {ROLE}\nsource_profile = d\n",
    )
    assert tree.get("a").error == "source_profile cycle: a -> b -> a"
    assert tree.get("b").error == "source_profile cycle: a -> b -> a"
    assert "cycle" in (tree.get("c").error or "")
    assert tree.get("e").error is None and tree.get("e").chain == ("d", "e")
    assert [p.name for p in tree.roots()] == ["a", "b", "d"]
    assert [p.name for p in tree.children("b")] == ["c"]
    assert tree.children("a") == []  # b is a cycle member: shown as a root, not under a
    for name in ("a", "b", "c"):
        with pytest.raises(ProfileCycleError):
            tree.chain(name)


def test_self_loop_is_a_cycle_without_static_keys(home: Path) -> None:
    tree = load(home, f"[profile s]\nrole_arn = {ROLE}\nsource_profile = s\n")
    assert tree.get("s").error == "source_profile cycle: s -> s"
    assert tree.children("s") == []


def test_self_source_with_static_keys_is_allowed_like_botocore(home: Path) -> None:
    tree = load(home, f"[profile s]\nrole_arn = {ROLE}\nsource_profile = s\naws_access_key_id = AKIA\n")
    role = tree.get("s")
    assert (role.kind, role.error, role.source, role.chain) == (ProfileKind.ROLE, None, None, ("s",))
    assert role.access_key_id == "AKIA" and role.extra["source_profile"] == "s"


def test_chain_fifty_deep(home: Path) -> None:
    lines = ["[profile p0]\naws_access_key_id = AKIA\n"]
    # Written deepest first so that resolution meets unresolved sources all the way down.
    for depth in range(49, 0, -1):
        lines.append(f"[profile p{depth}]\nrole_arn = {ROLE}\nsource_profile = p{depth - 1}\n")
    tree = load(home, "\n".join(lines))
    assert [p.name for p in tree.chain("p49")] == [f"p{i}" for i in range(50)]
    assert tree.get("p49").chain == tuple(f"p{i}" for i in range(50))
    assert tree.errors == []


def test_five_thousand_profiles(home: Path) -> None:
    parts = ["[default]\nstsdesk_access_key_id = AKIAIDENTITY\n"]
    for account in range(500):
        account_id = f"{100000000000 + account:012d}"
        role_arn = f"arn:aws:iam::{account_id}:role/Base"
        parts.append(f"[profile a{account}]\nrole_arn = {role_arn}\nsource_profile = default\n")
        for role in range(9):
            parts.append(
                f"[profile a{account}-r{role}]\nrole_arn = arn:aws:iam::{account_id}:role/R{role}\n"
                f"source_profile = a{account}\nduration_seconds = 3600\n"
            )
    tree = load(home, "\n".join(parts))
    assert len(tree.profiles) == 5001
    assert tree.errors == []
    assert [p.name for p in tree.roots()] == ["default"]
    assert len(tree.children("default")) == 500
    assert [p.name for p in tree.children("a7")] == [f"a7-r{i}" for i in range(9)]
    assert tree.get("a499-r8").chain == ("default", "a499", "a499-r8")
    assert tree.get("a499-r8").account_id == "100000000499"


def test_unknown_profile_suggests_a_close_name(home: Path) -> None:
    tree = load(home, "[profile production]\nregion = x\n")
    with pytest.raises(ProfileNotFound) as raised:
        tree.get("prodution")
    assert str(raised.value) == "no profile 'prodution' in ~/.aws/config (did you mean 'production'?)"
    with pytest.raises(ProfileNotFound, match=r"^no profile 'zzz' in ~/.aws/config$"):
        tree.chain("zzz")


def test_unknown_profile_mentions_credentials_when_it_has_profiles(home: Path) -> None:
    tree = load(home, "", "[ci]\naws_access_key_id = A\n")
    with pytest.raises(ProfileNotFound, match=r"in ~/.aws/config or ~/.aws/credentials"):
        tree.get("nope")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("region = x\n[default]\n", "~/.aws/config line 1: a setting comes before the first [section]"),
        ("[default]\nregion = x\n\n[default]\n", "~/.aws/config line 4: section [default] appears twice"),
        ("[default]\nregion = x\nregion = y\n", "~/.aws/config line 3: 'region' is set twice in [default]"),
        ("[default]\nregion = x\n[profile p]\njunk line\n", "~/.aws/config line 4: not a 'key = value' line"),
    ],
)
def test_unparsable_config_names_file_and_line(home: Path, text: str, expected: str) -> None:
    path = home / ".aws" / "config"
    path.write_text(text)
    before = path.stat()
    with pytest.raises(ConfigError) as raised:
        load_profiles(path, home / ".aws" / "credentials")
    message = str(raised.value)
    assert message.startswith(expected)
    assert "\n" not in message
    assert path.read_text() == text and path.stat().st_mtime_ns == before.st_mtime_ns


def test_unparsable_credentials_do_not_leak_the_line(home: Path) -> None:
    (home / ".aws" / "credentials").write_text(f"[ci]\naws_access_key_id = A\n{SECRET}\n")
    with pytest.raises(ConfigError) as raised:
        load_profiles(home / ".aws" / "config", home / ".aws" / "credentials")
    assert str(raised.value).startswith("~/.aws/credentials line 3:")
    assert SECRET not in str(raised.value)


def test_non_utf8_file_names_the_line(home: Path) -> None:
    (home / ".aws" / "config").write_bytes(b"[default]\nregion = x\nname = caf\xe9\n")
    with pytest.raises(ConfigError, match=r"^~/.aws/config line 3: not valid UTF-8 text$"):
        load_profiles(home / ".aws" / "config", home / ".aws" / "credentials")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_an_error_not_empty(home: Path) -> None:
    path = home / ".aws" / "config"
    path.write_text("[default]\nregion = x\n")
    path.chmod(0)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_profiles(path, home / ".aws" / "credentials")


def test_nested_blocks_are_kept_out_of_profile_fields(home: Path) -> None:
    nested = "[profile p]\nregion = x\ns3 =\n  addressing_style = path\n[profile q]\nregion =\n  a = b\n"
    tree = load(home, nested)
    assert tree.get("p").error is None and "s3" not in tree.get("p").extra
    assert "region must be a single value" in (tree.get("q").error or "")


def test_load_profiles_defaults_to_environment_paths(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = home / "elsewhere.ini"
    config.write_text("[profile env]\nregion = x\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_SHARED_CREDENTIALS_FILE", raising=False)
    tree = load_profiles()
    assert list(tree.profiles) == ["env"]
    assert tree.config_file == config and tree.credentials_file == home / ".aws" / "credentials"
