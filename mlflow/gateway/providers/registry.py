"""The provider registry under its own module name (the functions live in the package's
``__init__``; some callers import them from here)."""

from mlflow.gateway.providers import (
    UNSERVED_PROVIDERS,
    build_provider,
    get_provider_class,
    provider_support_error,
)

__all__ = ["UNSERVED_PROVIDERS", "build_provider", "get_provider_class", "provider_support_error"]
