"""The demo world: the embedded emulator on resources/demo.toml plus an AWS config that points at it.

Used by `stsdesk --demo`, the self-test, the benchmarks and the end-to-end tests. Everything lives under one
directory (the demo's isolated config dir), so a demo never touches the user's own ~/.aws or keyring entries.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from stsdesk.resources import resources_dir as resources_dir  # re-exported for its older importers

DEMO_REGION = "us-east-1"
ALICE_KEY_ID = "AKIADEMOALICE0000001"
ALICE_MFA = "arn:aws:iam::111111111111:mfa/alice"
DEMO_ACCOUNT_ALIASES = {"111111111111": "identity", "222222222222": "dev", "333333333333": "prod"}
# The demo's IAM Identity Center (resources/demo.toml [identity_center]): users ana and ben.
DEMO_SSO_SESSION = "demo"
DEMO_SSO_START_URL = "https://d-9067e0e0e0.awsapps.com/start"
DEMO_SSO_SCOPES = "sso:account:access"


def demo_scenario_path() -> Path:
    return resources_dir() / "demo.toml"


@dataclass
class DemoWorld:
    endpoint: str
    config_file: Path
    credentials_file: Path
    directory: Path
    mfa_seed: str
    alice_secret: str


def demo_config_text(endpoint: str, token_file: Path) -> str:
    """The ~/.aws/config of the demo: one IAM user, roles with and without MFA, a chain, SAML and OIDC."""
    common = f"region = {DEMO_REGION}\nendpoint_url = {endpoint}\n"
    return (
        "# stsdesk demo profiles: they point at the embedded emulator, not at AWS.\n"
        f"[profile alice]\n{common}stsdesk_access_key_id = {ALICE_KEY_ID}\nmfa_serial = {ALICE_MFA}\n\n"
        f"[profile dev-readonly]\n{common}source_profile = alice\n"
        "role_arn = arn:aws:iam::222222222222:role/ReadOnly\n\n"
        f"[profile dev]\n{common}source_profile = alice\nrole_arn = arn:aws:iam::222222222222:role/Developer\n"
        f"mfa_serial = {ALICE_MFA}\n\n"
        f"[profile prod-admin]\n{common}source_profile = alice\nrole_arn = arn:aws:iam::333333333333:role/Admin\n"
        f"mfa_serial = {ALICE_MFA}\nduration_seconds = 14400\n\n"
        f"[profile prod-deployer]\n{common}source_profile = dev\n"
        "role_arn = arn:aws:iam::333333333333:role/Deployer\n\n"
        f"[profile dev-saml]\n{common}role_arn = arn:aws:iam::222222222222:role/SamlDeveloper\n"
        "saml_principal_arn = arn:aws:iam::222222222222:saml-provider/CorpIdP\n\n"
        f"[profile ci-deployer]\n{common}role_arn = arn:aws:iam::222222222222:role/CiDeployer\n"
        f"web_identity_token_file = {token_file}\nrole_session_name = ci\n\n"
        f"[profile alice-federated]\n{common}source_profile = alice\nstsdesk_federation_name = alice-console\n"
        'stsdesk_federation_policy = {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*",'
        '"Resource":"*"}]}\n\n'
        # Identity Center: sign in as ana (or ben) on the emulator's page. The profiles' endpoint_url is where
        # stsdesk (as botocore for `aws sso login --profile`) sends the sign-in of their sso-session.
        f"[sso-session {DEMO_SSO_SESSION}]\nsso_start_url = {DEMO_SSO_START_URL}\nsso_region = {DEMO_REGION}\n"
        f"sso_registration_scopes = {DEMO_SSO_SCOPES}\n\n"
        f"[profile ic-dev-developer]\n{common}sso_session = {DEMO_SSO_SESSION}\nsso_account_id = 222222222222\n"
        "sso_role_name = DeveloperAccess\n\n"
        f"[profile ic-prod-readonly]\n{common}sso_session = {DEMO_SSO_SESSION}\nsso_account_id = 333333333333\n"
        "sso_role_name = ReadOnlyAccess\n"
    )


def demo_environment(endpoint: str) -> dict[str, str]:
    """Variables that send every Identity Center and STS call of the demo process to the emulator (botocore's
    service-specific endpoint variables), so that profiles added by ``sso sync`` (which carry no endpoint_url)
    never reach AWS either. The demo sets them in its own process only."""
    return {
        "AWS_ENDPOINT_URL_SSO": endpoint,
        "AWS_ENDPOINT_URL_SSO_OIDC": endpoint,
        "AWS_ENDPOINT_URL_STS": endpoint,
    }


def demo_directory() -> Path:
    """A fresh private (0700) temporary directory for one ``stsdesk --demo`` run, removed when the process
    exits (atexit: a normal quit, Quit in the tray, SIGTERM handled as quit). Raises OSError when it cannot be
    created."""
    import atexit
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix="stsdesk-demo-"))  # 0700 by mkdtemp
    atexit.register(remove_demo_directory, directory)
    return directory


def remove_demo_directory(directory: Path) -> None:
    """Remove a demo directory made by :func:`demo_directory` with everything in it. Best effort: never raises
    (a file still open elsewhere is left)."""
    import shutil

    shutil.rmtree(directory, ignore_errors=True)


def fetch_demo_oidc_token(endpoint: str, subject: str = "repo:example/app:ref:refs/heads/main") -> str:
    """A web-identity token for the demo's CI role, from the emulator's demo issuer (loopback only).

    Raises OSError (urllib.error.URLError) when the emulator cannot be reached.
    """
    # Imported here: urllib.request brings http.client and email (10-30 ms), and the GUI imports this module
    # before its first paint for resources_dir.
    import urllib.parse
    import urllib.request

    form = urllib.parse.urlencode(
        {"issuer": "https://token.example.test", "subject": subject, "audience": "sts.amazonaws.com"}
    ).encode()
    with urllib.request.urlopen(f"{endpoint}/_stsdesk/oidc-token", data=form, timeout=10) as resp:
        return str(resp.read().decode().strip())


def reserve_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 now (bound, then released), so that the demo's config can name the
    emulator's endpoint, and the window show its profiles, before the emulator is even imported. Another
    program may take the port before the emulator binds it: ``start_demo`` then binds another one and writes
    the config again. Raises OSError when no loopback socket can be bound."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def loopback_endpoint(port: int) -> str:
    """The endpoint URL of an emulator on 127.0.0.1:``port`` (as EmulatorServer.endpoint spells it)."""
    return f"http://127.0.0.1:{port}"


def write_demo_files(directory: Path, endpoint: str, token: bool = True) -> tuple[Path, Path]:
    """Write the demo's AWS config (and an empty credentials file) under ``directory``; returns both paths.
    With ``token`` the CI role's web-identity token is fetched from the emulator at ``endpoint`` (which must
    be running) and written too; without, only the files the profile list needs (the emulator need not run).
    Raises OSError when a file cannot be written."""
    # 0700 / 0600 whatever the umask and whatever an older run left
    from stsdesk.core.paths import ensure_private_directory, open_private_file, write_private_file

    aws = directory / "aws"
    ensure_private_directory(aws, what="the demo", tighten=True)
    token_file = aws / "ci-web-identity-token"
    if token:
        try:
            value = fetch_demo_oidc_token(endpoint)
        except OSError:
            value = ""  # the profile then fails with a readable error; the rest of the demo works
        write_private_file(token_file, value.encode())
    config = aws / "config"
    credentials = aws / "credentials"
    write_private_file(config, demo_config_text(endpoint, token_file).encode())
    os.close(open_private_file(credentials))
    return config, credentials


def use_demo_files(config: Path, credentials: Path, endpoint: str) -> None:
    """Point this process's AWS config variables at the demo's files and every Identity Center and STS call at
    the emulator at ``endpoint`` (:func:`demo_environment`)."""
    os.environ["AWS_CONFIG_FILE"] = str(config)
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(credentials)
    os.environ.update(demo_environment(endpoint))  # profiles added by sso sync reach the emulator too
