"""The committed kotodian/proto/*_pb2.py are what `make proto` makes of the committed .proto files
with the pinned grpcio-tools: nobody has edited a .proto and forgotten to regenerate."""

from __future__ import annotations

from kotodian.proto import generate


def test_committed_classes_are_the_output_of_the_committed_proto_files(tmp_path):
    fresh = generate.generate(tmp_path)
    assert [path.name for path in fresh] == ["charger_pb2.py", "measure_pb2.py", "warning_pb2.py"]
    for path in fresh:
        committed = generate.PROTO_DIR / path.name
        assert committed.read_bytes() == path.read_bytes(), f"{path.name} is stale: run `make proto`"
