"""Linear-time IAM wildcard matching (``*`` and ``?``), with no regular expressions and no backtracking.

Policy wildcards used to be translated to Python regular expressions, whose backtracking made a pattern such
as ``*:a*a*a*a*a*a*a*a*b`` against a run of ``a`` take exponential time: one request could hang the emulator.
Here a pattern is split at its stars into pieces (each piece a literal text with optional ``?`` positions).
The first piece must match at the start, the last at the end, and every middle piece is searched for
leftmost, once, after the previous one: for glob patterns the leftmost choice never has to be undone, so
the work is at most ``len(pattern) * len(value)`` character comparisons (far less with ``str.find``).

ARN mode (``ArnLike``/``ArnEquals``): a wildcard in one of the first five colon-separated components does
not cross a colon. Both sides are split at their first five colons and matched component by component.

Written by hand: ``fnmatch`` translates to a regex as well, and no maintained library offers both modes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

__all__ = ["Glob", "StepCounter", "compile_glob"]

ARN_FIXED_COMPONENTS = 5


@dataclass
class StepCounter:
    """Counts character comparisons when passed to ``Glob.matches`` (tests bound the work with it)."""

    steps: int = 0


@dataclass(frozen=True)
class _Piece:
    """Literal text between two stars; ``anyone`` holds the positions where ``?`` stands (any character).

    A piece with ``?`` is also compiled to a regular expression of literals and ``.`` only: no quantifier, no
    alternation, so nothing to backtrack over; it just moves the fixed-length comparison into C.
    """

    text: str
    anyone: frozenset[int] = field(default_factory=frozenset)
    fixed: re.Pattern[str] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.anyone and self.fixed is None:
            source = "".join("." if i in self.anyone else re.escape(c) for i, c in enumerate(self.text))
            object.__setattr__(self, "fixed", re.compile(source, re.DOTALL))

    def at(self, value: str, pos: int, counter: StepCounter | None) -> bool:
        """Whether the piece matches ``value`` starting at ``pos`` (the caller checked the length)."""
        if counter is None:
            if self.fixed is not None:
                return self.fixed.match(value, pos) is not None
            return value.startswith(self.text, pos)
        text, anyone = self.text, self.anyone
        for i in range(len(text)):
            if counter is not None:
                counter.steps += 1
            if i not in anyone and value[pos + i] != text[i]:
                return False
        return True

    def find(self, value: str, start: int, end: int, counter: StepCounter | None) -> int:
        """The leftmost position >= start where the piece matches and ends by ``end``, else -1."""
        if counter is None:
            if self.fixed is not None:
                found = self.fixed.search(value, start, end)
                return found.start() if found is not None else -1
            return value.find(self.text, start, end)
        last = end - len(self.text)
        for pos in range(start, last + 1):
            if counter is not None:
                counter.steps += 1
            if self.at(value, pos, counter):
                return pos
        return -1


_Matcher = Callable[[str, StepCounter | None], bool]


@dataclass(frozen=True)
class _Simple:
    """A plain glob: pieces separated by stars (``starred`` False means no star at all)."""

    pieces: tuple[_Piece, ...]
    starred: bool

    def matches(self, value: str, counter: StepCounter | None) -> bool:
        pieces = self.pieces
        if not self.starred:
            only = pieces[0]
            return len(value) == len(only.text) and only.at(value, 0, counter)
        first, last = pieces[0], pieces[-1]
        head, tail = len(first.text), len(last.text)
        if head + tail > len(value):
            return False
        if not first.at(value, 0, counter):
            return False
        end = len(value) - tail
        if not last.at(value, end, counter):
            return False
        pos = head
        for piece in pieces[1:-1]:
            found = piece.find(value, pos, end, counter)
            if found < 0:
                return False
            pos = found + len(piece.text)
        return True


def _simple(tokens: list[tuple[str, bool]]) -> _Simple:
    """Build from (character, wildcard-active) tokens."""
    pieces: list[_Piece] = []
    text: list[str] = []
    anyone: set[int] = set()
    starred = False
    for ch, wild in tokens:
        if wild and ch == "*":
            starred = True
            pieces.append(_Piece("".join(text), frozenset(anyone)))
            text, anyone = [], set()
            continue
        if wild and ch == "?":
            anyone.add(len(text))
        text.append(ch)
    pieces.append(_Piece("".join(text), frozenset(anyone)))
    if starred:
        # Consecutive stars are one star; empty middle pieces match anywhere and cost nothing.
        middle = [p for p in pieces[1:-1] if p.text]
        pieces = [pieces[0], *middle, pieces[-1]]
    return _Simple(tuple(pieces), starred)


class Glob:
    """A compiled wildcard pattern. Build with ``compile_glob``; ``matches`` never backtracks."""

    __slots__ = ("_arn", "_fold", "_parts")

    def __init__(self, parts: tuple[_Simple, ...], arn: bool, fold: bool) -> None:
        self._parts = parts
        self._arn = arn
        self._fold = fold

    def matches(self, value: str, counter: StepCounter | None = None) -> bool:
        """Whether the whole of ``value`` matches. Work is O(len(pattern) * len(value)) at worst."""
        if self._fold:
            value = value.casefold()
        if not self._arn:
            return self._parts[0].matches(value, counter)
        components = value.split(":", ARN_FIXED_COMPONENTS)
        if len(components) != ARN_FIXED_COMPONENTS + 1:
            return False
        return all(part.matches(component, counter) for part, component in zip(self._parts, components, strict=True))


def compile_glob(segments: Iterable[tuple[str, bool]], *, arn: bool = False, ignore_case: bool = False) -> Glob:
    """Compile pattern text given as (text, wildcards-active) segments; text from policy variables is
    passed with wildcards inactive, so its ``*`` and ``?`` are literal.

    ``arn``: ARN mode, used only when the pattern has at least five colons (else a plain glob, as IAM does
    for ``"*"``). ``ignore_case`` case-folds both sides. Never raises.
    """
    # casefold, not lower: it is context-free, so folding the pattern piecewise equals folding it whole.
    tokens = [(c, wild) for text, wild in segments for c in (text.casefold() if ignore_case else text)]
    if arn and sum(1 for ch, _ in tokens if ch == ":") >= ARN_FIXED_COMPONENTS:
        parts: list[_Simple] = []
        current: list[tuple[str, bool]] = []
        for ch, wild in tokens:
            if ch == ":" and len(parts) < ARN_FIXED_COMPONENTS:
                parts.append(_simple(current))
                current = []
            else:
                current.append((ch, wild))
        parts.append(_simple(current))
        return Glob(tuple(parts), True, ignore_case)
    return Glob((_simple(tokens),), False, ignore_case)
