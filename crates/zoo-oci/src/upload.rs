//! Blob uploads that survive a kill. A blob the repository already has is not
//! sent (HEAD first); one another repository of the registry has is mounted;
//! anything else goes up in chunks, and after each chunk the upload's URL is
//! saved beside the store. A later push asks the registry how much of that
//! upload it holds (`GET <upload URL>` → `Range: 0-N`) and continues from
//! there: distribution 2.8 appends a PATCH at whatever offset it is sent, so
//! the client must know the offset, not assume it.
//!
//! Every byte sent is hashed as it is read, and the upload is finished only
//! when the file still hashes to the digest the store recorded: a store file
//! that changed since it was verified is refused here (the upload dropped,
//! no manifest published) instead of being re-hashed before the push starts.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zoo_fetch::Progress;
use zoo_types::{OciRepository, Sha256Hex, TerminalSafe};

use crate::chunks::{finish, hash_prefix, read_hashed};
use crate::client::{Action, Client, read_limited, status_error};
use crate::error::OciError;
use crate::push::Blob;

/// How a blob reached the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Pushed {
    /// The repository had it: nothing sent.
    Present,
    /// Mounted from another repository of the registry: nothing sent.
    Mounted,
    /// Uploaded; `resumed` bytes were already at the registry from an
    /// interrupted push.
    Uploaded { sent: u64, resumed: u64 },
}

impl Pushed {
    pub fn sent(&self) -> u64 {
        match self {
            Pushed::Uploaded { sent, .. } => *sent,
            _ => 0,
        }
    }
}

/// An upload in progress, saved after every chunk.
#[derive(Debug, Serialize, Deserialize)]
struct Session {
    location: String,
}

/// Where upload sessions are kept: one file per registry, repository and blob.
fn session_path(dir: &Path, client: &Client, repo: &OciRepository, digest: &Sha256Hex) -> PathBuf {
    let key = crate::sha256_bytes(format!("{}/{repo}", client.registry()).as_bytes());
    dir.join(format!("{}-{digest}.json", &key.as_str()[..16]))
}

/// Where a push sends its blobs, and what its uploads share.
pub(crate) struct Destination<'a> {
    pub client: &'a Client,
    pub repo: &'a OciRepository,
    /// Another repository of the same registry that may hold the blobs.
    pub mount_from: Option<&'a OciRepository>,
    /// Where upload sessions are saved for a later push to resume.
    pub sessions: PathBuf,
    /// The model pushed, named in errors.
    pub model: &'a str,
    pub progress: &'a dyn Progress,
    /// Set when one blob failed: the others stop after their current chunk,
    /// keeping their sessions for the next push.
    pub failed: AtomicBool,
}

impl Destination<'_> {
    /// `blob`'s file is not what the store recorded: `found` says how.
    fn changed(&self, blob: &Blob, found: String) -> OciError {
        OciError::Changed {
            model: self.model.to_owned(),
            file: blob.label.clone(),
            path: blob.path.clone(),
            found,
        }
    }

    /// A read of `blob` failed; a file that ended early has changed.
    fn read_error(&self, blob: &Blob, e: std::io::Error) -> OciError {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            self.changed(
                blob,
                format!("it is shorter than the recorded {} bytes", blob.size),
            )
        } else {
            OciError::io("cannot read", &blob.path)(e)
        }
    }
}

/// Push `blob` (a file on disk that hashed to its digest when zoo stored it)
/// to `to`.
pub(crate) fn push_blob(to: &Destination<'_>, blob: &Blob) -> Result<Pushed, OciError> {
    let (client, repo, digest) = (to.client, to.repo, &blob.digest);
    if client.head_blob(repo, digest, Action::Push)?.is_some() {
        return Ok(Pushed::Present);
    }
    let state = session_path(&to.sessions, client, repo, digest);
    let saved = match read_session(&state) {
        Some(saved) => upload_offset(client, repo, &saved.location)?.map(|at| (saved.location, at)),
        None => None,
    };
    // Only a file that still has its recorded size is read; an upload the
    // registry holds more of than the blob has can never finish.
    let on_disk = std::fs::metadata(&blob.path).map(|m| m.len());
    let resumed = match (saved, &on_disk) {
        (Some((location, at)), Ok(len)) if at <= blob.size && *len == blob.size => {
            Some((location, at))
        }
        (Some((location, _)), _) => {
            drop_upload(client, repo, &location, &state);
            None
        }
        (None, _) => None,
    };
    match on_disk {
        Ok(len) if len == blob.size => {}
        Ok(len) => {
            return Err(to.changed(
                blob,
                format!("it is {len} bytes, not the recorded {}", blob.size),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(to.changed(blob, "it is missing".to_owned()));
        }
        Err(e) => return Err(OciError::io("cannot read", &blob.path)(e)),
    }
    let (mut location, offset) = match resumed {
        Some(r) => r,
        None => {
            let _ = std::fs::remove_file(&state);
            match start(client, repo, digest, to.mount_from)? {
                Start::Mounted => return Ok(Pushed::Mounted),
                Start::Session(location) => (location, 0),
            }
        }
    };
    let sent = send_chunks(to, blob, &state, &mut location, offset).and_then(|hasher| {
        let sent = finish(hasher);
        if sent == *digest {
            Ok(())
        } else {
            Err(to.changed(
                blob,
                format!("it hashes to sha256:{sent}, not the recorded sha256:{digest}"),
            ))
        }
    });
    if let Err(e) = sent {
        // Never finish an upload of bytes other than the recorded ones: the
        // registry is told to drop it, and the next push starts afresh.
        if matches!(e, OciError::Changed { .. } | OciError::BadArtifact(_)) {
            drop_upload(client, repo, &location, &state);
        }
        return Err(e);
    }
    let sep = if location.contains('?') { '&' } else { '?' };
    let url = format!("{location}{sep}digest=sha256:{digest}");
    let resp = client.send(repo, Action::Push, |c| {
        c.put(&url).header(CONTENT_LENGTH, 0).body(Vec::new())
    })?;
    let status = resp.status().as_u16();
    let _ = std::fs::remove_file(&state);
    if status != 201 {
        let body = read_limited(resp, 1 << 20, "the answer").unwrap_or_default();
        return Err(status_error(
            &format!("finishing the upload of {}", blob.label),
            status,
            &body,
        ));
    }
    to.progress.file_done(&blob.label, "pushed");
    Ok(Pushed::Uploaded {
        sent: blob.size - offset,
        resumed: offset,
    })
}

/// Send `blob` from `offset` (what the registry holds) to its end in chunks
/// of `ZOO_OCI_CHUNK_SIZE`, saving the session after each: the sha256 of the
/// whole file as sent.
fn send_chunks(
    to: &Destination<'_>,
    blob: &Blob,
    state: &Path,
    location: &mut String,
    mut offset: u64,
) -> Result<Sha256, OciError> {
    let (path, size, label) = (blob.path.as_path(), blob.size, blob.label.as_str());
    let chunk_bytes = zoo_env::oci_chunk_size().map_err(|e| OciError::Invalid(e.to_string()))?;
    to.progress.file_start(label, Some(size), offset);
    // The sha256 of the file's first `.0` bytes; the bytes the registry
    // already holds are hashed from disk, not sent again.
    let mut hashed = (
        offset,
        hash_prefix(path, offset).map_err(|e| to.read_error(blob, e))?,
    );
    let mut chunks = 0u32;
    std::thread::scope(|scope| -> Result<(), OciError> {
        // The next chunk is read and hashed while this one is sent: the
        // registry would otherwise sit idle for every read (a quarter of a
        // second per 512 MiB here, measured against skopeo's streamed upload).
        let mut ahead: Option<(u64, std::thread::ScopedJoinHandle<'_, _>)> = None;
        // The buffer of the chunk sent last, read into again: a fresh 64 MiB
        // per chunk cost a sixth of zoo's CPU in page faults.
        let mut spare: Option<bytes::BytesMut> = None;
        while offset < size {
            if to.failed.load(Ordering::Relaxed) {
                return Err(OciError::Stopped);
            }
            let len = chunk_bytes.min(size - offset);
            let read = match ahead.take() {
                Some((at, reading)) if at == offset => {
                    reading.join().expect("the chunk reader does not panic")
                }
                // The registry holds another offset than we counted: read
                // afresh (a read ahead for the wrong place is dropped).
                _ => (|| {
                    if hashed.0 != offset {
                        hashed = (offset, hash_prefix(path, offset)?);
                    }
                    read_hashed(path, offset, len, hashed.1.clone(), spare.take())
                })(),
            };
            let (body, hasher) = read.map_err(|e| to.read_error(blob, e))?;
            let next = offset + len;
            hashed = (next, hasher.clone());
            if next < size {
                let next_len = chunk_bytes.min(size - next);
                let buffer = spare.take();
                ahead = Some((
                    next,
                    scope.spawn(move || read_hashed(path, next, next_len, hasher, buffer)),
                ));
            }
            let url = location.clone();
            let range = format!("{}-{}", offset, offset + len - 1);
            let resp = to.client.send(to.repo, Action::Push, |c| {
                c.patch(&url)
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_RANGE, &range)
                    .header(CONTENT_LENGTH, len)
                    .body(body.clone())
            })?;
            let status = resp.status().as_u16();
            if status != 202 {
                let body = read_limited(resp, 1 << 20, "the answer").unwrap_or_default();
                return Err(status_error(&format!("uploading {label}"), status, &body));
            }
            spare = body.try_into_mut().ok();
            *location = next_location(to.client, &resp, location)?;
            offset = next;
            // The registry says how much it holds; trust that, not our count.
            if let Some(end) = range_end(&resp) {
                offset = end + 1;
            }
            if offset > size {
                return Err(OciError::BadArtifact(format!(
                    "the registry says it holds {offset} bytes of {label}, which has {size}"
                )));
            }
            write_session(state, location)?;
            to.progress.file_advance(label, len);
            chunks += 1;
            if chunks == 1 {
                zoo_env::failpoint("push-after-first-chunk");
            }
        }
        Ok(())
    })?;
    if hashed.0 != size {
        hashed = (
            size,
            hash_prefix(path, size).map_err(|e| to.read_error(blob, e))?,
        );
    }
    Ok(hashed.1)
}

/// Ask the registry to forget the upload at `location` (best effort: one it
/// has already forgotten is fine), and forget its session.
fn drop_upload(client: &Client, repo: &OciRepository, location: &str, state: &Path) {
    let _ = client.send(repo, Action::Push, |c| c.delete(location));
    let _ = std::fs::remove_file(state);
}

enum Start {
    Mounted,
    Session(String),
}

/// Mount from `from` when given (201), else open an upload session (202).
fn start(
    client: &Client,
    repo: &OciRepository,
    digest: &Sha256Hex,
    from: Option<&OciRepository>,
) -> Result<Start, OciError> {
    let mut url = client.url(&format!("/v2/{repo}/blobs/uploads/"));
    if let Some(from) = from {
        url.push_str(&format!("?mount=sha256:{digest}&from={from}"));
    }
    let resp = client.send(repo, Action::Push, |c| {
        c.post(&url).header(CONTENT_LENGTH, 0)
    })?;
    match resp.status().as_u16() {
        201 => Ok(Start::Mounted),
        202 => Ok(Start::Session(next_location(client, &resp, &url)?)),
        s => {
            let body = read_limited(resp, 1 << 20, "the answer").unwrap_or_default();
            Err(status_error(
                &format!("starting an upload to {repo}"),
                s,
                &body,
            ))
        }
    }
}

/// How many bytes of the upload at `location` the registry holds, or `None`
/// when the upload is gone (expired, finished, or the registry restarted
/// without it).
fn upload_offset(
    client: &Client,
    repo: &OciRepository,
    location: &str,
) -> Result<Option<u64>, OciError> {
    let resp = client.send(repo, Action::Push, |c| c.get(location))?;
    match resp.status().as_u16() {
        204 => Ok(Some(range_end(&resp).map_or(0, |e| e + 1))),
        404 | 400 => Ok(None),
        s => Err(status_error("asking for an upload's progress", s, &[])),
    }
}

/// `Range: 0-N` → N (distribution sends `0-0` for an empty upload as well).
fn range_end(resp: &reqwest::blocking::Response) -> Option<u64> {
    let value = resp.headers().get(RANGE)?.to_str().ok()?;
    let (_, end) = value.trim().trim_start_matches("bytes=").split_once('-')?;
    end.parse().ok()
}

/// The absolute URL of the upload's next step, which must stay on the
/// registry (the request carries its token).
fn next_location(
    client: &Client,
    resp: &reqwest::blocking::Response,
    current: &str,
) -> Result<String, OciError> {
    let raw = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| OciError::BadArtifact("the registry gave no upload location".into()))?;
    let base =
        reqwest::Url::parse(current).map_err(|_| OciError::BadArtifact("bad upload URL".into()))?;
    let next = base.join(raw).map_err(|_| {
        OciError::BadArtifact(format!(
            "the registry gave a bad upload location: {}",
            TerminalSafe::shortened(raw, 200)
        ))
    })?;
    let registry = reqwest::Url::parse(&client.url("/"))
        .map_err(|_| OciError::BadArtifact("bad registry URL".into()))?;
    if next.origin() != registry.origin() {
        return Err(OciError::BadArtifact(format!(
            "the registry sent the upload to another host ({}); refusing to send it the token",
            TerminalSafe::shortened(raw, 200)
        )));
    }
    Ok(next.to_string())
}

fn read_session(path: &Path) -> Option<Session> {
    let text = zoo_fs::read_to_string_bounded(path, 64 << 10).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_session(path: &Path, location: &str) -> Result<(), OciError> {
    let parent = path.parent().expect("sessions live in a folder");
    std::fs::create_dir_all(parent).map_err(OciError::io("cannot create", parent))?;
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    let text = serde_json::to_vec(&Session {
        location: location.to_owned(),
    })
    .expect("a session serialises");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(OciError::io("cannot write", path))
}
