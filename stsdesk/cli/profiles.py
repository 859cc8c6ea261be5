"""Commands about profiles and what stsdesk keeps for them: list, add-user, import-credentials, forget."""

from __future__ import annotations

import argparse
import contextlib
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from stsdesk.cli.environment import Environment


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add list, add-user, import-credentials and forget to ``sub``."""
    from stsdesk.cli.parser import add_command

    p = add_command(
        sub, "list", "profiles as a tree, with state and time left",
        "Show the profiles of your AWS config as a tree (roles under the profile they are assumed from), with "
        "the kind, the account, whether stsdesk holds a session for each and how long it has left.",
        ("stsdesk list", "stsdesk list --json | jq '.[] | select(.state == \"active\") | .name'"),
    )
    p.add_argument("--json", action="store_true", help="one object per profile, as JSON")
    p.set_defaults(handler=cmd_list)

    p = add_command(
        sub, "add-user", "long-term keys into the keyring (secret from stdin or a prompt)",
        "Store an IAM user's secret access key in the OS keyring and its key id (with the MFA device and "
        "region, if given) in ~/.aws/config, so that no secret is left in a plain file. Refuses a name that "
        "is already a role or another kind of profile.",
        ("stsdesk add-user alice --access-key-id AKIA... --mfa-serial arn:aws:iam::111111111111:mfa/alice",
         "pass show aws/alice | stsdesk add-user alice --access-key-id AKIA..."),
    )
    p.add_argument("profile")
    p.add_argument("--access-key-id", required=True, metavar="ID")
    p.add_argument("--mfa-serial", metavar="ARN", help="the MFA device, for sessions that ask for a code")
    p.add_argument("--region", help="the profile's default region")
    p.set_defaults(handler=cmd_add_user)

    p = add_command(
        sub, "import-credentials", "move keys from ~/.aws/credentials into the keyring",
        "Move long-term key pairs out of ~/.aws/credentials into the OS keyring. Each moved profile gets a "
        "credential_process line naming this stsdesk, so the AWS CLI and SDKs keep working with it (and get a "
        "temporary session instead of the key). Profiles that cannot be moved are named with the reason.",
        ("stsdesk import-credentials", "stsdesk import-credentials default work"),
    )
    p.add_argument("profiles", nargs="*", metavar="PROFILE", help="only these (default: all)")
    p.set_defaults(handler=cmd_import_credentials)

    p = add_command(
        sub, "forget", "drop cached sessions",
        "Drop the sessions stsdesk cached for PROFILE (or, with --all, every one), so that the next use starts "
        "a fresh one. Keys in the keyring are kept.",
        ("stsdesk forget prod-admin", "stsdesk forget --all"),
    )
    p.add_argument("profile", nargs="?")
    p.add_argument("--all", action="store_true", help="every cached session")
    p.set_defaults(handler=cmd_forget)


def list_rows(env: Environment) -> tuple[list[dict[str, Any]], Path]:
    """One row per profile, depth first (name, depth, kind, account, source, state, expiration, seconds_left,
    error), and the config file they come from. Raises ConfigError for an unreadable AWS file."""
    from datetime import UTC, datetime

    from stsdesk.cli.engine import make_engine
    from stsdesk.core.model import Profile

    engine = make_engine(env, with_prompt=False)
    tree = engine.broker.tree
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []

    def walk(profile: Profile, depth: int) -> None:
        meta = engine.broker.session_state(profile.name)
        left = meta.seconds_left(now) if meta is not None else None
        state = (
            "error"
            if profile.error
            else "none"
            if meta is None
            else "active"
            if left and left > 0
            else "expired"
        )
        rows.append(
            {
                "name": profile.name,
                "depth": depth,
                "kind": profile.kind.value,
                "account": profile.account_id,
                "source": profile.source,
                "state": state,
                "expiration": meta.expiration.isoformat() if meta is not None else None,
                "seconds_left": int(left)
                if left is not None and left > 0
                else (0 if meta is not None else None),
                "error": profile.error,
            }
        )
        for child in tree.children(profile.name):
            walk(child, depth + 1)

    for root in tree.roots():
        walk(root, 0)
    return rows, tree.config_file


def cmd_list(env: Environment, args: argparse.Namespace) -> int:
    """Print the profile tree with state and time left (``--json``: the rows as JSON)."""
    import json

    rows, config_file = list_rows(env)
    if args.json:
        env.out(json.dumps(rows, indent=2))
        return 0
    if not rows:
        env.out(f"no profiles in {config_file}")
        return 0
    width = max(len("PROFILE"), *(2 * r["depth"] + len(r["name"]) for r in rows))
    env.out(f"{'PROFILE':<{width}}  {'KIND':<18} {'ACCOUNT':<12}  {'STATE':<8} TIME LEFT")
    for r in rows:
        left = r["seconds_left"]
        shown = "-" if left is None else f"{left // 3600}h{left % 3600 // 60:02d}m" if left else "0"
        name = "  " * r["depth"] + r["name"]
        env.out(
            f"{name:<{width}}  {r['kind']:<18} {r['account'] or '-':<12}  {r['state']:<8} {shown}"
            + (f"  ({r['error']})" if r["error"] else "")
        )
    return 0


def cmd_add_user(env: Environment, args: argparse.Namespace) -> int:
    """Store an IAM user's secret key in the keyring and its key id (and MFA serial, region) in the AWS
    config. ConfigError for a bad name, key id or serial or no secret; KeyringUnavailable when the keyring
    refuses (then nothing is written)."""
    from stsdesk.cli.engine import make_engine
    from stsdesk.core.configfile import ConfigFile, validate_mfa_serial, validate_profile_name
    from stsdesk.core.errors import ConfigError, KeyringUnavailable
    from stsdesk.core.profiles import aws_config_paths
    from stsdesk.core.secrets import user_key
    from stsdesk.core.self_command import credential_process_command

    for problem in (
        validate_profile_name(args.profile),
        args.mfa_serial and validate_mfa_serial(args.mfa_serial),
    ):
        if problem:
            raise ConfigError(problem)
    if args.region and not re.fullmatch(r"[a-z0-9-]{1,64}", args.region):
        raise ConfigError(f"{args.region!r} is not a region name (like eu-west-1)")
    akid = args.access_key_id.strip()
    if not (16 <= len(akid) <= 128 and akid.isalnum()):
        raise ConfigError(f"'{akid}' does not look like an access key id (AKIA... , 20 characters)")
    if env.stdin_is_tty:
        secret = env.getpass(f"Secret access key for {akid}: ").strip()
    else:
        secret = env.stdin.readline().strip()
    if not secret:
        raise ConfigError("no secret access key given (pipe it on stdin or type it at the prompt)")
    config_path, credentials_path = aws_config_paths(env.environ)
    _refuse_other_kind(args.profile, config_path, credentials_path)
    config = ConfigFile.open(config_path)  # parse before touching the keyring: a broken file stops here
    # The credential_process line lets the AWS CLI and SDKs use the profile too (a session through stsdesk).
    values: dict[str, str | None] = {
        "stsdesk_access_key_id": akid,
        "credential_process": credential_process_command(args.profile, _named_config_dir(env)),
    }
    if args.mfa_serial:
        values["mfa_serial"] = args.mfa_serial
    if args.region:
        values["region"] = args.region
    # Every argument is checked (set_profile validates in memory) before the secret goes to the keyring, and a
    # failed save takes it out again: no orphan keyring item for a profile that was never written.
    config.set_profile(args.profile, values)
    secrets = make_engine(env, with_prompt=False).secrets
    key = user_key(args.profile, akid)
    try:
        secrets.set(key, secret)
    except KeyringUnavailable as exc:
        raise KeyringUnavailable(f"{exc} Nothing was written.") from None
    try:
        config.save()
    except BaseException:
        with contextlib.suppress(KeyringUnavailable):
            secrets.delete(key)
        raise
    env.out(
        f"profile {args.profile}: access key {akid} stored in the keyring; {config_path} updated (the AWS CLI "
        "and SDKs get its sessions through stsdesk)"
    )
    return 0


def _refuse_other_kind(name: str, config_path: Path, credentials_path: Path) -> None:
    """Raise ConfigError when profile ``name`` exists and is something other than an IAM user (a role, an SSO
    profile, a credential_process...): storing keys into it would silently turn it into something else."""
    from stsdesk.core.errors import ConfigError
    from stsdesk.core.model import ProfileKind
    from stsdesk.core.profiles import load_profiles

    existing = load_profiles(config_path, credentials_path).profiles.get(name)
    if existing is None or existing.kind in (ProfileKind.IAM_USER, ProfileKind.OTHER):
        return
    raise ConfigError(
        f"profile '{name}' is already a {existing.kind.value} profile in {config_path}; add-user would turn it "
        "into an IAM user: choose another name, or remove that profile first"
    )


# A profile whose config section says one of these gets its credentials another way in botocore (its chain
# puts them before the credentials file and credential_process): a credential_process line would be ignored.
_OTHER_WAYS = ("role_arn", "credential_source", "web_identity_token_file", "sso_session", "sso_start_url",
               "credential_process")


def _named_config_dir(env: Environment) -> Path | None:
    """stsdesk's config directory when it is not the default one (a credential_process line must then name
    it: the keyring entries and the cache are per directory), else None. OSError when it cannot be made."""
    from stsdesk.core.paths import default_config_dir

    directory = env.config_dir()
    return None if directory == default_config_dir().absolute() else directory


def _import_refusal(values: dict[str, str], in_config: dict[str, str] | None) -> str | None:
    """Why a credentials-file profile is not imported (None: it is), in words for the person."""
    akid, secret = values.get("aws_access_key_id"), values.get("aws_secret_access_key")
    if values.get("aws_session_token") or values.get("aws_security_token"):
        return "its keys are temporary (it has a session token)"
    if not akid or not secret:
        return "it has no access key id and secret access key pair"
    other = next((key for key in _OTHER_WAYS if in_config and in_config.get(key)), None)
    if other is not None:
        return f"its section in the config file sets {other}, which the AWS CLI would use instead"
    return None


def cmd_import_credentials(env: Environment, args: argparse.Namespace) -> int:
    """Move long-term key pairs from the AWS credentials file into the keyring (all, or ``args.profiles``), and
    give each moved profile a ``credential_process`` line that runs this stsdesk, so that the AWS CLI and SDKs
    keep finding credentials for it (a session, not the key). Profiles left alone are named with the reason.
    Refuses (KeyringUnavailable) when the keyring would not keep them: nothing is removed then; ConfigError
    for a named profile that cannot be imported."""
    from stsdesk.cli.engine import make_engine
    from stsdesk.core.configfile import ConfigFile
    from stsdesk.core.errors import ConfigError, KeyringUnavailable
    from stsdesk.core.profiles import aws_config_paths
    from stsdesk.core.secrets import user_key
    from stsdesk.core.self_command import credential_process_command

    config_path, credentials_path = aws_config_paths(env.environ)
    credentials = ConfigFile.open(credentials_path, credentials=True)
    config = ConfigFile.open(config_path)
    wanted = args.profiles or credentials.profiles()
    engine = make_engine(env, with_prompt=False)
    secrets = engine.secrets
    if not secrets.persistent:
        raise KeyringUnavailable(
            f"{secrets.warning} Refusing to remove keys from {credentials_path}: they would be lost."
        )
    named_dir = _named_config_dir(env)
    moved: list[str] = []
    skipped: list[tuple[str, str]] = []
    for name in wanted:
        values = credentials.get(name)
        if values is None:
            raise ConfigError(f"no profile '{name}' in {credentials_path}")
        refusal = _import_refusal(values, config.get(name))
        if refusal is not None:
            if args.profiles:
                raise ConfigError(f"profile '{name}' in {credentials_path} cannot be imported: {refusal}")
            skipped.append((name, refusal))
            continue
        akid, secret = str(values["aws_access_key_id"]), str(values["aws_secret_access_key"])
        try:
            secrets.set(user_key(name, akid), secret)
        except KeyringUnavailable as exc:  # the files are saved only after the loop: nothing removed yet
            raise KeyringUnavailable(f"{exc} Nothing was removed from {credentials_path}.") from None
        if secrets.get(user_key(name, akid)) != secret:
            raise KeyringUnavailable(f"the keyring did not keep the secret of '{name}'; nothing removed")
        config.set_profile(
            name,
            {"stsdesk_access_key_id": akid, "credential_process": credential_process_command(name, named_dir)},
        )
        credentials.set_profile(name, {"aws_access_key_id": None, "aws_secret_access_key": None})
        if not credentials.get(name):
            credentials.remove_profile(name)
        moved.append(name)
    config.save()  # first: a failure here leaves the keys where they were
    credentials.save()
    if moved:
        _drop_backup(env, credentials_path)
    for name in moved:
        env.out(f"profile {name}: key moved into the keyring; the AWS CLI and SDKs get sessions through stsdesk")
    for name, reason in skipped:
        env.out(f"profile {name}: left in {credentials_path}: {reason}")
    if not moved and not skipped:
        env.out(f"no long-term keys to import in {credentials_path}")
    return 0


def _drop_backup(env: Environment, path: Path) -> None:
    """Remove ``<path>.bak``: ConfigFile.save keeps the previous content there, which would leave the keys
    just moved into the keyring in plaintext on disk."""
    import os
    from pathlib import Path

    backup = Path(os.path.realpath(path))
    backup = backup.with_name(backup.name + ".bak")
    try:
        backup.unlink(missing_ok=True)
    except OSError as exc:
        env.warn(f"could not remove {backup} ({exc.strerror}); it still holds the imported keys: delete it")


def cmd_forget(env: Environment, args: argparse.Namespace) -> int:
    """Drop the cached sessions of ``args.profile`` (ProfileNotFound for a typo) or, with --all, every one."""
    from stsdesk.cli.engine import make_engine
    from stsdesk.cli.environment import UsageError

    if not args.all and not args.profile:
        raise UsageError("forget needs a PROFILE or --all")
    engine = make_engine(env, with_prompt=False)
    if args.profile and not args.all:
        engine.broker.tree.get(args.profile)  # ProfileNotFound for a typo
    dropped = engine.broker.forget(None if args.all else args.profile)
    engine.broker.cache.flush()  # forgetting is written behind, like storing
    env.out(f"forgot {len(dropped)} cached session(s)")
    return 0
