"""Shared test helpers: the one gate for tests that need the Secret Service or an X display (gates.py)."""
