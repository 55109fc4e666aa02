//! The one verifying writer every transfer goes through.
//!
//! [`VerifyingWriter`] wraps the output file and owns the hasher, the byte count
//! and the hard limit (the expected size, else the documented cap); it can be
//! seeded with the bytes already on disk for a resume, and [`VerifyingWriter::finish`]
//! checks size and digest together. [`copy`] is the only copy loop: it moves a
//! body into any [`Sink`] (the writer, or one part of a ranged download) and
//! enforces the minimum rate. A writer that is dropped without `finish` or
//! [`VerifyingWriter::keep`] deletes its file, so no error path leaves a
//! half-written file behind by accident.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha1::Sha1;
use sha2::{Digest, Sha256};
use zoo_types::GitBlobId;

use crate::error::FetchError;
use crate::hash::{BUF_SIZE, git_blob_header, hex_digest, update_from_reader};
use crate::http::Fetched;

/// What a transfer must turn out to be, and the most it may write.
#[derive(Debug, Clone)]
pub(crate) struct Expected {
    /// Card path, for messages.
    pub label: String,
    /// Where the bytes come from, for messages.
    pub source_desc: String,
    /// Exact size, when the card (or, failing that, the server) declares one.
    pub size: Option<u64>,
    pub sha256: Option<String>,
    /// For small files the hub keeps in plain git: the git blob id the listing
    /// gives, checked as well as (or, without a sha256, instead of) the digest.
    pub git_blob: Option<GitBlobId>,
    /// Bytes never to exceed: the expected size, else the unknown-size cap.
    pub limit: u64,
}

impl Expected {
    /// `size` bounds the transfer; without it, `cap` does.
    pub fn new(
        label: &str,
        source_desc: &str,
        size: Option<u64>,
        sha256: Option<String>,
        cap: u64,
    ) -> Expected {
        Expected {
            label: label.to_owned(),
            source_desc: source_desc.to_owned(),
            size,
            sha256,
            git_blob: None,
            limit: size.unwrap_or(cap),
        }
    }

    /// The git hasher to run beside sha256 while the file streams: only when a
    /// blob id is expected and the size (part of git's header) is known.
    fn git_hasher(&self) -> Option<(Sha1, u64)> {
        let (_, size) = (self.git_blob.as_ref()?, self.size?);
        Some((git_hasher_for(size), size))
    }

    /// Check the git blob id of a finished file in a second pass: for
    /// transfers that could not hash it while streaming (ranges, unknown size).
    pub fn check_git_file(&self, path: &Path) -> Result<(), FetchError> {
        let Some(expected) = &self.git_blob else {
            return Ok(());
        };
        let size = std::fs::metadata(path)
            .map_err(FetchError::io("cannot stat", path))?
            .len();
        let mut h = git_hasher_for(size);
        let file = File::open(path).map_err(FetchError::io("cannot read", path))?;
        update_from_reader(&mut h, file, None).map_err(FetchError::io("cannot read", path))?;
        self.check_git(expected, h)
    }

    fn check_git(&self, expected: &GitBlobId, hasher: Sha1) -> Result<(), FetchError> {
        let actual = GitBlobId::from_bytes(&hasher.finalize().into());
        if actual != *expected {
            return Err(FetchError::GitBlobMismatch {
                path: self.label.clone(),
                source_desc: self.source_desc.clone(),
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(())
    }

    /// The error for a body that goes past [`Expected::limit`].
    pub fn too_long(&self, actual: u64) -> FetchError {
        match self.size {
            Some(expected) => FetchError::SizeMismatch {
                path: self.label.clone(),
                source_desc: self.source_desc.clone(),
                expected,
                actual,
            },
            None => FetchError::TooLarge {
                path: self.label.clone(),
                source_desc: self.source_desc.clone(),
                limit: self.limit,
            },
        }
    }

    /// Size and digest together; the caller deletes the bytes on error.
    pub fn check(&self, size: u64, sha256: &str) -> Result<(), FetchError> {
        if let Some(expected) = self.size
            && expected != size
        {
            return Err(FetchError::SizeMismatch {
                path: self.label.clone(),
                source_desc: self.source_desc.clone(),
                expected,
                actual: size,
            });
        }
        if size > self.limit {
            return Err(self.too_long(size));
        }
        if let Some(expected) = &self.sha256
            && expected != sha256
        {
            return Err(FetchError::HashMismatch {
                path: self.label.clone(),
                source_desc: self.source_desc.clone(),
                expected: expected.clone(),
                actual: sha256.to_owned(),
            });
        }
        Ok(())
    }
}

/// Why a [`Sink`] refused bytes.
#[derive(Debug)]
pub(crate) enum SinkError {
    /// The bytes would go past the limit.
    TooLong {
        at: u64,
    },
    Io(std::io::Error),
}

/// Where [`copy`] puts bytes.
pub(crate) trait Sink {
    fn put(&mut self, bytes: &[u8]) -> Result<(), SinkError>;
}

/// Writes one file front to back, hashing and counting, never past its limit.
#[derive(Debug)]
pub(crate) struct VerifyingWriter {
    file: Option<File>,
    path: PathBuf,
    hasher: Sha256,
    /// The git blob hasher and the size its header names, when the transfer
    /// expects a blob id.
    git: Option<(Sha1, u64)>,
    written: u64,
    limit: u64,
    /// Bytes found on disk when the writer opened (a resume).
    seeded: u64,
}

impl VerifyingWriter {
    /// A new, empty file at `path` (replacing any).
    pub fn create(path: &Path, limit: u64) -> Result<VerifyingWriter, FetchError> {
        make_parent(path)?;
        let file = File::create(path).map_err(FetchError::io("cannot create", path))?;
        Ok(Self::with_file(file, path, limit, Sha256::new(), 0))
    }

    /// [`VerifyingWriter::resume`] for a transfer that must turn out as
    /// `expected`: a git blob id, when one is expected, is hashed as the bytes
    /// stream, beside the sha256.
    pub fn resume_expecting(
        path: &Path,
        expected: &Expected,
    ) -> Result<VerifyingWriter, FetchError> {
        let mut writer = Self::resume(path, expected.limit)?;
        if let Some((mut git, size)) = expected.git_hasher() {
            if writer.written > 0 {
                let reader = File::open(path).map_err(FetchError::io("cannot read", path))?;
                update_from_reader(&mut git, reader, Some(writer.written))
                    .map_err(FetchError::io("cannot read", path))?;
            }
            writer.git = Some((git, size));
        }
        Ok(writer)
    }

    /// Continue the file at `path`: its bytes are hashed once and counted. A
    /// file already longer than `limit` cannot be a prefix, so it starts over.
    pub fn resume(path: &Path, limit: u64) -> Result<VerifyingWriter, FetchError> {
        make_parent(path)?;
        let file = File::options()
            .create(true)
            .append(true)
            .read(true)
            .open(path)
            .map_err(FetchError::io("cannot open", path))?;
        let have = file
            .metadata()
            .map_err(FetchError::io("cannot stat", path))?
            .len();
        let mut writer = Self::with_file(file, path, limit, Sha256::new(), 0);
        if have > limit {
            writer.restart()?;
        } else if have > 0 {
            let reader = File::open(path).map_err(FetchError::io("cannot read", path))?;
            let read = update_from_reader(&mut writer.hasher, reader, Some(have))
                .map_err(FetchError::io("cannot read", path))?;
            writer.written = read;
            writer.seeded = read;
        }
        Ok(writer)
    }

    fn with_file(file: File, path: &Path, limit: u64, hasher: Sha256, n: u64) -> VerifyingWriter {
        VerifyingWriter {
            file: Some(file),
            path: path.to_owned(),
            hasher,
            git: None,
            written: n,
            limit,
            seeded: n,
        }
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    #[cfg(test)]
    pub fn seeded(&self) -> u64 {
        self.seeded
    }

    /// Drop every byte written so far (the server will send them all again).
    pub fn restart(&mut self) -> Result<(), FetchError> {
        if let Some(file) = &self.file {
            file.set_len(0)
                .map_err(FetchError::io("cannot truncate", &self.path))?;
        }
        self.hasher = Sha256::new();
        if let Some((git, size)) = &mut self.git {
            // The header names the whole file's size, which has not changed.
            *git = git_hasher_for(*size);
        }
        self.written = 0;
        self.seeded = 0;
        Ok(())
    }

    /// Close the file and leave it in place, e.g. for a later resume.
    pub fn keep(mut self) {
        self.file.take();
    }

    /// Flush, then check size and digest against `expected`. On success the
    /// file holds exactly the verified bytes; on any error it is deleted.
    pub fn finish(mut self, expected: &Expected) -> Result<Fetched, FetchError> {
        let file = self.file.take().expect("an open writer");
        let flushed = (&file).flush().and_then(|()| file.sync_data());
        drop(file);
        if let Err(e) = flushed {
            let _ = std::fs::remove_file(&self.path);
            return Err(FetchError::write_failed(&expected.label, &self.path, e));
        }
        let sha256 = hex_digest(std::mem::take(&mut self.hasher));
        let checked = expected.check(self.written, &sha256).and_then(|()| {
            match (&expected.git_blob, self.git.take()) {
                (Some(id), Some((git, _))) => expected.check_git(id, git),
                (Some(_), None) => expected.check_git_file(&self.path),
                (None, _) => Ok(()),
            }
        });
        if let Err(e) = checked {
            let _ = std::fs::remove_file(&self.path);
            return Err(e);
        }
        Ok(Fetched {
            sha256,
            size: self.written,
            transferred: self.written - self.seeded,
        })
    }
}

impl Sink for VerifyingWriter {
    fn put(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        let n = bytes.len() as u64;
        if self.written + n > self.limit {
            return Err(SinkError::TooLong {
                at: self.written + n,
            });
        }
        let file = self.file.as_mut().expect("an open writer");
        file.write_all(bytes).map_err(SinkError::Io)?;
        self.hasher.update(bytes);
        if let Some((git, _)) = &mut self.git {
            sha2::digest::Update::update(git, bytes);
        }
        self.written += n;
        Ok(())
    }
}

impl Drop for VerifyingWriter {
    fn drop(&mut self) {
        // Neither finished nor kept: whatever went wrong, the bytes are not
        // worth keeping.
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A sha1 hasher already fed git's `blob <size>\0` header.
fn git_hasher_for(size: u64) -> Sha1 {
    let mut h = Sha1::new();
    sha2::digest::Update::update(&mut h, git_blob_header(size).as_bytes());
    h
}

fn make_parent(path: &Path) -> Result<(), FetchError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(FetchError::io("cannot create", parent))?;
    }
    Ok(())
}

/// A body must bring at least `min_rate` bytes per second, averaged over each
/// `window`; a trickle that never quite stalls is cut off this way.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateFloor {
    pub min_rate: u64,
    pub window: Duration,
}

impl RateFloor {
    pub const NONE: RateFloor = RateFloor {
        min_rate: 0,
        window: Duration::MAX,
    };
}

/// Why [`copy`] stopped early.
#[derive(Debug)]
pub(crate) enum CopyError {
    /// Reading failed (for a network body: the connection broke or stalled).
    Read(std::io::Error),
    Write(std::io::Error),
    TooLong {
        at: u64,
    },
    /// Fewer than `min_rate * window` bytes arrived within a window.
    TooSlow {
        bytes: u64,
        window: Duration,
    },
}

/// Copy `reader` into `sink` until the end, calling `on_bytes` per chunk.
/// Returns the bytes copied; on error the bytes already put stay counted by the
/// sink (so a resume can continue after them).
pub(crate) fn copy(
    reader: &mut dyn Read,
    sink: &mut dyn Sink,
    floor: RateFloor,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<u64, CopyError> {
    let mut buf = vec![0u8; BUF_SIZE];
    let mut total = 0u64;
    let mut window_start = Instant::now();
    let mut window_bytes = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        sink.put(&buf[..n]).map_err(|e| match e {
            SinkError::TooLong { at } => CopyError::TooLong { at },
            SinkError::Io(e) => CopyError::Write(e),
        })?;
        total += n as u64;
        window_bytes += n as u64;
        on_bytes(n as u64);
        if floor.min_rate > 0 {
            let elapsed = window_start.elapsed();
            if elapsed >= floor.window {
                let needed = floor.min_rate as f64 * elapsed.as_secs_f64();
                if (window_bytes as f64) < needed {
                    return Err(CopyError::TooSlow {
                        bytes: window_bytes,
                        window: elapsed,
                    });
                }
                window_start = Instant::now();
                window_bytes = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(size: Option<u64>, sha: Option<&str>, cap: u64) -> Expected {
        Expected::new("f", "test", size, sha.map(str::to_owned), cap)
    }

    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn writes_hashes_and_checks_together() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.part");
        let mut w = VerifyingWriter::create(&path, 3).unwrap();
        let n = copy(&mut &b"abc"[..], &mut w, RateFloor::NONE, &mut |_| {}).unwrap();
        assert_eq!(n, 3);
        let got = w.finish(&expected(Some(3), Some(ABC), 100)).unwrap();
        assert_eq!((got.size, got.sha256.as_str()), (3, ABC));
        assert_eq!(std::fs::read(&path).unwrap(), b"abc");
    }

    #[test]
    fn limit_is_hard_and_errors_delete_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.part");
        let mut w = VerifyingWriter::create(&path, 2).unwrap();
        let err = copy(&mut &b"abc"[..], &mut w, RateFloor::NONE, &mut |_| {}).unwrap_err();
        assert!(matches!(err, CopyError::TooLong { at: 3 }), "{err:?}");
        assert_eq!(w.written(), 0);
        drop(w);
        assert!(!path.exists(), "a dropped writer leaves its file");

        // Wrong digest: deleted by finish.
        let mut w = VerifyingWriter::create(&path, 10).unwrap();
        copy(&mut &b"abd"[..], &mut w, RateFloor::NONE, &mut |_| {}).unwrap();
        let err = w.finish(&expected(None, Some(ABC), 10)).unwrap_err();
        assert!(matches!(err, FetchError::HashMismatch { .. }), "{err}");
        assert!(!path.exists());
    }

    #[test]
    fn resume_seeds_hash_and_count_and_keep_leaves_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.part");
        std::fs::write(&path, b"ab").unwrap();
        let mut w = VerifyingWriter::resume(&path, 3).unwrap();
        assert_eq!((w.written(), w.seeded()), (2, 2));
        w.put(b"c").unwrap();
        let got = w.finish(&expected(Some(3), Some(ABC), 3)).unwrap();
        assert_eq!((got.size, got.transferred), (3, 1));

        // Longer than the limit: not a prefix, start over.
        std::fs::write(&path, b"abcdef").unwrap();
        let w = VerifyingWriter::resume(&path, 3).unwrap();
        assert_eq!(w.written(), 0);
        w.keep();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    }

    #[test]
    fn unknown_size_is_bounded_by_the_cap() {
        let e = expected(None, None, 5);
        assert_eq!(e.limit, 5);
        assert!(matches!(
            e.too_long(6),
            FetchError::TooLarge { limit: 5, .. }
        ));
        assert!(matches!(e.check(6, ABC), Err(FetchError::TooLarge { .. })));
        let e = expected(Some(3), None, 1);
        assert_eq!(e.limit, 3, "a declared size wins over the cap");
        assert!(matches!(
            e.too_long(4),
            FetchError::SizeMismatch { expected: 3, .. }
        ));
        assert!(e.check(3, ABC).is_ok());
        assert!(e.check(2, ABC).is_err());
    }

    /// A reader that yields one byte per call, `delay` apart.
    struct Trickle {
        left: u32,
        delay: Duration,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.left == 0 {
                return Ok(0);
            }
            std::thread::sleep(self.delay);
            self.left -= 1;
            buf[0] = b'x';
            Ok(1)
        }
    }

    #[test]
    fn a_trickle_under_the_floor_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = VerifyingWriter::create(&dir.path().join("t"), 1000).unwrap();
        let floor = RateFloor {
            min_rate: 100,
            window: Duration::from_millis(50),
        };
        let mut slow = Trickle {
            left: 100,
            delay: Duration::from_millis(20),
        };
        let err = copy(&mut slow, &mut w, floor, &mut |_| {}).unwrap_err();
        assert!(matches!(err, CopyError::TooSlow { .. }), "{err:?}");
        assert!(w.written() < 10);
        // The same trickle passes without a floor.
        let mut slow = Trickle {
            left: 3,
            delay: Duration::from_millis(1),
        };
        assert_eq!(copy(&mut slow, &mut w, floor, &mut |_| {}).unwrap(), 3);
    }
}
