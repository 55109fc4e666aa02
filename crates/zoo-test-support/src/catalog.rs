//! Fixture repos with their hashes computed once, as the server needs them.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;

use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::fixtures::{FileContent, FixtureRepo};

/// Where a file's bytes come from when serving.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    Mem(Arc<Vec<u8>>),
    Disk(PathBuf),
}

/// A served file with the identifiers the Hub reports for it.
#[derive(Debug)]
pub(crate) struct Entry {
    pub path: String,
    pub source: Source,
    pub size: u64,
    /// Git blob id: of the content for plain files, of the LFS pointer for LFS files
    /// (what the Hub reports as `blobId` / tree `oid`).
    pub oid: String,
    /// sha256 of the content, for LFS files only.
    pub lfs_sha256: Option<String>,
    /// Length of the LFS pointer file, for LFS files only.
    pub pointer_size: Option<u64>,
}

impl Entry {
    /// The value of the `ETag` header (unquoted): sha256 for LFS, blob id otherwise.
    pub fn etag(&self) -> &str {
        self.lfs_sha256.as_deref().unwrap_or(&self.oid)
    }
}

#[derive(Debug)]
pub(crate) struct Repo {
    pub id: String,
    pub revision: String,
    pub gated: bool,
    /// 40-hex digest of the file list and blob ids: stable for the same contents.
    pub commit: String,
    /// Sorted by path.
    pub files: Vec<Entry>,
}

impl Repo {
    pub fn prepare(fixture: FixtureRepo) -> io::Result<Repo> {
        let mut files = Vec::with_capacity(fixture.files.len());
        for f in fixture.files {
            let path = f.path.trim_start_matches('/').to_string();
            let source = match f.content {
                FileContent::Bytes(b) => Source::Mem(Arc::new(b)),
                FileContent::Disk(p) => Source::Disk(p),
            };
            let (size, sha256, git_oid) = hash(&source)?;
            let entry = if f.lfs {
                let pointer = lfs_pointer(&sha256, size);
                Entry {
                    path,
                    source,
                    size,
                    oid: git_blob_id(pointer.as_bytes()),
                    lfs_sha256: Some(sha256),
                    pointer_size: Some(pointer.len() as u64),
                }
            } else {
                Entry {
                    path,
                    source,
                    size,
                    oid: git_oid,
                    lfs_sha256: None,
                    pointer_size: None,
                }
            };
            files.push(entry);
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files.dedup_by(|later, earlier| later.path == earlier.path);
        let mut commit = Sha1::new();
        for e in &files {
            commit.update(format!("{}\0{}\n", e.path, e.oid).as_bytes());
        }
        Ok(Repo {
            id: fixture.id,
            revision: fixture.revision,
            gated: fixture.gated,
            commit: hex::encode(commit.finalize()),
            files,
        })
    }

    /// Whether `rev` (already percent-decoded) names this repo's commit.
    pub fn has_revision(&self, rev: &str) -> bool {
        rev == self.revision || rev == self.commit
    }

    pub fn file(&self, path: &str) -> Option<&Entry> {
        self.files.iter().find(|e| e.path == path)
    }
}

/// The git-lfs pointer text that stands in the git tree for an LFS file.
fn lfs_pointer(sha256: &str, size: u64) -> String {
    format!("version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n")
}

fn git_blob_id(bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex::encode(h.finalize())
}

/// Size, sha256 and git blob id of a source, streaming disk files.
fn hash(source: &Source) -> io::Result<(u64, String, String)> {
    match source {
        Source::Mem(b) => Ok((
            b.len() as u64,
            hex::encode(Sha256::digest(b.as_slice())),
            git_blob_id(b),
        )),
        Source::Disk(path) => {
            let mut file = File::open(path)?;
            let size = file.metadata()?.len();
            let mut sha256 = Sha256::new();
            let mut sha1 = Sha1::new();
            sha1.update(format!("blob {size}\0").as_bytes());
            let mut buf = vec![0u8; 1 << 20];
            let mut seen = 0u64;
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                sha256.update(&buf[..n]);
                sha1.update(&buf[..n]);
                seen += n as u64;
            }
            if seen != size {
                return Err(io::Error::other(format!(
                    "{} changed while being hashed",
                    path.display()
                )));
            }
            Ok((
                size,
                hex::encode(sha256.finalize()),
                hex::encode(sha1.finalize()),
            ))
        }
    }
}

/// An LFS object reachable under `/cdn/{sha256}`.
#[derive(Debug, Clone)]
pub(crate) struct Blob {
    pub source: Source,
    pub size: u64,
    /// `org/name/path` of the first file holding these bytes: lets faults and
    /// log queries name a file even though the CDN URL only has the hash.
    pub file_key: String,
    /// Commit of that first repo, sent as `X-Repo-Commit` (see `routes`).
    pub commit: String,
}

/// Every repo the server knows, plus the LFS objects indexed by sha256.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    pub repos: BTreeMap<String, Arc<Repo>>,
    pub blobs: HashMap<String, Blob>,
}

impl Catalog {
    /// Adds or replaces a repo (by id) and re-indexes the LFS objects.
    pub fn insert(&mut self, repo: Repo) {
        self.repos.insert(repo.id.clone(), Arc::new(repo));
        self.blobs.clear();
        for repo in self.repos.values() {
            for e in &repo.files {
                if let Some(sha) = &e.lfs_sha256 {
                    self.blobs.entry(sha.clone()).or_insert_with(|| Blob {
                        source: e.source.clone(),
                        size: e.size,
                        file_key: format!("{}/{}", repo.id, e.path),
                        commit: repo.commit.clone(),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_ids_match_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            git_blob_id(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }

    #[test]
    fn lfs_pointer_size_matches_hub() {
        // The Hub reports 134 for files of 9-digit size.
        assert_eq!(lfs_pointer(&"0".repeat(64), 123_456_789).len(), 134);
    }

    #[test]
    fn commit_depends_on_contents_only() {
        let a = Repo::prepare(FixtureRepo::new("a/x").text_file("f", "1")).unwrap();
        let b = Repo::prepare(FixtureRepo::new("b/y").text_file("f", "1")).unwrap();
        let c = Repo::prepare(FixtureRepo::new("a/x").text_file("f", "2")).unwrap();
        assert_eq!(a.commit, b.commit);
        assert_ne!(a.commit, c.commit);
        assert_eq!(a.commit.len(), 40);
    }
}
