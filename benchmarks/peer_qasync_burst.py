"""The event-loop peer: the same 200-request burst through a bare qasync loop (no stsdesk).

``python -m benchmarks.peer_qasync_burst ENDPOINT ROLE_ARN...``: an offscreen QApplication on a qasync loop,
one boto3 STS client (alice's keys, as stsdesk's broker uses for these profiles) warmed by one call, then every
ROLE_ARN assumed at once through the loop's default executor (what stsdesk's StsClient uses), while the same
5 ms precise QTimer probe as stsdesk's measurement records the longest gap between its ticks. The interpreter's
garbage collector is left as it is in any Python program. Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow


class GapProbe:
    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.longest = 0.0
        self._last = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self._last)
        self._last = now

    def start(self) -> None:
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        self._tick()
        return self.longest


async def burst(endpoint: str, arns: list[str]) -> dict[str, Any]:
    from benchmarks.servers import sts_client

    client: Any = sts_client(endpoint)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, lambda: client.get_caller_identity())
    full: list[float] = []
    started: dict[int, float] = {}

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 2:
            if phase == "start":
                started[2] = time.perf_counter()
            else:
                full.append(time.perf_counter() - started.pop(2, time.perf_counter()))

    def one(arn: str) -> bool:
        result = client.assume_role(RoleArn=arn, RoleSessionName="bench")
        return bool(result["Credentials"]["AccessKeyId"])

    gc.callbacks.append(on_gc)
    probe = GapProbe()
    probe.start()
    t0 = time.perf_counter()
    done = await asyncio.gather(*(loop.run_in_executor(None, one, arn) for arn in arns), return_exceptions=True)
    seconds = time.perf_counter() - t0
    gap = probe.stop()
    gc.callbacks.remove(on_gc)
    errors = sorted({f"{type(e).__name__}: {e}" for e in done if isinstance(e, BaseException)})[:3]
    return {
        "gap": gap,
        "seconds": seconds,
        "completed": sum(1 for ok in done if ok is True),
        "full_collections": len(full),
        "longest_full_collection": max(full, default=0.0),
        "errors": errors,
    }


def main() -> int:
    import qasync  # after PySide6: qasync then uses it

    app = QApplication(sys.argv[:1])
    window = QMainWindow()  # a window on screen, as in the app
    window.resize(1100, 640)
    window.show()
    with asyncio.Runner(loop_factory=qasync.QEventLoop) as runner:
        result = runner.run(burst(sys.argv[1], sys.argv[2:]))
    print(json.dumps(result))
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
