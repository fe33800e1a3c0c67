"""``mlflow crypto``: key management for the gateway's encrypted secrets.

``rotate-kek`` follows seed 002's workflow: stop the server, keep MLFLOW_CRYPTO_KEK_PASSPHRASE set
to the OLD passphrase, run the rotation, set MLFLOW_CRYPTO_KEK_PASSPHRASE to the NEW passphrase,
restart. The new passphrase comes from MLFLOW_CRYPTO_NEW_KEK_PASSPHRASE or a hidden prompt, never
from an argument: arguments show in ``ps`` and shell history."""

from __future__ import annotations

import asyncio
import os

import click

from mlflow.exceptions import MlflowException
from mlflow.utils import crypto


def _refuse_passphrase_argument(ctx, param, value):
    if value is not None:
        raise click.UsageError(
            "--new-passphrase is not accepted on the command line (it would be visible in ps and "
            f"shell history). Set {crypto.CRYPTO_NEW_KEK_PASSPHRASE_ENV_VAR}, or leave it unset "
            "to be prompted with hidden input."
        )
    return value


@click.group("crypto")
def crypto_group():
    """Manage the key-encryption key (KEK) of the gateway's stored secrets."""


@crypto_group.command("rotate-kek")
@click.option(
    "--backend-store-uri",
    required=True,
    help="The gateway database, e.g. sqlite:///gateway.db or postgresql://user@host/db.",
)
@click.option(
    "--new-kek-version",
    type=click.IntRange(min=1),
    default=None,
    help="Version recorded for the new KEK (default: the current version + 1).",
)
@click.option(
    "--new-passphrase",
    hidden=True,
    expose_value=False,
    callback=_refuse_passphrase_argument,
    help="Refused: use MLFLOW_CRYPTO_NEW_KEK_PASSPHRASE or the prompt.",
)
def rotate_kek(backend_store_uri: str, new_kek_version: int | None) -> None:
    """Re-wrap every secret's data key under a KEK derived from a new passphrase.

    The current passphrase is read from MLFLOW_CRYPTO_KEK_PASSPHRASE, the new one from
    MLFLOW_CRYPTO_NEW_KEK_PASSPHRASE (or a hidden prompt). Atomic (one transaction) and
    idempotent: rerun it after an interruption; a rerun after success changes nothing."""
    try:
        old = crypto.read_passphrase(crypto.CRYPTO_KEK_PASSPHRASE_ENV_VAR)
        new = os.environ.get(crypto.CRYPTO_NEW_KEK_PASSPHRASE_ENV_VAR) or click.prompt(
            "New KEK passphrase", hide_input=True, confirmation_prompt=True
        )
        result = asyncio.run(_rotate(backend_store_uri, old, new, new_kek_version))
    except MlflowException as exc:
        raise click.ClickException(exc.message) from None
    if result.already_done:
        click.echo(
            f"Already rotated: the secrets are under the new passphrase (KEK version "
            f"{result.new_version}). Nothing changed."
        )
    else:
        click.echo(
            f"Re-wrapped {result.rotated} secret data key(s): KEK version {result.old_version} "
            f"-> {result.new_version}. Now set {crypto.CRYPTO_KEK_PASSPHRASE_ENV_VAR} to the new "
            "passphrase and restart the gateway."
        )


async def _rotate(uri: str, old: str, new: str, version: int | None):
    from mlflow.store.gateway.rotation import rotate_kek as rotate
    from mlflow.store.gateway.sqlalchemy_store import GatewayStore

    store = await GatewayStore.open(uri, passphrase=old)
    try:
        return await rotate(store, old, new, version)
    finally:
        await store.aclose()
