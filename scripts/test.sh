#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs the Python reference
# packages the parity tests compare against, then `cargo test` for the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${ZOO_PYTHON:-python3}
if "$python" -m pip --version >/dev/null 2>&1; then
  echo "==> installing Python reference packages (scripts/requirements-test.txt)"
  "$python" -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
else
  echo "==> no pip for $python: Python parity checks will be skipped"
fi

echo "==> cargo test"
cargo test --workspace --locked "$@"
