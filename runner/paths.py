"""Which files Nudge reads: only those inside the repository, whatever a symbolic link says.

A repository is reviewed through pull requests; a link in it to `/etc/passwd` or `~/.ssh` would
put a file no reviewer sees into a message, a letter or the log. Links that stay inside are read
as the files they point to; links that leave are refused with a sentence, never followed.
"""

from __future__ import annotations

import os
from pathlib import Path

OUTSIDE = (
    "a symbolic link to something outside the repository: Nudge reads only files inside it "
    "(copy the file in instead)"
)
NOWHERE = "a symbolic link that leads nowhere (its target is gone, or it points to itself)"


def is_inside(root: str | Path, path: str | Path) -> bool:
    """Whether `path`, with every link in it followed, is within `root`."""
    base = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def relative(root: str | Path, path: str | Path) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")
