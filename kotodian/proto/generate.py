"""Regenerates the ``*_pb2.py`` modules beside this file from the .proto files (``make proto``).

Needs grpcio-tools (the dev extra). Its bundled protoc decides the generated code, and the code it
writes asks for a protobuf runtime of the same major version: pyproject.toml pins both together."""

from __future__ import annotations

import sys
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent
PROTO_FILES = ("charger.proto", "measure.proto", "warning.proto")


def generate(out_dir: Path = PROTO_DIR) -> list[Path]:
    """Writes one ``<name>_pb2.py`` per .proto file into ``out_dir`` and returns their paths."""
    from grpc_tools import protoc

    # The proto path is this folder, so each descriptor names its file "charger.proto" etc. and
    # the output does not depend on where the checkout lives.
    args = ["grpc_tools.protoc", f"--proto_path={PROTO_DIR}", f"--python_out={out_dir}"]
    if protoc.main([*args, *(str(PROTO_DIR / name) for name in PROTO_FILES)]) != 0:
        raise RuntimeError(f"protoc failed on {', '.join(PROTO_FILES)}")
    return [Path(out_dir) / name.replace(".proto", "_pb2.py") for name in PROTO_FILES]


if __name__ == "__main__":
    for path in generate(Path(sys.argv[1]) if len(sys.argv) > 1 else PROTO_DIR):
        print(path)
