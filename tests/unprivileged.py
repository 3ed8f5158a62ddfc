"""Part of a test run as a user without privileges, when the suite runs as root.

Root ignores file modes and may signal any process, so a test of what a user who
cannot write a directory (or signal a process) is told would prove nothing as root,
which is how CI runs the suite. `unprivileged(fn)` runs `fn` in a forked child that
first drops to the `nobody` user, and returns what `fn` returned; not as root, it just
calls `fn`.

The child does not exec: it keeps the modules this process has imported, so it needs
no access to the interpreter's files (which may sit under root's home). A test imports
what `fn` would import lazily by doing the same thing once before, as itself.
"""

from __future__ import annotations

import os
import pickle
import pwd
import shutil
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

_T = TypeVar("_T")

#: The user the child becomes: present on every Debian system, owns nothing.
UNPRIVILEGED_USER = "nobody"


def unprivileged(fn: Callable[[], _T]) -> _T:
    """What `fn()` returns when called by a user without privileges (see the module).

    Raises:
        AssertionError: `fn` raised in the child (with its traceback), or the child died.
    """
    if os.geteuid() != 0:
        return fn()
    user = pwd.getpwnam(UNPRIVILEGED_USER)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges, call, send back, exit without cleanup
        code = 0
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            try:
                payload: tuple[str, object] = ("returned", fn())
            except BaseException:
                payload = ("raised", traceback.format_exc())
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(pickle.dumps(payload))
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        raise AssertionError(
            f"the child running as {UNPRIVILEGED_USER} sent nothing back "
            f"(exit status {os.waitstatus_to_exitcode(status)})"
        )
    kind, value = pickle.loads(data)
    if kind == "raised":
        raise AssertionError(f"as {UNPRIVILEGED_USER}, the call raised:\n{value}")
    return value  # type: ignore[return-value]


@contextmanager
def reachable_directory() -> Iterator[Path]:
    """A new directory under the system's temporary directory that the unprivileged
    user can reach and read but not write (pytest's tmp_path sits in a directory only
    its owner may enter); removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="assetflow-unprivileged-"))
    try:
        path.chmod(0o755)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
