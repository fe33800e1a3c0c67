"""Protobuf messages of the gateway entities. ``service_pb2`` is generated at install time
(setup.py); a source checkout that was never installed compiles it here on first import."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mlflow.protos import _compile


def _ensure_generated() -> None:
    if not _compile.is_stale():
        return
    if os.access(_compile.PROTO_DIR, os.W_OK):
        _compile.compile_protos()
        return
    # A read-only install without generated files: compile beside it and extend the package path.
    out_dir = Path(tempfile.mkdtemp(prefix="mlflow-protos-"))
    _compile.compile_protos(out_dir)
    __path__.append(str(out_dir))  # noqa: F821 - the package's own __path__


_ensure_generated()
