"""The emulator's world: accounts, users, roles and identity providers, loaded from a TOML or JSON file.

A malformed file is refused with ``ScenarioError`` whose message names the file, the entry and the problem, e.g.
``demo.toml: roles[2] (Developer): trust_policy: Syntax errors in policy.``
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import secrets
import tomllib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stsdesk.emulator.errors import EmulatorError
from stsdesk.emulator.policy import Policy, parse_policy

if TYPE_CHECKING:
    from stsdesk.emulator.sso_scenario import IdentityCenter

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}$")
_PATH_RE = re.compile(r"^/([\x21-\x7e]*/)?$")
_AKID_RE = re.compile(r"^AKIA[A-Z0-9]{16}$")
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_KEY_ID_TABLE = bytes(ord(_B32[byte % 32]) for byte in range(256))  # byte -> its low five bits' character


class ScenarioError(Exception):
    """A scenario file that cannot be used; the message is one line naming file, entry and problem."""


@dataclass(frozen=True)
class AccessKey:
    id: str
    secret: str

    def __repr__(self) -> str:
        return f"AccessKey(id={self.id!r})"


@dataclass(frozen=True)
class MfaDevice:
    serial: str
    seed: str  # base32


@dataclass(frozen=True)
class Account:
    id: str
    alias: str | None = None
    root_access_key: AccessKey | None = None
    name: str | None = None  # the account name Identity Center lists (alias, else the id, when absent)
    email: str | None = None

    @property
    def root_arn(self) -> str:
        return f"arn:aws:iam::{self.id}:root"

    @property
    def display_name(self) -> str:
        return self.name or self.alias or self.id


@dataclass(frozen=True)
class User:
    account: str
    name: str
    path: str = "/"
    policies: tuple[Policy, ...] = ()
    access_keys: tuple[AccessKey, ...] = ()
    mfa: MfaDevice | None = None

    @functools.cached_property
    def arn(self) -> str:  # computed once (several reads per request): the fields never change
        return f"arn:aws:iam::{self.account}:user{self.path}{self.name}"

    @functools.cached_property
    def unique_id(self) -> str:
        return stable_id("AIDA", self.arn)


@dataclass(frozen=True)
class Role:
    account: str
    name: str
    trust_policy: Policy
    path: str = "/"
    max_session_duration: int = 3600
    policies: tuple[Policy, ...] = ()

    @functools.cached_property
    def arn(self) -> str:  # computed once (several reads per request): the fields never change
        return f"arn:aws:iam::{self.account}:role{self.path}{self.name}"

    @functools.cached_property
    def unique_id(self) -> str:
        return stable_id("AROA", self.arn)


@dataclass(frozen=True)
class SamlProvider:
    account: str
    name: str

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:saml-provider/{self.name}"


@dataclass(frozen=True)
class OidcProvider:
    account: str
    url: str
    client_ids: tuple[str, ...] = ("sts.amazonaws.com",)

    @property
    def host_path(self) -> str:
        return self.url.split("://", 1)[-1].rstrip("/")

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:oidc-provider/{self.host_path}"


@dataclass(frozen=True)
class Faults:
    """Faults the emulator injects (hardening tests): applied to STS and EC2 requests."""

    latency_ms: int = 0
    throttle_every: int = 0  # every Nth request answers Throttling (0 = never)
    error_5xx_every: int = 0  # every Nth request answers 500 InternalFailure
    drop_every: int = 0  # every Nth request: connection closed without an answer
    clock_offset_seconds: int = 0  # the emulator's clock runs this far from the host's


@dataclass
class Scenario:
    region: str = "us-east-1"
    accounts: dict[str, Account] = field(default_factory=dict)
    users: list[User] = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)
    saml_providers: list[SamlProvider] = field(default_factory=list)
    oidc_providers: list[OidcProvider] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    identity_center: IdentityCenter | None = None
    source: str = "<scenario>"
    generated_keys: list[tuple[str, AccessKey]] = field(default_factory=list)  # (owner ARN, key) made at load
    _keys: dict[str, tuple[str, AccessKey]] = field(default_factory=dict, repr=False)  # akid -> (owner ARN, key)
    _roles: dict[str, Role] = field(default_factory=dict, repr=False)
    _users: dict[str, User] = field(default_factory=dict, repr=False)

    def index(self) -> None:
        """Build the lookup tables (called by the loader; call again after changing the lists)."""
        self._roles = {r.arn: r for r in self.roles}
        self._users = {u.arn: u for u in self.users}
        self._keys = {}
        for user in self.users:
            for key in user.access_keys:
                self._keys[key.id] = (user.arn, key)
        for account in self.accounts.values():
            if account.root_access_key:
                self._keys[account.root_access_key.id] = (account.root_arn, account.root_access_key)

    def key(self, access_key_id: str) -> tuple[str, AccessKey] | None:
        """(owner ARN, key) for a long-term access key id, or None."""
        return self._keys.get(access_key_id)

    def user_by_arn(self, arn: str) -> User | None:
        return self._users.get(arn)

    def role_by_arn(self, arn: str) -> Role | None:
        """The role with this ARN. Real IAM matches the role name without its path too, so do we."""
        role = self._roles.get(arn)
        if role is not None:
            return role
        parts = arn.split(":", 5)
        if len(parts) == 6 and parts[5].startswith("role/"):
            name = parts[5].rsplit("/", 1)[-1]
            for candidate in self.roles:
                if candidate.account == parts[4] and candidate.name == name:
                    return candidate
        return None

    def saml_provider(self, arn: str) -> SamlProvider | None:
        return next((p for p in self.saml_providers if p.arn == arn), None)

    def oidc_providers_in(self, account: str) -> list[OidcProvider]:
        return [p for p in self.oidc_providers if p.account == account]

    def alias(self, account: str) -> str | None:
        acct = self.accounts.get(account)
        return acct.alias if acct else None


@functools.lru_cache(maxsize=4096)
def stable_id(prefix: str, seed: str) -> str:
    """A 21-character IAM-style unique id (AIDA…, AROA…) derived from a stable seed."""
    # Cached: a role's id is asked for on every AssumeRole (a hash and a base32 otherwise).
    digest = hashlib.sha256(seed.encode()).digest()
    return prefix + base64.b32encode(digest).decode()[:17]


def random_key_id(prefix: str) -> str:
    """A 20-character access key id (AKIA… / ASIA…): 16 characters drawn uniformly from A-Z and 2-7."""
    # One draw, one translate: each random byte's low five bits pick a character (256 is a multiple of 32,
    # so every character is equally likely). base64.b32encode is pure Python and costs several times more;
    # this runs for every session issued.
    return prefix + secrets.token_bytes(16).translate(_KEY_ID_TABLE).decode("ascii")


def random_secret() -> str:
    return base64.b64encode(secrets.token_bytes(30)).decode()  # 40 characters


def random_access_key(prefix: str, account: str | None = None) -> tuple[str, str]:
    """(key id, ``random_secret()``) from one draw of the system's randomness (one getrandom call per issued
    session instead of two). The key id is ``random_key_id(prefix)``, or with ``account`` (12 digits) a
    new-generation id that encodes the account as AWS's do (:func:`key_id_account` reads it back)."""
    raw = secrets.token_bytes(46)
    if account is None or not _ACCOUNT_RE.match(account):
        return prefix + raw[:16].translate(_KEY_ID_TABLE).decode("ascii"), base64.b64encode(raw[16:]).decode()
    # After the prefix, 80 bits in base32: the new-generation flag, the account in 40 bits, then random bits.
    # The first 8 characters hold the flag and the account's top 39 bits, the 9th its last bit and 4 random
    # bits, the last 7 are random.
    number = int(account)
    ninth = _B32[(number & 1) << 4 | (raw[0] & 0x0F)]
    key_id = prefix + _account_head(number) + ninth + raw[1:8].translate(_KEY_ID_TABLE).decode("ascii")
    return key_id, base64.b64encode(raw[16:]).decode()


@functools.lru_cache(maxsize=256)
def _account_head(number: int) -> str:
    bits = 1 << 39 | number >> 1
    return "".join(_B32[bits >> shift & 31] for shift in range(35, -1, -5))


_B32_VALUE = {char: value for value, char in enumerate(_B32)}


def key_id_account(access_key_id: str) -> str | None:
    """The account a new-generation access key id encodes (bit 20 set, bits 21-60 the account number), as STS's
    GetAccessKeyInfo answers for any such key, expired or not; None for an id of another shape."""
    if len(access_key_id) != 20:
        return None
    bits = 0
    for char in access_key_id[4:14]:  # the first 50 bits after the prefix
        value = _B32_VALUE.get(char)
        if value is None:
            return None
        bits = bits << 5 | value
    if not bits >> 49:  # an old-generation id: no account in it
        return None
    return f"{bits >> 9 & (1 << 40) - 1:012d}"


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario file (``.toml`` or ``.json``).

    Raises ScenarioError (one line: file, entry, problem) for unreadable files, syntax errors, missing or invalid
    fields, unknown accounts, duplicate names or keys, and policies that do not parse.
    """
    p = Path(path)
    label = p.name
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot read scenario file: {exc.strerror or exc}") from None
    try:
        if p.suffix.lower() == ".json":
            data = json.loads(raw)
        elif p.suffix.lower() == ".toml":
            data = tomllib.loads(raw.decode("utf-8"))
        else:
            raise ScenarioError(f"{label}: scenario files must end in .toml or .json")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{label}: not valid {p.suffix[1:].upper()}: {exc}") from None
    return scenario_from_dict(data, label)


def scenario_from_dict(data: Any, label: str = "<scenario>") -> Scenario:
    """Build a Scenario from already-parsed data; see ``load_scenario`` for errors."""
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{label}: the top level must be a table/object")
    sc = Scenario(source=label)
    known_top = {
        "region", "accounts", "users", "roles", "saml_providers", "oidc_providers", "faults", "identity_center"
    }
    for key in data:
        if key not in known_top:
            raise ScenarioError(f"{label}: unknown top-level key '{key}' (known: {', '.join(sorted(known_top))})")
    sc.region = _str(data, "region", label, default="us-east-1")

    for i, entry in enumerate(_list(data, "accounts", label)):
        where = f"{label}: accounts[{i}]"
        acct_id = _str(entry, "id", where, pattern=_ACCOUNT_RE, pattern_hint="12 digits")
        if acct_id in sc.accounts:
            raise ScenarioError(f"{where}: account {acct_id} is declared twice")
        root = _access_key(entry.get("root_access_key"), f"{where}: root_access_key")
        sc.accounts[acct_id] = Account(
            acct_id, _opt_str(entry, "alias", where), root, _opt_str(entry, "name", where),
            _opt_str(entry, "email", where),
        )

    def account_of(entry: Mapping[str, Any], where: str) -> str:
        acct = _str(entry, "account", where, pattern=_ACCOUNT_RE, pattern_hint="12 digits")
        if acct not in sc.accounts:
            raise ScenarioError(f"{where}: account {acct} is not declared under [[accounts]]")
        return acct

    for i, entry in enumerate(_list(data, "users", label)):
        where = f"{label}: users[{i}]"
        acct = account_of(entry, where)
        name = _str(entry, "name", where, pattern=_NAME_RE, pattern_hint="1-64 of [A-Za-z0-9+=,.@_-]")
        where = f"{where} ({name})"
        keys_raw = entry.get("access_keys")
        keys: list[AccessKey] = []
        if keys_raw is None:
            generated = AccessKey(random_key_id("AKIA"), random_secret())
            keys.append(generated)
            sc.generated_keys.append((f"arn:aws:iam::{acct}:user/{name}", generated))
        elif isinstance(keys_raw, list):
            for j, k in enumerate(keys_raw):
                made = _access_key(k, f"{where}: access_keys[{j}]")
                assert made is not None
                keys.append(made)
        else:
            raise ScenarioError(f"{where}: access_keys must be a list of {{id, secret}} tables")
        mfa = _mfa(entry.get("mfa"), f"{where}: mfa")
        user = User(
            account=acct,
            name=name,
            path=_path(entry, where),
            policies=_policies(entry.get("policies"), f"{where}: policies"),
            access_keys=tuple(keys),
            mfa=mfa,
        )
        sc.users.append(user)

    for i, entry in enumerate(_list(data, "roles", label)):
        where = f"{label}: roles[{i}]"
        acct = account_of(entry, where)
        name = _str(entry, "name", where, pattern=_NAME_RE, pattern_hint="1-64 of [A-Za-z0-9+=,.@_-]")
        where = f"{where} ({name})"
        max_dur = entry.get("max_session_duration", 3600)
        if not isinstance(max_dur, int) or isinstance(max_dur, bool) or not 3600 <= max_dur <= 43200:
            raise ScenarioError(f"{where}: max_session_duration must be a whole number of seconds, 3600 to 43200")
        if "trust_policy" not in entry:
            raise ScenarioError(f"{where}: trust_policy is required")
        sc.roles.append(
            Role(
                account=acct,
                name=name,
                path=_path(entry, where),
                max_session_duration=max_dur,
                trust_policy=_policy(entry["trust_policy"], f"{where}: trust_policy"),
                policies=_policies(entry.get("policies"), f"{where}: policies"),
            )
        )

    for i, entry in enumerate(_list(data, "saml_providers", label)):
        where = f"{label}: saml_providers[{i}]"
        acct = account_of(entry, where)
        sc.saml_providers.append(SamlProvider(acct, _str(entry, "name", where, pattern=_NAME_RE)))

    for i, entry in enumerate(_list(data, "oidc_providers", label)):
        where = f"{label}: oidc_providers[{i}]"
        acct = account_of(entry, where)
        url = _str(entry, "url", where)
        if not url.startswith("https://"):
            raise ScenarioError(f"{where}: url must start with https:// (got '{url}')")
        ids = entry.get("client_ids", ["sts.amazonaws.com"])
        if not isinstance(ids, list) or not ids or not all(isinstance(x, str) and x for x in ids):
            raise ScenarioError(f"{where}: client_ids must be a non-empty list of strings")
        sc.oidc_providers.append(OidcProvider(acct, url.rstrip("/"), tuple(ids)))

    faults_raw = data.get("faults", {})
    if not isinstance(faults_raw, Mapping):
        raise ScenarioError(f"{label}: faults must be a table")
    fault_values: dict[str, int] = {}
    for key, value in faults_raw.items():
        if key not in Faults.__dataclass_fields__:
            raise ScenarioError(f"{label}: faults: unknown key '{key}'")
        if not isinstance(value, int) or isinstance(value, bool) or (value < 0 and key != "clock_offset_seconds"):
            raise ScenarioError(f"{label}: faults: {key} must be a whole number")
        fault_values[key] = value
    sc.faults = Faults(**fault_values)

    if "identity_center" in data:
        from stsdesk.emulator.sso_scenario import parse_identity_center  # it imports this module

        sc.identity_center = parse_identity_center(data["identity_center"], label, sc)
    _check_unique(sc, label)
    sc.index()
    return sc


def _check_unique(sc: Scenario, label: str) -> None:
    seen: dict[str, str] = {}
    for owner, key in [(u.arn, k) for u in sc.users for k in u.access_keys] + [
        (a.root_arn, a.root_access_key) for a in sc.accounts.values() if a.root_access_key
    ]:
        if key.id in seen:
            raise ScenarioError(f"{label}: access key {key.id} is used by both {seen[key.id]} and {owner}")
        seen[key.id] = owner
    for kind, arns in (("user", [u.arn for u in sc.users]), ("role", [r.arn for r in sc.roles])):
        dupes = {a for a, n in Counter(arns).items() if n > 1}  # Counter: thousands of SSO roles
        if dupes:
            raise ScenarioError(f"{label}: {kind} {sorted(dupes)[0]} is declared twice")
    serials = [u.mfa.serial for u in sc.users if u.mfa]
    dupes = {s for s in serials if serials.count(s) > 1}
    if dupes:
        raise ScenarioError(f"{label}: MFA device {sorted(dupes)[0]} is assigned to two users")


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(e, Mapping) for e in value):
        raise ScenarioError(f"{where}: {key} must be a list of tables ([[{key}]])")
    return value


def _str(
    entry: Mapping[str, Any],
    key: str,
    where: str,
    *,
    default: str | None = None,
    pattern: re.Pattern[str] | None = None,
    pattern_hint: str = "",
) -> str:
    value = entry.get(key, default)
    if value is None:
        raise ScenarioError(f"{where}: {key} is required")
    if not isinstance(value, str):
        raise ScenarioError(f"{where}: {key} must be a string (got {type(value).__name__})")
    if pattern is not None and not pattern.match(value):
        hint = f" ({pattern_hint})" if pattern_hint else ""
        raise ScenarioError(f"{where}: {key} '{value}' is not valid{hint}")
    return value


def _opt_str(entry: Mapping[str, Any], key: str, where: str) -> str | None:
    return _str(entry, key, where) if entry.get(key) is not None else None


def _path(entry: Mapping[str, Any], where: str) -> str:
    return _str(entry, "path", where, default="/", pattern=_PATH_RE, pattern_hint="must start and end with /")


def _access_key(raw: Any, where: str) -> AccessKey | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{where}: must be a table {{ id = \"AKIA…\", secret = \"…\" }}")
    key_id = _str(raw, "id", where, pattern=_AKID_RE, pattern_hint="AKIA followed by 16 of [A-Z0-9]")
    secret = _str(raw, "secret", where)
    if len(secret) < 16:
        raise ScenarioError(f"{where}: secret for {key_id} is too short (at least 16 characters)")
    return AccessKey(key_id, secret)


def _mfa(raw: Any, where: str) -> MfaDevice | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{where}: must be a table {{ serial = \"arn:…:mfa/…\", seed = \"BASE32\" }}")
    serial = _str(raw, "serial", where)
    if not 9 <= len(serial) <= 256:
        raise ScenarioError(f"{where}: serial must be 9 to 256 characters")
    seed = _str(raw, "seed", where).replace(" ", "").upper()
    if len(seed) < 16 or any(c not in _B32 for c in seed.rstrip("=")):
        raise ScenarioError(f"{where}: seed must be base32 (A-Z, 2-7), at least 16 characters")
    return MfaDevice(serial, seed)


def _policy(raw: Any, where: str) -> Policy:
    if not isinstance(raw, str | Mapping):
        raise ScenarioError(f"{where}: must be a JSON string or a table")
    try:
        return parse_policy(raw)
    except EmulatorError as exc:
        raise ScenarioError(f"{where}: {exc.message}") from None


def _policies(raw: Any, where: str) -> tuple[Policy, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise ScenarioError(f"{where}: must be a list of policies (JSON strings or tables)")
    return tuple(_policy(p, f"{where}[{i}]") for i, p in enumerate(raw))
