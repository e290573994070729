"""Where `make run`'s FTP server listens and reads its files, recorded while it runs, so that
``manage.py addfirmware`` with no configuration stores images where that server finds them and
prints URLs naming its address (DESIGN.md §3: every manage.py command works with no configuration
against what `make run` started). Read by the settings: nothing here may import Django."""

from __future__ import annotations

import json
import os
from pathlib import Path


def ftp_record_read(path: Path) -> dict:
    """What the running server recorded, or {} when none runs."""
    try:
        record = json.loads(path.read_text())
        os.kill(record["pid"], 0)
    except PermissionError:
        return record  # alive, someone else's
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return record


def ftp_record_write(path: Path, **entries) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps({"pid": os.getpid(), **entries}, indent=2))
    os.replace(partial, path)


def ftp_record_remove(path: Path) -> None:
    if ftp_record_read(path).get("pid") == os.getpid():
        path.unlink(missing_ok=True)
