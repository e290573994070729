"""A simulated meter samples on its clock: how long the central system takes to answer does not
change how many MeterValues a box offers (the ingest scenario's offered rate)."""

import asyncio

from simulator.ocpp_box import BoxSettings, OcppBox
from simulator.stats import Stats


def test_meter_values_keep_their_interval_however_slow_the_answers():
    async def scenario() -> int:
        box = OcppBox("SIM00001", "SIMTAG00001", BoxSettings(url="ws://unused", meter_interval=0.1),
                      Stats(), asyncio.Event())
        connector = box.connectors[1]
        connector.transaction_id = 1
        sent = []

        async def slow_answer(connector, context="Sample.Periodic"):
            sent.append(asyncio.get_running_loop().time())
            await asyncio.sleep(0.07)  # answered after 70 % of the interval

        box.send_meter_values = slow_answer
        task = asyncio.create_task(box._meter_values(connector))
        await asyncio.sleep(1.05)
        task.cancel()
        return len(sent)

    # One every 0.1 s after a random phase below 0.1 s: 10 or 11 in 1.05 s. Sleeping an interval
    # after each answer would have sent about 6 (one every 0.17 s).
    assert asyncio.run(scenario()) >= 9
