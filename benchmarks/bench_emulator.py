"""Emulator round trips: boto3 AssumeRole and GetCallerIdentity, stsdesk's emulator vs moto's server.

Both servers run in their own subprocess (benchmarks.servers); this process holds only the two boto3 clients
and times calls to them alternately, by two methods, each judged against the target:

- strict A B alternation: moto answers every request with ``Connection: close`` and then tears the
  connection and its thread down; on a 2-core machine that after-work can run while the next stsdesk call is
  in flight and is charged to stsdesk;
- blocks of BLOCK calls (A x10, B x10, ...): the one call per block that the other side's after-work hits is
  outvoted by the median.

Then two floors, each strict A B with moto: the same boto3 call against a server that answers with the
emulator's own response bytes, canned (benchmarks.canned_server): moto / that is the most any server could show
here; and against the least a faithful STS must do, in Python (benchmarks.minimal_sts_server: SigV4 verified,
dict lookups, fresh credentials, the response XML; no policies, no sealing, no validation): moto / that bounds
what an emulator in Python can show.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from benchmarks.harness import Row, alternate, failed_row, ms, rounds, side_by_side
from benchmarks.servers import (
    READONLY_ROLE,
    canned_server,
    minimal_sts_server,
    moto_server,
    sts_client,
    stsdesk_emulator,
)

ROUNDS = 300
BLOCK = 10
TARGET = 3.0  # stsdesk at least this many times faster than moto, by both methods
FIGURES = ("AssumeRole round trip (boto3)", "GetCallerIdentity round trip (boto3)")


def _row(figure: str, method: str, ours: float, theirs: float, n: int, floor: tuple[float, float],
         minimal: tuple[float, float]) -> Row:
    speedup = theirs / ours
    passed = speedup >= TARGET
    least = minimal[1] / minimal[0]
    note = (
        f"median of {n} calls each, {method}; the floor (boto3 against a canned response, strict A B with moto): "
        f"{ms(floor[0])} vs moto {ms(floor[1])}, at most {floor[1] / floor[0]:.2f}x for any server; the least "
        f"faithful STS in Python (benchmarks.minimal_sts_server: SigV4 verified, no policies, no sealing, strict A B "
        f"with moto): {ms(minimal[0])} vs moto {ms(minimal[1])}, {least:.2f}x"
        + (f" (below {TARGET:.0f}x by itself)" if least < TARGET else "")
    )
    if not passed:
        note = f"missed by {TARGET / speedup:.2f}x: needs {ms(theirs / TARGET)} or less; " + note
    return Row(
        f"{figure}, {method.split(' (')[0]}",
        ms(ours),
        f"moto {ms(theirs)}",
        f"{speedup:.2f}x faster",
        f">= {TARGET:.0f}x faster",
        passed,
        note,
    )


def _measure(
    figure: str, ours: Callable[[], object], theirs: Callable[[], object], floor_call: Callable[[], object],
    minimal_call: Callable[[], object],
) -> list[Row]:
    n = rounds(ROUNDS, 4)
    block = BLOCK if n >= BLOCK * 2 else 1
    # Strict, then blocks, then strict again: the strict calls are spread over the same stretch of time as
    # the blocked ones, so a change in the machine's load during the run cannot favour one method.
    half = max(1, n // 2)
    a1, b1 = alternate(ours, theirs, half, warmup=rounds(10, 1), block=1)
    blocked = side_by_side(ours, theirs, n, warmup=0, block=block)
    a2, b2 = alternate(ours, theirs, half, warmup=0, block=1)
    strict = (statistics.median(a1 + a2), statistics.median(b1 + b2))
    floor = side_by_side(floor_call, theirs, half, warmup=rounds(10, 1), block=1)
    minimal = side_by_side(minimal_call, theirs, half, warmup=rounds(10, 1), block=1)
    return [
        _row(figure, "strict A B alternation", *strict, 2 * half, floor, minimal),
        _row(figure, f"blocks of {block} (A x{block}, B x{block}, ...)", *blocked, n, floor, minimal),
    ]


def _canned_body(client: Any, operation: str, call: Callable[[], object]) -> bytes:
    """The raw HTTP body of one emulator answer to ``operation``."""
    seen: list[bytes] = []

    def keep(http_response: Any, **_: Any) -> None:
        seen.append(http_response.content)

    client.meta.events.register(f"after-call.sts.{operation}", keep)
    call()
    client.meta.events.unregister(f"after-call.sts.{operation}", keep)
    return seen[-1]


def run() -> list[Row]:
    try:
        with stsdesk_emulator() as ours_url, moto_server() as moto_url, minimal_sts_server() as minimal_url:
            ours: Any = sts_client(ours_url)
            moto: Any = sts_client(moto_url)
            least: Any = sts_client(minimal_url)

            def assume(client: Any) -> Callable[[], object]:
                return lambda: client.assume_role(RoleArn=READONLY_ROLE, RoleSessionName="bench")

            rows: list[Row] = []
            body = _canned_body(ours, "AssumeRole", assume(ours))
            with canned_server(body) as canned_url:
                rows += _measure(FIGURES[0], assume(ours), assume(moto), assume(sts_client(canned_url)),
                                 assume(least))
            body = _canned_body(ours, "GetCallerIdentity", ours.get_caller_identity)
            with canned_server(body) as canned_url:
                floor: Any = sts_client(canned_url)
                rows += _measure(FIGURES[1], ours.get_caller_identity, moto.get_caller_identity,
                                 floor.get_caller_identity, least.get_caller_identity)
            return rows
    except Exception as exc:  # the servers or a call failed: every row says so
        return [failed_row(f, f">= {TARGET:.0f}x faster", exc) for f in FIGURES]
