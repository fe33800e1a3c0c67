"""``get_deploy_client`` and ``run_local``: the entry points of the deployments API."""

from __future__ import annotations

import logging

from mlflow.deployments.base import BaseDeploymentClient
from mlflow.deployments.plugin_manager import DeploymentPlugins, client_classes
from mlflow.deployments.utils import get_deployments_target, parse_target_uri
from mlflow.exceptions import MlflowException

_logger = logging.getLogger(__name__)

plugin_store = DeploymentPlugins()


def get_deploy_client(target_uri=None):
    """
    Returns a subclass of :py:class:`mlflow.deployments.BaseDeploymentClient` exposing standard
    APIs for deploying models to the specified target. See available deployment APIs
    by calling ``help()`` on the returned object or viewing docs for
    :py:class:`mlflow.deployments.BaseDeploymentClient`. You can also run
    ``mlflow deployments help -t <target-uri>`` via the CLI for more details on target-specific
    configuration options.

    Args:
        target_uri: URI of the target (``"http://127.0.0.1:5000"``, ``"databricks"``,
            ``"databricks://<profile>"``, ``"openai"``, or a plugin's ``"<target>:/<suffix>"``).
            If omitted, the target set with ``set_deployments_target()`` or the
            ``MLFLOW_DEPLOYMENTS_TARGET`` environment variable is used.

    Returns:
        A deployment client for the target, or ``None`` (with an info log) when no target is
        given and none is configured.

    Example:

    .. code-block:: python

        from mlflow.deployments import get_deploy_client

        client = get_deploy_client("http://127.0.0.1:5000")
        print(client.list_endpoints())
        print(client.predict(endpoint="chat", inputs={"messages": [{"role": "user",
                                                                     "content": "Hi"}]}))
        # In async code, every method has an awaitable twin:
        #     endpoints = await client.alist_endpoints()
    """
    if not target_uri:
        try:
            target_uri = get_deployments_target()
        except MlflowException:
            _logger.info(
                "No deployments target has been set. Please either set the MLflow deployments "
                "target via `mlflow.deployments.set_deployments_target()` or set the environment "
                "variable MLFLOW_DEPLOYMENTS_TARGET to the running deployment server's uri"
            )
            return None
    target = parse_target_uri(target_uri)
    plugin = plugin_store[target]
    for cls in client_classes(plugin):
        return cls(target_uri)
    return None


def run_local(target, name, model_uri, flavor=None, config=None):
    """
    Deploys the specified model locally, for testing. Models deployed locally cannot be managed
    by the other deployment APIs (``update_deployment``, ``delete_deployment``, ...).

    Args:
        target: Target to deploy to.
        name: Name to use for the deployment.
        model_uri: URI of the model to deploy.
        flavor: (optional) Model flavor to deploy. If unspecified, a default flavor is chosen.
        config: (optional) Dict of target-specific configuration for the deployment.
    """
    return plugin_store[target].run_local(name, model_uri, flavor, config)


def _target_help(target):
    """The help text of ``target``, shown by ``mlflow deployments help -t <target>``."""
    return plugin_store[target].target_help()


__all__ = ["BaseDeploymentClient", "get_deploy_client", "run_local"]
