"""The codec stands alone: the simulator and the unit tests use it without Django or the project."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_codec_imports_without_django_or_any_project_package():
    probe = (
        "import sys, kotodian.codec, kotodian.names, kotodian.messages, kotodian.errors\n"
        "loaded = {name.split('.')[0] for name in sys.modules}\n"
        "print(sorted(loaded & {'django', 'rest_framework', 'channels', 'core', 'evchong', 'chargers'}))\n"
    )
    # A fresh interpreter: this pytest run has Django loaded already (pytest-django).
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
