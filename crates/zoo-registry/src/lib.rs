//! zoo-registry: the model card schema, the catalog embedded in the zoo binary,
//! user catalogs layered over it, search, and `registry check` validation.

pub mod card;
mod catalog;
mod check;
mod error;
mod labels;
pub mod license;
pub mod openness;
pub mod pickle;
mod save;
mod text;

pub use card::{Card, SCHEMA_VERSION, Source, Task};
pub use catalog::{Catalog, Entry, Origin};
pub use check::{MAX_IMAGE_SIDE, check_card_text, check_dir, check_image_sizes};
pub use error::{Diagnostic, RegistryError};
pub use license::{License, LicenseClass, Terms};
pub use openness::{Component, Openness, OpennessClass};
pub use save::save_card;
