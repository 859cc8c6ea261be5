"""The AWS SDK for JavaScript v3 (@aws-sdk/client-sso-oidc, @aws-sdk/client-sso) against the emulator: the
device flow with its pending/slow-down errors as the SDK names them, refresh, listing, role credentials,
403 and 401."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sso_support import START_URL, device_sign_in, start_sso
from sts_world import Emu

JS_CACHE = Path(os.environ.get("STSDESK_JS_SSO_CACHE", "/tmp/stsdesk-js-sso"))
PACKAGES = ("@aws-sdk/client-sso-oidc", "@aws-sdk/client-sso", "@aws-sdk/credential-providers", "@aws-sdk/client-sts")

SCRIPT = r"""
const oidcSdk = require("@aws-sdk/client-sso-oidc");
const ssoSdk = require("@aws-sdk/client-sso");
const endpoint = process.env.EMULATOR;
const config = { endpoint, region: "us-east-1", maxAttempts: 1 };
const oidc = new oidcSdk.SSOOIDCClient(config);
const sso = new ssoSdk.SSOClient(config);
const DEVICE = "urn:ietf:params:oauth:grant-type:device_code";
const out = {};
const errorOf = async (promise) => {
  try { await promise; return null; } catch (e) { return [e.name, e.$metadata.httpStatusCode]; }
};
(async () => {
  const reg = await oidc.send(new oidcSdk.RegisterClientCommand({
    clientName: "js", clientType: "public", scopes: ["sso:account:access"] }));
  const device = await oidc.send(new oidcSdk.StartDeviceAuthorizationCommand({
    clientId: reg.clientId, clientSecret: reg.clientSecret, startUrl: process.env.START_URL }));
  const poll = () => oidc.send(new oidcSdk.CreateTokenCommand({
    clientId: reg.clientId, clientSecret: reg.clientSecret, grantType: DEVICE, deviceCode: device.deviceCode }));
  out.pending = await errorOf(poll());
  out.slowDown = await errorOf(poll());
  const approved = await fetch(endpoint + "/_stsdesk/sso-approve", { method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ user_code: device.userCode, user: "ana" }) });
  out.approveStatus = approved.status;
  await new Promise((resolve) => setTimeout(resolve, (device.interval + 0.1) * 1000));
  const token = await poll();
  out.expiresIn = token.expiresIn;
  const fresh = await oidc.send(new oidcSdk.CreateTokenCommand({ clientId: reg.clientId,
    clientSecret: reg.clientSecret, grantType: "refresh_token", refreshToken: token.refreshToken }));
  out.refreshed = fresh.accessToken !== token.accessToken;
  out.reusedRefresh = await errorOf(oidc.send(new oidcSdk.CreateTokenCommand({ clientId: reg.clientId,
    clientSecret: reg.clientSecret, grantType: "refresh_token", refreshToken: token.refreshToken })));
  const accounts = [];
  for await (const page of ssoSdk.paginateListAccounts({ client: sso, pageSize: 1 },
                                                         { accessToken: fresh.accessToken })) {
    accounts.push(...page.accountList.map((a) => a.accountName));
  }
  out.accounts = accounts;
  const roles = await sso.send(new ssoSdk.ListAccountRolesCommand({
    accessToken: fresh.accessToken, accountId: "222222222222" }));
  out.roles = roles.roleList.map((r) => r.roleName);
  const creds = await sso.send(new ssoSdk.GetRoleCredentialsCommand({
    accessToken: fresh.accessToken, accountId: "222222222222", roleName: "Admin" }));
  out.keyPrefix = creds.roleCredentials.accessKeyId.slice(0, 4);
  out.expirationMs = creds.roleCredentials.expiration;
  out.forbidden = await errorOf(sso.send(new ssoSdk.GetRoleCredentialsCommand({
    accessToken: fresh.accessToken, accountId: "333333333333", roleName: "Admin" })));
  await sso.send(new ssoSdk.LogoutCommand({ accessToken: fresh.accessToken }));
  out.afterLogout = await errorOf(sso.send(new ssoSdk.ListAccountsCommand({ accessToken: fresh.accessToken })));
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e.name + ": " + e.message); process.exit(1); });
"""


FROM_SSO = r"""
const { fromSSO } = require("@aws-sdk/credential-providers");
const { STSClient, GetCallerIdentityCommand } = require("@aws-sdk/client-sts");
(async () => {
  const sts = new STSClient({ region: "us-east-1", endpoint: process.env.EMULATOR, maxAttempts: 1,
                              credentials: fromSSO({ profile: "dev" }) });
  const who = await sts.send(new GetCallerIdentityCommand({}));
  console.log(JSON.stringify({ arn: who.Arn }));
})().catch((e) => { console.error(e.name + ": " + e.message); process.exit(1); });
"""


def _modules() -> Path:
    modules = JS_CACHE / "node_modules"
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the JavaScript SDK")
    if not all((modules / p).is_dir() for p in PACKAGES):
        JS_CACHE.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["npm", "i", "--no-audit", "--no-fund", *PACKAGES], cwd=JS_CACHE,
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            reason = f"npm could not install the JavaScript SDK: {done.stderr[-300:]}"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(reason)
            pytest.skip(reason)
    return modules


@pytest.fixture
def emu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emu]:
    running = start_sso(None, monkeypatch)
    yield running
    running.server.stop()


def test_js_sdk_device_flow_refresh_and_portal(emu: Emu, tmp_path: Path) -> None:
    modules = _modules()
    script = tmp_path / "sso.cjs"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(NODE_PATH=str(modules), EMULATOR=emu.endpoint, START_URL=START_URL)
    run = subprocess.run(["node", str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["pending"] == ["AuthorizationPendingException", 400]
    assert out["slowDown"] == ["SlowDownException", 400]
    assert out["approveStatus"] == 200 and out["expiresIn"] == 3600
    assert out["refreshed"] is True and out["reusedRefresh"] == ["InvalidGrantException", 400]
    assert out["accounts"] == ["dev", "prod"]  # one per page, through the SDK's paginator
    assert out["roles"] == ["ReadOnly", "Admin"]
    assert out["keyPrefix"] == "ASIA" and out["expirationMs"] > 10**12  # epoch milliseconds
    assert out["forbidden"] == ["ForbiddenException", 403]
    assert out["afterLogout"] == ["UnauthorizedException", 401]


def test_js_sdk_from_sso_refreshes_a_cached_token(emu: Emu, tmp_path: Path) -> None:
    """The JS SDK's own SSO credential provider reads ~/.aws/sso/cache, refreshes a token about to expire
    (its 5-minute window) with the refresh token, writes it back, and gets role credentials."""
    modules = _modules()
    reg, sign_in = device_sign_in(emu, user="ben")
    home = tmp_path / "home"
    cache = home / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    cached = cache / (hashlib.sha1(b"corp").hexdigest() + ".json")
    cached.write_text(json.dumps({
        "startUrl": START_URL, "region": "us-east-1", "accessToken": sign_in["accessToken"],
        "expiresAt": (datetime.now(UTC) + timedelta(seconds=120)).strftime(stamp),
        "clientId": reg["clientId"], "clientSecret": reg["clientSecret"], "refreshToken": sign_in["refreshToken"],
        "registrationExpiresAt": datetime.fromtimestamp(reg["clientSecretExpiresAt"], UTC).strftime(stamp),
    }))
    (home / ".aws" / "config").write_text(
        f"[sso-session corp]\nsso_start_url = {START_URL}\nsso_region = us-east-1\n"
        "[profile dev]\nsso_session = corp\nsso_account_id = 222222222222\nsso_role_name = ReadOnly\n"
        "region = us-east-1\n"
    )
    script = tmp_path / "from_sso.cjs"
    script.write_text(FROM_SSO)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        NODE_PATH=str(modules), EMULATOR=emu.endpoint, HOME=str(home),
        AWS_CONFIG_FILE=str(home / ".aws" / "config"), AWS_SHARED_CREDENTIALS_FILE=str(home / "none"),
        AWS_ENDPOINT_URL_SSO=emu.endpoint, AWS_ENDPOINT_URL_SSO_OIDC=emu.endpoint,
    )
    run = subprocess.run(["node", str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    arn = json.loads(run.stdout)["arn"]
    assert arn.startswith("arn:aws:sts::222222222222:assumed-role/AWSReservedSSO_ReadOnly_") and arn.endswith("/ben")
    written = json.loads(cached.read_text())
    assert written["accessToken"] != sign_in["accessToken"] and written["refreshToken"] != sign_in["refreshToken"]
