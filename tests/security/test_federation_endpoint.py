"""Finding 6d: the federation endpoint (which receives the secret access key in getSigninToken) is checked by
parsing the URL and comparing the host exactly. Before, the GUI's check was a prefix test, so
``http://localhost.evil.example`` passed, and the core took any http URL at all."""

from __future__ import annotations

import pytest
from e2e.conftest import World

from stsdesk.core.console import ConsoleError, federation_endpoint_problem, federation_target

REFUSED = [
    "http://localhost.evil.example/federation",
    "http://localhostevil.example/federation",
    "http://127.0.0.1.evil.example/federation",
    "http://127.0.0.1@evil.example/federation",
    "http://localhost:80@evil.example/federation",
    "http://evil.example/federation?x=http://localhost",
    "http://10.0.0.1/federation",
    "http://[::ffff:8.8.8.8]/federation",
    "ftp://localhost/federation",
    "http:///federation",
    "http://localhost:99999/federation",
    "javascript:alert(1)",
]
ALLOWED = [
    "https://signin.example.com/federation",
    "http://localhost:4599/federation",
    "http://LOCALHOST/federation",
    "http://127.0.0.1:4599/federation",
    "http://127.8.9.10/federation",
    "http://[::1]:4599/federation",
]


@pytest.mark.parametrize("url", REFUSED)
def test_non_loopback_http_and_lookalikes_are_refused(url: str) -> None:
    assert federation_endpoint_problem(url) is not None
    with pytest.raises(ConsoleError) as refused:
        federation_target("aws", "us-east-1", federation_endpoint=url)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("url", ALLOWED)
def test_https_and_loopback_http_are_allowed(url: str) -> None:
    assert federation_endpoint_problem(url) is None
    assert federation_target("aws", None, federation_endpoint=url).federation_url == url


@pytest.mark.parametrize("url", ["http://localhost.evil.example/federation", "http://127.0.0.1@evil.example/"])
def test_a_profiles_lookalike_federation_endpoint_is_refused_by_the_cli(world: World, url: str) -> None:
    """The per-profile ``stsdesk_federation_endpoint`` (the only place the endpoint is set): refused before the
    getSigninToken request, which would carry the secret key, is sent anywhere."""
    with world.config_file.open("a") as config:
        config.write(
            "\n[profile evilfed]\nsource_profile = bob\nrole_arn = arn:aws:iam::222222222222:role/ReadOnly\n"
            f"stsdesk_federation_endpoint = {url}\n"
        )
    out = world.stsdesk("console", "evilfed")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "plain http is allowed only to this machine" in out.stderr
