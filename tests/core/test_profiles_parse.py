"""stsdesk.core.profiles.raw_config_parse against botocore.configloader.raw_config_parse (the oracle): the same
sections, values and nested blocks, and a refusal exactly where botocore refuses (same inner error)."""

from __future__ import annotations

import configparser
import json
from pathlib import Path
from typing import Any

import botocore.configloader
import botocore.exceptions
import pytest

from stsdesk.core.awsini import raw_config_parse

CASES = {
    "plain": "[default]\nregion = us-east-1\n[profile a]\nrole_arn = arn:aws:iam::1:role/R\nsource_profile = default\n",
    "colon and spacing": "[profile a]\nregion:eu-west-1\n  [profile b]  \nKey With Spaces   =   v  \n",
    "comments": "# c\n; c\n[profile a]\n# inside\nregion = x # not a comment\n; also\n",
    "continuation": "[profile a]\nnote = first\n  second line\n\n  after blank\nregion = r\n",
    "nested block": "[profile a]\ns3 =\n  max_concurrent_requests = 20\n  addressing_style = path\nregion = r\n",
    "empty values": "[profile a]\nregion =\nmfa_serial=\n",
    "DEFAULT section inherited": "[DEFAULT]\nregion = d\n[profile a]\nx = 1\n[profile b]\nregion = own\n",
    "upper-case keys folded": "[profile A]\nREGION = R\nRole_Arn = arn\n",
    "unicode": "[profile ü]\nregion = é\n",
    "tabs": "[profile a]\n\tregion = r\n",
    "equals in value": "[profile a]\ncredential_process = tool --arg=1 --x=y\n",
    "no trailing newline": "[profile a]\nregion = r",
    "empty file": "",
    "percent kept": "[profile a]\nx = 100%\n",
}
BROKEN = {
    "key before section": "region = r\n[profile a]\n",
    "duplicate section": "[profile a]\nx = 1\n[profile a]\ny = 2\n",
    "duplicate option": "[profile a]\nx = 1\nX = 2\n",
    "no delimiter": "[profile a]\njust words\n",
    "bad nested line": "[profile a]\ns3 =\n  no equals here\n",
    "not utf-8": b"[profile a]\nregion = \xff\n",
}


def _write(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "config"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_result_as_botocore(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path, CASES[name])
    ours: dict[str, Any] = raw_config_parse(path)
    assert ours == botocore.configloader.raw_config_parse(path)
    assert list(ours) == list(botocore.configloader.raw_config_parse(path))  # file order too


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_refuses_what_botocore_refuses(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path, BROKEN[name])
    with pytest.raises(botocore.exceptions.ConfigParseError) as theirs:
        botocore.configloader.raw_config_parse(path)
    expected = type(theirs.value.kwargs["error"])
    with pytest.raises((configparser.Error, ValueError)) as ours:
        raw_config_parse(path)
    assert type(ours.value) is expected


def test_missing_file_like_botocore(tmp_path: Path) -> None:
    with pytest.raises(botocore.exceptions.ConfigNotFound):
        botocore.configloader.raw_config_parse(str(tmp_path / "none"))
    with pytest.raises(FileNotFoundError):
        raw_config_parse(str(tmp_path / "none"))


def test_path_expansion_like_botocore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, CASES["plain"])
    monkeypatch.setenv("STSDESK_TEST_DIR", str(tmp_path))
    assert raw_config_parse("$STSDESK_TEST_DIR/config") == botocore.configloader.raw_config_parse(
        "$STSDESK_TEST_DIR/config")


def test_load_profiles_does_not_import_botocore(tmp_path: Path) -> None:
    import subprocess
    import sys

    config = _write(tmp_path, CASES["plain"])
    code = ("import sys\nfrom pathlib import Path\nfrom stsdesk.core.profiles import load_profiles\n"
            f"tree = load_profiles(Path({config!r}), Path({str(tmp_path / 'none')!r}))\n"
            "assert 'a' in tree.profiles, tree.profiles\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('botocore', 'boto3')))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# Pieces of lines that exercise configparser's rules: headers (well-formed, odd, DEFAULT, repeated), options with
# either delimiter and odd spacing, comments, blank and whitespace-only lines, indentation (continuations, nested
# blocks), unicode whitespace, lines that are not options.
_HEADERS = ["[default]", "[profile a]", "[profile b]", "[DEFAULT]", "[a] trailing ] x", "[]", "[]]", "[ sp ]",
            "[profile \u00e9]", "[sso-session s]"]
_OPTIONS = ["region = us-east-1", "Region=eu", "role_arn:arn:aws:iam::1:role/R", "k = v = w", "k: a=b", " = v",
            ": v", "s3 =", "x=", "A B = c", "key\t=\tvalue\t", "name = # not a comment", "k ; v = 1"]
_OTHER = ["", "   ", "\t", "# comment", "; comment", "  # indented comment", "just words", "\u00a0x = y",
          "k\u3000= v", "[unclosed", "=", "\x0c"]
_INDENTS = ["", "", "", " ", "  ", "\t", "    "]


def _random_config(rng: Any) -> str:
    lines = [rng.choice(_HEADERS)] if rng.random() < 0.9 else []
    for _ in range(rng.randrange(0, 14)):
        kind = rng.random()
        pool = _HEADERS if kind < 0.15 else _OPTIONS if kind < 0.7 else _OTHER
        lines.append(rng.choice(_INDENTS) + rng.choice(pool))
    ending = rng.choice(["\n", "\r\n", "\r", ""])
    return ending.join(lines) + rng.choice(["", "\n"])


def _outcome(parse: Any, path: str) -> Any:
    try:
        return ("ok", json.dumps(parse(path)))  # keys in order, as the tree keeps file order
    except botocore.exceptions.ConfigParseError as exc:
        error = exc.kwargs["error"]
    except (configparser.Error, ValueError) as exc:
        error = exc
    return ("error", type(error).__name__, str(error))


def test_thousands_of_generated_files_read_as_botocore_reads_them(tmp_path: Path) -> None:
    import random

    rng = random.Random(17)
    path = tmp_path / "config"
    outcomes: set[str] = set()
    for _ in range(2000):
        path.write_bytes(_random_config(rng).encode())
        theirs = _outcome(botocore.configloader.raw_config_parse, str(path))
        ours = _outcome(raw_config_parse, str(path))
        assert ours == theirs, path.read_bytes()
        outcomes.add(theirs[0] if theirs[0] == "ok" else theirs[1])
    # every kind of result came up, so the comparison covered each of them
    assert outcomes >= {"ok", "ParsingError", "DuplicateSectionError", "DuplicateOptionError",
                        "MissingSectionHeaderError", "ValueError"}
