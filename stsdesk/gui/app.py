"""`stsdesk` with no command: the main window on the user's AWS config (or, with --demo, on the emulator).

Startup order matters for the first-paint and launch benchmarks: only Qt and the window are built before the
first paint, then the profiles of the config files are shown and painted, all from a plain Qt event loop (no
asyncio, no qasync: ~80 ms of imports). Then a qasync loop starts (serve): the power features, the broker (and
through it botocore/boto3), the tray (reminders, auto-refresh, quick actions) and the terminal bridge
(``stsdesk assume`` / ``credential-process`` ask this window, sharing its sessions and MFA prompt).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QLabel

from stsdesk.gui.countdown import Countdown
from stsdesk.gui.errors import ErrorReporter, log, open_log_file, setup_logging, user_message
from stsdesk.gui.filter_proxy import ProfileFilterProxy
from stsdesk.gui.main_window import IconCache, MainWindow
from stsdesk.gui.mfa_dialog import MfaPrompter
from stsdesk.gui.settings import load_preferences, open_settings
from stsdesk.gui.tree_model import ProfileTreeModel
from stsdesk.resources import resources_dir  # not stsdesk.demo: its demo world is not needed yet

if TYPE_CHECKING:
    import argparse

    from stsdesk.core.secrets import SecretStore
    from stsdesk.gui.bridge_host import BridgeHost
    from stsdesk.gui.controller import Controller
    from stsdesk.gui.demo_session import DemoSession
    from stsdesk.gui.gc_guard import GuiThreadCollector
    from stsdesk.gui.power_features import PowerFeatures
    from stsdesk.gui.serving import ServingController
    from stsdesk.gui.sso_controller import SsoController
    from stsdesk.gui.startup import ConfigSnapshot
    from stsdesk.gui.tray import TrayController
    from stsdesk.gui.tray_adapter import ControllerTrayApp

SELF_TEST_PROFILE = "dev-readonly"
MfaHint = Callable[[str], "str | None"]  # the demo's "current code" aid for an MFA device, by serial


# GuiApp and Launch are plain classes, not dataclasses: @dataclass writes and compiles their methods' source at
# import, ~1 ms each before the first paint (issue 17); nothing compares or prints them.


class GuiApp:
    """Everything the running app is made of (tests drive it through this)."""

    def __init__(
        self, window: MainWindow, controller: Controller, model: ProfileTreeModel, countdown: Countdown,
        config_dir: Path,
    ) -> None:  # fmt: skip
        self.window = window
        self.controller = controller
        self.model = model
        self.countdown = countdown
        self.config_dir = config_dir
        self.demo: DemoSession | None = None
        self.closers: list[Callable[[], object]] = []  # run on quit (flush, close clients)
        self.tray: TrayController | None = None  # once started
        self.tray_app: ControllerTrayApp | None = None
        self.bridge: BridgeHost | None = None
        self.bridge_label: QLabel | None = None
        self.sso: SsoController | None = None  # Identity Center sign-in sessions in the tree (gui/sso_controller.py)
        self.serving: ServingController | None = None  # credential servers of profiles (gui/serving.py)
        self.power: PowerFeatures | None = None  # by-account view, account colours, region picker, MFA extras


_APP_ICON: list[QIcon] = []  # the one app icon, once made (main and build_window both set it)


def app_icon() -> QIcon:
    """The application icon from resources/app/stsdesk-<size>.png (empty when the files are missing)."""
    if not _APP_ICON:
        icon = QIcon()
        for png in sorted((resources_dir() / "app").glob("stsdesk-*.png")):
            icon.addFile(str(png))
        _APP_ICON.append(icon)
    return QIcon(_APP_ICON[0])


def build_window(
    config_dir: Path, demo_hint: MfaHint | None = None, aliases: dict[str, str] | None = None, power: bool = True
) -> GuiApp:
    """Build the window, model, controller and countdown (nothing heavy: no botocore, no profiles); with
    ``power``, the power features too (else the caller installs them: ``install_power``)."""
    from stsdesk.gui.controller import Controller

    settings = open_settings(config_dir)
    prefs = load_preferences(settings)
    icons = IconCache()
    window = MainWindow(icons)
    window.setWindowIcon(app_icon())
    model = ProfileTreeModel(icons, parent=window)
    proxy = ProfileFilterProxy(window)
    proxy.setSourceModel(model)
    reporter = ErrorReporter(window.show_message)
    prompter = MfaPrompter(window, demo_hint)
    controller = Controller(window, model, proxy, settings, prefs, prompter, reporter, config_dir, aliases)
    controller.set_column_widths()
    controller.restore_state()
    countdown = Countdown(model.tick, model.sessions, parent=window)
    countdown.soonest_changed.connect(window.expiry_label.setText)
    countdown.ticked.connect(controller.announce_expiries)  # State and time left agree at expiry
    gui = GuiApp(window, controller, model, countdown, config_dir)
    if power:
        install_power(gui)
    return gui


def install_power(gui: GuiApp) -> None:
    """Add the power features (By account view, account colours, region picker, MFA extras) to the window;
    the app does it once the profiles are on screen (their imports cost ~12 ms before the first paint)."""
    from stsdesk.gui.power_features import install

    gui.power = install(gui)


def load_engine(gui: GuiApp, secrets: SecretStore | None = None, snapshot: ConfigSnapshot | None = None) -> None:
    """Read the AWS config (or reuse ``snapshot``'s tree if the files are unchanged) and build the broker
    (imports botocore; call after the first paint)."""
    from stsdesk.core.broker import Broker
    from stsdesk.core.cache import SessionCache
    from stsdesk.core.errors import ConfigError
    from stsdesk.core.paths import keyring_namespace
    from stsdesk.core.profiles import aws_config_paths, build_tree, load_profiles
    from stsdesk.core.secrets import SecretStore, service_name
    from stsdesk.core.sts import StsClient

    if secrets is None:
        secrets = SecretStore(service_name(keyring_namespace(gui.config_dir)))
    tree = snapshot.current() if snapshot is not None else None
    if tree is None:
        try:
            tree = load_profiles()
        except ConfigError as exc:
            config, credentials = aws_config_paths()
            tree = build_tree({}, config, credentials)
            gui.window.show_message(f"Cannot read the AWS config: {exc}", 0)
    sts = StsClient()
    gui.closers.append(sts.close)
    # The same cache directory as the CLI's, so `stsdesk list` and credential-process see the GUI's sessions.
    cache = SessionCache(gui.config_dir, secrets)
    gui.closers.append(cache.flush)  # on quit: sessions still being written reach the index and keyring
    broker = Broker(tree, sts, cache, secrets, default_region=gui.controller.prefs.default_region)
    # The tree is shown once, by install_sso (with its sign-in sessions): a reset of 5,000 rows costs ~40 ms.
    gui.controller.attach(broker, secrets, show=False)
    from stsdesk.gui.serving import install as install_serving
    from stsdesk.gui.sso_controller import install as install_sso

    if install_sso(gui) is None:  # Identity Center off (a bad setting): the tree without its sessions
        gui.controller.show_tree()
    install_serving(gui)


def start_tray(gui: GuiApp, quit_requested: Callable[[], None]) -> bool:
    """Create the tray (icon, reminders at the Settings thresholds, auto-refresh, quick actions) over the
    controller and start it. Returns whether the window must stay visible: True when there is no tray."""
    from stsdesk.gui.tray import TrayController
    from stsdesk.gui.tray_adapter import ControllerTrayApp

    prefs = gui.controller.prefs
    tray_app = ControllerTrayApp(gui.controller, gui.controller.settings, quit_requested)
    tray = TrayController(tray_app, thresholds=[m * 60 for m in prefs.reminder_minutes],
                          keep_in_tray=prefs.keep_in_tray, parent=gui.controller)
    tray_app.attach_tray(tray)
    tray.attach_window(gui.window)
    tray.follow(gui.countdown.ticked)
    gui.tray, gui.tray_app = tray, tray_app
    if gui.power is not None:
        gui.power.attach_tray(tray)  # account colours and labels in its menu
    return tray.start()


async def start_bridge(gui: GuiApp, on_request: Callable[[str], None] | None = None) -> bool:
    """Serve terminals from this window's broker; the status bar says whether it runs; ``on_request`` is
    told of each terminal request too. Never raises for the expected failures (another window serves this
    config dir, unsafe directory): the GUI works without the bridge."""
    from stsdesk.gui.bridge_host import BridgeHost

    def requested(profile: str) -> None:
        gui.window.show_message(f"A terminal asked for {profile}", 5000)
        if on_request is not None:
            on_request(profile)

    broker = gui.controller.broker
    if broker is None:  # load_engine runs first; without a broker there is nothing to serve
        return False
    # As after the window's own requests: close an MFA dialog whose code was accepted.
    bridge = BridgeHost(broker, gui.config_dir, on_request=requested,
                        on_settle=gui.controller.prompter.settle)
    gui.bridge = bridge
    if gui.sso is not None:  # a terminal that needs an Identity Center sign-in gets the window's
        bridge.sign_in = gui.sso.sign_in_for
    running = await bridge.start()
    label = QLabel("terminal bridge on" if running else "terminal bridge off")
    label.setObjectName("bridge-status")
    label.setToolTip(f"Terminals with STSDESK_CONFIG_DIR={gui.config_dir} get credentials from this window"
                     if running else bridge.status)
    gui.window.statusBar().addPermanentWidget(label)
    gui.bridge_label = label
    return running


async def stop_tray_and_bridge(gui: GuiApp) -> None:
    """Undo start_tray and start_bridge (each only if it was started); safe to call twice."""
    if gui.tray_app is not None:
        gui.tray_app.cancel_pending()
    if gui.tray is not None:
        gui.tray.stop()
    if gui.bridge is not None:
        await gui.bridge.close()
    if gui.serving is not None:
        await gui.serving.close()


class Launch:
    """What run() has built before the asyncio loop exists: the window on screen, the config files' profiles in
    its tree (painted), and what the rest of the startup (serve) goes on with."""

    def __init__(
        self, args: argparse.Namespace, gui: GuiApp, work_dir: Path, hint_box: dict[str, DemoSession],
        collector: GuiThreadCollector,
    ) -> None:  # fmt: skip
        self.args = args
        self.gui = gui
        self.work_dir = work_dir
        self.hint_box = hint_box  # the demo session, once started (the MFA hint reads it)
        self.collector = collector  # from serve on, boto3 runs on executor threads: collect on this one only
        self.port = 0  # the demo emulator's reserved loopback port
        self.snapshot: ConfigSnapshot | None = None
        self.quit_requested = False  # Quit, the last window closed or SIGTERM, maybe before serve could act on it
        self.on_quit: Callable[[], None] | None = None  # serve's: ends the app
        self.restore_sigterm: Callable[[], None] | None = None  # puts back the SIGTERM handler from before ours

    def request_quit(self) -> None:
        self.quit_requested = True
        if self.on_quit is not None:
            self.on_quit()

    def close(self) -> None:
        """The end of the cleanup on quit, after the tray and the bridge have stopped (safe to call twice)."""
        gui = self.gui
        gui.countdown.stop()
        gui.controller.reporter.uninstall()
        for close in gui.closers:
            close()
        if gui.demo is not None:
            gui.demo.stop()
        self.collector.stop()
        if self.restore_sigterm is not None:
            self.restore_sigterm()
            self.restore_sigterm = None


def run(args: argparse.Namespace, gui_factory: Callable[..., GuiApp] = build_window) -> int:
    """The app: the window and the config files' profiles are shown and painted from a plain Qt event loop
    (issue 17: asyncio and qasync cost ~80 ms of imports); then the rest runs as a coroutine on a qasync loop
    (serve). Returns the exit status."""
    launch = show_window(args, gui_factory)
    if launch is None:  # --exit-after-first-paint
        return 0
    try:
        show_profiles(launch)
        open_log_file()  # the log file after the rows are painted (setup_logging kept the records until now)
        import asyncio

        import qasync

        # asyncio.Runner: Python 3.11's asyncio.run has no loop_factory yet (3.12 added it).
        runner = asyncio.Runner(loop_factory=qasync.QEventLoop)
    except BaseException:
        launch.gui.controller.save_state()
        launch.close()
        raise
    with runner:
        return runner.run(serve(launch))


def show_window(args: argparse.Namespace, gui_factory: Callable[..., GuiApp] = build_window) -> Launch | None:
    """Build the window and show it; return once it has painted (a plain Qt event loop, no asyncio). None with
    --exit-after-first-paint, else what show_profiles and serve go on with."""
    from stsdesk.core.paths import config_dir as resolve_config_dir
    from stsdesk.gui.startup import first_paint

    base = resolve_config_dir(args.config_dir)
    if args.demo:
        if args.config_dir:
            directory = base / "demo"
        else:
            from stsdesk.demo import demo_directory  # tempfile only here: a few ms before the first paint

            directory = demo_directory()  # private, removed at exit
        from stsdesk.core.paths import ensure_private_directory

        ensure_private_directory(directory, what="the demo", tighten=True)  # 0700; an older loose one tightened
        work_dir = directory
    else:
        work_dir = base
    setup_logging(base, defer=True)  # opened once the rows are painted (open_log_file)
    hint_box: dict[str, DemoSession] = {}

    def hint(serial: str) -> str | None:
        session = hint_box.get("demo")
        return session.mfa_hint(serial) if session is not None else None

    gui: GuiApp = gui_factory(work_dir, hint if args.demo else None, {}, False)  # power features: after the paint
    gui.controller.reporter.install()  # sys.excepthook now; the loop's handler once serve runs
    first_paint(gui.window)
    if args.exit_after_first_paint:
        return None
    from stsdesk.gui.gc_guard import GuiThreadCollector

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    launch = Launch(args, gui, work_dir, hint_box, GuiThreadCollector(app))
    # SIGTERM (logout, systemd, kill) quits like Quit does: serve's cleanup removes the bridge socket and secret
    # and flushes the write-behind cache, and the clipboard hook clears our secret at exit. Until serve's loop
    # handles it, a plain handler keeps it for serve to act on as soon as it runs.
    import signal

    with contextlib.suppress(ValueError):  # not the main thread
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: launch.request_quit())

        def restore() -> None:
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signal.SIGTERM, previous)

        launch.restore_sigterm = restore
    # Hiding the window into the tray must not end the app: only a real last close (no tray, or not kept
    # in the tray) or Quit from the tray does.
    app.lastWindowClosed.connect(lambda: launch.request_quit() if app.quitOnLastWindowClosed() else None)
    gui.window.quit_action.triggered.connect(launch.request_quit)  # File > Quit (Ctrl+Q): as the tray's Quit
    launch.collector.start()
    return launch


def show_profiles(launch: Launch) -> None:
    """Show the profiles of the config files (with --demo: the demo's, written now) and let them paint (a plain
    Qt event loop, at most 0.25 s: a window hidden in the tray never paints)."""
    from stsdesk.gui.startup import rows_painted, show_config_profiles

    gui = launch.gui
    if launch.args.demo:
        from stsdesk.demo import DEMO_ACCOUNT_ALIASES, loopback_endpoint, reserve_loopback_port, use_demo_files
        from stsdesk.demo import write_demo_files as write_demo_config

        gui.controller.aliases = dict(DEMO_ACCOUNT_ALIASES)  # read when the tree is first shown
        # Its profiles are shown before the emulator is imported: the config names a port reserved now.
        launch.port = reserve_loopback_port()
        endpoint = loopback_endpoint(launch.port)
        use_demo_files(*write_demo_config(launch.work_dir, endpoint, token=False), endpoint)
    # The profiles from the config files first (what the user came for); the engine and the rest after.
    launch.snapshot = show_config_profiles(gui)
    rows_painted(gui)


async def serve(launch: Launch) -> int:
    """The rest of the startup on the qasync loop (power features, the demo emulator, the engine, the tray, the
    bridge), then the app runs until Quit, the last window closed or SIGTERM; returns the exit status."""
    import asyncio
    import signal

    from stsdesk.gui.startup import tree_painted

    args, gui, work_dir = launch.args, launch.gui, launch.work_dir
    loop = asyncio.get_running_loop()
    closed: asyncio.Future[None] = loop.create_future()

    def finish() -> None:
        if not closed.done():
            closed.set_result(None)

    launch.on_quit = finish
    try:
        gui.controller.reporter.uninstall()
        gui.controller.reporter.install(loop)  # sys.excepthook and the loop's exception handler
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # no Unix signals (Windows)
            loop.add_signal_handler(signal.SIGTERM, finish)
        if launch.quit_requested:  # before this loop ran
            finish()
        if gui.power is None:
            install_power(gui)
        secrets = None
        if args.demo:
            from stsdesk.gui.demo_session import start_demo

            gui.window.show_message("Starting the demo STS emulator…", 0)
            demo = await loop.run_in_executor(None, start_demo, work_dir, None, launch.port)
            launch.hint_box["demo"] = demo
            gui.demo = demo
            secrets = demo.secrets
            gui.window.setWindowTitle(f"stsdesk — demo ({demo.world.endpoint})")
        load_engine(gui, secrets, launch.snapshot)
        await tree_painted(gui)  # the sessions and errors on screen before the collector, tray and bridge
        launch.collector.freeze()  # botocore's models, the profile tree: long-lived, no need to scan them again
        gui.countdown.start()
        if start_tray(gui, finish):
            gui.window.show()
        await start_bridge(gui)
        if args.self_test:
            return await self_test(gui)
        gui.window.show_message("Ready", 3000)
        await closed
        return 0
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGTERM)
        gui.controller.save_state()
        await stop_tray_and_bridge(gui)
        launch.close()


async def self_test(gui: GuiApp) -> int:
    """Assume the demo's no-MFA role through the controller; print the verdict, return the exit status."""
    if not gui.controller.select(SELF_TEST_PROFILE):
        print(f"self-test failed: profile {SELF_TEST_PROFILE} is not in the tree")
        return 1
    creds = await gui.controller.assume(SELF_TEST_PROFILE)
    if creds is None:
        print(f"self-test failed: {gui.model.error(SELF_TEST_PROFILE) or 'no credentials'}")
        return 1
    if gui.model.expiry(SELF_TEST_PROFILE) is None:
        print("self-test failed: the tree shows no session after assuming")
        return 1
    print("self-test ok")
    return 0


def main(args: argparse.Namespace) -> int:
    """Run the GUI; ``args`` has demo, exit_after_first_paint, self_test and config_dir. Returns 0/1."""
    if args.self_test and not args.demo:
        print("stsdesk: --self-test needs --demo", file=sys.stderr)
        return 2
    os.environ.setdefault("QT_ENABLE_HIGHDPI_SCALING", "1")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("stsdesk")
    app.setOrganizationName("stsdesk")
    QApplication.setDesktopFileName("stsdesk")  # Wayland/KDE match the window to resources/stsdesk.desktop by this
    QApplication.setWindowIcon(app_icon())
    try:
        return run(args)
    except OSError as exc:
        print(f"stsdesk: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: logged with its traceback (redacted), one line for the user
        log.error("the app stopped", exc_info=exc)  # the "stsdesk.gui" logger
        print(f"stsdesk: {user_message(exc)}", file=sys.stderr)
        return 1
    finally:
        open_log_file()  # if run ended before it opened the file, the records it logged are written now
