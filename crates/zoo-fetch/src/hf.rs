//! The Hugging Face source: the hub API through the hf-hub crate, the bytes
//! through our own verified transfer, and the standard cache layout
//! (`models--org--name/{blobs,snapshots/<commit>,refs}`) so that Python
//! huggingface_hub finds what zoo pulled, and zoo reuses what Python pulled.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Repo, RepoType};
use serde::Deserialize;
use zoo_types::{CommitId, RelPath, RepoId, Revision, Sha256Hex, TerminalSafe};

use crate::error::FetchError;

/// zoo's partial downloads in the Hugging Face cache. Python's own partial suffix
/// (`.incomplete`) is avoided on purpose: Python would resume a file that zoo
/// writes out of order in parts, and Python does not verify what it resumes.
pub(crate) const PARTIAL_SUFFIX: &str = ".zoo-partial";
pub(crate) const PARTIAL_META_SUFFIX: &str = ".zoo-partial.json";

/// The largest revision API answer read. The hub's answer lists one entry per
/// file (a few hundred bytes each), so 16 MiB is tens of thousands of files; a
/// larger answer is a broken or hostile server, not a model.
pub(crate) const MAX_API_BODY: u64 = 16 << 20;

/// The name of a blob in the Hugging Face cache: the LFS sha256 of the content,
/// else the git blob id (40 hex digits, the same form as a commit id). Either is
/// validated hex, so it is a safe file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BlobName {
    Lfs(Sha256Hex),
    Git(CommitId),
}

impl BlobName {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            BlobName::Lfs(sha) => sha.as_str(),
            BlobName::Git(oid) => oid.as_str(),
        }
    }
}

/// What the hub says about one file at one commit.
#[derive(Debug, Clone)]
pub(crate) struct RemoteFile {
    pub size: Option<u64>,
    /// LFS files: the sha256 of the content.
    pub lfs_sha256: Option<Sha256Hex>,
    /// The name Python's cache gives the blob; `None` when the hub gave neither
    /// an LFS digest nor a blob id.
    pub etag: Option<BlobName>,
}

#[derive(Debug, Clone)]
pub(crate) struct RepoSnapshot {
    pub commit: CommitId,
    pub files: HashMap<RelPath, RemoteFile>,
    /// Entries the hub listed that are not safe relative paths, or came with a
    /// malformed digest: why, escaped for display. They are never fetched.
    pub refused: Vec<String>,
    /// Of those, the ones with a valid name: a card that needs one fails.
    pub refused_names: HashMap<RelPath, String>,
}

impl RepoSnapshot {
    /// Why `remote` is not in the listing, naming the refused entries if any.
    pub(crate) fn missing(&self, remote: &RelPath, revision: &Revision) -> String {
        let mut message = format!("has no file '{remote}' at revision {revision}");
        if !self.refused.is_empty() {
            // A few examples name the problem; a hostile listing may hold thousands.
            let shown: Vec<&str> = self.refused.iter().take(5).map(String::as_str).collect();
            let more = if self.refused.len() > shown.len() {
                "; ..."
            } else {
                ""
            };
            message.push_str(&format!(
                " (the hub listed {} unsafe or malformed entries, ignored: {}{more})",
                self.refused.len(),
                shown.join("; ")
            ));
        }
        message
    }
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

/// Timeouts of the API call: the same connect and stall limits as downloads
/// (`ZOO_STALL_TIMEOUT` applies to every read), and an overall limit of four
/// stall periods (at least a minute) so a server trickling bytes cannot hold a
/// pull forever.
fn api_timeouts() -> Result<(Duration, Duration, Duration), FetchError> {
    let stall = zoo_env::stall_timeout()?;
    let global = (stall * 4).max(Duration::from_secs(60));
    Ok((zoo_env::connect_timeout()?, stall, global))
}

/// Resolve a revision to a commit and list the files with their LFS digests.
/// Everything the hub says is validated before it is used or printed: the commit
/// must be 40 lower-case hex digits, names must be safe relative paths, digests
/// hex.
pub(crate) fn repo_snapshot(
    repo: &RepoId,
    revision: &Revision,
    token: Option<&str>,
) -> Result<RepoSnapshot, FetchError> {
    let hub_err = |message: String| FetchError::Hub {
        repo: repo.to_string(),
        message,
    };
    let endpoint = zoo_env::hf_endpoint();
    let shown_endpoint = TerminalSafe::new(&endpoint);
    let api = ApiBuilder::new()
        .with_endpoint(endpoint.clone())
        .with_token(token.map(str::to_owned))
        .with_progress(false)
        .build()
        .map_err(|e| hub_err(format!("cannot build the hub client: {e}")))?;
    let api_repo = api.repo(Repo::with_revision(
        repo.to_string(),
        RepoType::Model,
        revision.to_string(),
    ));
    let (connect, stall, global) = api_timeouts()?;
    let mut response = api_repo
        .info_request()
        .query("blobs", "true")
        .config()
        .timeout_connect(Some(connect))
        .timeout_per_read(Some(stall))
        .timeout_global(Some(global))
        .build()
        .call()
        .map_err(|e| hub_err(describe_ureq(&e, revision)))?;
    let info: InfoJson = response
        .body_mut()
        .with_config()
        .limit(MAX_API_BODY)
        .read_json()
        .map_err(|e| {
            hub_err(format!(
                "unexpected answer from {shown_endpoint} (at most {} MiB of JSON is read): {}",
                MAX_API_BODY >> 20,
                TerminalSafe::shortened(&e.to_string(), 200)
            ))
        })?;
    let commit = CommitId::parse(&info.sha).map_err(|e| FetchError::UntrustedAnswer {
        from: format!("{shown_endpoint} for '{repo}' at revision '{revision}'"),
        message: format!(
            "the revision resolved to a malformed commit: {e}; it is never used as a folder name \
             (check HF_ENDPOINT: is it a Hugging Face hub, reached over https?)"
        ),
    })?;
    let mut files = HashMap::new();
    let mut refused = Vec::new();
    let mut refused_names = HashMap::new();
    for s in info.siblings {
        match remote_file(&s) {
            Ok((name, file)) => {
                files.insert(name, file);
            }
            Err((name, why)) => {
                if let Some(name) = name {
                    refused_names.insert(name, why.clone());
                }
                refused.push(why);
            }
        }
    }
    Ok(RepoSnapshot {
        commit,
        files,
        refused,
        refused_names,
    })
}

type Refused = (Option<RelPath>, String);

/// One listed file, validated; or why it was refused (escaped, shortened), with
/// its name when the name itself was valid.
fn remote_file(s: &SiblingJson) -> Result<(RelPath, RemoteFile), Refused> {
    let name = RelPath::parse(&s.rfilename).map_err(|e| (None, format!("file name: {e}")))?;
    let refuse = |why: String| (Some(name.clone()), format!("'{name}': {why}"));
    let lfs_sha256 = match &s.lfs {
        Some(l) => Some(Sha256Hex::parse(&l.sha256).map_err(|e| refuse(format!("LFS {e}")))?),
        None => None,
    };
    let blob_id = match &s.blob_id {
        Some(id) => Some(CommitId::parse(id).map_err(|e| {
            refuse(format!(
                "git blob id: invalid '{}': {} (a git object id is 40 lower-case hex digits)",
                e.value, e.reason
            ))
        })?),
        None => None,
    };
    let etag = lfs_sha256
        .clone()
        .map(BlobName::Lfs)
        .or(blob_id.map(BlobName::Git));
    let size = s.lfs.as_ref().map(|l| l.size).or(s.size);
    Ok((
        name,
        RemoteFile {
            size,
            lfs_sha256,
            etag,
        },
    ))
}

fn describe_ureq(e: &impl std::fmt::Display, revision: &Revision) -> String {
    let text = TerminalSafe::shortened(&e.to_string(), 300).to_string();
    // ureq reports HTTP failures as "http status: N".
    let status = text
        .rsplit(|c: char| !c.is_ascii_digit())
        .find(|t| t.len() == 3)
        .and_then(|t| t.parse::<u16>().ok());
    match status {
        Some(401) => "authentication required or gated repository: accept its terms on the hub and set HF_TOKEN".to_owned(),
        Some(403) => "access denied or gated repository: check that HF_TOKEN has access".to_owned(),
        Some(404) => format!("repository or revision '{revision}' not found (private repositories need HF_TOKEN)"),
        _ => format!(
            "cannot reach {}: {text}",
            TerminalSafe::new(&zoo_env::hf_endpoint())
        ),
    }
}

pub(crate) fn resolve_url(repo: &RepoId, commit: &CommitId, path: &RelPath) -> String {
    format!(
        "{}/{repo}/resolve/{commit}/{}",
        zoo_env::hf_endpoint(),
        encode_path(path)
    )
}

/// A relative path as URL path segments, each percent-encoded.
pub(crate) fn encode_path(path: &RelPath) -> String {
    let encoded: Vec<String> = path.components().map(percent_encode).collect();
    encoded.join("/")
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
pub(crate) fn repo_dir(cache: &Path, repo: &RepoId) -> PathBuf {
    cache.join(repo.cache_folder())
}

/// Most bytes read from a `refs/<revision>` file (a commit id and a newline).
const MAX_REF_BYTES: u64 = 4096;

/// A file already in the cache for this revision (through `refs/`) — the way
/// Python would find it offline. The ref file is read as a commit id, so a
/// tampered ref cannot point the lookup outside the repository's folder.
pub(crate) fn cached_file(
    cache: &Path,
    repo: &RepoId,
    revision: &Revision,
    path: &RelPath,
) -> Option<PathBuf> {
    let dir = repo_dir(cache, repo);
    let commit = match CommitId::parse(revision) {
        Ok(commit) => commit,
        Err(_) => {
            let ref_file = revision.as_rel_path().join_to(&dir.join("refs"));
            // A ref holds one commit id: a bounded read of a regular file, so a
            // FIFO or a huge file planted in the shared cache cannot hang a pull.
            let text = zoo_fs::read_to_string_bounded(&ref_file, MAX_REF_BYTES).ok()?;
            CommitId::parse(text.trim()).ok()?
        }
    };
    let hit = path.join_to(&dir.join("snapshots").join(commit.as_str()));
    hit.is_file().then_some(hit)
}

/// Distinguishes temporary names made by threads of one process.
fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// `blobs/<name>` of a repository: the name is a validated digest or blob id.
pub(crate) fn blob_path(cache: &Path, repo: &RepoId, blob: &BlobName) -> PathBuf {
    repo_dir(cache, repo).join("blobs").join(blob.as_str())
}

/// Point `snapshots/<commit>/<path>` at the blob and `refs/<revision>` at the
/// commit, with relative links as Python writes them. Every component is a
/// validated type, so no join leaves the repository's folder.
pub(crate) fn link_snapshot(
    cache: &Path,
    repo: &RepoId,
    revision: &Revision,
    commit: &CommitId,
    path: &RelPath,
    blob: &BlobName,
) -> Result<(), FetchError> {
    let dir = repo_dir(cache, repo);
    let link = path.join_to(&dir.join("snapshots").join(commit.as_str()));
    let parent = link.parent().expect("snapshot paths have a parent");
    std::fs::create_dir_all(parent).map_err(FetchError::io("cannot create", parent))?;
    let depth = path.depth() + 1;
    let target: PathBuf = std::iter::repeat_n("..", depth)
        .collect::<PathBuf>()
        .join("blobs")
        .join(blob.as_str());
    let tmp = link.with_file_name(format!(".{}.{}.zoo-link", std::process::id(), unique()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&target, &tmp).map_err(FetchError::io("cannot link", &tmp))?;
    if let Err(e) = std::fs::rename(&tmp, &link) {
        let _ = std::fs::remove_file(&tmp);
        return Err(FetchError::io("cannot link", &link)(e));
    }
    if revision.as_str() != commit.as_str() {
        let refs = dir.join("refs");
        std::fs::create_dir_all(&refs).map_err(FetchError::io("cannot create", &refs))?;
        let ref_path = revision.as_rel_path().join_to(&refs);
        if let Some(p) = ref_path.parent() {
            std::fs::create_dir_all(p).map_err(FetchError::io("cannot create", p))?;
        }
        let tmp = refs.join(format!(".{}.{}.zoo-ref", std::process::id(), unique()));
        let written = std::fs::write(&tmp, commit.as_str())
            .map_err(FetchError::io("cannot write", &tmp))
            .and_then(|()| {
                std::fs::rename(&tmp, &ref_path).map_err(FetchError::io("cannot write", &ref_path))
            });
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_encoded_url_segments() {
        let path = RelPath::parse("sub dir/model#1?.onnx").unwrap();
        assert_eq!(encode_path(&path), "sub%20dir/model%231%3F.onnx");
        let plain = RelPath::parse("onnx/model-1.2_x~.onnx").unwrap();
        assert_eq!(encode_path(&plain), "onnx/model-1.2_x~.onnx");
    }
}
