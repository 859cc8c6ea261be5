"""The shortcuts the common request takes (nothing passed, nothing inherited) give what the full path gives."""

from __future__ import annotations

import itertools

import pytest

from stsdesk.emulator.errors import EmulatorError
from stsdesk.emulator.sts_tags import SessionTags, chained
from stsdesk.emulator.sts_validate import SessionPolicy, session_policy

ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"
POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'


@pytest.mark.parametrize("allow_tags", [True, False])
def test_session_policy_without_policy_arns_or_tags_is_the_empty_one(allow_tags: bool) -> None:
    plain = {"Action": "AssumeRole", "RoleArn": "arn:aws:iam::1:role/R", "RoleSessionName": "s"}
    assert session_policy(plain, policy_max_len=None, allow_tags=allow_tags) == SessionPolicy(None, None, (), 0, None)


@pytest.mark.parametrize(
    "extra",
    [
        {"PolicyArns.member.1.arn": ARN},
        {"Tags.member.1.Key": "team", "Tags.member.1.Value": "blue"},
        {"Policy": POLICY},
        {"PolicyArns.member.1.arn": "short"},
    ],
)
def test_anything_passed_still_takes_the_full_path(extra: dict[str, str]) -> None:
    params = {"Action": "AssumeRole", **extra}
    if extra.get("PolicyArns.member.1.arn") == "short":
        with pytest.raises(EmulatorError, match="policyArns"):
            session_policy(params, policy_max_len=None)
        return
    result = session_policy(params, policy_max_len=None)
    assert result.packed_percent is not None and result.packed_percent >= 1
    assert result.policy_arns == tuple(v for k, v in extra.items() if k.startswith("PolicyArns"))
    assert result.tag_count == (1 if "Tags.member.1.Key" in extra else 0)
    # Tags not allowed (GetFederationToken's caller passes them elsewhere): not counted, not a reason to bail.
    if "Tags.member.1.Key" in extra:
        assert session_policy(params, policy_max_len=None, allow_tags=False) == SessionPolicy(None, None, (), 0, None)


def _chained_the_long_way(inherited: SessionTags, requested: SessionTags) -> SessionTags:
    incoming = inherited.transitive_tags()
    return SessionTags(incoming + requested.tags, tuple(k for k, _ in incoming) + requested.transitive)


TAG_SETS = [
    SessionTags(),
    SessionTags((("team", "blue"),)),
    SessionTags((("team", "blue"),), ("team",)),
    SessionTags((), ("team",)),
]


@pytest.mark.parametrize(("inherited", "requested"), list(itertools.product(TAG_SETS, TAG_SETS)))
def test_chained_tags_equal_the_long_way(inherited: SessionTags, requested: SessionTags) -> None:
    expected = _chained_the_long_way(inherited, requested)
    conflict = any(k.lower() in {t.lower() for t, _ in inherited.transitive_tags()} for k, _ in requested.tags)
    if conflict:
        with pytest.raises(EmulatorError):
            chained(inherited, requested)
    else:
        assert chained(inherited, requested) == expected
