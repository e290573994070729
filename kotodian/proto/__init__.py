"""The Kotodian wire schema: our own .proto files, written from kotodian-apdu Appendix A-D, and the
Python classes generated from them (``charger_pb2``, ``measure_pb2``, ``warning_pb2``). The generated
modules are committed so that an install needs no protoc; ``make proto`` regenerates them and
tests/kotodian/test_kotodian_generated.py fails when they no longer match the .proto files."""
