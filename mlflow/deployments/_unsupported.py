"""The deployment and endpoint-management methods a built-in client does not support."""

from __future__ import annotations


class UnsupportedManagementMixin:
    """Raises ``NotImplementedError`` from the deployment methods and from endpoint create /
    update / delete, blocking and awaitable alike.

    List it before ``BaseDeploymentClient`` so these stubs satisfy its abstract methods and
    replace its defaults; a client that supports some of them defines them in its own body.
    """

    def create_deployment(self, name, model_uri, flavor=None, config=None, endpoint=None):
        """Not implemented by this client."""
        raise NotImplementedError

    def update_deployment(self, name, model_uri=None, flavor=None, config=None, endpoint=None):
        """Not implemented by this client."""
        raise NotImplementedError

    def delete_deployment(self, name, config=None, endpoint=None):
        """Not implemented by this client."""
        raise NotImplementedError

    def list_deployments(self, endpoint=None):
        """Not implemented by this client."""
        raise NotImplementedError

    def get_deployment(self, name, endpoint=None):
        """Not implemented by this client."""
        raise NotImplementedError

    def create_endpoint(self, name, config=None):
        """Not implemented by this client."""
        raise NotImplementedError

    def update_endpoint(self, endpoint, config=None):
        """Not implemented by this client."""
        raise NotImplementedError

    def delete_endpoint(self, endpoint):
        """Not implemented by this client."""
        raise NotImplementedError

    async def acreate_deployment(self, name, model_uri, flavor=None, config=None, endpoint=None):
        raise NotImplementedError

    async def aupdate_deployment(
        self, name, model_uri=None, flavor=None, config=None, endpoint=None
    ):
        raise NotImplementedError

    async def adelete_deployment(self, name, config=None, endpoint=None):
        raise NotImplementedError

    async def alist_deployments(self, endpoint=None):
        raise NotImplementedError

    async def aget_deployment(self, name, endpoint=None):
        raise NotImplementedError

    async def acreate_endpoint(self, name, config=None):
        raise NotImplementedError

    async def aupdate_endpoint(self, endpoint, config=None):
        raise NotImplementedError

    async def adelete_endpoint(self, endpoint):
        raise NotImplementedError

