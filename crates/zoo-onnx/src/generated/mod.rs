//! prost types for `proto/onnx.proto`, written by `scripts/gen-onnx-proto.sh`.

// The code is machine-written from upstream comments; lint findings there are not ours to fix.
#[allow(clippy::all, clippy::pedantic, rustdoc::all)]
pub mod onnx;
