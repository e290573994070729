"""Fixtures for the simulator's tests: a runner for simulated boxes, and the boxes provisioned."""

import pytest
from boxrunner import BoxRunner


@pytest.fixture
def runner(live_server_url, transactional_db):
    boxes = BoxRunner(live_server_url)
    yield boxes
    boxes.close()


@pytest.fixture
def provisioned(make_box, make_tag):
    """SIM00001..SIM00003 with two connectors and their tags, as the simulator names them."""
    for n in range(1, 4):
        make_box(f"SIM{n:05d}", connectors=2)
        make_tag(f"SIMTAG{n:05d}")
