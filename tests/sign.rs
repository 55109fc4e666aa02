//! Signed models: `zoo sign` and `zoo verify --signature` in the OpenSSF
//! model-signing format, interoperating both ways with the reference Python
//! tool (`model_signing`, PyPI `model-signing` 1.1.1), and every way a
//! signature must fail: tampered, added or removed files, the wrong key, an
//! expired or wrong-purpose certificate, a bundle for other files, a
//! truncated, non-JSON or oversized bundle, a hostile statement, a keyless
//! bundle offline.
//!
//! Inputs (scripts/test.sh provides them; a missing one is a skip, or a
//! failure under ZOO_TEST_STRICT=1): the `openssl` command (test keys and a
//! test CA) and model-signing with pyOpenSSL in ZOO_PYTHON.

mod util;

#[path = "sign/setup.rs"]
mod setup;

#[path = "sign/errors.rs"]
mod errors;
#[path = "sign/finetune.rs"]
mod finetune;
#[path = "sign/interop.rs"]
mod interop;
#[path = "sign/keyless.rs"]
mod keyless;
#[path = "sign/lock.rs"]
mod lock;
#[path = "sign/policy.rs"]
mod policy;
#[path = "sign/state.rs"]
mod state;
