"""commands.tasks sends a message's commands to their boxes side by side, each box's in the order
issued (OCPP-J allows one call at a time; a box's calls must reach it as they were issued)."""

import asyncio
from datetime import datetime, timezone
from types import SimpleNamespace

from ocpp16 import delivery


class Layer:
    def __init__(self):
        self.started, self.in_flight, self.most_in_flight = [], 0, 0

    async def group_send(self, group, message):
        self.started.append((group, message["command_id"]))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        if message["command_id"] == 4:
            raise ConnectionError("Redis went away")


def command(pk, serial):
    return SimpleNamespace(pk=pk, box=SimpleNamespace(serial=serial), action="ClearCache", payload={},
                           created=datetime.now(timezone.utc))


def test_boxes_side_by_side_each_box_in_order(monkeypatch):
    layer = Layer()
    monkeypatch.setattr(delivery, "get_channel_layer", lambda: layer)
    commands = [command(1, "A"), command(2, "B"), command(3, "A"), command(4, "C"), command(5, "A"), command(6, "B")]
    unsent = asyncio.run(delivery.commands_deliver(commands))
    assert unsent == [4]  # one that could not be sent fails alone
    assert [pk for group, pk in layer.started if group.endswith(".A")] == [1, 3, 5]
    assert [pk for group, pk in layer.started if group.endswith(".B")] == [2, 6]
    assert layer.most_in_flight == 3  # the three boxes at once, never two of one box
