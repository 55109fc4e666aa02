//! zoo-types: the values zoo accepts from strangers, each parsed once into a type
//! that cannot hold a bad value.
//!
//! Text from a card, a hub, a registry or a data set reaches a path join, a
//! subprocess argument or the terminal only through one of these types. Each has
//! one `FromStr`, and serde's `Deserialize` and clap's value parsers go through
//! it, so a bad card is reported at its file:line and a bad server answer is an
//! error before anything is written.
//!
//! | type | holds | used for |
//! |---|---|---|
//! | [`Sha256Hex`] | 64 lower-case hex digits | content digests, blob names |
//! | [`CommitId`] | 40 lower-case hex digits | Hugging Face commit ids, snapshot folders |
//! | [`GitBlobId`] | 40 lower-case hex digits | git blob ids of small hub files |
//! | [`RelPath`] | a relative path that stays inside its directory | file paths from cards and servers |
//! | [`Revision`] | a branch, tag or commit name safe as a ref file | `refs/<revision>` |
//! | [`RepoId`] | `org/name` (or `name`) as the Hub allows | `models--org--name` folders, URLs |
//! | [`ModelName`] | a catalog name: lower-case letters, digits, `-_.` | store folders, lookups |
//! | [`PackageName`] | a PEP 508 project name | `pip download` arguments |
//! | [`PackageVersion`] | a PEP 440 version | `pip download` arguments |
//! | [`OciReference`] | `registry/repository[:tag][@sha256:hex]` per the OCI distribution grammar | registry URLs, image layout names |
//! | [`ClassName`] | a label without control characters or `/` | class folders, labels files |
//!
//! [`TerminalSafe`] displays any other text with control characters escaped.

mod digest;
mod error;
mod name;
mod oci;
mod package;
mod path;
mod terminal;
mod time;

pub use digest::{CommitId, GitBlobId, Sha256Hex};
pub use error::InvalidValue;
pub use name::{ClassName, ModelName, RepoId, Revision};
pub use oci::{OciReference, OciRegistry, OciRepository, OciTag};
pub use package::{PackageName, PackageVersion};
pub use path::RelPath;
pub use terminal::{TerminalSafe, is_unsafe_char};
pub use time::rfc3339_utc;

/// Implements the string plumbing every validated type shares: `FromStr` through
/// its `parse` function, `Display`, `AsRef<str>`, `Deref<Target = str>`, and
/// serde through `FromStr` so a card's bad value fails deserialisation.
macro_rules! string_type {
    ($ty:ident) => {
        impl std::str::FromStr for $ty {
            type Err = $crate::InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::parse(s)
            }
        }
        impl TryFrom<String> for $ty {
            type Error = $crate::InvalidValue;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                $ty::parse(&s)
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl std::ops::Deref for $ty {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
        impl PartialEq<str> for $ty {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl PartialEq<&str> for $ty {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
        impl PartialEq<String> for $ty {
            fn eq(&self, other: &String) -> bool {
                self.0 == *other
            }
        }
        impl PartialEq<$ty> for String {
            fn eq(&self, other: &$ty) -> bool {
                *self == other.0
            }
        }
        impl PartialEq<$ty> for str {
            fn eq(&self, other: &$ty) -> bool {
                self == other.0
            }
        }
        impl PartialEq<$ty> for &str {
            fn eq(&self, other: &$ty) -> bool {
                *self == other.0
            }
        }
        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.0
            }
        }
        // Hash, Eq and Ord are the inner string's, so maps keyed by the type can
        // be searched with a `&str`.
        impl std::borrow::Borrow<str> for $ty {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                $ty::parse(&s).map_err(serde::de::Error::custom)
            }
        }
        impl $ty {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}
pub(crate) use string_type;
