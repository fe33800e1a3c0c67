"""One loopback fake per provider wire format the gateway speaks, each answering like the real
API (its success, error and stream shapes), recording every attempt and taking scripted faults
(see :mod:`mlflow.testing.loopback`).

- OpenAI / Azure OpenAI / OpenAI-compatible APIs: :class:`mlflow.testing.OpenAIServer`
  (re-exported here as ``OpenAIFake``)."""

from mlflow.testing.openai_server import OpenAIServer as OpenAIFake

__all__ = ["OpenAIFake"]
