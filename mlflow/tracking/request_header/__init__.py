"""Request-header providers: headers merged into every outgoing request."""

from mlflow.tracking.request_header.abstract_request_header_provider import RequestHeaderProvider

__all__ = ["RequestHeaderProvider"]
