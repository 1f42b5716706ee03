"""Where the report goes: the ``-o`` path checked before the build, then written safely.

* a regular file (or a new one): written to a temp file beside it, then ``os.replace``d, so
  a reader sees the old page or the new one, never half of one; on any failure (permission,
  full disk, file-size limit, Ctrl-C) the temp file is removed and the old page stays;
* a symlink is followed: the file it points to is replaced, the link kept;
* a character device or FIFO (``/dev/null``, ``/dev/stdout``): opened and written through,
  never replaced by a regular file;
* a directory, a path under a regular file, a block device or a socket: refused.

Every failure is an ``OutputError`` whose ``str()`` is one line: the path and the reason.
"""
from __future__ import annotations

import errno
import os
import stat
import tempfile
from dataclasses import dataclass

__all__ = ["OutputError", "Target", "resolve_output", "write_output"]


class OutputError(Exception):
    """The report cannot be written to this path; ``str()`` names the path and the reason."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"cannot write {path}: {problem}")


@dataclass(frozen=True)
class Target:
    """Where the page goes: ``path`` as given, ``real`` the file to replace (every symlink
    resolved) or, for a device or FIFO, the path to open and write through."""
    path: str
    real: str
    through: bool = False


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOTDIR:
        return "a component of the path is not a directory"
    if exc.errno == errno.EFBIG:
        return "file too large (the file-size limit or the file system's)"
    text = exc.strerror or str(exc) or type(exc).__name__
    return text[:1].lower() + text[1:]


def _not_a_directory(path: str) -> str | None:
    """The first existing parent of ``path`` that is not a directory, if any."""
    parent = os.path.dirname(os.path.abspath(path))
    while parent and parent != os.path.dirname(parent):
        if os.path.lexists(parent):
            return None if os.path.isdir(parent) else parent
        parent = os.path.dirname(parent)
    return None


def _parent_problem(real: str) -> str | None:
    """Why the folder of a new file ``real`` cannot hold it, as far as can be told without
    writing: an existing ancestor that is not a directory."""
    bad = _not_a_directory(real)
    return f"{bad} is not a directory" if bad else None


def resolve_output(path: str | os.PathLike[str]) -> Target:
    """Check ``path`` before anything is built and say where the page will go (nothing is
    created here: ``write_output`` makes a new file's missing folders). Raises OutputError."""
    shown = os.fspath(path)
    if not shown:
        raise OutputError("''", "an empty path")
    if shown.endswith(("/", os.sep)):
        raise OutputError(shown, "the path names a directory (give a file name, e.g. "
                                 f"{shown.rstrip('/' + os.sep) or '.'}/report.html)")
    try:
        st = os.stat(shown)  # follows symlinks
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise OutputError(shown, _parent_problem(shown) or
                          "a component of the path is not a directory") from None
    except OSError as exc:
        raise OutputError(shown, _reason(exc)) from None
    if st is not None:
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            raise OutputError(shown, "is a directory (give a file name, e.g. "
                                     f"{os.path.join(shown, 'report.html')})")
        if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
            return Target(shown, shown, through=True)
        if not stat.S_ISREG(mode):
            raise OutputError(shown, "not a regular file, character device or FIFO")
        return Target(shown, os.path.realpath(shown))
    real = os.path.realpath(shown)  # a dangling symlink: the file it names is created
    problem = _parent_problem(real)
    if problem:
        raise OutputError(shown, problem)
    return Target(shown, real)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_output(target: Target, data: bytes) -> None:
    """Write ``data`` to ``target`` (see the module docstring). Raises OutputError."""
    if target.through:
        try:
            # O_NONBLOCK for the open only: a FIFO without a reader fails (ENXIO), no hang
            fd = os.open(target.real, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
            os.set_blocking(fd, True)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        except OSError as exc:
            raise OutputError(target.path, _reason(exc)) from None
        return
    folder, name = os.path.split(target.real)
    tmp: str | None = None
    try:
        try:
            os.makedirs(folder or ".", exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise OutputError(target.path, _parent_problem(target.real) or
                              "a component of the path is not a directory") from None
        try:
            old = os.stat(target.real).st_mode
            mode = stat.S_IMODE(old) if stat.S_ISREG(old) else 0o666 & ~_umask()
        except OSError:
            mode = 0o666 & ~_umask()
        fd, tmp = tempfile.mkstemp(dir=folder or ".", prefix=f".{name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)  # mkstemp makes 0600; keep the old page's mode
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target.real)
        tmp = None
    except OSError as exc:
        raise OutputError(target.path, _reason(exc)) from None
    finally:
        if tmp is not None:  # any failure, Ctrl-C included: nothing left behind
            try:
                os.unlink(tmp)
            except OSError:
                pass
