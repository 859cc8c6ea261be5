"""The "launch to profiles visible" measurement of stsdesk: ``stsdesk --demo`` through its real entry point
(stsdesk.cli.main), stopped right after the tree has painted the demo's profiles (benchmarks.paint_stamp).

``python -m benchmarks.gui_launch_worker ROWS_OUT --config-dir DIR --demo``: everything after ROWS_OUT goes to
stsdesk's command line (``--first-paint`` instead of ROWS_OUT: the stamp of the window's first paint instead).
The only hook: the window factory is wrapped to watch the tree's viewport. After the stamp (outside the figure)
the rows shown are written to ROWS_OUT, for the peer to paint the same rows, and the process runs on until
load_engine has returned (the steps' times, for the note), then prints the stamp and exits.

After its stamp (outside the figure) each run brings the bytecode of the stsdesk modules it imported up to date, as
an installed stsdesk has it (pip compiles on install) and as the peer's PySide6 and standard library have it: in a
tree being edited under PYTHONDONTWRITEBYTECODE=1 every changed module was otherwise compiled from source in every
measured run (~24 ms of the first-paint figure on 2026-12-04). The suite's warm-up round does it for the rounds
measured after it; benchmarks.credential_process_worker compiles the whole package for the same reason.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def fresh_bytecode() -> None:
    """Write the bytecode of each imported stsdesk module whose .pyc is missing or older than its source (what
    ``python -m compileall`` would; a module it cannot write just stays as it is)."""
    import compileall

    for name, module in list(sys.modules.items()):
        source = getattr(module, "__file__", None)
        if (name == "stsdesk" or name.startswith("stsdesk.")) and source and source.endswith(".py"):
            compileall.compile_file(source, quiet=2)  # reports failures (OSError too) by its result


def _rows(view: Any, model: Any, parent: Any) -> list[dict[str, Any]]:
    out = []
    for r in range(model.rowCount(parent)):
        index = model.index(r, 0, parent)
        cols = [str(model.index(r, c, parent).data() or "") for c in range(model.columnCount(parent))]
        out.append({"cols": cols, "expanded": view.isExpanded(index), "children": _rows(view, model, index)})
    return out


def first_paint(argv: list[str]) -> int:
    """``--first-paint`` (with stsdesk's --exit-after-first-paint in ``argv``): stamp the moment app.run returns
    after the window's first paint (the plain Qt event loop it shows the window from has returned), as
    benchmarks.peer_qt_window --stamp stamps the moment its event loop returns after its own; then print it and
    leave at once (teardown is not part of the figure)."""
    # In the order `python -m stsdesk` imports them: the CLI, then the GUI package (whose standard-library preloads
    # must come before PySide6), and only then this harness's PySide6 helper (first, it made stsdesk ~20 ms slower).
    from stsdesk.cli import main as cli_main
    from stsdesk.gui import app as app_module

    original_run = app_module.run
    from benchmarks.paint_stamp import print_and_exit  # after stsdesk's own imports (above)

    def run_with_factory(run_args: Any) -> int:
        status = original_run(run_args)
        import time

        painted_at = time.time()  # the stamp; what follows is outside the figure
        fresh_bytecode()
        print_and_exit(status, None, painted_at)
        return status

    setattr(app_module, "run", run_with_factory)  # noqa: B010 - main() looks run up at call time
    return cli_main(argv)


def main() -> int:
    if sys.argv[1] == "--first-paint":
        return first_paint(sys.argv[2:])
    rows_out, argv = Path(sys.argv[1]), sys.argv[2:]
    import time

    from stsdesk.cli import main as cli_main  # the import order of `python -m stsdesk` (see first_paint)
    from stsdesk.gui import app as app_module
    from stsdesk.gui import startup  # imported by stsdesk itself before its first paint

    original_run = app_module.run
    from benchmarks.paint_stamp import RowsPainted, print_and_exit  # after stsdesk's own imports (above)

    watches: list[RowsPainted] = []
    marks: dict[str, float] = {}  # wall-clock times of the steps, for the note (where the time goes)

    stamp: dict[str, Any] = {}  # painted_at and rows, once the tree has painted rows

    def finish() -> None:
        # After the stamp the run goes on until load_engine has returned, so that the note can say where the
        # steps after the stamp went too; the figure is the stamp, taken when the rows were painted.
        if stamp and "load_engine_end" in marks:
            fresh_bytecode()  # after the stamp, outside the figure
            print_and_exit(stamp["rows"], {"profiles": stamp["profiles"], "marks": marks}, stamp["painted_at"])

    def timed(owner: Any, name: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            marks[f"{name}_start"] = time.time()
            try:
                return original(*args, **kwargs)
            finally:
                marks[f"{name}_end"] = time.time()
                if name == "load_engine":
                    finish()

        setattr(owner, name, wrapper)

    timed(startup, "show_config_profiles")  # run() imports these at call time
    timed(app_module, "load_engine")
    timed(app_module, "install_power")

    def factory(*args: Any) -> Any:
        marks["build_window_start"] = time.time()
        gui = app_module.build_window(*args)
        marks["build_window_end"] = time.time()
        gui.window.first_painted.connect(lambda: marks.setdefault("first_paint", time.time()))
        view = gui.window.tree

        def painted(rows: int) -> None:
            stamp.update(painted_at=time.time(), rows=rows, profiles=len(gui.model.profile_names()))
            shown = _rows(view, view.model(), view.rootIndex())
            if not rows_out.exists():
                rows_out.write_text(json.dumps(shown))
            # stsdesk imports demo_session only after the rows are painted (serve, to start the emulator): wrapped
            # here, after the stamp, not before the run (its ~1.5 ms of imports were counted against stsdesk).
            from stsdesk.gui import demo_session

            timed(demo_session, "start_demo")
            finish()

        watches.append(RowsPainted(view, painted))
        return gui

    def run_with_factory(run_args: Any) -> int:
        return original_run(run_args, gui_factory=factory)

    setattr(app_module, "run", run_with_factory)  # noqa: B010 - main() looks run up at call time
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
