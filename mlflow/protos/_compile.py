"""Compile the package's .proto files with grpc_tools.protoc (pip-installable; no system protoc).

Used by setup.py's build step and, in a source checkout that was never built, lazily by
``mlflow.protos`` on first import. Loadable by path: it imports nothing from this package."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent
PROTO_FILES = ("service.proto",)


def generated_name(proto_file: str) -> str:
    return proto_file[: -len(".proto")] + "_pb2.py"


def is_stale(out_dir: Path = PROTO_DIR) -> bool:
    for proto in PROTO_FILES:
        generated = out_dir / generated_name(proto)
        if not generated.exists():
            return True
        if generated.stat().st_mtime < (PROTO_DIR / proto).stat().st_mtime:
            return True
    return False


def compile_protos(out_dir: Path = PROTO_DIR) -> list[Path]:
    """Write ``<name>_pb2.py`` for every proto into ``out_dir``; return the files written."""
    try:
        from grpc_tools import protoc
    except ImportError as exc:  # a build without the build requirements
        raise RuntimeError(
            "grpcio-tools is needed to compile mlflow/protos/*.proto: pip install grpcio-tools"
        ) from exc
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    written = []
    # Generate into a private directory, then rename: a concurrent importer never reads half a file.
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".protoc-") as scratch:
        for proto in PROTO_FILES:
            args = ["protoc", f"-I{PROTO_DIR}", f"-I{include}", f"--python_out={scratch}", proto]
            status = protoc.main(args)
            if status != 0:
                raise RuntimeError(f"protoc failed on {proto} with status {status}")
            target = out_dir / generated_name(proto)
            os.replace(os.path.join(scratch, generated_name(proto)), target)
            written.append(target)
    return written
