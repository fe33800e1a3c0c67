"""Test plugin for mlflow-aio: request-auth and request-header providers."""
