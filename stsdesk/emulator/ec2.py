"""EC2 DescribeInstances and RunInstances (Query protocol, 2016-11-15), checked against the caller's policies.

Enough of EC2 to show the authorization-failure flow end to end: a deny answers ``UnauthorizedOperation``
with an ``Encoded authorization failure message`` that DecodeAuthorizationMessage decodes, as real EC2 does.
Instances launched here exist only in memory, per account and region.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stsdesk.emulator.caller import Caller
from stsdesk.emulator.errors import EmulatorError
from stsdesk.emulator.policy import ContextValue, Decision, MatchedStatement
from stsdesk.emulator.state import EmulatorState
from stsdesk.emulator.xmlout import iso8601, new_request_id
from stsdesk.emulator.xmlout import text as escape

EC2_NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"
EC2_VERSION = "2016-11-15"
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_IMAGE_ID = re.compile(r"^ami-[0-9a-f]{8,17}$")
_MAX_INSTANCES = 20  # a per-call limit like a new account's vCPU quota; keeps memory bounded


@dataclass(frozen=True)
class Instance:
    instance_id: str
    image_id: str
    instance_type: str
    launched: datetime
    reservation_id: str
    owner: str
    region: str


class Ec2World:
    """The instances that exist, per (account, region). Thread-safe."""

    def __init__(self) -> None:
        self._instances: dict[tuple[str, str], list[Instance]] = {}
        self._lock = threading.Lock()

    def add(self, items: list[Instance]) -> None:
        with self._lock:
            for inst in items:
                self._instances.setdefault((inst.owner, inst.region), []).append(inst)

    def list(self, account: str, region: str) -> list[Instance]:
        with self._lock:
            return list(self._instances.get((account, region), ()))


def ec2_error(code: str, message: str, request_id: str) -> bytes:
    """EC2's error document (not STS's ErrorResponse)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Response><Errors><Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error></Errors>"
        f"<RequestID>{request_id}</RequestID></Response>"
    ).encode()


def _items(values: list[dict[str, Any]]) -> dict[str, Any]:
    return {"items": values}


def _statement_json(stmt: MatchedStatement, principal_id: str) -> dict[str, Any]:
    return {
        "statementId": stmt.sid,
        "effect": stmt.effect,
        "principals": _items([{"value": principal_id}]),
        "principalGroups": _items([]),
        "actions": _items([{"value": a} for a in stmt.actions]),
        "resources": _items([{"value": r} for r in stmt.resources]),
        "conditions": _items(
            [
                {"key": f"{op}:{key}", "values": _items([{"value": v} for v in vals])}
                for op, key, vals in stmt.conditions
            ]
        ),
    }


def request_keys(service: str, resource: str, region: str) -> dict[str, ContextValue]:
    """The request's own ``aws:*`` keys real decoded messages carry for a resource ARN
    (``arn:aws:ec2:REGION:ACCT:instance/*``): aws:Resource, aws:Account, aws:Service, aws:Type, aws:ARN,
    aws:Region. For ``*`` only aws:Service and aws:Region."""
    keys: dict[str, ContextValue] = {"aws:Service": service, "aws:Region": region}
    parts = resource.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn":
        keys.update({
            "aws:Resource": parts[5],
            "aws:Account": parts[4],
            "aws:Type": parts[5].split("/", 1)[0],
            "aws:ARN": resource,
        })
    return keys


def authorization_document(
    caller: Caller, decision: Decision, action: str, resource: str, context: Mapping[str, ContextValue]
) -> dict[str, Any]:
    """The decoded authorization-failure document, in the shape DecodeAuthorizationMessage returns.

    ``context`` holds the request's own keys only (the service's keys and ``request_keys``), not the
    caller's global ``aws:*`` keys: real decoded messages list those alone. ``context.action`` keeps the
    service prefix; ``context.principal`` names an IAM user."""
    principal_id = caller.user_id.split(":", 1)[0]
    conditions = []
    for key in sorted(context, key=str.lower):
        value = context[key]
        values = value if isinstance(value, list) else [value]
        conditions.append({"key": key, "values": _items([{"value": v} for v in values])})
    principal: dict[str, str] = {"id": caller.user_id}
    if caller.kind == "user" and caller.username is not None:
        principal["name"] = caller.username
    principal["arn"] = caller.arn
    return {
        "allowed": decision.allowed,
        "explicitDeny": decision.explicit_deny,
        "matchedStatements": _items([_statement_json(s, principal_id) for s in decision.matched]),
        "failures": _items([]),
        "context": {
            "principal": principal,
            "action": action,
            "resource": resource,
            "conditions": _items(conditions),
        },
    }


def _denied_message(caller: Caller, action: str, resource: str, decision: Decision) -> str:
    """EC2's UnauthorizedOperation text. An implicit deny names no resource and ends without a period."""
    if decision.explicit_deny:
        return (
            "You are not authorized to perform this operation. User: "
            f"{caller.arn} is not authorized to perform: {action} on resource: {resource} "
            "with an explicit deny in an identity-based policy."
        )
    return (
        f"You are not authorized to perform this operation. User: {caller.arn} is not authorized to perform: "
        f"{action} because no identity-based policy allows the {action} action"
    )


def _int_param(params: Mapping[str, str], name: str) -> int:
    raw = params.get(name)
    if raw is None:
        raise _Ec2Failure("MissingParameter", f"The request must contain the parameter {name}", 400)
    try:
        value = int(raw)
    except ValueError:
        raise _Ec2Failure(
            "InvalidParameterValue", f"Value ({raw}) for parameter {name} is invalid.", 400
        ) from None
    if value < 1:
        raise _Ec2Failure(
            "InvalidParameterValue", f"Value ({raw}) for parameter {name} is invalid. Must be at least 1", 400
        )
    return value


class _Ec2Failure(Exception):
    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class Ec2Service:
    """Handles EC2 Query requests for callers already authenticated by SigV4 (service ``ec2``)."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.world = Ec2World()

    def handle(
        self, caller: Caller, params: Mapping[str, str], region: str, secure: bool, request_id: str | None = None
    ) -> tuple[int, bytes]:
        """Answer one request: (HTTP status, body). ``request_id`` (the one in the x-amzn-RequestId header)
        goes into the body. Never raises for bad input."""
        request_id = request_id or new_request_id()
        action = params.get("Action", "")
        try:
            if action == "DescribeInstances":
                return 200, self._describe(caller, params, region, secure, request_id)
            if action == "RunInstances":
                return 200, self._run(caller, params, region, secure, request_id)
            if not action:
                raise _Ec2Failure("MissingAction", "The request must contain the parameter Action", 400)
            raise _Ec2Failure("InvalidAction", f"The action {action} is not valid for this web service.", 400)
        except _Ec2Failure as exc:
            return exc.status, ec2_error(exc.code, exc.message, request_id)
        except EmulatorError as exc:
            return exc.status, ec2_error(exc.code, exc.message, request_id)

    def _authorize(
        self,
        caller: Caller,
        action: str,
        resource: str,
        extra: Mapping[str, ContextValue],
        region: str,
        secure: bool,
        encode: bool,
    ) -> None:
        now = self.state.clock.now()
        own = {**request_keys("ec2", resource, region), **extra}
        context: dict[str, ContextValue] = dict(caller.context(now, region, secure))
        context.update(own)
        decision = caller.is_allowed(action, resource, context)
        if decision.allowed:
            return
        message = _denied_message(caller, action, resource, decision)
        if encode:
            from stsdesk.emulator.sts import encode_authorization_message

            document = authorization_document(caller, decision, action, resource, own)
            blob = encode_authorization_message(self.state, document)
            separator = " " if message.endswith(".") else ". "
            message += f"{separator}Encoded authorization failure message: {blob}"
        raise _Ec2Failure("UnauthorizedOperation", message, 403)

    def _describe(
        self, caller: Caller, params: Mapping[str, str], region: str, secure: bool, request_id: str
    ) -> bytes:
        self._authorize(
            caller, "ec2:DescribeInstances", "*", {"ec2:Region": region}, region, secure, encode=False
        )
        if params.get("DryRun", "").lower() == "true":
            raise _Ec2Failure("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)
        wanted = {v for k, v in params.items() if k.startswith("InstanceId.")}
        by_reservation: dict[str, list[Instance]] = {}
        for inst in self.state_instances(caller.account, region):
            if not wanted or inst.instance_id in wanted:
                by_reservation.setdefault(inst.reservation_id, []).append(inst)
        missing = wanted - {i.instance_id for group in by_reservation.values() for i in group}
        if missing:
            first = sorted(missing)[0]
            raise _Ec2Failure("InvalidInstanceID.NotFound", f"The instance ID '{first}' does not exist", 400)
        reservations = "".join(
            f"<item><reservationId>{rid}</reservationId><ownerId>{caller.account}</ownerId><groupSet/>"
            f"<instancesSet>{''.join(_instance_xml(i) for i in group)}</instancesSet></item>"
            for rid, group in by_reservation.items()
        )
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstancesResponse xmlns="{EC2_NAMESPACE}">'
            f"<requestId>{request_id}</requestId><reservationSet>{reservations}</reservationSet>"
            "</DescribeInstancesResponse>"
        ).encode()

    def state_instances(self, account: str, region: str) -> list[Instance]:
        return self.world.list(account, region)

    def _run(
        self, caller: Caller, params: Mapping[str, str], region: str, secure: bool, request_id: str
    ) -> bytes:
        image_id = params.get("ImageId")
        if not image_id:
            raise _Ec2Failure("MissingParameter", "The request must contain the parameter ImageId", 400)
        if not _IMAGE_ID.match(image_id):
            raise _Ec2Failure(
                "InvalidAMIID.Malformed", f'Invalid id: "{image_id}" (expecting "ami-...")', 400
            )
        instance_type = params.get("InstanceType", "m1.small")
        if not _INSTANCE_TYPE.match(instance_type):
            raise _Ec2Failure(
                "InvalidParameterValue", f"Invalid value '{instance_type}' for InstanceType.", 400
            )
        min_count = _int_param(params, "MinCount")
        max_count = _int_param(params, "MaxCount")
        if min_count > max_count:
            raise _Ec2Failure("InvalidParameterValue", "MinCount must be less than or equal to MaxCount", 400)
        resource = f"arn:aws:ec2:{region}:{caller.account}:instance/*"
        extra: dict[str, ContextValue] = {
            "ec2:InstanceType": instance_type,
            "ec2:Region": region,
            "ec2:ImageID": image_id,
        }
        self._authorize(caller, "ec2:RunInstances", resource, extra, region, secure, encode=True)
        if params.get("DryRun", "").lower() == "true":
            raise _Ec2Failure("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)
        if min_count > _MAX_INSTANCES:
            raise _Ec2Failure(
                "InstanceLimitExceeded",
                f"You have requested more instances ({min_count}) than your current instance limit of "
                f"{_MAX_INSTANCES} allows for the specified instance type.",
                400,
            )
        count = min(max_count, _MAX_INSTANCES)
        now = self.state.clock.now()
        reservation = "r-" + secrets.token_hex(9)[:17]
        made = [
            Instance(
                "i-" + secrets.token_hex(9)[:17],
                image_id,
                instance_type,
                now,
                reservation,
                caller.account,
                region,
            )
            for _ in range(count)
        ]
        self.world.add(made)
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<RunInstancesResponse xmlns="{EC2_NAMESPACE}">'
            f"<requestId>{request_id}</requestId><reservationId>{reservation}</reservationId>"
            f"<ownerId>{caller.account}</ownerId><groupSet/>"
            f"<instancesSet>{''.join(_instance_xml(i) for i in made)}</instancesSet></RunInstancesResponse>"
        ).encode()


def _instance_xml(inst: Instance) -> str:
    return (
        f"<item><instanceId>{inst.instance_id}</instanceId><imageId>{escape(inst.image_id)}</imageId>"
        "<instanceState><code>16</code><name>running</name></instanceState>"
        f"<instanceType>{escape(inst.instance_type)}</instanceType><launchTime>{iso8601(inst.launched)}</launchTime>"
        f"<placement><availabilityZone>{escape(inst.region)}a</availabilityZone><tenancy>default</tenancy>"
        "</placement><monitoring><state>disabled</state></monitoring></item>"
    )
