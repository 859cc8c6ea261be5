"""The demo's config names a port reserved before the emulator starts (so the window can show the demo's profiles
first); start_demo binds that port, or another one, rewriting the config, if it was taken meanwhile."""

from __future__ import annotations

import socket
from pathlib import Path

from stsdesk.demo import loopback_endpoint, reserve_loopback_port, write_demo_files
from stsdesk.gui.demo_session import start_demo


def test_start_demo_binds_the_reserved_port(tmp_path: Path) -> None:
    port = reserve_loopback_port()
    config, _ = write_demo_files(tmp_path, loopback_endpoint(port), token=False)
    assert not (tmp_path / "aws" / "ci-web-identity-token").exists()  # no emulator yet: no token fetched
    assert f"endpoint_url = http://127.0.0.1:{port}\n" in config.read_text()
    demo = start_demo(tmp_path, port=port)
    try:
        assert demo.world.endpoint == loopback_endpoint(port)
        assert f"endpoint_url = {demo.world.endpoint}\n" in config.read_text()
        assert (tmp_path / "aws" / "ci-web-identity-token").read_text().count(".") == 2  # a JWT from the emulator
    finally:
        demo.stop()


def test_start_demo_takes_another_port_when_the_reserved_one_is_taken(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        write_demo_files(tmp_path, loopback_endpoint(taken), token=False)
        demo = start_demo(tmp_path, port=taken)
        try:
            assert demo.world.endpoint != loopback_endpoint(taken)
            text = demo.world.config_file.read_text()
            assert f"endpoint_url = {demo.world.endpoint}\n" in text
            assert f":{taken}\n" not in text  # the config no longer names the taken port
        finally:
            demo.stop()
