//! The Hugging Face source: the hub API through the hf-hub crate, the bytes
//! through our own verified transfer, and the standard cache layout
//! (`models--org--name/{blobs,snapshots/<commit>,refs}`) so that Python
//! huggingface_hub finds what zoo pulled, and zoo reuses what Python pulled.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Repo, RepoType};
use serde::Deserialize;

use crate::error::FetchError;

/// zoo's partial downloads in the Hugging Face cache. Python's own partial suffix
/// (`.incomplete`) is avoided on purpose: Python would resume a file that zoo
/// writes out of order in parts, and Python does not verify what it resumes.
pub(crate) const PARTIAL_SUFFIX: &str = ".zoo-partial";
pub(crate) const PARTIAL_META_SUFFIX: &str = ".zoo-partial.json";

/// What the hub says about one file at one commit.
#[derive(Debug, Clone)]
pub(crate) struct RemoteFile {
    pub size: Option<u64>,
    /// LFS files: the sha256 of the content.
    pub lfs_sha256: Option<String>,
    /// The name Python's cache gives the blob: the LFS sha256, else the git blob id.
    pub etag: String,
}

#[derive(Debug, Clone)]
pub(crate) struct RepoSnapshot {
    pub commit: String,
    pub files: HashMap<String, RemoteFile>,
}

#[derive(Debug, Deserialize)]
struct InfoJson {
    sha: String,
    #[serde(default)]
    siblings: Vec<SiblingJson>,
}

#[derive(Debug, Deserialize)]
struct SiblingJson {
    rfilename: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default, rename = "blobId")]
    blob_id: Option<String>,
    #[serde(default)]
    lfs: Option<LfsJson>,
}

#[derive(Debug, Deserialize)]
struct LfsJson {
    sha256: String,
    size: u64,
}

/// Resolve a revision to a commit and list the files with their LFS digests.
pub(crate) fn repo_snapshot(
    repo: &str,
    revision: &str,
    token: Option<&str>,
) -> Result<RepoSnapshot, FetchError> {
    let hub_err = |message: String| FetchError::Hub {
        repo: repo.to_owned(),
        message,
    };
    let api = ApiBuilder::new()
        .with_endpoint(zoo_env::hf_endpoint())
        .with_token(token.map(str::to_owned))
        .with_progress(false)
        .build()
        .map_err(|e| hub_err(format!("cannot build the hub client: {e}")))?;
    let api_repo = api.repo(Repo::with_revision(
        repo.to_owned(),
        RepoType::Model,
        revision.to_owned(),
    ));
    let mut response = api_repo
        .info_request()
        .query("blobs", "true")
        .call()
        .map_err(|e| hub_err(describe_ureq(&e, revision)))?;
    let info: InfoJson = response.body_mut().read_json().map_err(|e| {
        hub_err(format!(
            "unexpected answer from {}: {e}",
            zoo_env::hf_endpoint()
        ))
    })?;
    let files = info
        .siblings
        .into_iter()
        .map(|s| {
            let etag = s
                .lfs
                .as_ref()
                .map(|l| l.sha256.clone())
                .or(s.blob_id.clone())
                .unwrap_or_default();
            let size = s.lfs.as_ref().map(|l| l.size).or(s.size);
            let file = RemoteFile {
                size,
                lfs_sha256: s.lfs.map(|l| l.sha256),
                etag,
            };
            (s.rfilename, file)
        })
        .collect();
    Ok(RepoSnapshot {
        commit: info.sha,
        files,
    })
}

fn describe_ureq(e: &impl std::fmt::Display, revision: &str) -> String {
    let text = e.to_string();
    // ureq reports HTTP failures as "http status: N".
    let status = text
        .rsplit(|c: char| !c.is_ascii_digit())
        .find(|t| t.len() == 3)
        .and_then(|t| t.parse::<u16>().ok());
    match status {
        Some(401) => "authentication required or gated repository: accept its terms on the hub and set HF_TOKEN".to_owned(),
        Some(403) => "access denied or gated repository: check that HF_TOKEN has access".to_owned(),
        Some(404) => format!("repository or revision '{revision}' not found (private repositories need HF_TOKEN)"),
        _ => format!("cannot reach {}: {text}", zoo_env::hf_endpoint()),
    }
}

pub(crate) fn resolve_url(repo: &str, commit: &str, path: &str) -> String {
    let encoded: Vec<String> = path.split('/').map(percent_encode).collect();
    format!(
        "{}/{repo}/resolve/{commit}/{}",
        zoo_env::hf_endpoint(),
        encoded.join("/")
    )
}

fn percent_encode(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The cache directory of one repository.
pub(crate) fn repo_dir(cache: &Path, repo: &str) -> PathBuf {
    cache.join(format!("models--{}", repo.replace('/', "--")))
}

/// A file already in the cache for this revision (through `refs/`) — the way
/// Python would find it offline.
pub(crate) fn cached_file(cache: &Path, repo: &str, revision: &str, path: &str) -> Option<PathBuf> {
    let hit = hf_hub::Cache::new(cache.to_owned())
        .repo(Repo::with_revision(
            repo.to_owned(),
            RepoType::Model,
            revision.to_owned(),
        ))
        .get(path)?;
    hit.is_file().then_some(hit)
}

/// Distinguishes temporary names made by threads of one process.
fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

pub(crate) fn blob_path(cache: &Path, repo: &str, etag: &str) -> PathBuf {
    repo_dir(cache, repo).join("blobs").join(etag)
}

/// Point `snapshots/<commit>/<path>` at the blob and `refs/<revision>` at the
/// commit, with relative links as Python writes them.
pub(crate) fn link_snapshot(
    cache: &Path,
    repo: &str,
    revision: &str,
    commit: &str,
    path: &str,
    etag: &str,
) -> Result<(), FetchError> {
    let dir = repo_dir(cache, repo);
    let link = dir.join("snapshots").join(commit).join(path);
    let parent = link.parent().expect("snapshot paths have a parent");
    std::fs::create_dir_all(parent).map_err(FetchError::io("cannot create", parent))?;
    let depth = path.split('/').count() + 1;
    let target: PathBuf = std::iter::repeat_n("..", depth)
        .collect::<PathBuf>()
        .join("blobs")
        .join(etag);
    let tmp = link.with_file_name(format!(".{}.{}.zoo-link", std::process::id(), unique()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&target, &tmp).map_err(FetchError::io("cannot link", &tmp))?;
    std::fs::rename(&tmp, &link).map_err(FetchError::io("cannot link", &link))?;
    if revision != commit {
        let refs = dir.join("refs");
        std::fs::create_dir_all(&refs).map_err(FetchError::io("cannot create", &refs))?;
        let ref_path = refs.join(revision);
        if let Some(p) = ref_path.parent() {
            std::fs::create_dir_all(p).map_err(FetchError::io("cannot create", p))?;
        }
        let tmp = refs.join(format!(".{}.{}.zoo-ref", std::process::id(), unique()));
        std::fs::write(&tmp, commit).map_err(FetchError::io("cannot write", &tmp))?;
        std::fs::rename(&tmp, &ref_path).map_err(FetchError::io("cannot write", &ref_path))?;
    }
    Ok(())
}
