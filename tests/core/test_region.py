"""The region rule (core/region.py): partitions, regional STS endpoints, --region validation, precedence, and the
broker calling STS in a chosen region."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import keyring
import pytest
from helpers.keyrings import MemoryKeyring

from stsdesk.core.broker import Broker
from stsdesk.core.broker_sources import sts_target
from stsdesk.core.cache import SessionCache
from stsdesk.core.console import ConsoleError
from stsdesk.core.console_fetch import console_destination
from stsdesk.core.errors import ConfigError
from stsdesk.core.model import CredentialKind, Credentials
from stsdesk.core.profiles import build_tree
from stsdesk.core.region import (
    export_region,
    partition_id,
    regional_sts_endpoint,
    session_region,
    validate_region,
)
from stsdesk.core.secrets import SecretStore, user_key
from stsdesk.core.sts import StsClient, default_sts_endpoint, partition_for

AKID = "AKIAREGION0000000001"


@pytest.mark.parametrize(
    ("region", "partition", "endpoint"),
    [
        ("eu-west-1", "aws", "https://sts.eu-west-1.amazonaws.com"),
        ("il-central-1", "aws", "https://sts.il-central-1.amazonaws.com"),
        ("cn-northwest-1", "aws-cn", "https://sts.cn-northwest-1.amazonaws.com.cn"),
        ("us-gov-west-1", "aws-us-gov", "https://sts.us-gov-west-1.amazonaws.com"),
        ("us-iso-east-1", "aws-iso", "https://sts.us-iso-east-1.c2s.ic.gov"),
        ("us-isob-east-1", "aws-iso-b", "https://sts.us-isob-east-1.sc2s.sgov.gov"),
        ("eu-isoe-west-1", "aws-iso-e", "https://sts.eu-isoe-west-1.cloud.adc-e.uk"),
        ("us-isof-south-1", "aws-iso-f", "https://sts.us-isof-south-1.csp.hci.ic.gov"),
        ("eusc-de-east-1", "aws-eusc", "https://sts.eusc-de-east-1.amazonaws.eu"),
    ],
)
def test_partitions_and_regional_endpoints(region: str, partition: str, endpoint: str) -> None:
    assert partition_id(region) == partition
    assert partition_for(region) == partition  # sts.py asks the same table
    assert regional_sts_endpoint(region) == endpoint
    assert default_sts_endpoint(region) == endpoint
    assert validate_region(f" {region} ") == region


def test_partition_table_matches_botocore() -> None:
    import json

    import botocore

    data = json.loads((Path(botocore.__file__).parent / "data" / "partitions.json").read_text())
    for entry in data["partitions"]:
        for region in entry["regions"]:
            if region.startswith("aws-"):
                continue  # pseudo-regions (aws-global, aws-cn-global...), not names a person picks
            assert partition_id(region) == entry["id"], region
            assert regional_sts_endpoint(region).endswith("." + entry["outputs"]["dnsSuffix"]), region


def test_legacy_global_endpoint_only_in_the_commercial_partition() -> None:
    assert regional_sts_endpoint("eu-west-1", regional=False) == "https://sts.amazonaws.com"
    assert regional_sts_endpoint("cn-north-1", regional=False) == "https://sts.cn-north-1.amazonaws.com.cn"
    assert regional_sts_endpoint("us-gov-east-1", regional=False) == "https://sts.us-gov-east-1.amazonaws.com"


@pytest.mark.parametrize("bad", ["eu-west1", "Europe", "", "sts.evil.example/", "eu_west_1", "-eu-west-1"])
def test_bad_region_names_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_region(bad)
    assert "\n" not in str(caught.value)
    assert "eu-west-1" in str(caught.value)  # says what a region looks like


CONFIG: dict[str, dict[str, Any]] = {
    "user": {"stsdesk_access_key_id": AKID, "region": "us-east-1"},
    "role": {"role_arn": "arn:aws:iam::222222222222:role/ReadOnly", "source_profile": "user"},
    "own": {"role_arn": "arn:aws:iam::222222222222:role/Own", "source_profile": "user", "region": "sa-east-1"},
    "cn": {"role_arn": "arn:aws-cn:iam::222222222222:role/Cn", "source_profile": "user"},
}


def test_precedence_chosen_then_profile_then_environment_then_default(tmp_path: Path) -> None:
    tree = build_tree(CONFIG, tmp_path / "config", tmp_path / "credentials")
    env = {"AWS_REGION": "eu-north-1"}
    assert session_region(tree.chain("own"), "us-west-2", None, env) == "sa-east-1"
    assert session_region(tree.chain("role"), "us-west-2", None, env) == "us-east-1"  # its source's
    assert session_region(tree.chain("own"), "us-west-2", "ap-south-1", env) == "ap-south-1"
    bare = build_tree({"k": {"stsdesk_access_key_id": AKID}}, tmp_path / "c2", tmp_path / "cr2")
    assert session_region(bare.chain("k"), "us-west-2", None, env) == "eu-north-1"
    assert session_region(bare.chain("k"), "us-west-2", None, {}) == "us-west-2"
    assert export_region(tree, "own", "us-west-2", "eu-west-3", env) == "sa-east-1"
    assert export_region(tree, "own", "us-west-2", "eu-west-3", env, chosen="ca-central-1") == "ca-central-1"
    assert sts_target(tree.chain("own"), "us-west-2", env, region="me-central-1").region == "me-central-1"


class RecordingSts:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def assume_role(self, source: Credentials, **kwargs: Any) -> tuple[Credentials, str]:
        self.calls.append(("AssumeRole", kwargs))
        creds = Credentials(
            f"ASIAREGION{len(self.calls):010d}", "s", "t", datetime.now(UTC) + timedelta(hours=1),
            CredentialKind.ASSUMED_ROLE, kwargs["region"],
        )
        return creds, "arn:aws:sts::222222222222:assumed-role/ReadOnly/s"

    async def get_session_token(self, source: Credentials, **kwargs: Any) -> Credentials:
        self.calls.append(("GetSessionToken", kwargs))
        return Credentials(
            "ASIAREGIONSESSION001", "s", "t", datetime.now(UTC) + timedelta(hours=1),
            CredentialKind.SESSION_TOKEN, kwargs["region"],
        )


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[tuple[Broker, RecordingSts]]:
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    tree = build_tree(CONFIG, tmp_path / "config", tmp_path / "credentials")
    secrets = SecretStore("stsdesk-test-region")
    secrets.set(user_key("user", AKID), "secret-of-the-region-test-user-00000000")
    cache = SessionCache(tmp_path / "state", secrets)
    fake = RecordingSts()
    yield Broker(tree, cast(StsClient, fake), cache, secrets), fake
    cache.flush()
    keyring.set_keyring(previous)


def test_a_chosen_region_is_where_sts_is_called(broker: tuple[Broker, RecordingSts]) -> None:
    b, fake = broker
    asyncio.run(b.credentials_for("role", region="eu-west-1"))
    action, kwargs = fake.calls[-1]
    assert action == "AssumeRole"
    assert kwargs["region"] == "eu-west-1"  # the SigV4 scope and, without endpoint_url, the regional endpoint


def test_the_user_session_on_the_way_is_made_in_the_chosen_region_too(broker: tuple[Broker, RecordingSts]) -> None:
    b, fake = broker
    asyncio.run(b.credentials_for("user", region="ap-northeast-1"))
    assert fake.calls == [("GetSessionToken", fake.calls[0][1])]
    assert fake.calls[0][1]["region"] == "ap-northeast-1"


def test_a_cached_session_serves_every_region(broker: tuple[Broker, RecordingSts]) -> None:
    b, fake = broker
    first = asyncio.run(b.credentials_for("role"))
    assert fake.calls[-1][1]["region"] == "us-east-1"
    again = asyncio.run(b.credentials_for("role", region="eu-central-1"))
    assert again == first
    assert len(fake.calls) == 1


def test_console_destination_follows_partition_and_region() -> None:
    assert (
        console_destination("aws", "eu-west-1", "ec2")
        == "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1"
    )
    assert console_destination("aws-cn", "cn-north-1", "s3") == "https://console.amazonaws.cn/s3/home?region=cn-north-1"
    assert console_destination("aws-us-gov", "us-gov-west-1", None).startswith(
        "https://console.amazonaws-us-gov.com/console/home?region=us-gov-west-1"
    )
    with pytest.raises(ConsoleError):
        console_destination("aws", "eu-west-1", "ec2/../../evil")
    with pytest.raises(ConsoleError):
        console_destination("aws-iso", "us-iso-east-1", "ec2")
