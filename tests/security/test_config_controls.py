"""Finding 6c: values written to ~/.aws/config may not hold characters that some reader takes as a line break
(VT, FF, NEL, U+2028, U+2029, CR, LF) or that no reader expects (NUL and the other controls). Before, only CR
and LF were refused; ``str.splitlines()`` (and so any tool that reads the file that way) broke the line at the
others, which lets a value add a key such as ``credential_process`` to the profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from stsdesk.core.configfile import ConfigFile
from stsdesk.core.errors import ConfigError

BREAKERS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\0", "\r", "\n", "\x1b", "\x7f"]


@pytest.mark.parametrize("char", BREAKERS, ids=repr)
def test_control_characters_in_values_are_refused_and_nothing_is_written(char: str, tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("[profile dev]\nregion = us-east-1\n")
    before = path.read_bytes()
    cfg = ConfigFile.open(path)
    hostile = f"us-east-1{char}credential_process = sh -c 'touch /tmp/pwned'"
    with pytest.raises(ConfigError) as refused:
        cfg.set_profile("dev", {"region": hostile})
        cfg.save()
    message = str(refused.value)
    assert "region" in message and "\n" not in message and "pwned" not in message
    assert path.read_bytes() == before
    assert not path.with_name("config.bak").exists()


def test_ordinary_values_still_write(tmp_path: Path) -> None:
    path = tmp_path / "config"
    cfg = ConfigFile.open(path)
    cfg.set_profile("dev", {"region": "eu-west-1", "role_arn": "arn:aws:iam::123456789012:role/Dev é"})
    cfg.save()
    assert "role/Dev é" in path.read_text()
    assert "credential_process" not in path.read_text()
