#!/usr/bin/env bash
# Everything the test suite needs on a fresh Debian/Ubuntu machine, and nothing it already has:
# redis-server and PostgreSQL (the tests start their own servers on loopback), the project's
# virtualenv with its test extras, and real MLflow 3.17's client in a separate virtualenv (the
# peer the gateway server is tested against). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || packages+=(postgresql)
if ((${#packages[@]})); then
  sudo=""
  [[ $(id -u) == 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
fi

python3 -m venv .venv
.venv/bin/pip install -q -e '.[test]' -e ./tests/plugins/deploy_plugin -e ./tests/plugins/auth_plugin

if [[ ! -x .venv-mlflow/bin/python ]]; then
  python3 -m venv .venv-mlflow
  .venv-mlflow/bin/pip install -q 'mlflow-skinny==3.17.2'
fi
