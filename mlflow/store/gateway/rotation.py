"""KEK rotation: re-wrap every secret's data key under a key derived from a new passphrase.

One transaction: an interruption (crash, kill, error) leaves every secret under the old key, and
rerunning completes the job. A rerun after a rotation that did complete finds the database
already under the new passphrase and changes nothing. Secret values are never decrypted: only
data keys are unwrapped and re-wrapped."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException
from mlflow.store.gateway.models import SqlMeta, SqlSecret
from mlflow.store.gateway.sqlalchemy_store import (
    META_ITERATIONS,
    META_KEK_CHECK,
    META_KEK_VERSION,
    META_SALT,
    GatewayStore,
    wrong_passphrase_error,
)
from mlflow.utils import crypto


@dataclass(frozen=True)
class RotationResult:
    rotated: int  # data keys re-wrapped by this run
    old_version: int
    new_version: int
    already_done: bool  # the database was already under the new passphrase


async def rotate_kek(
    store: GatewayStore,
    old_passphrase: str,
    new_passphrase: str,
    new_version: int | None = None,
    *,
    on_secret: Callable[[int], None] | None = None,
) -> RotationResult:
    """``on_secret(i)`` runs after the i-th data key is re-wrapped, inside the transaction (tests
    use it to interrupt a rotation midway)."""
    if not old_passphrase or not new_passphrase:
        raise MlflowException(
            "Both the current and the new passphrase are needed", error_code=INVALID_PARAMETER_VALUE
        )
    if old_passphrase == new_passphrase:
        raise MlflowException(
            "The new passphrase is the same as the current one; nothing to rotate",
            error_code=INVALID_PARAMETER_VALUE,
        )
    if new_version is not None and new_version < 1:
        raise MlflowException(
            f"The new KEK version must be >= 1, got {new_version}",
            error_code=INVALID_PARAMETER_VALUE,
        )
    async with store._sessions() as session, session.begin():
        meta = {row.key: row.value for row in (await session.execute(select(SqlMeta))).scalars()}
        salt = base64.b64decode(meta[META_SALT])
        iterations = int(meta[META_ITERATIONS])
        current = int(meta[META_KEK_VERSION])
        token = meta.get(META_KEK_CHECK)
        old = await _derive(old_passphrase, salt, iterations, current)
        if token is not None and not old.matches(base64.b64decode(token)):
            # Already rotated by an earlier run? Then the new passphrase opens the current key.
            done = await _derive(new_passphrase, salt, iterations, current)
            if done.matches(base64.b64decode(token)):
                return RotationResult(0, current, current, already_done=True)
            raise wrong_passphrase_error(current)
        target = new_version if new_version is not None else current + 1
        if target == current:
            raise MlflowException(
                f"The new KEK version must differ from the current one ({current})",
                error_code=INVALID_PARAMETER_VALUE,
            )
        new = await _derive(new_passphrase, salt, iterations, target)
        rows = (await session.execute(select(SqlSecret).order_by(SqlSecret.secret_id))).scalars()
        rotated = 0
        for index, row in enumerate(list(rows)):
            try:
                row.wrapped_dek = crypto.rewrap_dek(
                    row.wrapped_dek, old, new, secret_id=row.secret_id
                )
            except crypto.InvalidCiphertext:
                raise crypto.InvalidCiphertext(
                    f"Cannot rotate secret '{row.secret_name}': its data key does not open with "
                    "the current key-encryption key (altered data?). Nothing was changed; store "
                    "that secret's value again or delete it, then rerun the rotation."
                ) from None
            row.kek_version = target
            rotated += 1
            if on_secret is not None:
                on_secret(index)
        await _set(session, META_KEK_VERSION, str(target))
        await _set(session, META_KEK_CHECK, base64.b64encode(new.check_token()).decode())
        await GatewayStore._bump(session)
    store.secrets_cache.clear()
    return RotationResult(rotated, current, target, already_done=False)


async def _derive(passphrase: str, salt: bytes, iterations: int, version: int):
    return await asyncio.to_thread(
        crypto.KeyEncryptionKey.derive,
        passphrase,
        salt=salt,
        iterations=iterations,
        version=version,
    )


async def _set(session, key: str, value: str) -> None:
    row = await session.get(SqlMeta, key)
    if row is None:
        session.add(SqlMeta(key=key, value=value))
    else:
        row.value = value
