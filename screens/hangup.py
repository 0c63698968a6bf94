"""Leaving when the terminal is gone, even when SIGHUP is ignored.

A terminal that closes (a window shut, an SSH link dropped) sends SIGHUP, and the app ends with
it; its runs go on (they are detached). Under `nohup`, or from a shell that ignores SIGHUP, the
signal never comes: the terminal then reads as an endless end-of-file, and Textual's input
thread spins on it, a whole core for as long as the machine is up. A hung-up terminal answers
every ioctl with EIO, so the app asks for the terminal's settings once a second and leaves when
it gets that answer.

The watch is a thread of its own, not a timer on the event loop: when the terminal dies, Textual's
output thread dies on its first failed write, and the event loop then blocks for good on that
thread's full queue, so a timer on the loop would never fire again.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
import time

#: How often the app looks at its terminal (one ioctl each time).
CHECK_EVERY_S = 1.0
#: What a shell reports for a process that SIGHUP ended (128 + 1).
EXIT_STATUS = 128 + signal.SIGHUP


def terminal_fd() -> int | None:
    """The terminal the app reads its keys from, or None when there is none to watch (headless,
    piped, or a platform without termios)."""
    try:
        import termios  # noqa: F401 - not on Windows
    except ImportError:
        return None
    stream = sys.__stdin__
    if stream is None:
        return None
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return None
    return fd if stream.isatty() else None


def hung_up(fd: int) -> bool:
    """True once the terminal on `fd` has been hung up (closed by its other end)."""
    import termios

    try:
        termios.tcgetattr(fd)
    except termios.error as err:
        return bool(err.args) and err.args[0] in (errno.EIO, errno.EBADF, errno.ENXIO)
    return False


def watch(fd: int) -> threading.Thread:
    """Watch the terminal on `fd` from a daemon thread and end the process, as SIGHUP would have,
    once it is hung up: without trying to restore a terminal nobody can see."""

    def look() -> None:
        while not hung_up(fd):
            time.sleep(CHECK_EVERY_S)
        os._exit(EXIT_STATUS)

    watcher = threading.Thread(target=look, name="tlwb-hang-up-watch", daemon=True)
    watcher.start()
    return watcher
