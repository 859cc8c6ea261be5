"""The desktop app (PySide6 + qasync): the only package that imports Qt."""

# Standard-library modules the app imports before its first paint, imported here before PySide6: once
# PySide6 is in, every later import passes through its import hook (shibokensupport's feature/signature
# handling), which made these 15-28 ms slower at startup. Only those the first paint needs: others would
# just add their own cost before it.
import dataclasses  # noqa: F401
import datetime  # noqa: F401

# The app's pure-Python modules it imports before the first paint, for the same reason: their own imports (stat,
# re, types, enum...) then do not pass through the hook, which reads the source of each module an import statement
# names for the first time (shibokensupport.feature._mod_uses_pyside: inspect.getsource).
import stsdesk.core.paths
import stsdesk.gui.errors
import stsdesk.gui.profile_store  # noqa: F401
from stsdesk.gui import qtfix

qtfix.skip_source_scans()  # first: from here on every import statement passes PySide6's hook
qtfix.install()
