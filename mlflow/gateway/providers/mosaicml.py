"""MosaicML inference (``provider: mosaicml``), as MLflow calls it.

Wire format: ``POST {mosaicml_api_base}/{model}/v1/predict`` (default base
``https://models.hosted-on.mosaicml.hosting``) with the key as the whole ``Authorization``
header; ``{"inputs": [...], "parameters": {...}}`` answers ``{"outputs": [...]}``. Chat is
rendered into a Llama-2 ``[INST]`` prompt (the config only accepts ``llama2*`` chat models).
MLflow's rule kept: an upstream 500 saying the prompt or output is too long is the caller's
error (422). The API does not stream; streams are one chunk made from the full answer."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.providers.base import CHAT, COMPLETIONS, EMBEDDINGS, BaseProvider
from mlflow.gateway.schemas import shapes

_TOO_LONG = ("Error: max output tokens is limited to", "Error: prompt token count")


def _llama2_prompt(messages: list[dict[str, Any]]) -> str:
    prompt = "<s>"
    for message in messages:
        role, content = message["role"], message.get("content")
        if not isinstance(content, str):
            raise AIGatewayException(status_code=422, detail=(
                "An invalid request structure was submitted. MosaicML chat takes text content "
                "only."))
        if role in ("system", "user"):
            text = f"<<SYS>> {content} <</SYS>>" if role == "system" else content
            text += " [/INST]"
            if prompt.endswith("[/INST]"):
                prompt = prompt[: -len("[/INST]")]
            else:
                text = f"[INST] {text}"
            prompt += text
        elif role == "assistant":
            prompt += f" {content} </s><s>"
        else:
            raise AIGatewayException(status_code=422, detail=(
                "An invalid request structure was submitted. Invalid role "
                f"{role} inputted. Must be one of 'system', 'user', or 'assistant'."))
    return prompt.removesuffix("</s><s>")


class MosaicMLProvider(BaseProvider):
    NAME = "MosaicML"
    SUPPORTED_ROUTE_TYPES = (CHAT, COMPLETIONS, EMBEDDINGS)
    API_BASE_FIELD = "mosaicml_api_base"
    DEFAULT_API_BASE = "https://models.hosted-on.mosaicml.hosting"

    def __init__(self, config, client, policy=None, **kwargs) -> None:
        super().__init__(config, client, policy, **kwargs)
        self._url = f"{self._base_url()}/{quote(self.model_name, safe='')}/v1/predict"
        self._headers = {"Authorization": config.model.config.mosaicml_api_key}

    def _parameters(self, payload: dict[str, Any], *drop: str) -> dict[str, Any]:
        self.reject_model_field(payload)
        if "max_new_tokens" in payload:
            raise AIGatewayException(
                status_code=422, detail="Invalid parameter max_new_tokens. Use max_tokens instead."
            )
        params = {k: v for k, v in payload.items() if k not in (*drop, "stream",
                                                                "stream_options")}
        if "max_tokens" in params:
            params["max_new_tokens"] = params.pop("max_tokens")
        return params

    async def _predict(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self._post_json(self._url, body, self._headers)
        except AIGatewayException as e:
            if e.status_code == 500 and e.detail.startswith(_TOO_LONG):
                raise AIGatewayException(status_code=422, detail=e.detail) from None
            raise

    async def chat(self, payload: dict[str, Any]) -> dict[str, Any]:
        params = self._parameters(payload, "messages")
        resp = await self._predict({"inputs": [_llama2_prompt(payload["messages"])],
                                    "parameters": params})
        return shapes.chat_response(
            model=self.model_name,
            choices=[{"index": i, "message": shapes.chat_message(text), "finish_reason": None}
                     for i, text in enumerate(resp.get("outputs") or [])],
            usage_block=shapes.usage(), provider=self.provider_name,
        )

    async def completions(self, payload: dict[str, Any]) -> dict[str, Any]:
        params = self._parameters(payload, "prompt")
        prompt = payload["prompt"]
        resp = await self._predict({"inputs": [prompt] if isinstance(prompt, str) else prompt,
                                    "parameters": params})
        return shapes.completions_response(
            model=self.model_name, texts=[(t, None) for t in resp.get("outputs") or []],
            usage_block=shapes.usage(),
        )

    async def embeddings(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.reject_model_field(payload)
        if "inputs" in payload:
            raise AIGatewayException(status_code=422,
                                     detail="Invalid parameter inputs. Use input instead.")
        body = {k: v for k, v in payload.items() if k != "input"}
        texts = payload["input"]
        body["inputs"] = [texts] if isinstance(texts, str) else texts
        resp = await self._predict(body)
        return shapes.embeddings_response(model=self.model_name,
                                          vectors=resp.get("outputs") or [])
