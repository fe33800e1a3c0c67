"""Discovery of deployment plugins through the ``mlflow.deployments`` entry-point group."""

from __future__ import annotations

import abc
import inspect
import threading
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from mlflow.deployments.base import BaseDeploymentClient
from mlflow.deployments.utils import parse_target_uri
from mlflow.exceptions import INTERNAL_ERROR, RESOURCE_DOES_NOT_EXIST, MlflowException

# The built-in targets are registered in pyproject.toml like any plugin; this copy only keeps
# them reachable when the package runs from a source tree without being installed.
_BUILTIN_TARGETS = {
    "http": "mlflow.deployments.mlflow",
    "https": "mlflow.deployments.mlflow",
    "databricks": "mlflow.deployments.databricks",
    "openai": "mlflow.deployments.openai",
}
_REQUIRED_FUNCTIONS = ("target_help", "run_local")


class PluginLoadError(MlflowException, RuntimeError):
    """A registered plugin could not be imported (a ``RuntimeError``, as in MLflow)."""


class PluginManager(abc.ABC):
    """A registry of named plugins, filled from an entry-point group on first use."""

    @abc.abstractmethod
    def __init__(self, group_name: str) -> None:
        self._registry: dict[str, Any] = {}
        self.group_name = group_name
        self._has_registered = False
        self._lock = threading.RLock()

    @abc.abstractmethod
    def __getitem__(self, item: str) -> Any: ...

    @property
    def registry(self) -> dict[str, Any]:
        """Target name -> entry point (not loaded yet) or loaded plugin module/object."""
        if not self._has_registered:
            self.register_entrypoints()
        return self._registry

    @property
    def has_registered(self) -> bool:
        return self._has_registered

    def register(self, target_name: str, plugin_module: str) -> None:
        """Register ``plugin_module`` (a module path) for ``target_name``; loaded on first use."""
        with self._lock:
            self._registry[target_name] = EntryPoint(target_name, plugin_module, self.group_name)

    def register_entrypoints(self) -> None:
        """Register every entry point of the group (later registrations win)."""
        with self._lock:
            if self._has_registered:
                return
            for entrypoint in entry_points(group=self.group_name):
                self._registry[entrypoint.name] = entrypoint
            self._has_registered = True


class DeploymentPlugins(PluginManager):
    """The deployment plugins: ``plugins["databricks"]`` returns the validated plugin module."""

    def __init__(self) -> None:
        super().__init__("mlflow.deployments")
        for name, module in _BUILTIN_TARGETS.items():
            self.register(name, module)

    def installed_targets(self) -> list[str]:
        return sorted(self.registry)

    def __getitem__(self, item: str) -> Any:
        target_name = parse_target_uri(item)
        with self._lock:
            plugin_like = self.registry.get(target_name)
            if plugin_like is None:
                installed = ", ".join(self.installed_targets()) or "none"
                raise MlflowException(
                    f'No plugin found for managing model deployments to "{item}". '
                    f'In order to deploy models to "{item}", find and install an appropriate '
                    "plugin from https://mlflow.org/docs/latest/plugins.html#community-plugins "
                    "using your package manager (pip, conda etc). "
                    f"Installed targets: {installed}.",
                    error_code=RESOURCE_DOES_NOT_EXIST,
                )
            if isinstance(plugin_like, EntryPoint):
                plugin = self._load(target_name, plugin_like)
                # Cache by target name: the next lookup skips the import and the checks.
                self._registry[target_name] = plugin
                return plugin
        _validate_plugin(target_name, plugin_like)
        return plugin_like

    @staticmethod
    def _load(target_name: str, entrypoint: EntryPoint) -> Any:
        try:
            plugin = entrypoint.load()
        except Exception as exc:
            raise PluginLoadError(
                f'Failed to load the plugin "{target_name}" ({entrypoint.value}): '
                f"{type(exc).__name__}: {exc}"
            ) from exc
        _validate_plugin(target_name, plugin)
        return plugin


def _validate_plugin(target_name: str, plugin: Any) -> None:
    """Check that ``plugin`` has exactly one client class plus ``target_help`` and ``run_local``."""
    missing = [name for name in _REQUIRED_FUNCTIONS if not hasattr(plugin, name)]
    if missing:
        raise MlflowException(
            f"Plugin registered for the target {target_name} does not has all the required "
            "interfaces. Raise an issue with the plugin developers.\n"
            f"Missing interfaces: {set(missing)}",
            error_code=INTERNAL_ERROR,
        )
    classes = client_classes(plugin)
    if len(classes) > 1:
        raise MlflowException(
            f"Plugin registered for the target {target_name} has more than one child class of "
            "BaseDeploymentClient. Raise an issue with the plugin developers. "
            f"Classes found are {[cls.__name__ for cls in classes]}"
        )
    if not classes:
        raise MlflowException(
            f"Plugin registered for the target {target_name} has no child class of "
            "BaseDeploymentClient. Raise an issue with the plugin developers"
        )


def client_classes(plugin: Any) -> list[type[BaseDeploymentClient]]:
    """The distinct subclasses of :class:`BaseDeploymentClient` that ``plugin`` exposes."""
    found: list[type[BaseDeploymentClient]] = []
    for _, obj in inspect.getmembers(plugin, inspect.isclass):
        is_client = issubclass(obj, BaseDeploymentClient) and obj is not BaseDeploymentClient
        if is_client and obj not in found:
            found.append(obj)
    return found
