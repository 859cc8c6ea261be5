"""A typed ``qasync.asyncSlot``: Qt slots that are coroutines, run as tasks on the qasync loop.

qasync ships no type hints, so its decorator would make every decorated method untyped under mypy --strict.
This wrapper keeps the decorated method's parameters and says what it returns: the asyncio Task running it
(exceptions go to ``sys.excepthook``, which the GUI's ErrorReporter logs).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, cast

import qasync

P = ParamSpec("P")
R = TypeVar("R")


def async_slot(
    *types: type,
) -> Callable[[Callable[P, Coroutine[Any, Any, R]]], Callable[P, asyncio.Task[R]]]:
    """``@async_slot()`` or ``@async_slot(str, str)``: the signal's argument types, as for ``@Slot``."""
    decorator = qasync.asyncSlot(*types)
    return cast(Callable[[Callable[P, Coroutine[Any, Any, R]]], Callable[P, "asyncio.Task[R]"]], decorator)
