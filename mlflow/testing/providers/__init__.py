"""One loopback fake per provider wire format the gateway speaks, each answering like the real
API (its success, error and stream shapes), recording every attempt and taking scripted faults
(see :mod:`mlflow.testing.loopback`). Import the one you need from its module:

- ``anthropic.AnthropicFake``, ``gemini.GeminiFake``, ``mistral.MistralFake``,
  ``cohere.CohereFake``, ``bedrock.BedrockFake`` (with STS AssumeRole),
  ``databricks.DatabricksFake``, ``huggingface.TGIFake``, ``togetherai.TogetherAIFake``,
  ``mosaicml.MosaicMLFake``, ``mlflow_serving.MlflowServingFake``;
- OpenAI, Azure OpenAI and the OpenAI-compatible APIs: ``OpenAIFake`` (this package), which is
  :class:`mlflow.testing.OpenAIServer`."""

from mlflow.testing.openai_server import OpenAIServer as OpenAIFake

__all__ = ["OpenAIFake"]
