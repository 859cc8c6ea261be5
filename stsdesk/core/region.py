"""Which region goes with a profile's credentials: one rule for the STS call, the CLI's ``assume``/``exec``/
``console``/``serve``, the terminal bridge, the GUI's Copy exports, region picker and tray.

A session's region is, in order: the region chosen for it (``--region``, the GUI's picker), the profile's
``region`` (or the nearest source's), AWS_REGION, AWS_DEFAULT_REGION, then stsdesk's default. The partition
table below decides which STS endpoint and console a region belongs to; it is botocore's
``data/partitions.json`` (region patterns and DNS suffixes), copied so that deciding a region never imports
botocore (the credential-process fast path and ``list`` must stay light).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stsdesk.core.errors import ConfigError

if TYPE_CHECKING:
    from stsdesk.core.model import Profile
    from stsdesk.core.profiles import ProfileTree


@dataclass(frozen=True)
class Partition:
    """An AWS partition: its id (``aws``, ``aws-cn``...), the pattern of its region names, its DNS suffix."""

    id: str
    pattern: re.Pattern[str]
    dns_suffix: str


# botocore/data/partitions.json; the order matters only for readability (the patterns do not overlap).
PARTITIONS: tuple[Partition, ...] = (
    Partition("aws", re.compile(r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$"), "amazonaws.com"),
    Partition("aws-cn", re.compile(r"^cn\-\w+\-\d+$"), "amazonaws.com.cn"),
    Partition("aws-us-gov", re.compile(r"^us\-gov\-\w+\-\d+$"), "amazonaws.com"),
    Partition("aws-iso", re.compile(r"^us\-iso\-\w+\-\d+$"), "c2s.ic.gov"),
    Partition("aws-iso-b", re.compile(r"^us\-isob\-\w+\-\d+$"), "sc2s.sgov.gov"),
    Partition("aws-iso-e", re.compile(r"^eu\-isoe\-\w+\-\d+$"), "cloud.adc-e.uk"),
    Partition("aws-iso-f", re.compile(r"^us\-isof\-\w+\-\d+$"), "csp.hci.ic.gov"),
    Partition("aws-eusc", re.compile(r"^eusc\-(de)\-\w+\-\d+$"), "amazonaws.eu"),
)
_BY_ID = {partition.id: partition for partition in PARTITIONS}
# The regions a picker offers first (the commercial ones people pick most); any valid name may be typed.
COMMON_REGIONS: tuple[str, ...] = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1",
    "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-east-1", "me-central-1", "af-south-1", "il-central-1",
    "cn-north-1", "cn-northwest-1", "us-gov-west-1", "us-gov-east-1",
)
# botocore.utils.validate_region_name's rule: a region becomes a host name label.
_REGION_NAME = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?$")


def partition_of(region: str) -> Partition | None:
    """The partition whose region pattern ``region`` matches, or None (not an AWS region name)."""
    for partition in PARTITIONS:
        if partition.pattern.match(region):
            return partition
    return None


def partition_id(region: str, hint: str | None = None) -> str:
    """The partition id of ``region``; ``hint`` (e.g. a role ARN's partition) wins when given; ``aws`` for a
    name no partition claims (botocore does the same)."""
    if hint:
        return hint
    found = partition_of(region)
    return found.id if found is not None else "aws"


def dns_suffix(partition: str) -> str:
    """The DNS suffix of a partition id (``amazonaws.com`` for one not in the table)."""
    found = _BY_ID.get(partition)
    return found.dns_suffix if found is not None else "amazonaws.com"


def regional_sts_endpoint(region: str, partition_hint: str | None = None, *, regional: bool = True) -> str:
    """STS's public endpoint for ``region`` in its partition: ``https://sts.<region>.<suffix>``; the global
    ``https://sts.amazonaws.com`` only when ``regional`` is False (``sts_regional_endpoints = legacy``) in the
    commercial partition (every other partition has regional endpoints only)."""
    partition = partition_id(region, partition_hint)
    if not regional and partition == "aws":
        return "https://sts.amazonaws.com"
    return f"https://sts.{region}.{dns_suffix(partition)}"


def validate_region(name: str) -> str:
    """``name`` stripped, when it is an AWS region name (``eu-west-1``, ``cn-north-1``, ``us-gov-west-1``...).

    Raises ConfigError (one line) for a name that cannot be a host name label or that no partition claims
    (``eu-west1``, ``Europe``): a typo would otherwise surface later as an unreachable endpoint."""
    region = name.strip()
    if not _REGION_NAME.match(region):
        raise ConfigError(f"{name!r} is not a region name; AWS regions look like eu-west-1")
    if partition_of(region) is None:
        raise ConfigError(
            f"{region!r} is not an AWS region name (regions look like eu-west-1, cn-north-1, us-gov-west-1)"
        )
    return region


def configured_region(chain: Sequence[Profile], env: Mapping[str, str] | None = None) -> str | None:
    """The region the AWS files and environment give the last profile of ``chain`` (root first): its own
    ``region``, else the nearest source's (a role defined next to its user usually only says ``role_arn``
    and ``source_profile``), else AWS_REGION, else AWS_DEFAULT_REGION of ``env`` (default ``os.environ``);
    None when none of them says. Never raises."""
    environ = os.environ if env is None else env
    for profile in reversed(chain):
        if profile.region:
            return profile.region
    return environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None


def session_region(
    chain: Sequence[Profile],
    default_region: str,
    chosen: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """The region of a session of the last profile of ``chain``: ``chosen`` (``--region``, the GUI's picker),
    else :func:`configured_region`, else ``default_region``. STS is called in it (its regional endpoint and
    SigV4 scope) and it is what exports, served credentials and the console get. Never raises."""
    return chosen or configured_region(chain, env) or default_region


def export_region(
    tree: ProfileTree,
    profile: str,
    default_region: str,
    session_region: str | None = None,
    env: Mapping[str, str] | None = None,
    chosen: str | None = None,
) -> str:
    """The AWS_REGION exported with ``profile``'s credentials: ``chosen`` (``--region``, the GUI's picker),
    else :func:`configured_region`, else the region the session was made in (``session_region``, e.g. by the
    GUI for a terminal), else ``default_region``.

    The same region stsdesk calls STS in for this profile. Raises what ``tree.chain`` raises
    (ProfileNotFound, ProfileCycleError, ConfigError) for an unknown or broken profile."""
    if chosen:
        tree.chain(profile)  # an unknown profile fails the same way with or without a chosen region
        return chosen
    return configured_region(tree.chain(profile), env) or session_region or default_region
