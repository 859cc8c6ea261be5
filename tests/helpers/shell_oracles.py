"""Oracles for the export formats whose shells cannot run here: PowerShell and cmd.exe.

No PowerShell can be installed from the registries this project reaches (Debian has no package, PyPI none,
and npm's `pwsh` downloads a binary from elsewhere at install time), and there is no cmd.exe on Linux. These
evaluators implement the documented rules for exactly the statements stsdesk writes, and refuse anything else
(a line outside the subset raises ``OracleRefused``: the oracle never guesses).

PowerShell (about_Quoting_Rules; the PowerShell Language Specification 3.0, section 2.3.5.2 "String
literals", and the tokenizer's ScanStringLiteral):

    verbatim-string-literal: single-quote-character verbatim-string-characters? single-quote-character
    single-quote-character:  ' (U+0027)  U+2018  U+2019  U+201A  U+201B
    verbatim-string-part:    any character except a single-quote-character
                             | single-quote-character single-quote-character   (stands for the second one)

A verbatim string may span lines; nothing inside it ($, `, ", \\) is special. Statements: ``$Env:NAME = 'v'``
sets a variable (an empty string removes it), ``Remove-Item Env:NAME -ErrorAction SilentlyContinue`` removes
one, ``# ...`` is a comment; statements end at a new line (CR, LF, CRLF) or ``;``.

cmd.exe (`set /?`; "How does the Windows Command Interpreter (CMD.EXE) parse scripts", phases 0-5):
  phase 0  the line ends at LF; a CR is dropped;
  phase 1  percent expansion: in a batch file ``%%`` is ``%`` and ``%NAME%`` expands (undefined: empty);
           at the prompt ``%NAME%`` expands when defined and stays as written otherwise;
  phase 2  a ``"`` toggles quoting; outside quotes ``^`` escapes the next character and ``& | < >`` end the
           command or redirect (refused here: stsdesk never writes one unquoted); inside quotes all are literal;
  phase 5  with delayed expansion on and a ``!`` in the line: ``!NAME!`` expands, then ``^`` escapes the next
           character (and is removed) everywhere;
  SET      ``set "NAME=value" rest``: the value runs from after the first ``=`` to the last ``"`` of the line
           (what follows it is ignored); an empty value deletes the variable. ``REM`` lines do nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PS_QUOTES = "'\u2018\u2019\u201a\u201b"
# Whitespace in the PowerShell grammar: Zs/Zl/Zp characters, tab, vertical tab, form feed (not new lines).
_PS_SPACE = re.compile(r"[^\S\r\n]*")
_PS_NAME = re.compile(r"[A-Za-z0-9_]+")


class OracleRefused(ValueError):
    """The text uses something outside the statements the oracle evaluates (or is malformed)."""


def powershell_verbatim(text: str, start: int) -> tuple[str, int]:
    """Scan the verbatim (single-quoted) string literal at ``text[start]``; its value and the index after it.

    Raises OracleRefused when there is no opening quote there or the string never ends.
    """
    if start >= len(text) or text[start] not in PS_QUOTES:
        raise OracleRefused(f"no single-quoted string at offset {start}")
    value: list[str] = []
    i = start + 1
    while True:
        if i >= len(text):
            raise OracleRefused("the string literal is not terminated")
        c = text[i]
        if c in PS_QUOTES:
            if i + 1 < len(text) and text[i + 1] in PS_QUOTES:
                value.append(text[i + 1])  # a doubled quote stands for the second one
                i += 2
                continue
            return "".join(value), i + 1
        value.append(c)
        i += 1


def _ps_statement_end(text: str, i: int) -> int:
    i = _PS_SPACE.match(text, i).end()  # type: ignore[union-attr]
    if i < len(text) and text[i] == "#":
        raise OracleRefused("a comment after a statement")
    if i == len(text):
        return i
    if text.startswith("\r\n", i):
        return i + 2
    if text[i] in "\r\n;":
        return i + 1
    raise OracleRefused(f"unexpected text after a statement: {text[i:i + 20]!r}")


def run_powershell(script: str, env: Mapping[str, str]) -> dict[str, str]:
    """The environment after dot-sourcing ``script`` (stsdesk's statements only) in a session with ``env``.

    Environment names are case-insensitive in PowerShell on Windows but not on Linux; they are kept as written.
    Raises OracleRefused for any other statement.
    """
    result = dict(env)
    i = 0
    while i < len(script):
        i = _PS_SPACE.match(script, i).end()  # type: ignore[union-attr]
        if i >= len(script):
            break
        if script[i] in "\r\n;":
            i += 1
            continue
        if script[i] == "#":
            end = len(script)
            for stop in "\r\n":
                found = script.find(stop, i)
                if found != -1:
                    end = min(end, found)
            i = end
            continue
        if script[i] == "$":
            if script[i : i + 5].lower() != "$env:":
                raise OracleRefused(f"only $Env: variables are assigned: {script[i:i + 20]!r}")
            match = _PS_NAME.match(script, i + 5)
            if match is None:
                raise OracleRefused("no variable name after $Env:")
            name = match.group(0)
            i = _PS_SPACE.match(script, match.end()).end()  # type: ignore[union-attr]
            if i >= len(script) or script[i] != "=":
                raise OracleRefused(f"$Env:{name} is not followed by '='")
            i = _PS_SPACE.match(script, i + 1).end()  # type: ignore[union-attr]
            value, i = powershell_verbatim(script, i)
            if "\0" in value:
                raise OracleRefused("NUL in an environment value")
            if value:
                result[name] = value
            else:
                result.pop(name, None)  # assigning '' removes the variable
            i = _ps_statement_end(script, i)
            continue
        match = re.compile(r"Remove-Item[^\S\r\n]+Env:([A-Za-z0-9_]+)[^\S\r\n]+-ErrorAction[^\S\r\n]+"
                           r"SilentlyContinue", re.IGNORECASE).match(script, i)
        if match is None:
            raise OracleRefused(f"statement outside the subset: {script[i:i + 30]!r}")
        result.pop(match.group(1), None)
        i = _ps_statement_end(script, match.end())
    return result


def _cmd_percent(line: str, env: Mapping[str, str], batch: bool) -> str:
    out: list[str] = []
    i = 0
    while i < len(line):
        c = line[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        if batch and line.startswith("%%", i):
            out.append("%")
            i += 2
            continue
        end = line.find("%", i + 1)
        name = line[i + 1 : end] if end != -1 else ""
        if end != -1 and name and "\n" not in name:
            if name in env:
                out.append(env[name])
            elif not batch:
                out.append(f"%{name}%")
            i = end + 1
            continue
        if not batch:
            out.append("%")  # a lone % stays at the prompt, and is dropped in a batch file
        i += 1
    return "".join(out)


def _cmd_special(line: str) -> str:
    """Phase 2 on one line: quotes toggle, ^ escapes outside them; an unquoted & | < > is refused."""
    out: list[str] = []
    quoted = False
    i = 0
    while i < len(line):
        c = line[i]
        if c == '"':
            quoted = not quoted
        elif not quoted and c == "^":
            i += 1
            if i < len(line):
                out.append(line[i])
            i += 1
            continue
        elif not quoted and c in "&|<>":
            raise OracleRefused(f"an unquoted {c!r} would end the command or redirect it")
        out.append(c)
        i += 1
    return "".join(out)


def _cmd_delayed(line: str, env: Mapping[str, str]) -> str:
    if "!" not in line:
        return line
    out: list[str] = []
    i = 0
    while i < len(line):
        c = line[i]
        if c == "^":
            if i + 1 < len(line):
                out.append(line[i + 1])
            i += 2
            continue
        if c == "!":
            end = line.find("!", i + 1)
            if end == -1:
                i += 1  # a lone ! is removed
                continue
            out.append(env.get(line[i + 1 : end], ""))
            i = end + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def run_cmd(script: str, env: Mapping[str, str], *, batch: bool, delayed: bool) -> dict[str, str]:
    """The environment after running ``script`` (REM and ``set "NAME=value"`` lines only) in cmd.exe, as a
    batch file (``batch``) or typed at the prompt, with delayed expansion on or off.

    Raises OracleRefused for any other command or an unquoted metacharacter.
    """
    result = dict(env)
    for raw in script.split("\n"):
        line = raw.replace("\r", "")
        line = _cmd_percent(line, result, batch)
        stripped = line.lstrip(" \t")
        if not stripped:
            continue
        if re.match(r"(?i)rem(\s|$)", stripped):
            continue
        line = _cmd_special(line)
        if delayed:
            line = _cmd_delayed(line, result)
        match = re.fullmatch(r'(?is)[ \t]*set[ \t]+"([^=]*)=(.*)', line)
        if match is None:
            raise OracleRefused(f"command outside the subset: {line[:30]!r}")
        name, rest = match.group(1), match.group(2)
        if '"' not in rest:
            raise OracleRefused("set \"... without its closing quote")
        value = rest[: rest.rindex('"')]
        if not name:
            raise OracleRefused("set without a variable name")
        if value:
            result[name] = value
        else:
            result.pop(name, None)
    return result
