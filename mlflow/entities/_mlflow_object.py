"""The base of MLflow's entity classes: iteration over (field, value) pairs, used by reprs and
dict conversion."""

from __future__ import annotations

import dataclasses


class _MlflowObject:
    def __iter__(self):
        for field in dataclasses.fields(self):
            yield field.name, getattr(self, field.name)

    @classmethod
    def _properties(cls) -> list[str]:
        return [field.name for field in dataclasses.fields(cls)]
