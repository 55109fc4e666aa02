//! Fixture repos with their hashes computed once, as the server needs them.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;

use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::fixtures::{FileContent, FixtureDataset, FixtureFile, FixtureRepo, GateApproval};
use crate::meta::{self, Declared, Meta};

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
    /// (what the Hub reports as `blobId` / tree `oid`), or the one the fixture claims.
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

/// Which kind of Hub repository: they live under different URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RepoKind {
    Model,
    Dataset,
}

#[derive(Debug)]
pub(crate) struct Repo {
    pub kind: RepoKind,
    pub id: String,
    pub revision: String,
    pub gated: Option<GateApproval>,
    /// 40-hex digest of the file list and (listed) blob ids: stable for the same contents.
    pub commit: String,
    /// Sorted by path.
    pub files: Vec<Entry>,
    /// Card data, tags, config, parameter counts... as the info serves them.
    pub meta: Meta,
}

impl Repo {
    /// A model repo.
    pub fn prepare(fixture: FixtureRepo) -> io::Result<Repo> {
        Self::prepare_kind(RepoKind::Model, fixture, None)
    }

    /// A dataset repo.
    pub fn prepare_dataset(fixture: FixtureDataset) -> io::Result<Repo> {
        Self::prepare_kind(RepoKind::Dataset, fixture.repo, fixture.description)
    }

    fn prepare_kind(
        kind: RepoKind,
        fixture: FixtureRepo,
        description: Option<String>,
    ) -> io::Result<Repo> {
        let FixtureRepo {
            id,
            revision,
            files: mut fixture_files,
            gated,
            gate_approval,
            card_data,
            pipeline_tag,
            library_name,
            tags,
            downloads,
            likes,
        } = fixture;
        if let Some(card) = &card_data
            && !fixture_files
                .iter()
                .any(|f| f.path.trim_start_matches('/') == "README.md")
        {
            fixture_files.push(FixtureFile::text(
                "README.md",
                meta::generated_readme(&id, card),
            ));
        }
        let mut files = Vec::with_capacity(fixture_files.len());
        for f in fixture_files {
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
                    oid: f
                        .claimed_oid
                        .unwrap_or_else(|| git_blob_id(pointer.as_bytes())),
                    lfs_sha256: Some(sha256),
                    pointer_size: Some(pointer.len() as u64),
                }
            } else {
                Entry {
                    path,
                    source,
                    size,
                    oid: f.claimed_oid.unwrap_or(git_oid),
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
        let declared = Declared {
            card_data,
            pipeline_tag,
            library_name,
            tags,
            downloads,
            likes,
            description,
        };
        let meta = match kind {
            RepoKind::Model => meta::model_meta(declared, &files),
            RepoKind::Dataset => meta::dataset_meta(declared, &files),
        };
        Ok(Repo {
            kind,
            id,
            revision,
            gated: gated.then_some(gate_approval),
            commit: hex::encode(commit.finalize()),
            files,
            meta,
        })
    }

    /// `org/name/` for a model's files, `datasets/org/name/` for a dataset's:
    /// how logs and fault scopes name them.
    pub fn key_prefix(&self) -> String {
        match self.kind {
            RepoKind::Model => format!("{}/", self.id),
            RepoKind::Dataset => format!("datasets/{}/", self.id),
        }
    }

    /// A stable 24-hex `_id` (the Hub's are database ids), distinct per kind and id.
    pub fn object_id(&self) -> String {
        let kind = match self.kind {
            RepoKind::Model => "model",
            RepoKind::Dataset => "dataset",
        };
        hex::encode(Sha1::digest(format!("{kind}:{}", self.id).as_bytes()))[..24].to_string()
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

pub(crate) fn git_blob_id(bytes: &[u8]) -> String {
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
    /// Model repos by id.
    pub repos: BTreeMap<String, Arc<Repo>>,
    /// Dataset repos by id.
    pub datasets: BTreeMap<String, Arc<Repo>>,
    pub blobs: HashMap<String, Blob>,
}

impl Catalog {
    /// Adds or replaces a repo (by kind and id) and re-indexes the LFS objects.
    pub fn insert(&mut self, repo: Repo) {
        let map = match repo.kind {
            RepoKind::Model => &mut self.repos,
            RepoKind::Dataset => &mut self.datasets,
        };
        map.insert(repo.id.clone(), Arc::new(repo));
        self.blobs.clear();
        for repo in self.repos.values().chain(self.datasets.values()) {
            for e in &repo.files {
                if let Some(sha) = &e.lfs_sha256 {
                    self.blobs.entry(sha.clone()).or_insert_with(|| Blob {
                        source: e.source.clone(),
                        size: e.size,
                        file_key: format!("{}{}", repo.key_prefix(), e.path),
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

    #[test]
    fn card_data_adds_a_readme_unless_there_is_one() {
        let card = serde_json::json!({"license": "mit"});
        let repo = Repo::prepare(FixtureRepo::new("a/x").card_data(card.clone())).unwrap();
        let readme = repo.file("README.md").expect("a generated README");
        assert!(readme.lfs_sha256.is_none());
        assert_eq!(repo.meta.card_data, Some(card.clone()));
        let own = Repo::prepare(
            FixtureRepo::new("a/x")
                .text_file("README.md", "mine")
                .card_data(card.clone()),
        )
        .unwrap();
        assert_eq!(own.file("README.md").unwrap().size, 4);
        assert_eq!(own.meta.card_data, Some(card));
        assert!(
            Repo::prepare(FixtureRepo::new("a/x"))
                .unwrap()
                .files
                .is_empty()
        );
    }

    #[test]
    fn claimed_oids_are_listed_and_keep_the_commit_stable() {
        let lie = "ab".repeat(20);
        let liar = || {
            FixtureRepo::new("a/x").file(FixtureFile::text("f", "1").with_claimed_oid(lie.clone()))
        };
        let a = Repo::prepare(liar()).unwrap();
        assert_eq!(a.file("f").unwrap().oid, lie);
        assert_eq!(a.file("f").unwrap().etag(), lie);
        assert_eq!(a.commit, Repo::prepare(liar()).unwrap().commit);
        let honest = Repo::prepare(FixtureRepo::new("a/x").text_file("f", "1")).unwrap();
        assert_ne!(a.commit, honest.commit);
        assert_eq!(honest.file("f").unwrap().oid, git_blob_id(b"1"));
    }

    #[test]
    fn object_ids_differ_by_kind_and_id() {
        let model = Repo::prepare(FixtureRepo::new("a/x")).unwrap();
        let other = Repo::prepare(FixtureRepo::new("a/y")).unwrap();
        let dataset = Repo::prepare_dataset(FixtureDataset::new("a/x")).unwrap();
        assert_eq!(model.object_id().len(), 24);
        assert_ne!(model.object_id(), other.object_id());
        assert_ne!(model.object_id(), dataset.object_id());
        assert_eq!(dataset.key_prefix(), "datasets/a/x/");
    }
}
