"""The command line's cost with a session cached: the credential-process child and ``stsdesk assume`` against the
floor (a bare ``python -c pass``), and ``aws sts get-caller-identity`` through ``credential_process`` vs the same
call with the same credentials in environment variables.

The cached session's secret must outlive one process, so the measurement (credential_process_worker) runs in
a private D-Bus session with its own gnome-keyring and a throwaway HOME: the real Secret Service read is part
of every figure, and the user's own keyring and ~/.aws are never touched.
"""

from __future__ import annotations

from typing import Any

from benchmarks.harness import Row, failed_row, keyring_tools, ms, run_with_private_keyring

CHILD_TARGET = 2.0
ASSUME_TARGET = 2.5
AWS_TARGET = 1.15
CHILD_FIGURE = "stsdesk credential-process P (cached) vs bare python -c pass"
ASSUME_FIGURE = "stsdesk assume P (cached) vs bare python -c pass"
AWS_FIGURE = "aws sts get-caller-identity via credential_process (cached) vs env credentials"
IMPORT_FIGURE = "botocore/boto3 imported by cached credential-process"
TARGETS = {CHILD_FIGURE: f"<= {CHILD_TARGET}x", ASSUME_FIGURE: f"<= {ASSUME_TARGET}x",
           AWS_FIGURE: f"<= {AWS_TARGET}x", IMPORT_FIGURE: "no"}


def _failed(why: BaseException | str) -> list[Row]:
    return [failed_row(figure, target, why) for figure, target in TARGETS.items()]


def _ratio_row(figure: str, ours: float, peer: float, peer_name: str, target: float, note: str) -> Row:
    ratio = ours / peer
    passed = ratio <= target
    if not passed:
        at_target = ms(peer * target)
        note = f"over by {ratio / target:.2f}x (+{ms(ours - peer)} per call; the target is {at_target}); " + note
    return Row(figure, ms(ours), f"{peer_name} {ms(peer)}", f"{ratio:.2f}x", f"<= {target}x", passed, note)


def _imports(pairs: list[Any]) -> str:
    return ", ".join(f"{name} {ms(sec)}" for name, sec in pairs)


def run() -> list[Row]:
    missing = keyring_tools()
    if missing:
        return _failed(f"not available: {missing}")
    try:
        result = run_with_private_keyring("benchmarks.credential_process_worker")
    except Exception as exc:
        return _failed(exc)
    if "error" in result:
        return _failed(str(result["error"]))
    keyring = "Secret Service keyring (gnome-keyring) in a private D-Bus"
    child_note = (
        f"strict A B, median of {result['child_rounds']} each; {keyring}; "
        f"{'cache hit' if result['fast_path'] else 'the cached session was NOT reused (new AccessKeyId)'}; "
        f"top imports: {_imports(result['top_imports'])}"
    )
    assume_note = (
        f"strict A B, median of {result['assume_rounds']} each; {keyring}; "
        f"{'cache hit' if result['assume_cached'] else 'the cached session was NOT reused'}; "
        f"{'imports botocore' if result['assume_botocore'] else 'no botocore'}; "
        f"top imports: {_imports(result['assume_top_imports'])}"
    )
    aws_note = (
        f"strict A B, median of {result['rounds']} each; the difference is the credential-process child "
        f"({ms(result['child'])}) and the AWS CLI's own credential_process handling; {keyring}"
    )
    imported = bool(result["botocore_imported"])
    return [
        _ratio_row(CHILD_FIGURE, result["child"], result["python_startup"], "python", CHILD_TARGET, child_note),
        _ratio_row(ASSUME_FIGURE, result["assume"], result["assume_python"], "python", ASSUME_TARGET, assume_note),
        _ratio_row(AWS_FIGURE, result["ours"], result["peer"], "env vars", AWS_TARGET, aws_note),
        Row(
            IMPORT_FIGURE,
            "yes" if imported else "no",
            "-",
            "-",
            "no",
            not imported,
            "python -X importtime -m stsdesk credential-process P, grep botocore",
        ),
    ]
