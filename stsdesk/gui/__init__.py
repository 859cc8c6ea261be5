"""The desktop app (PySide6 + qasync): the only package that imports Qt."""

# Standard-library modules the app imports before its first paint, imported here before PySide6: once
# PySide6 is in, every later import passes through its import hook (shibokensupport's feature/signature
# handling), which made these 15-28 ms slower at startup. Only those the first paint needs: others would
# just add their own cost before it.
import dataclasses  # noqa: F401
import datetime  # noqa: F401

from stsdesk.gui import qtfix

qtfix.install()
