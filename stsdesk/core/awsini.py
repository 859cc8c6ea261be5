"""The AWS config and credentials files read exactly as botocore reads them, without botocore, and faster.

``botocore.configloader.raw_config_parse`` reads a file with the standard library's ``configparser.RawConfigParser()``
(default settings) and then copies every value out with ``options()`` / ``get()``. :func:`raw_config_parse` here
gives the same result and raises the same errors: it runs configparser's own line rules (``RawConfigParser._read``
of Python 3.11, for those default settings: '=' and ':' delimiters, full-line '#' and ';' comments, no inline
comments, strict, empty lines kept in values, a ``[DEFAULT]`` section whose values every section inherits, option
names lower-cased, no interpolation) without configparser's per-line generality, and builds the copies directly.
About 2.5x faster on a 5,000-profile config. tests/core/test_profiles_parse.py checks it against botocore on
hand-written edge cases and on thousands of generated files, results and errors alike.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import configparser

DEFAULT_SECTION = "DEFAULT"


def _configparser() -> ModuleType:
    """The configparser module, for its error classes: imported on the first broken file only (~1.5 ms)."""
    import configparser

    return configparser


def raw_config_parse(path: str) -> dict[str, dict[str, Any]]:
    """``botocore.configloader.raw_config_parse(path)`` (parse_subsections on): section -> option -> value, an
    indented ``s3 =`` block as a dict.

    Raises FileNotFoundError for a path that is not a regular file; the configparser.Error configparser raises
    for the same file (MissingSectionHeaderError, DuplicateSectionError, DuplicateOptionError, ParsingError);
    UnicodeDecodeError for bytes the locale's encoding cannot decode (as configparser opens it); ValueError for a
    nested block line that is not 'key = value' (as botocore's own nested parse). An unreadable file reads as
    empty, as configparser skips it.
    """
    path = os.path.expanduser(os.path.expandvars(path))
    if not os.path.isfile(path):
        raise FileNotFoundError(path)
    try:
        with open(path, encoding=None) as fp:  # configparser.read opens it so: the locale's encoding
            sections, defaults = _read(fp, path)
    except OSError:
        return {}  # configparser.read skips a file it cannot open
    config: dict[str, dict[str, Any]] = {}
    for name, options in sections.items():
        values: dict[str, Any] = {}
        config[name] = values
        # options(): the section's own names, then inherited [DEFAULT] ones; get(): the section's value first.
        for option, value in options.items():
            values[option] = _parse_nested(value) if value.startswith("\n") else value
        for option, value in defaults.items():
            if option not in options:
                values[option] = _parse_nested(value) if value.startswith("\n") else value
    return config


def _read(fp: Any, fpname: str) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """configparser.RawConfigParser()._read(fp, fpname) then _join_multiline_values(), for the default settings:
    (sections, [DEFAULT] values). Raises what it raises, at the same line."""
    sections: dict[str, dict[str, list[str]]] = {}
    defaults: dict[str, list[str]] = {}
    elements_added: set[Any] = set()
    cursect: dict[str, list[str]] | None = None
    sectname: str | None = None
    optname: str | None = None
    indent_level = 0
    error: configparser.ParsingError | None = None
    for lineno, line in enumerate(fp, start=1):
        value = line.strip()
        if not value or value[0] in "#;":  # an empty line, or a full-line comment
            if not value and cursect is not None and optname:
                cursect[optname].append("")  # an empty line inside a value (newlines added at the join)
            continue
        cur_indent_level = len(line) - len(line.lstrip())
        if cursect is not None and optname and cur_indent_level > indent_level:
            cursect[optname].append(value)  # a continuation line
            continue
        indent_level = cur_indent_level
        end = value.rfind("]") if value[0] == "[" else -1
        if end >= 2:  # configparser's SECTCRE: "[" (?P<header>.+) "]", greedy, anchored at the start only
            sectname = value[1:end]
            if sectname in sections:
                raise _configparser().DuplicateSectionError(sectname, fpname, lineno)
            if sectname == DEFAULT_SECTION:
                cursect = defaults
            else:
                cursect = sections[sectname] = {}
                elements_added.add(sectname)
            optname = None
            continue
        if cursect is None:
            raise _configparser().MissingSectionHeaderError(fpname, lineno, line)
        equals, colon = value.find("="), value.find(":")
        delimiter = equals if colon < 0 or 0 <= equals < colon else colon  # the first '=' or ':'
        if delimiter < 0:  # not an option line: reported at the end with every other such line
            error = error or _configparser().ParsingError(fpname)
            error.append(lineno, repr(line))
            continue
        optname = value[:delimiter].rstrip()
        if not optname:
            error = error or _configparser().ParsingError(fpname)
            error.append(lineno, repr(line))
        optname = optname.lower()
        if (sectname, optname) in elements_added:
            raise _configparser().DuplicateOptionError(str(sectname), optname, fpname, lineno)
        elements_added.add((sectname, optname))
        cursect[optname] = [value[delimiter + 1 :].strip()]
    joined = {name: {k: "\n".join(v).rstrip() for k, v in options.items()} for name, options in sections.items()}
    joined_defaults = {k: "\n".join(v).rstrip() for k, v in defaults.items()}
    if error is not None:
        raise error
    return joined, joined_defaults


def _parse_nested(value: str) -> dict[str, str]:
    # botocore.configloader._parse_nested: an indented "s3 =" block, one level deep.
    parsed: dict[str, str] = {}
    for line in value.splitlines():
        line = line.strip()
        if line:
            key, inner = line.split("=", 1)  # ValueError without '=', as botocore
            parsed[key.strip()] = inner.strip()
    return parsed
