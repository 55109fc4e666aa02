#!/usr/bin/env bash
# Regenerates crates/zoo-onnx/src/generated/onnx.rs from crates/zoo-onnx/proto/onnx.proto.
# The output is committed so building zoo-onnx never needs protoc; the generator in
# scripts/onnx-protogen/ uses protox (pure Rust) and is pinned by its Cargo.lock.
#
#   scripts/gen-onnx-proto.sh                  # regenerate Rust from the committed proto
#   scripts/gen-onnx-proto.sh --refresh-proto  # first re-derive onnx.proto from the
#                                              # installed `onnx` pip package
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
crate="$root/crates/zoo-onnx"

if [[ "${1:-}" == "--refresh-proto" ]]; then
    # The wheel ships onnx.in.proto plus gen_proto.py, which expands it to the proto2
    # `package onnx` file (non-ML variant: zoo does not need the ONNX-ML types).
    onnx_dir="$(python3 -c 'import onnx, os; print(os.path.dirname(onnx.__file__))')"
    onnx_version="$(python3 -c 'import onnx; print(onnx.__version__)')"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    python3 "$onnx_dir/gen_proto.py" --package onnx --output "$tmp" onnx >/dev/null
    {
        echo "// Derived from onnx==$onnx_version onnx.in.proto by scripts/gen-onnx-proto.sh --refresh-proto."
        cat "$tmp/onnx.proto"
    } >"$crate/proto/onnx.proto"
elif [[ $# -gt 0 ]]; then
    echo "usage: $0 [--refresh-proto]" >&2
    exit 2
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo run --quiet --locked --manifest-path "$root/scripts/onnx-protogen/Cargo.toml" -- \
    "$crate/proto/onnx.proto" "$crate/src/generated/onnx.rs"
echo "wrote crates/zoo-onnx/src/generated/onnx.rs"
