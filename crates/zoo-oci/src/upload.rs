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
//! that changed since it was verified is refused here, with nothing
//! published, instead of being re-hashed before the push starts.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zoo_fetch::Progress;
use zoo_types::{OciRepository, Sha256Hex, TerminalSafe};

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
}

/// Push `blob` (a file on disk that hashed to its digest when zoo stored it)
/// to `to`.
pub(crate) fn push_blob(to: &Destination<'_>, blob: &Blob) -> Result<Pushed, OciError> {
    let Destination {
        client,
        repo,
        mount_from,
        progress,
        ..
    } = *to;
    let Blob {
        label,
        path,
        digest,
        size,
    } = blob;
    let (size, path, label) = (*size, path.as_path(), label.as_str());
    if client.head_blob(repo, digest, Action::Push)?.is_some() {
        return Ok(Pushed::Present);
    }
    let state = session_path(&to.sessions, client, repo, digest);
    let mut resumed = None;
    if let Some(saved) = read_session(&state)
        && let Some(offset) = upload_offset(client, repo, &saved.location)?
    {
        resumed = Some((saved.location, offset));
    }
    let (mut location, mut offset) = match resumed {
        Some(r) => r,
        None => {
            let _ = std::fs::remove_file(&state);
            match start(client, repo, digest, mount_from)? {
                Start::Mounted => return Ok(Pushed::Mounted),
                Start::Session(location) => (location, 0),
            }
        }
    };
    // Bytes per PATCH (ZOO_OCI_CHUNK_SIZE): a push killed between chunks
    // resumes after the last one the registry acknowledged.
    let chunk_bytes = zoo_env::oci_chunk_size().map_err(|e| OciError::Invalid(e.to_string()))?;
    let resumed_bytes = offset;
    progress.file_start(label, Some(size), offset);
    let mut chunks = 0u32;
    // The sha256 of the file's first `.0` bytes; on a resumed upload the
    // bytes the registry already holds are hashed from disk first.
    let mut hashed = (offset, hash_prefix(path, offset)?);
    std::thread::scope(|scope| -> Result<(), OciError> {
        // The next chunk is read and hashed while this one is sent: the
        // registry would otherwise sit idle for every read (a quarter of a
        // second per 512 MiB here, measured against skopeo's streamed upload).
        let mut ahead: Option<(u64, std::thread::ScopedJoinHandle<'_, _>)> = None;
        // The buffer of the chunk sent last, read into again: a fresh 64 MiB
        // per chunk cost a sixth of zoo's CPU in page faults.
        let mut spare: Option<bytes::BytesMut> = None;
        while offset < size {
            let len = chunk_bytes.min(size - offset);
            let (body, hasher) = match ahead.take() {
                Some((at, reading)) if at == offset => {
                    reading.join().expect("the chunk reader does not panic")?
                }
                // The registry holds another offset than we counted: read
                // afresh (a read ahead for the wrong place is dropped).
                _ => {
                    if hashed.0 != offset {
                        hashed = (offset, hash_prefix(path, offset)?);
                    }
                    read_hashed(path, offset, len, size, hashed.1.clone(), spare.take())?
                }
            };
            let next = offset + len;
            hashed = (next, hasher.clone());
            if next < size {
                let next_len = chunk_bytes.min(size - next);
                let buffer = spare.take();
                ahead = Some((
                    next,
                    scope.spawn(move || read_hashed(path, next, next_len, size, hasher, buffer)),
                ));
            }
            let url = location.clone();
            let range = format!("{}-{}", offset, offset + len - 1);
            let resp = client.send(repo, Action::Push, |c| {
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
            location = next_location(client, &resp, &location)?;
            offset += len;
            // The registry says how much it holds; trust that, not our count.
            if let Some(end) = range_end(&resp)
                && end + 1 != offset
            {
                offset = end + 1;
            }
            write_session(&state, &location)?;
            progress.file_advance(label, len);
            chunks += 1;
            if chunks == 1 {
                zoo_env::failpoint("push-after-first-chunk");
            }
        }
        Ok(())
    })?;
    if hashed.0 != size {
        hashed = (size, hash_prefix(path, size)?);
    }
    let sent = Sha256Hex::from_bytes(&hashed.1.finalize().into());
    if sent != *digest {
        // Never finish an upload of bytes other than the recorded ones: the
        // registry is told to drop it, and the next push starts afresh.
        let _ = client.send(repo, Action::Push, |c| c.delete(&location));
        let _ = std::fs::remove_file(&state);
        return Err(OciError::Changed {
            model: to.model.to_owned(),
            file: label.to_owned(),
            path: path.to_owned(),
            expected: digest.to_string(),
            actual: sent.to_string(),
        });
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
            &format!("finishing the upload of {label}"),
            status,
            &body,
        ));
    }
    progress.file_done(label, "pushed");
    Ok(Pushed::Uploaded {
        sent: size - resumed_bytes,
        resumed: resumed_bytes,
    })
}

/// The sha256 state after the first `len` bytes of the file at `path`.
fn hash_prefix(path: &Path, len: u64) -> Result<Sha256, OciError> {
    let mut hasher = Sha256::new();
    if len > 0 {
        let copied = File::open(path)
            .and_then(|file| {
                let mut reader = file.take(len);
                let mut buf = vec![0u8; 1 << 20];
                let mut copied = 0u64;
                loop {
                    let n = reader.read(&mut buf)?;
                    if n == 0 {
                        return Ok(copied);
                    }
                    hasher.update(&buf[..n]);
                    copied += n as u64;
                }
            })
            .map_err(OciError::io("cannot read", path))?;
        if copied != len {
            return Err(OciError::Invalid(format!(
                "{} is shorter than the {len} bytes the registry already holds of it",
                path.display()
            )));
        }
    }
    Ok(hasher)
}

/// [`read_chunk`], and `hasher` (the state before `offset`) moved past it.
fn read_hashed(
    path: &Path,
    offset: u64,
    len: u64,
    size: u64,
    mut hasher: Sha256,
    buffer: Option<bytes::BytesMut>,
) -> Result<(bytes::Bytes, Sha256), OciError> {
    let chunk = read_chunk(path, offset, len, size, buffer)?;
    hasher.update(&chunk);
    Ok((chunk, hasher))
}

/// `len` bytes of the file at `path` from `offset`, read into `buffer` when
/// given, shared (not copied) when a request is built again after a 401.
fn read_chunk(
    path: &Path,
    offset: u64,
    len: u64,
    size: u64,
    buffer: Option<bytes::BytesMut>,
) -> Result<bytes::Bytes, OciError> {
    let mut chunk = buffer.unwrap_or_default();
    // Only bytes beyond the buffer's old length are zeroed.
    chunk.resize(len as usize, 0);
    let read = File::open(path).and_then(|mut file| {
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(&mut chunk)
    });
    match read {
        Ok(()) => Ok(chunk.freeze()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(OciError::Invalid(format!(
            "{} changed while it was being pushed (shorter than its {size} bytes)",
            path.display()
        ))),
        Err(e) => Err(OciError::io("cannot read", path)(e)),
    }
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
