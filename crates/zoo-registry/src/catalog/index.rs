//! The catalog index: parsed cards of a catalog directory, kept in one file
//! per directory under zoo's cache so that a command reading a catalog of
//! 10,000 cards parses only the cards it shows.
//!
//! Each card and label file is recorded with its name, size, modification and
//! change times (nanoseconds) and inode, taken before the file is read. A
//! file whose record differs, or that has none, is read and parsed again, and
//! only it (so a copy that keeps sizes and modification times, `cp -p`, is
//! seen too). A file modified in the two seconds before it was looked at is
//! never recorded, since a second change within the file system's timestamp
//! granularity would not show.
//! Only cards that parsed and passed the per-card checks are recorded: an
//! invalid card is read again by every command, and reported as before.
//!
//! The file is written whole to a temporary name and renamed over the old one,
//! so a reader sees the old index or the new one, never a mix; two zoo
//! processes rebuilding it at once both succeed (the last rename wins). It is
//! read bounded (a few times the size of the directory's cards) and validated
//! ([`format`]); a damaged or foreign one is ignored and rewritten.

mod format;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(crate) use format::Blobs;
pub(crate) use format::hash64;
use format::{CardRecord, Encoder, IndexFile, LabelRecord, Seen, Stamp};

use super::layers::{read_card_file, read_labels_file};
use super::summary::Summary;
use super::{Entry, Origin, Slot, Stored, par};
use crate::card::{Card, SCHEMA_VERSION};
use crate::error::RegistryError;

/// Files modified this recently are read again next time rather than recorded.
const RACY_NS: i64 = 2_000_000_000;
/// Temporary files older than this were left by a killed zoo.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// How a directory is read: every `*.yaml` (`--registry`), or all but hidden
/// ones (the user catalog). Each has its own index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Strict,
    User,
}

/// An index file in use: where it is (removed if a card in it turns out
/// damaged), and its card JSON, read when a card is used.
#[derive(Debug)]
pub(crate) struct IndexBytes {
    pub path: PathBuf,
    pub blobs: Blobs,
}

/// One file of a catalog directory, looked at before it is read.
#[derive(Debug)]
pub(crate) struct FileStat {
    pub name: OsString,
    /// Size, times and inode, when the index may go by them: `None` for a
    /// file read every time (a name that is not UTF-8, not a regular file,
    /// modified too recently).
    seen: Option<Seen>,
}

impl FileStat {
    /// The name and look the index knows the file by.
    fn stamp(&self) -> Option<(&str, Seen)> {
        Some((self.name.to_str()?, self.seen?))
    }
}

/// The card files and label files of a directory, each sorted by name.
#[derive(Debug)]
pub(crate) struct Scan {
    pub dir: Arc<Path>,
    pub cards: Vec<FileStat>,
    pub labels: Vec<FileStat>,
}

/// List a catalog directory and its `labels/`; `None` when `dir` cannot be listed.
pub(crate) fn scan(dir: &Path, mode: Mode) -> Option<Scan> {
    let now = nanos(SystemTime::now()).unwrap_or(i64::MIN);
    let list = |dir: &Path, ext: &[&str], skip_hidden: bool| -> Option<Vec<FileStat>> {
        let entries: Vec<(OsString, std::fs::DirEntry)> = std::fs::read_dir(dir)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| (e.file_name(), e))
            .filter(|(name, _)| {
                Path::new(name)
                    .extension()
                    .is_some_and(|x| ext.iter().any(|ext| x == *ext))
                    && !(skip_hidden && name.to_string_lossy().starts_with('.'))
            })
            .collect();
        let mut files = stat_all(entries, now);
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Some(files)
    };
    Some(Scan {
        dir: Arc::from(dir),
        cards: list(dir, &["yaml", "yml"], mode == Mode::User)?,
        labels: list(&dir.join("labels"), &["txt"], false).unwrap_or_default(),
    })
}

/// Look at each file, on all cores when there are many (each look is a
/// system call, and 10,000 of them take longer than the rest of `zoo info`).
fn stat_all(entries: Vec<(OsString, std::fs::DirEntry)>, now: i64) -> Vec<FileStat> {
    let seen = par::map(&entries, 1024, |(_, e)| seen(e, now));
    entries
        .into_iter()
        .zip(seen)
        .map(|((name, _), seen)| FileStat { name, seen })
        .collect()
}

/// A regular file's size and modification time, unless it was modified too
/// recently to go by them.
fn seen(e: &std::fs::DirEntry, now: i64) -> Option<Seen> {
    use std::os::unix::fs::MetadataExt;
    let meta = match e.file_type() {
        Ok(t) if t.is_symlink() => std::fs::metadata(e.path()),
        _ => e.metadata(),
    };
    let m = meta.ok().filter(|m| m.is_file())?;
    let mtime_ns = nanos(m.modified().ok()?)?;
    let ctime_ns = m
        .ctime()
        .checked_mul(1_000_000_000)?
        .checked_add(m.ctime_nsec())?;
    (mtime_ns < now.saturating_sub(RACY_NS)).then_some(Seen {
        size: m.len(),
        mtime_ns,
        ctime_ns,
        inode: m.ino(),
    })
}

fn nanos(t: SystemTime) -> Option<i64> {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).ok(),
        Err(e) => i64::try_from(e.duration().as_nanos()).ok().map(|n| -n),
    }
}

/// What the next index will hold, decided while the directory is read.
#[derive(Debug)]
enum Keep {
    Old(usize),
    New(Stamp, Summary, Vec<u8>),
}

/// The index read at the start.
#[derive(Debug)]
struct Old {
    labels: Vec<LabelRecord>,
    cards: Vec<CardRecord>,
    head: Vec<u8>,
    shared: Arc<IndexBytes>,
}

/// The index of one directory while it is read: answers from the old index
/// where the files are unchanged, parses the rest, and writes the new index.
#[derive(Debug)]
pub(crate) struct DirCache {
    /// The index file and what its header must say; `None` with no index.
    file: Option<(PathBuf, String, String)>,
    old: Option<Old>,
    /// The next old card record to compare: records are in file name order,
    /// as the scan is.
    next_old: usize,
    old_labels: HashMap<String, usize>,
    cards: Vec<Keep>,
    labels: Vec<(Stamp, Vec<String>, bool)>,
    changed: bool,
}

impl DirCache {
    /// Parses everything and records nothing: the catalog without an index.
    pub fn none() -> DirCache {
        DirCache {
            file: None,
            old: None,
            next_old: 0,
            old_labels: HashMap::new(),
            cards: Vec::new(),
            labels: Vec::new(),
            changed: false,
        }
    }

    /// The index of `dir` under `index_dir`, read if there is a good one.
    pub fn open(index_dir: &Path, dir: &Path, mode: Mode, scan: &Scan) -> DirCache {
        let Some(canonical) = std::fs::canonicalize(dir)
            .ok()
            .and_then(|p| p.into_os_string().into_string().ok())
        else {
            return DirCache::none();
        };
        let key = format!("{mode:?}:{canonical}");
        let path = index_dir.join(format!("{:016x}.idx", hash64(key.as_bytes())));
        let build = build_id();
        let mut cache = DirCache::none();
        if let Some(file) = format::read(&path, bound(scan), &build, &key) {
            cache.old_labels = file
                .labels
                .iter()
                .enumerate()
                .map(|(i, l)| (l.stamp.name.clone(), i))
                .collect();
            let IndexFile {
                labels,
                cards,
                head,
                blobs,
            } = file;
            let shared = Arc::new(IndexBytes {
                path: path.clone(),
                blobs,
            });
            cache.old = Some(Old {
                labels,
                cards,
                head,
                shared,
            });
        }
        cache.changed = cache.old.is_none();
        cache.file = Some((path, build, key));
        cache
    }

    /// The cards of `files` (of `dir`, in scan order), each from the index
    /// if it is unchanged, else read, parsed and checked on its own (on all
    /// cores when there are many), and recorded for the next index.
    pub fn cards(
        &mut self,
        dir: &Arc<Path>,
        files: Vec<FileStat>,
    ) -> Vec<Result<Slot, RegistryError>> {
        let hits: Vec<Option<(usize, Summary)>> = files.iter().map(|f| self.hit(f)).collect();
        let misses: Vec<&FileStat> = files
            .iter()
            .zip(&hits)
            .filter_map(|(f, hit)| hit.is_none().then_some(f))
            .collect();
        let recording = self.file.is_some();
        let mut parsed = par::map(&misses, 16, |f| {
            let card = read_card_file(&dir.join(&f.name))?;
            let json = f
                .stamp()
                .filter(|_| recording)
                .and_then(|(_, seen)| to_json(&card, seen.size));
            Ok((card, json))
        })
        .into_iter();
        let mut slots = Vec::with_capacity(files.len());
        for (file, hit) in files.into_iter().zip(hits) {
            if let Some((i, summary)) = hit {
                let Some(old) = &self.old else {
                    unreachable!("a hit comes from the old index")
                };
                let record = &old.cards[i];
                self.cards.push(Keep::Old(i));
                slots.push(Ok(Slot::stored(
                    summary,
                    Stored {
                        index: Arc::clone(&old.shared),
                        blob: record.blob.clone(),
                        hash: record.hash,
                        dir: Arc::clone(dir),
                        name: file.name,
                    },
                )));
                continue;
            }
            let Some(result) = parsed.next() else {
                unreachable!("one result per miss")
            };
            slots.push(result.map(|(card, json): (Card, Option<Vec<u8>>)| {
                if let (Some(json), Some((name, seen))) = (json, file.stamp()) {
                    let stamp = Stamp {
                        name: name.to_owned(),
                        seen,
                    };
                    self.cards.push(Keep::New(stamp, Summary::of(&card), json));
                    self.changed = true;
                }
                Slot::parsed(Entry {
                    card,
                    origin: Origin::Dir {
                        path: dir.join(&file.name),
                    },
                })
            }));
        }
        slots
    }

    /// The old record of `file` if it is unchanged: its place and summary.
    /// Records are sorted by file name, as files come.
    fn hit(&mut self, file: &FileStat) -> Option<(usize, Summary)> {
        let (name, seen) = file.stamp()?;
        let records = &mut self.old.as_mut()?.cards;
        while self.next_old < records.len() && *records[self.next_old].stamp.name < *name {
            self.next_old += 1;
        }
        let record = records.get_mut(self.next_old)?;
        if record.stamp.name != name || record.stamp.seen != seen {
            return None;
        }
        let summary = record.summary.take()?;
        self.next_old += 1;
        Some((self.next_old - 1, summary))
    }

    /// The class names of a label file (`None` when there is none): from the
    /// index if `file` (in `labels/`) is unchanged, else read from `path`.
    pub fn labels(
        &mut self,
        file: Option<&FileStat>,
        path: &Path,
    ) -> Result<Option<Vec<String>>, RegistryError> {
        let stamp = file.and_then(FileStat::stamp).map(|(name, seen)| Stamp {
            name: format!("labels/{name}"),
            seen,
        });
        if let (Some(stamp), Some(old)) = (&stamp, &self.old)
            && let Some(&i) = self.old_labels.get(&stamp.name)
            && old.labels[i].stamp == *stamp
        {
            let names = old.labels[i].names.clone();
            self.labels.push((stamp.clone(), names.clone(), false));
            return Ok(Some(names));
        }
        let names = read_labels_file(path)?;
        if let (Some(stamp), Some(names)) = (stamp, &names)
            && self.file.is_some()
        {
            self.labels.push((stamp, names.clone(), true));
            self.changed = true;
        }
        Ok(names)
    }

    /// Write the new index if it differs from the old one. Best effort: a
    /// cache that cannot be written costs time, never the command.
    pub fn finish(self) {
        let Some((path, build, key)) = &self.file else {
            return;
        };
        let kept_old = |k: &&Keep| matches!(k, Keep::Old(_));
        if let Some(old) = &self.old
            && !self.changed
            && self.cards.iter().filter(kept_old).count() == old.cards.len()
            && self.labels.iter().filter(|l| !l.2).count() == old.labels.len()
        {
            return;
        }
        let mut out = Encoder::default();
        for (stamp, names, _) in &self.labels {
            out.label(stamp, names);
        }
        if let Some(old) = &self.old
            && self.cards.iter().any(|k| kept_old(&k))
        {
            old.shared.blobs.read_all();
        }
        for keep in &self.cards {
            match keep {
                Keep::Old(i) => {
                    let Some(old) = &self.old else {
                        unreachable!("Keep::Old comes from an old index")
                    };
                    let r = &old.cards[*i];
                    let Some(json) = old.shared.blobs.get(r.blob.clone()) else {
                        return;
                    };
                    out.card_raw(&r.stamp, &old.head[r.raw.clone()], &json, r.hash);
                }
                Keep::New(stamp, summary, json) => out.card(stamp, summary, json, hash64(json)),
            }
        }
        write_atomically(path, &out.finish(build, key));
    }
}

/// The most an index of this directory can take: each card's JSON is kept
/// only while under 3 times its YAML (see [`to_json`]), and appears once more
/// in its summary at most.
fn bound(scan: &Scan) -> u64 {
    let size = |f: &FileStat| f.seen.map_or(0, |s| s.size);
    let cards: u64 = scan.cards.iter().map(|f| 8 * size(f) + 16384).sum();
    let labels: u64 = scan.labels.iter().map(|f| 3 * size(f) + 1024).sum();
    (1 << 20) + cards + labels
}

/// The card as JSON, if it reads back as the same card and stays within the
/// bound; else the card is parsed from its YAML every time.
fn to_json(card: &Card, yaml_size: u64) -> Option<Vec<u8>> {
    let json = serde_json::to_vec(card).ok()?;
    if json.len() as u64 > 3 * yaml_size + 4096 {
        return None;
    }
    let back: Card = serde_json::from_slice(&json).ok()?;
    (back == *card).then_some(json)
}

/// What built an index: another zoo (another binary, or this one rebuilt)
/// may parse or check cards differently, so it starts a new index.
fn build_id() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| {
            let m = std::fs::metadata(&p).ok()?;
            Some(format!(
                "{} {} {}",
                p.display(),
                m.len(),
                nanos(m.modified().ok()?)?
            ))
        })
        .unwrap_or_default();
    format!(
        "zoo-registry {} schema {SCHEMA_VERSION} {exe}",
        env!("CARGO_PKG_VERSION")
    )
}

/// Write `bytes` to a temporary file beside `path` and rename it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    remove_stale_temps(dir);
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| std::io::Write::write_all(&mut f, bytes))
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Temporary files of zoo processes that were killed while writing.
fn remove_stale_temps(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMP);
        if name.starts_with('.') && name.contains(".idx.tmp-") && old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
