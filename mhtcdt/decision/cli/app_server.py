"""``mhtcdt app``: the Streamlit server with safe settings, ended with everything it started.

Safe by default (the same settings are in ``.streamlit/config.toml`` for ``streamlit run
streamlit_app.py``; a test keeps both equal to :data:`SERVER_OPTIONS`):

* it listens on 127.0.0.1 only (the app has no authentication); ``--address 0.0.0.0`` serves other
  computers and says so;
* no error details in the page (the pages show problems themselves, tracebacks go to the server log),
  no usage statistics, the toolbar without developer options or the Deploy button;
* uploads of at most :data:`MAX_UPLOAD_MB` MB (a scenario file is a few kB; the scenario reader refuses
  more than 1 MB), cross-site request forgery protection on, no file watcher or static file serving.

Streamlit runs in its own process group; SIGTERM, SIGINT and SIGHUP sent to ``mhtcdt app`` are
forwarded to the whole group, so the server, the app's worker process and the forkserver end with it
(after :data:`STOP_GRACE_S` seconds the group is killed). Frame and content-security headers cannot be
set in Streamlit; put a reverse proxy in front of the app to add them when it is exposed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

MAX_UPLOAD_MB = 5
STOP_GRACE_S = 10.0
DEFAULT_ADDRESS = "127.0.0.1"

#: Streamlit configuration of the app (section.option -> value), also in .streamlit/config.toml
SERVER_OPTIONS: dict[str, object] = {
    "server.address": DEFAULT_ADDRESS,
    "server.maxUploadSize": MAX_UPLOAD_MB,
    "server.enableXsrfProtection": True,
    "server.enableCORS": True,
    "server.enableStaticServing": False,
    "server.fileWatcherType": "none",
    "browser.gatherUsageStats": False,
    "client.showErrorDetails": "none",
    "client.toolbarMode": "minimal",
    "global.developmentMode": False,
}

FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _flag(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def streamlit_command(port: int, address: str = DEFAULT_ADDRESS, headless: bool = False) -> list[str]:
    """The ``python -m streamlit run`` command line of the app with :data:`SERVER_OPTIONS`."""
    router = Path(__file__).resolve().parents[2] / "app" / "router.py"
    options = {**SERVER_OPTIONS, "server.address": address, "server.port": port, "server.headless": headless}
    cmd = [sys.executable, "-m", "streamlit", "run", str(router)]
    for name, value in options.items():
        cmd += [f"--{name}", _flag(value)]
    return cmd


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def stop_group(proc: subprocess.Popen, signum: int = signal.SIGTERM, grace_s: float = STOP_GRACE_S) -> None:
    """Send ``signum`` to the server's process group, wait up to ``grace_s`` for every member to end,
    then kill what is left (never called from a signal handler: it waits for the server)."""
    pgid = proc.pid
    _signal_group(pgid, signum)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if proc.poll() is not None and not _group_alive(pgid):
            return
        time.sleep(0.1)
    _signal_group(pgid, signal.SIGKILL)
    proc.wait()


def serve(port: int, address: str = DEFAULT_ADDRESS, headless: bool = False) -> int:
    """Run the app until the server ends or a forwarded signal arrives; returns the exit code
    (128 + the signal's number after a signal)."""
    cmd = streamlit_command(port, address, headless)
    if address not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: serving on {address}: anyone who can reach this computer can use the app "
            "(it has no authentication)",
            file=sys.stderr,
        )
    print(f"starting the app on http://{address}:{port} (Ctrl-C to stop)", flush=True)
    proc = subprocess.Popen(cmd, start_new_session=True)
    received: list[int] = []

    def forward(signum, _frame) -> None:  # only signals: waiting here would deadlock with proc.wait
        received.append(signum)
        _signal_group(proc.pid, signal.SIGTERM)

    previous = {s: signal.signal(s, forward) for s in FORWARDED_SIGNALS}
    try:
        while True:
            try:
                code = proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if received:  # the server was asked to stop: give it the grace period, then kill
                    stop_group(proc, signal.SIGTERM)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        stop_group(proc, signal.SIGTERM)  # what the server left (the app's worker, the forkserver)
    return 128 + received[0] if received else code
