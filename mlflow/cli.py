"""The ``mlflow`` console script (``mlflow = "mlflow.cli:cli"``)."""

from __future__ import annotations

import click

from mlflow.deployments.cli import commands as deployments
from mlflow.gateway.cli import commands as gateway
from mlflow.gateway.crypto_cli import crypto_group
from mlflow.gateway.store_cli import attach_store_commands
from mlflow.version import VERSION


@click.group()
@click.version_option(version=VERSION, prog_name="mlflow")
def cli():
    """MLflow (asyncio-first slice): deployments and the AI gateway clients."""


cli.add_command(deployments)
cli.add_command(gateway)
cli.add_command(crypto_group)
attach_store_commands(cli)  # after the `gateway` group: adds secrets/endpoints/... under it

if __name__ == "__main__":
    cli()
