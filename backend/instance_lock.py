"""An inter-process lock on a file in the instance folder.

Development generates throw-away secrets and keys into ``instance/`` on first use. Several
gunicorn workers start at once, and without a lock each generates its own: one worker then
reads another's half-written key file, or signs with a key the others do not know.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def instance_lock(folder: str | Path, name: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder/.<name>.lock`` (created if needed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f".{name}.lock", "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
