"""Request-auth providers: named plugins that authenticate outgoing requests."""

from mlflow.tracking.request_auth.abstract_request_auth_provider import RequestAuthProvider

__all__ = ["RequestAuthProvider"]
