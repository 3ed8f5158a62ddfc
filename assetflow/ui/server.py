"""Starting the UI: which address it may bind, with which token, and serving it.

The checks run before uvicorn starts, so that a wrong address, a missing token or
a port in use ends the command with one clear message (exit 2), never a
traceback. The listening socket is bound here and handed to uvicorn: the port
checked is the port served, and a browser opened at once waits in the socket's
queue instead of finding nothing.
"""

from __future__ import annotations

import contextlib
import errno
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assetflow.errors import UsageError

if TYPE_CHECKING:
    from assetflow.project import Project

#: The environment variable holding the token a non-loopback server asks for.
TOKEN_ENV = "ASSETFLOW_UI_TOKEN"
#: The shortest token accepted: shorter ones can be guessed.
MIN_TOKEN_LENGTH = 16
#: The addresses that only this machine can reach.
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
#: How to make a token, as the messages say it.
MAKE_TOKEN = "ASSETFLOW_UI_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"


@dataclass(frozen=True)
class Address:
    """Where the UI listens, and the URL that reaches it."""

    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def ui_token(host: str, environ: Mapping[str, str]) -> str | None:
    """The token the server asks for: ASSETFLOW_UI_TOKEN, required beyond loopback.

    A token set in the environment is asked for on 127.0.0.1 too.

    Raises:
        UsageError: `host` is not a loopback address and no token is set, or the
            token is too short.
    """
    token = environ.get(TOKEN_ENV) or None
    if token is None:
        if host in LOOPBACK:
            return None
        raise UsageError(
            f"--host {host} lets other machines reach the UI, so it asks for a token, and "
            f"{TOKEN_ENV} is not set.",
            hint=(
                f"Set a long random token and start again, e.g.\n\n"
                f"    {MAKE_TOKEN} assetflow ui --host {host}\n\n"
                "Browsers then log in with it once (a form); scripts send it as "
                "`Authorization: Bearer <token>`. Or leave out --host to serve on 127.0.0.1 "
                "only."
            ),
        )
    if len(token) < MIN_TOKEN_LENGTH:
        raise UsageError(
            f"{TOKEN_ENV} is {len(token)} characters long; the UI asks for at least "
            f"{MIN_TOKEN_LENGTH}, since a short token can be guessed.",
            hint=f"Make a long random one, e.g.\n\n    {MAKE_TOKEN} assetflow ui --host {host}",
        )
    return token


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to `host`:`port` and listening.

    Raises:
        UsageError: The port is in use, needs privileges, or the host is not an
            address of this machine.
    """
    if not 0 < port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, not {port}.")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise UsageError(
            f"--host {host} is not an address this machine can serve on ({error.strerror}).",
            hint="Use 127.0.0.1 (the default), ::1, or one of this machine's addresses.",
        ) from None
    family, kind, protocol, _, where = infos[0]
    sock = socket.socket(family, kind, protocol)
    try:
        # As uvicorn does: a port left in TIME_WAIT by a server just stopped is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(where)
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise _bind_error(host, port, error) from None
    sock.set_inheritable(True)
    return sock


def _bind_error(host: str, port: int, error: OSError) -> UsageError:
    if error.errno == errno.EADDRINUSE:
        return UsageError(
            f"port {port} on {host} is in use (by another program); use --port, "
            f"e.g. --port {port + 1 if port < 65535 else 3000}."
        )
    if error.errno == errno.EACCES:
        return UsageError(
            f"port {port} on {host} needs privileges this process does not have; use --port "
            "with a port above 1023, e.g. --port 3000."
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return UsageError(
            f"--host {host} is not an address of this machine ({error.strerror}).",
            hint="Use 127.0.0.1 (the default), ::1, or one of this machine's addresses.",
        )
    return UsageError(f"cannot listen on port {port} of {host}: {error.strerror}.")


def check_store(project: Project) -> None:
    """Open the project's store once, as every page will: a store written by a newer
    assetflow (or otherwise unusable) is said at start, as the CLI says it."""
    from assetflow.services.stores import project_store

    with project_store(project, reading=True):
        pass


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt (as Ctrl-C does) while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve(
    project: Project,
    host: str,
    port: int,
    *,
    environ: Mapping[str, str],
    echo: Callable[[str], None],
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Serve the UI of `project` until Ctrl-C or SIGTERM; then return (exit 0).

    `echo` says where it serves; `on_listening(url)` runs once the socket listens
    (the `--open` of the command opens the browser there).

    Raises:
        UsageError: The host, the token or the port do not do (see `ui_token`, `listen`).
        StoreError: The store cannot be read (written by a newer assetflow).
    """
    import uvicorn

    from assetflow.ui.app import create_app
    from assetflow.ui.state import UiState

    token = ui_token(host, environ)
    check_store(project)
    sock = listen(host, port)
    address = Address(host, port)
    try:
        app = create_app(UiState(project=project, token=token))
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", access_log=False, server_header=False
        )
        server = uvicorn.Server(config)
        echo(f"Serving {project.root.name} at {address.url} (Ctrl-C stops)")
        if on_listening is not None:
            on_listening(address.url)
        # uvicorn stops cleanly on Ctrl-C or SIGTERM, then raises the signal again for
        # whoever called it: here, stopping is what was asked, not an interruption.
        with _terminate_as_interrupt(), contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
        _stop_launched(app, echo)
    finally:
        sock.close()


def _stop_launched(app: object, echo: Callable[[str], None]) -> None:
    """Cancel the runs this server launched that still go (the same clean cancellation
    as Ctrl-C), so that stopping the server leaves no run behind it."""
    from assetflow.ui.launching import STOP_WAIT_S, Launcher

    launcher = getattr(getattr(app, "state", None), "launcher", None)
    if not isinstance(launcher, Launcher) or not launcher.going():
        return
    going = launcher.going()
    ids = ", ".join(run_id[:8] for run_id in going)
    echo(f"Cancelling {len(going)} run(s) launched from the UI: {ids}")
    with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C stops waiting
        left = launcher.stop()
        if left:
            ids = ", ".join(run_id[:8] for run_id in left)
            echo(f"Still going after {STOP_WAIT_S:g} s: {ids} (`assetflow runs` shows them).")
