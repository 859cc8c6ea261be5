"""The second floor of an STS round trip: the least a server must do to answer boto3 faithfully, in Python.

``python -m benchmarks.minimal_sts_server``: serves on a free loopback port (printed as ``endpoint: URL``) with the
emulator's threading model (a daemon thread per keep-alive HTTP/1.1 connection, a recv loop) and, per request,
only the work no faithful STS can skip: parse the head and the form, verify SigV4 (scope, clock skew, canonical
request, string to sign, HMAC with a cached signing key, constant-time compare), look the caller and the role up
in dicts, draw new credentials from ``os.urandom`` (the session kept in a dict: no sealing), and write the real
response XML. No trust or identity policies, no parameter validation beyond the session name, no request log.

bench_emulator times boto3 against it beside the canned floor: whatever this server reaches against moto bounds
what an emulator written in Python, which must also do all of the above, can reach here.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import os
import signal
import socket
import socketserver
import sys
import threading
import time
from email.utils import formatdate
from urllib.parse import unquote_plus

from benchmarks.servers import ALICE_KEY_ID, ALICE_SECRET, READONLY_ROLE

ALICE = (ALICE_SECRET, "111111111111", "AIDAEXAMPLEALICE00001", "arn:aws:iam::111111111111:user/alice")
ROLES = {READONLY_ROLE: ("AROADQ72AWSYPDLXIPOYI", READONLY_ROLE.split(":")[4], READONLY_ROLE.rsplit("/", 1)[1])}
NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
MAX_BODY = 1 << 20

_users: dict[str, tuple[str, ...]] = {ALICE_KEY_ID: ALICE}  # access key id -> (secret, account, user id, arn)
_sessions: dict[str, tuple[str, ...]] = {}  # the same, plus the session token first, for issued temporary keys
_lock = threading.Lock()
_signing_keys: dict[tuple[str, str, str, str], bytes] = {}
_date: list[int | str] = [0, ""]  # the Date header of the current second


class Refused(Exception):
    def __init__(self, code: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.code, self.status = code, status


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _signing_keys.get((secret, date, region, service))
    if key is None:
        key = ("AWS4" + secret).encode()
        for part in (date, region, service, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        _signing_keys[(secret, date, region, service)] = key
    return key


def verify(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[str, ...]:
    """The caller (account, user id, arn) of a request whose SigV4 signature is right; Refused otherwise."""
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        raise Refused("MissingAuthenticationToken", "Request is missing Authentication Token")
    fields = dict(part.partition("=")[::2] for part in auth[17:].replace(",", " ").split())
    try:
        credential, signed, signature = fields["Credential"], fields["SignedHeaders"], fields["Signature"]
    except KeyError:
        raise Refused("IncompleteSignature", "The request signature is incomplete.", 400) from None
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise Refused("IncompleteSignature", "The credential scope is malformed.", 400)
    key_id, date, region, service, _ = scope
    stamp = headers.get("x-amz-date", "")
    try:
        if len(stamp) != 16 or stamp[8] != "T" or stamp[15] != "Z":
            raise ValueError(stamp)
        when = calendar.timegm((int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8]), int(stamp[9:11]),
                                int(stamp[11:13]), int(stamp[13:15]), 0, 0, 0))
    except ValueError:
        raise Refused("IncompleteSignature", "X-Amz-Date is malformed.", 400) from None
    if abs(time.time() - when) > 900 or stamp[:8] != date:
        raise Refused("SignatureDoesNotMatch", "Signature expired or not yet current.")
    names = signed.split(";")
    if "host" not in names:
        raise Refused("SignatureDoesNotMatch", "The host header is not signed.")
    if key_id.startswith("ASIA"):
        session = _sessions.get(key_id)
        if session is None or headers.get("x-amz-security-token") != session[0]:
            raise Refused("InvalidClientTokenId", "The security token included in the request is invalid.")
        caller = session[1:]
    else:
        caller = _users.get(key_id) or ()
        if not caller:
            raise Refused("InvalidClientTokenId", "The security token included in the request is invalid.")
    canonical_headers = "".join(f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in names)
    request = "\n".join((method, path, "", canonical_headers, signed, hashlib.sha256(body).hexdigest()))
    to_sign = "\n".join(("AWS4-HMAC-SHA256", stamp, f"{date}/{region}/{service}/aws4_request",
                         hashlib.sha256(request.encode()).hexdigest()))
    expected = hmac.new(_signing_key(caller[0], date, region, service), to_sign.encode(), hashlib.sha256)
    if not hmac.compare_digest(expected.hexdigest().encode(), signature.encode("utf-8", "replace")):
        raise Refused("SignatureDoesNotMatch",
                      "The request signature we calculated does not match the signature you provided.")
    return caller[1:]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def assume_role(params: dict[str, str], caller: tuple[str, ...], request_id: str) -> str:
    name = params.get("RoleSessionName", "")
    if not 2 <= len(name) <= 64:
        raise Refused("ValidationError", "RoleSessionName must be 2 to 64 characters.", 400)
    role = ROLES.get(params.get("RoleArn", ""))
    if role is None:
        raise Refused("AccessDenied", f"User: {caller[2]} is not authorized to perform: sts:AssumeRole")
    role_id, account, role_name = role
    raw = os.urandom(540)
    key_id = "ASIA" + base64.b32encode(raw[:10]).decode()
    secret = base64.b64encode(raw[10:40]).decode()
    token = base64.urlsafe_b64encode(raw[40:]).decode()
    arn = f"arn:aws:sts::{account}:assumed-role/{role_name}/{name}"
    expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + int(params.get("DurationSeconds", 3600))))
    with _lock:
        _sessions[key_id] = (token, secret, account, f"{role_id}:{name}", arn)
    return (
        f'<AssumeRoleResponse xmlns="{NAMESPACE}">\n  <AssumeRoleResult><Credentials><AccessKeyId>{key_id}'
        f"</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey><SessionToken>{token}</SessionToken>"
        f"<Expiration>{expiry}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>{role_id}:{_escape(name)}"
        f"</AssumedRoleId><Arn>{_escape(arn)}</Arn></AssumedRoleUser></AssumeRoleResult>\n"
        f"  <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\n</AssumeRoleResponse>\n"
    )


def get_caller_identity(params: dict[str, str], caller: tuple[str, ...], request_id: str) -> str:
    account, user_id, arn = caller
    return (
        f'<GetCallerIdentityResponse xmlns="{NAMESPACE}">\n  <GetCallerIdentityResult><UserId>{user_id}</UserId>'
        f"<Account>{account}</Account><Arn>{_escape(arn)}</Arn></GetCallerIdentityResult>\n"
        f"  <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\n</GetCallerIdentityResponse>\n"
    )


ACTIONS = {"AssumeRole": assume_role, "GetCallerIdentity": get_caller_identity}


def _http_date() -> str:
    now = int(time.time())
    if _date[0] != now:
        _date[:] = [now, formatdate(now, usegmt=True)]
    return str(_date[1])


def answer(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    """The whole HTTP response to one request."""
    h = os.urandom(16).hex()
    request_id = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"
    try:
        params: dict[str, str] = {}
        for item in body.decode().split("&"):
            key, _, value = item.partition("=")
            if "%" in value or "+" in value:
                value = unquote_plus(value)
            params.setdefault(unquote_plus(key) if "%" in key or "+" in key else key, value)
        action = ACTIONS.get(params.get("Action", ""))
        if action is None or params.get("Version") != "2011-06-15":
            raise Refused("InvalidAction", "Could not find operation.", 400)
        status, xml = 200, action(params, verify(method, path, headers, body), request_id)
    except Refused as refused:
        status = refused.status
        xml = (f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type><Code>{refused.code}</Code>'
               f"<Message>{_escape(str(refused))}</Message></Error><RequestId>{request_id}</RequestId>"
               "</ErrorResponse>")
    out = xml.encode()
    return (f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\nDate: {_http_date()}\r\n"
            f"Content-Type: text/xml\r\nContent-Length: {len(out)}\r\nx-amzn-RequestId: {request_id}\r\n\r\n"
            ).encode() + out


class Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = b""
        while True:
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, data = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers.setdefault(name.strip().lower(), value.strip())
            length = int(headers.get("content-length", "0"))
            if length > MAX_BODY:
                return
            while len(data) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            body, data = data[:length], data[length:]
            conn.sendall(answer(method, target, headers, body))
            if headers.get("connection", "").lower() == "close":
                return


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main() -> int:
    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"endpoint: http://127.0.0.1:{server.server_address[1]}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
