"""``python -m mlflow ...``: the ``mlflow`` command line, as MLflow provides it."""

from mlflow.cli import cli

if __name__ == "__main__":
    cli(prog_name="mlflow")
