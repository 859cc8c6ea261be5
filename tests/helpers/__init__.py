"""Shared test helpers: the one gate for keyring/display tests (gates.py), the demo world with a real Broker
(demo_world.py), oracles for PowerShell and cmd text (shell_oracles.py)."""

import os


def unmeasured_env() -> dict[str, str]:
    """os.environ without coverage's subprocess hook variables: for a child whose imported modules are what a
    test checks (coverage, when measuring, imports dataclasses, logging and more into every Python child)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
