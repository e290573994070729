"""A charge-box simulator for load tests and demonstrations: thousands of boxes in one process,
speaking OCPP 1.6J over WebSocket or the EVCHONG forward REST API to any central system.

It is a client and imports nothing from the server: ``python -m simulator --help``.
"""
