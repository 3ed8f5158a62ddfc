"""A throwaway PostgreSQL server for the tests: a cluster made with initdb in a
temporary directory, listening on a free port on 127.0.0.1, removed at the end.

The tests that need PostgreSQL take the `postgres_server` fixture (one server per
test session) or `postgres_url` (a fresh, empty database on it per test). Nothing
is mocked and nothing is skipped: without the server programs the fixture fails
and says how to install them (`.ci/run` installs Debian's `postgresql` package).

A developer runs the same tests with one command, `pytest`; to keep a server for
poking at by hand, `python -m tests.postgres_server` starts one and prints its URL.

initdb refuses to run as root (CI runs as root): then the cluster belongs to the
`postgres` user (made by Debian's package) or `nobody`, and the server programs
run as that user through `runuser`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

#: The role the tests connect as; it owns every database it creates.
USER = "assetflow"
INSTALL_HINT = (
    "The PostgreSQL tests start a throwaway server with initdb and pg_ctl, which were not "
    "found. Install the server programs (Debian: `apt-get install postgresql`; .ci/run does "
    "this) or put their directory on PATH."
)


def server_programs() -> Path:
    """The directory holding initdb and pg_ctl: on PATH, else Debian's newest version.

    Raises:
        RuntimeError: PostgreSQL's server programs are not installed.
    """
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if versions:
        return Path(versions[-1]).parent
    raise RuntimeError(INSTALL_HINT)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _owner() -> str | None:
    """The user the server runs as when this process is root; None otherwise."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError(
        "running as root, and there is no `postgres` or `nobody` user "
        "to run the test PostgreSQL server as"
    )


@dataclass
class PostgresServer:
    """One running throwaway cluster."""

    directory: Path
    port: int
    password: str
    bin_dir: Path
    owner: str | None
    _databases: int = field(default=0)

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_file(self) -> Path:
        return self.directory / "server.log"

    def url(self, database: str = "postgres", *, password: str | None = None) -> str:
        """The URL of ``database`` on this server, with the tests' user and password."""
        secret = self.password if password is None else password
        return f"postgresql://{USER}:{secret}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "test") -> str:
        """A new, empty database; its name."""
        import psycopg

        self._databases += 1
        name = f"{prefix}_{os.getpid()}_{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending any session still connected to it."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory."""
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if self.owner is not None:
            command = ["runuser", "-u", self.owner, "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True, cwd=self.directory)


def start_server(base: Path | None = None) -> PostgresServer:
    """initdb a cluster in a new temporary directory and start it on a free port.

    Raises:
        RuntimeError: The server programs are missing, or the server did not start
            (the message holds initdb's or the server log's last lines).
    """
    bin_dir = server_programs()
    owner = _owner()
    directory = Path(tempfile.mkdtemp(prefix="assetflow-pg-", dir=base))
    password = secrets.token_hex(12)
    server = PostgresServer(directory, free_port(), password, bin_dir, owner)
    password_file = directory / "password"
    password_file.write_text(password + "\n")
    if owner is not None:
        entry = pwd.getpwnam(owner)
        for path in (directory, password_file):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        directory.chmod(0o700)
    try:
        server._run(
            "initdb",
            "-D",
            str(server.data_dir),
            "-U",
            USER,
            "--pwfile",
            str(password_file),
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = " ".join(
            (
                f"-p {server.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={directory}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
                "-c shared_buffers=64MB",
            )
        )
        server._run(
            "pg_ctl",
            "-D",
            str(server.data_dir),
            "-l",
            str(server.log_file),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
    except subprocess.CalledProcessError as error:
        log = server.log_file.read_text(errors="replace") if server.log_file.exists() else ""
        server.stop()
        raise RuntimeError(
            "the test PostgreSQL server did not start: "
            f"{error.stderr or error.stdout}\n{log[-2000:]}"
        ) from error
    _wait_until_ready(server)
    return server


def _wait_until_ready(server: PostgresServer, within_s: float = 30.0) -> None:
    import psycopg

    until = time.monotonic() + within_s
    while True:
        try:
            with psycopg.connect(server.url(), connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > until:
                raise
            time.sleep(0.1)


if __name__ == "__main__":
    started = start_server()
    print(f"PostgreSQL is up: {started.url()}\n(Ctrl-C stops it and removes {started.directory})")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        started.stop()
