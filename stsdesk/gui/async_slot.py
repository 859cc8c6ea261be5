"""A typed ``qasync.asyncSlot``: Qt slots that are coroutines, run as tasks on the qasync loop.

qasync ships no type hints, so its decorator would make every decorated method untyped under mypy --strict.
This wrapper keeps the decorated method's parameters and says what it returns: the asyncio Task running it
(exceptions go to ``sys.excepthook``, which the GUI's ErrorReporter logs).

qasync (and asyncio with it) is imported at the slot's first call, not here: the window and the config's first
rows are painted from a plain Qt event loop before either is imported (issue 17), and the classes whose methods
are decorated are imported before that paint. The slot itself is declared at once (``Slot(*types)``), as
qasync.asyncSlot declares it; at its first call it is qasync.asyncSlot's own wrapper that runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from PySide6.QtCore import Slot

if TYPE_CHECKING:
    import asyncio

P = ParamSpec("P")
R = TypeVar("R")


def async_slot(
    *types: type,
) -> Callable[[Callable[P, Coroutine[Any, Any, R]]], Callable[P, asyncio.Task[R]]]:
    """``@async_slot()`` or ``@async_slot(str, str)``: the signal's argument types, as for ``@Slot``."""

    def decorator(fn: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
        wrapped: list[Callable[..., Any]] = []  # qasync.asyncSlot(*types)(fn), made at the first call

        @Slot(*types)
        @functools.wraps(fn)
        def slot(*args: Any, **kwargs: Any) -> Any:
            if not wrapped:
                import qasync

                wrapped.append(qasync.asyncSlot(*types)(fn))
            return wrapped[0](*args, **kwargs)

        return slot

    return cast(Callable[[Callable[P, Coroutine[Any, Any, R]]], Callable[P, "asyncio.Task[R]"]], decorator)
