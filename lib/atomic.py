"""Atomic file writes: temp file in the same folder, fsync, rename. A reader never sees a
half-written file, whatever moment the writer is killed at."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_open(path, mode: str = "wb"):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    # setting the umask is the only way to read it: set, then restore at once
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would surprise a user sharing results
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            # synced before the rename: after a power cut
            # the new name never points at unwritten data
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


@contextmanager
def atomic_directory(path):
    """Yield a temp folder beside ``path``; on success it replaces ``path``, on any failure
    it is removed, so ``path`` is never half-written."""
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            # the one step that is not atomic: a crash here loses the old folder (wholly or
            # partly), but no reader ever sees a half-built new one
            shutil.rmtree(path)
        tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
