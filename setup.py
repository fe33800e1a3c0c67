"""Build hook only: pyproject.toml holds the metadata. Compiles mlflow/protos/*.proto with
grpc_tools.protoc (a build requirement) before the Python files are collected, for wheels,
sdist builds and editable installs alike."""

import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

_ROOT = Path(__file__).resolve().parent


def _compile_protos() -> None:
    # Load the compiler module by path: importing the mlflow package needs runtime dependencies.
    spec = importlib.util.spec_from_file_location(
        "_mlflow_protos_compile", _ROOT / "mlflow" / "protos" / "_compile.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.compile_protos()


class BuildPyWithProtos(build_py):
    def run(self):
        _compile_protos()
        super().run()


setup(cmdclass={"build_py": BuildPyWithProtos})
