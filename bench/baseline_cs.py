"""The comparison baseline: a minimal OCPP 1.6J central system built from the `ocpp` library
(mobilityhouse) and a `websockets` server alone, in one process, persisting nothing.

It answers what the bench's scenarios send (BootNotification, Heartbeat, StatusNotification,
MeterValues, and Authorize / StartTransaction / StopTransaction for sessions) with the library's
own schema validation, so its figures are the cost of the protocol, not of a domain or a database.

``python bench/baseline_cs.py --port 9000``
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import resource
import signal
from datetime import UTC, datetime

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus
from websockets.asyncio.server import serve

transaction_ids = itertools.count(1)


def now() -> str:
    return datetime.now(UTC).isoformat()


class Box(ChargePoint):
    @on(Action.boot_notification)
    async def on_boot_notification(self, charge_point_vendor, charge_point_model, **kwargs):
        return call_result.BootNotification(current_time=now(), interval=300, status=RegistrationStatus.accepted)

    @on(Action.heartbeat)
    async def on_heartbeat(self):
        return call_result.Heartbeat(current_time=now())

    @on(Action.status_notification)
    async def on_status_notification(self, connector_id, error_code, status, **kwargs):
        return call_result.StatusNotification()

    @on(Action.meter_values)
    async def on_meter_values(self, connector_id, meter_value, **kwargs):
        return call_result.MeterValues()

    @on(Action.authorize)
    async def on_authorize(self, id_tag):
        return call_result.Authorize(id_tag_info=IdTagInfo(status=AuthorizationStatus.accepted))

    @on(Action.start_transaction)
    async def on_start_transaction(self, connector_id, id_tag, meter_start, timestamp, **kwargs):
        return call_result.StartTransaction(
            transaction_id=next(transaction_ids), id_tag_info=IdTagInfo(status=AuthorizationStatus.accepted))

    @on(Action.stop_transaction)
    async def on_stop_transaction(self, meter_stop, timestamp, transaction_id, **kwargs):
        return call_result.StopTransaction()


async def handle(connection) -> None:
    if connection.subprotocol != "ocpp1.6":
        await connection.close(1002)
        return
    box = Box(connection.request.path.rstrip("/").rsplit("/", 1)[-1], connection)
    try:
        await box.start()
    except Exception:  # the box went away: nothing to keep
        pass


async def main(port: int) -> None:
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    # The same server pings as the system's daphne gets from `make run`.
    async with serve(handle, "127.0.0.1", port, subprotocols=["ocpp1.6"], ping_interval=30, ping_timeout=60):
        print(f"baseline listening on 127.0.0.1:{port}", flush=True)
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(args.port))
