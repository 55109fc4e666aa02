//! Test support for zoo: a fake Hugging Face Hub and wheel fixtures.
//!
//! [`HubServer`] is a real HTTP/1.1 server on 127.0.0.1 that speaks the parts
//! of the Hub protocol that downloaders use (model info, tree listing,
//! `/resolve` with LFS redirects, ranged CDN downloads), so both zoo and the
//! Python `huggingface_hub` client can be pointed at it with `HF_ENDPOINT`.
//! Model info carries what the Hub derives (`tags`, `cardData`, `config`,
//! `safetensors` parameter counts) from a fixture's files and
//! [`FixtureRepo::card_data`]; [`FixtureDataset`]s answer `/api/datasets/...`,
//! and `GET /api/models?search=...` pages with `Link: rel="next"` as the Hub
//! does ([`ServerConfig::search_page_size`]).
//! [`Fault`]s make it misbehave on demand, and [`HubServer::log`] tells a test
//! what was asked and sent; a [`Relay`] in front of it records request headers
//! and can send LFS redirects to another host. [`skip`] is the one rule for a test whose input
//! (ONNX Runtime, a real model, a Python package, pip) is missing.
//!
//! ```no_run
//! use zoo_test_support::{Fault, FixtureRepo, HubServer, fixture_bytes};
//!
//! let hub = HubServer::start(vec![
//!     FixtureRepo::new("org/tiny")
//!         .lfs_file("model.onnx", fixture_bytes(1, 4 << 20))
//!         .text_file("config.json", "{}"),
//! ]);
//! hub.set_faults(vec![Fault::cut_after(1000).on("model.onnx").times(1)]);
//! // run `zoo pull` with HF_ENDPOINT=hub.endpoint() ...
//! assert!(hub.bytes_served("model.onnx") >= 4 << 20);
//! ```

mod catalog;
mod faults;
mod fixtures;
mod front;
mod http;
mod info;
mod local_model;
mod meta;
mod registry;
mod relay;
mod routes;
mod send;
mod server;
pub mod skip;
mod wheel;

pub use faults::{Fault, FaultKind};
pub use fixtures::{
    FileContent, FixtureDataset, FixtureFile, FixtureRepo, GateApproval, LFS_THRESHOLD,
    fixture_bytes,
};
pub use front::{FRONT_SERVICE, FrontRecord, RegistryFront};
pub use local_model::{LocalFile, LocalModel};
pub use registry::{OciRegistry, REGISTRY_BIN_VAR, tool};
pub use relay::{Relay, RelayRecord};
pub use server::{DEFAULT_SEARCH_PAGE_SIZE, HubServer, RequestRecord, ServerConfig, TEST_TOKEN};
pub use wheel::write_wheel;
