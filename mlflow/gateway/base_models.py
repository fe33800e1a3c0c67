"""Pydantic base classes of the gateway's request, response, limit and configuration models.

Secrets. A configuration field annotated with :data:`MaskedStr` (``Annotated[str, SECRET]``)
holds a credential. It stays a plain ``str`` -- ``config.openai_api_key`` and ``model_dump()``
give the real value, because the code that calls a provider needs it and MLflow's own code
compares it with strings -- but every ``repr()``/``str()`` of a configuration model shows
``'**********'`` in its place, and validation errors of configuration models never echo their
input. Models derived from :class:`ConfigModel` also remember, for each secret field that was
resolved from ``$ENV_VAR`` or from a file path, the reference it was resolved from
(:meth:`ConfigModel._secret_reference`), so a configuration can be written back without
putting the resolved secret on disk.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator

MASK = "**********"


class _SecretMarker:
    """Field metadata that marks a credential: masked in reprs, kept as a plain ``str``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SECRET"


SECRET = _SecretMarker()

#: A credential: a plain ``str`` whose value never shows in a configuration model's repr.
MaskedStr = Annotated[str, SECRET]


def _secret_field_names(cls: type[BaseModel]) -> frozenset[str]:
    return frozenset(
        name
        for name, field in cls.model_fields.items()
        if any(isinstance(meta, _SecretMarker) for meta in field.metadata)
    )


class _SecretAwareModel(BaseModel):
    """Masks :data:`MaskedStr` fields in reprs and records where resolved secrets came from."""

    # Computed once per class in __pydantic_init_subclass__.
    _secret_fields: ClassVar[frozenset[str]] = frozenset()
    # Field name -> the "$VAR" or file path the field's value was resolved from.
    _secret_references: dict[str, str] = PrivateAttr(default_factory=dict)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._secret_fields = _secret_field_names(cls)

    def __repr_args__(self):
        for name, value in super().__repr_args__():
            if name in self._secret_fields and value is not None:
                yield name, MASK
            else:
                yield name, value

    @model_validator(mode="wrap")
    @classmethod
    def _remember_secret_references(cls, data: Any, handler: Any) -> Any:
        instance = handler(data)
        if isinstance(data, dict) and cls._secret_fields:
            # A raw string that differs from the validated value was a reference ($VAR or path).
            references = {
                name: raw
                for name in cls._secret_fields
                if isinstance(raw := data.get(name), str) and raw != getattr(instance, name, raw)
            }
            if references:
                instance._secret_references = references
        return instance

    def _secret_reference(self, name: str) -> str | None:
        """The ``$VAR`` or file path that field ``name`` was resolved from, if any."""
        return self._secret_references.get(name)


class RequestModel(
    BaseModel,
    # Extra fields are allowed so vendor-specific request parameters pass through.
    extra="allow",
):
    """A pydantic model representing Gateway request data, such as a chat or completions
    request."""


class ResponseModel(
    BaseModel,
    # Extra fields are ignored so clients parse responses of newer or other backends alike.
    extra="ignore",
):
    """A pydantic model representing Gateway response data, such as information about a
    Gateway endpoint returned in response to a GetEndpoint request."""


class ConfigModel(
    _SecretAwareModel,
    # Unused configuration keys are ignored; inputs are hidden from errors (they may be keys).
    extra="ignore",
    hide_input_in_errors=True,
):
    """A pydantic model representing Gateway configuration data, such as an OpenAI completions
    route definition including route name, model name, API keys, etc.

    Fields annotated :data:`MaskedStr` are plain strings masked in ``repr()``/``str()``.
    """


class LimitModel(
    BaseModel,
    # Unknown limit attributes are ignored.
    extra="ignore",
):
    """A pydantic model representing Gateway Limit data, such as renewal period, limit key,
    limit value, etc."""


class AliasedConfigModel(ConfigModel):
    """Enables use of field aliases in a configuration model for backwards compatibility."""

    model_config = ConfigDict(populate_by_name=True)


class SetLimitsModel(
    BaseModel,
    extra="ignore",
):
    """A pydantic model representing the Gateway SetLimits request body: a route and its
    limits."""

    route: str
    limits: list[dict[str, Any]]


__all__ = [
    "MASK",
    "SECRET",
    "AliasedConfigModel",
    "ConfigModel",
    "LimitModel",
    "RequestModel",
    "ResponseModel",
    "MaskedStr",
    "SetLimitsModel",
]
