//! The hub's model and dataset info, as the API sends it (field names as
//! huggingface_hub's `ModelInfo` and `DatasetInfo` read them), then validated:
//! nothing here reaches a path, a URL or the terminal before it is parsed into a
//! zoo type or checked as a plain token.

use serde::Deserialize;
use serde_json::Value;
use zoo_types::{CommitId, GitBlobId, RelPath, RepoId, Sha256Hex, TerminalSafe};

use crate::error::HubError;

#[derive(Debug, Deserialize)]
pub(crate) struct ModelInfoJson {
    #[serde(default)]
    pub sha: Option<String>,
    #[serde(default)]
    pub gated: Value,
    #[serde(default)]
    pub pipeline_tag: Option<String>,
    #[serde(default)]
    pub library_name: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, rename = "cardData")]
    pub card_data: Option<Value>,
    #[serde(default)]
    pub siblings: Vec<SiblingJson>,
    #[serde(default)]
    pub safetensors: Option<SafetensorsJson>,
    #[serde(default)]
    pub config: Option<Value>,
    #[serde(default)]
    pub downloads: Option<u64>,
    #[serde(default)]
    pub likes: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SiblingJson {
    pub rfilename: String,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default, rename = "blobId")]
    pub blob_id: Option<String>,
    #[serde(default)]
    pub lfs: Option<LfsJson>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LfsJson {
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SafetensorsJson {
    #[serde(default)]
    pub total: Option<u64>,
}

/// One file of a repository at a commit, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct HubFile {
    pub path: RelPath,
    pub size: Option<u64>,
    pub lfs_sha256: Option<Sha256Hex>,
    pub git_blob: Option<GitBlobId>,
}

/// What the hub says about a model repository at one commit, validated.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub repo: RepoId,
    pub commit: CommitId,
    /// `manual` or `auto` when gated.
    pub gated: Option<String>,
    pub pipeline_tag: Option<String>,
    pub library_name: Option<String>,
    pub tags: Vec<String>,
    /// The README front matter, as the hub parsed it.
    pub card_data: Option<Value>,
    pub files: Vec<HubFile>,
    /// Entries refused as unsafe or malformed, escaped for display.
    pub refused: Vec<String>,
    pub parameters: Option<u64>,
    pub model_type: Option<String>,
    pub architectures: Vec<String>,
    pub downloads: Option<u64>,
    pub likes: Option<u64>,
}

impl ModelInfo {
    pub(crate) fn from_json(
        repo: &RepoId,
        json: ModelInfoJson,
        from: &str,
    ) -> Result<ModelInfo, HubError> {
        let sha = json.sha.unwrap_or_default();
        let commit = CommitId::parse(&sha).map_err(|e| HubError::Untrusted {
            from: from.to_owned(),
            message: format!("the revision resolved to a malformed commit: {e}"),
        })?;
        let mut files = Vec::new();
        let mut refused = Vec::new();
        for s in &json.siblings {
            match hub_file(s) {
                Ok(f) => files.push(f),
                Err(why) => refused.push(why),
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let config = json.config.as_ref();
        let model_type = config
            .and_then(|c| c.get("model_type"))
            .and_then(Value::as_str)
            .and_then(token);
        let architectures = config
            .and_then(|c| c.get("architectures"))
            .map(strings)
            .unwrap_or_default();
        Ok(ModelInfo {
            repo: repo.clone(),
            commit,
            gated: gated(&json.gated),
            pipeline_tag: json.pipeline_tag.as_deref().and_then(token),
            library_name: json.library_name.as_deref().and_then(token),
            tags: json.tags.iter().filter_map(|t| token(t)).collect(),
            card_data: json.card_data.filter(Value::is_object),
            files,
            refused,
            parameters: json.safetensors.and_then(|s| s.total),
            model_type,
            architectures,
            downloads: json.downloads,
            likes: json.likes,
        })
    }

    /// A string field of the README front matter, if it is a plain token.
    pub fn card_str(&self, key: &str) -> Option<String> {
        self.card_data.as_ref()?.get(key)?.as_str().and_then(token)
    }

    /// A field of the front matter that may be one string or a list of them.
    pub fn card_list(&self, key: &str) -> Vec<String> {
        self.card_data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(strings)
            .unwrap_or_default()
    }

    /// The values of `prefix:value` tags, e.g. `license:` or `dataset:`.
    pub fn tag_values<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.tags
            .iter()
            .filter_map(move |t| t.strip_prefix(prefix)?.strip_prefix(':'))
    }

    pub fn file(&self, path: &str) -> Option<&HubFile> {
        self.files.iter().find(|f| f.path == path)
    }
}

/// `"manual"` / `"auto"` / `true` mean gated; `false` or nothing means open.
fn gated(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s == "manual" || s == "auto" => Some(s.clone()),
        Value::String(_) | Value::Bool(true) => Some("manual".to_owned()),
        _ => None,
    }
}

/// One string or a list of strings, keeping only plain tokens.
pub(crate) fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => token(s).into_iter().collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .filter_map(token)
            .collect(),
        _ => Vec::new(),
    }
}

/// Tags, library names, license ids and the like: short, printable ASCII
/// without spaces or quotes. Anything else from the hub is dropped, so no
/// control sequence can reach a card or the terminal through these fields.
pub(crate) fn token(s: &str) -> Option<String> {
    let ok = !s.is_empty()
        && s.len() <= 200
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+@=".contains(&b));
    ok.then(|| s.to_owned())
}

/// Free text from the front matter (a license name or link): one line of at
/// most 200 characters, without control or text-direction characters.
pub(crate) fn printable(s: &str) -> Option<String> {
    let t = s.trim();
    let ok = !t.is_empty() && t.chars().count() <= 200 && !t.chars().any(zoo_types::is_unsafe_char);
    ok.then(|| t.to_owned())
}

fn hub_file(s: &SiblingJson) -> Result<HubFile, String> {
    let path = RelPath::parse(&s.rfilename).map_err(|e| format!("file name: {e}"))?;
    let lfs_sha256 = match &s.lfs {
        Some(l) => Some(Sha256Hex::parse(&l.sha256).map_err(|e| format!("'{path}': LFS {e}"))?),
        None => None,
    };
    let git_blob = match &s.blob_id {
        Some(id) => Some(GitBlobId::parse(id).map_err(|e| format!("'{path}': {e}"))?),
        None => None,
    };
    Ok(HubFile {
        size: s.lfs.as_ref().map(|l| l.size).or(s.size),
        path,
        lfs_sha256,
        git_blob,
    })
}

/// A dataset's info: only what the lineage needs.
#[derive(Debug, Deserialize)]
pub(crate) struct DatasetInfoJson {
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, rename = "cardData")]
    pub card_data: Option<Value>,
}

/// Text from the hub shown in an error, escaped and shortened.
pub(crate) fn shown(s: &str) -> String {
    TerminalSafe::shortened(s, 200).to_string()
}
