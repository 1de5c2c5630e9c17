"""Where rehabtrack keeps its files: the data directory.

The data directory holds the embedded store (``rehabtrack.sqlite``), the kept
originals of uploads, the users file, the pseudonym key and a clinic's settings
file (``rehabtrack.toml``). It is ``REHABTRACK_DATA_DIR`` when set, else ``./var``.
This module only names it; nothing here creates or reads a file.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_DIR_ENV", "data_dir"]

#: Environment variable naming the data directory (default ``./var``).
DATA_DIR_ENV = "REHABTRACK_DATA_DIR"


def data_dir() -> Path:
    """The data directory: ``REHABTRACK_DATA_DIR`` or ``./var``, as an absolute path (not created here).

    Returns
    -------
    pathlib.Path
        The directory, resolved against the current working directory.

    See Also
    --------
    analysis.store.Store.open : Opens the store in it.
    analysis.accounts.users_file : The users file in it.
    analysis.settings.clinic_settings : The clinic's settings file in it.
    """
    return Path(os.environ.get(DATA_DIR_ENV) or "var").expanduser().resolve()
