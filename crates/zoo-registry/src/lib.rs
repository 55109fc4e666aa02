//! zoo-registry: the model card schema, the catalog embedded in the zoo binary,
//! user catalogs layered over it, search, and `registry check` validation.

pub mod card;
mod catalog;
mod check;
mod error;
pub mod license;
pub mod openness;

pub use card::{Card, SCHEMA_VERSION, Source, Task};
pub use catalog::{Catalog, Entry, Origin};
pub use check::check_dir;
pub use error::{Diagnostic, RegistryError};
pub use license::{License, LicenseClass, Terms};
pub use openness::{Component, Openness, OpennessClass};
