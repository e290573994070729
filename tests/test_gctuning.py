"""A server process's garbage collector (core.gctuning), checked in fresh interpreters: what
the application's import leaves set, and that cycles are still collected without being asked."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LOAD_THE_SERVER = """
import gc, json, os, weakref
os.environ["DJANGO_SETTINGS_MODULE"] = "evchong.settings"
import evchong.asgi  # what daphne and uvicorn import

class Node:
    pass

# A cycle nobody refers to: only the collector can free it.
a, b = Node(), Node()
a.other, b.other = b, a
gone = weakref.ref(a)
del a, b
# Net allocations past the young threshold, as serving frames makes them: no gc.collect() here.
kept = [[] for _ in range(gc.get_threshold()[0] * 2)]
print(json.dumps({"threshold": gc.get_threshold(), "frozen": gc.get_freeze_count(),
                  "cycle_collected": gone() is None}))
"""


def load_the_server(**env) -> dict:
    done = subprocess.run([sys.executable, "-c", LOAD_THE_SERVER], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_server_collects_young_objects_less_often_and_freezes_what_it_loaded():
    found = load_the_server()
    assert found["threshold"] == [10000, 10, 10]
    assert found["frozen"] > 10000  # Django, the apps and the libraries
    assert found["cycle_collected"]


def test_the_threshold_is_a_setting_and_zero_keeps_cpythons_defaults():
    assert load_the_server(GC_YOUNG_THRESHOLD="2500")["threshold"] == [2500, 10, 10]
    found = load_the_server(GC_YOUNG_THRESHOLD="0")
    assert found["threshold"] == [700, 10, 10] and found["frozen"] == 0
    assert found["cycle_collected"]
