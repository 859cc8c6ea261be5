"""TOTP checking for virtual MFA devices, with fixed clocks."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from stsdesk.emulator.mfa import MfaVerifier, current_code

SEED = "JBSWY3DPEHPK3PXP"  # the demo scenario's 80-bit seed
LONG_SEED = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # RFC 6238's SHA-1 test key "12345678901234567890"
SERIAL = "arn:aws:iam::111111111111:mfa/alice"
OTHER_SERIAL = "arn:aws:iam::111111111111:mfa/bob"
NOW = 1_795_706_925.0  # 15 s into a step


@pytest.mark.parametrize(
    ("moment", "code"),
    [
        (59, "287082"),
        (1111111109, "081804"),
        (1111111111, "050471"),
        (1234567890, "005924"),
        (2000000000, "279037"),
    ],
)
def test_codes_match_rfc_6238_vectors(moment: int, code: str) -> None:
    # RFC 6238 appendix B lists 8-digit codes; a 6-digit code is their last six digits.
    assert current_code(LONG_SEED, moment) == code


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_previous_current_and_next_step_are_accepted(offset: int) -> None:
    code = current_code(SEED, NOW + offset * 30)
    assert MfaVerifier(None).check(SERIAL, SEED, code, NOW)


@pytest.mark.parametrize("offset", [-2, 2, -10])
def test_codes_two_or_more_steps_away_are_rejected(offset: int) -> None:
    code = current_code(SEED, NOW + offset * 30)
    assert code != current_code(SEED, NOW)
    assert not MfaVerifier(None).check(SERIAL, SEED, code, NOW)


def test_step_boundaries_follow_the_clock() -> None:
    step_start = NOW - 15
    code = current_code(SEED, step_start)
    verifier = MfaVerifier(None)
    # Last second in which this step is still "previous"; one second later it is two steps back.
    assert not verifier.check(SERIAL, SEED, code, step_start + 60)
    assert verifier.check(SERIAL, SEED, code, step_start + 59.999)


def test_reused_code_is_rejected_but_the_next_one_is_fine() -> None:
    verifier = MfaVerifier(None)
    code = current_code(SEED, NOW)
    assert verifier.check(SERIAL, SEED, code, NOW)
    assert not verifier.check(SERIAL, SEED, code, NOW + 5)
    assert verifier.check(SERIAL, SEED, current_code(SEED, NOW + 30), NOW + 30)


def test_other_serial_is_independent() -> None:
    verifier = MfaVerifier(None)
    code = current_code(SEED, NOW)
    assert verifier.check(SERIAL, SEED, code, NOW)
    assert verifier.check(OTHER_SERIAL, SEED, code, NOW)
    assert not verifier.check(OTHER_SERIAL, SEED, code, NOW)


def test_wrong_code_is_rejected_and_does_not_consume_anything() -> None:
    verifier = MfaVerifier(None)
    right = current_code(SEED, NOW)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert not verifier.check(SERIAL, SEED, wrong, NOW)
    assert verifier.check(SERIAL, SEED, right, NOW)


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12a456", " 12345", "123456 ", "١٢٣٤٥٦", "12.456"])
def test_malformed_codes_are_rejected_without_raising(code: str) -> None:
    assert MfaVerifier(None).check(SERIAL, SEED, code, NOW) is False


def test_non_string_code_is_rejected() -> None:
    not_a_string: Any = 123456
    assert MfaVerifier(None).check(SERIAL, SEED, not_a_string, NOW) is False


@pytest.mark.parametrize("seed", ["not base32!", "JBSW", ""])
def test_unusable_seed_is_a_value_error(seed: str) -> None:
    with pytest.raises(ValueError, match="MFA seed"):
        MfaVerifier(None).check(SERIAL, seed, "123456", NOW)


def test_used_codes_survive_a_restart(tmp_path: Path) -> None:
    ledger = tmp_path / "state" / "mfa-ledger.json"
    code = current_code(LONG_SEED, NOW)
    assert MfaVerifier(ledger).check(SERIAL, LONG_SEED, code, NOW)
    assert json.loads(ledger.read_text())["used"] == {SERIAL: [int(NOW // 30)]}
    restarted = MfaVerifier(ledger)
    assert not restarted.check(SERIAL, LONG_SEED, code, NOW + 1)
    assert restarted.check(OTHER_SERIAL, LONG_SEED, code, NOW + 1)
    assert sorted(p.name for p in ledger.parent.iterdir()) == ["mfa-ledger.json"]  # no temporary files left


def test_ledger_is_pruned_of_old_steps(tmp_path: Path) -> None:
    ledger = tmp_path / "mfa.json"
    verifier = MfaVerifier(ledger)
    assert verifier.check(SERIAL, SEED, current_code(SEED, NOW), NOW)
    later = NOW + 600
    assert verifier.check(OTHER_SERIAL, SEED, current_code(SEED, later), later)
    assert json.loads(ledger.read_text())["used"] == {OTHER_SERIAL: [int(later // 30)]}


def test_corrupt_ledger_starts_empty_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ledger = tmp_path / "mfa.json"
    ledger.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="stsdesk.emulator.mfa"):
        verifier = MfaVerifier(ledger)
    assert "unreadable" in caplog.text
    assert verifier.check(SERIAL, SEED, current_code(SEED, NOW), NOW)
    assert json.loads(ledger.read_text())["version"] == 1


def test_concurrent_checks_accept_a_code_exactly_once(tmp_path: Path) -> None:
    verifier = MfaVerifier(tmp_path / "mfa.json")
    code = current_code(SEED, NOW)
    start = threading.Barrier(12)
    results: list[bool] = []
    results_lock = threading.Lock()

    def attempt() -> None:
        start.wait()
        outcome = verifier.check(SERIAL, SEED, code, NOW)
        with results_lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 11 + [True]
