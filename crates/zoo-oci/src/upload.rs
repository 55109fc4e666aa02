//! Blob uploads that survive a kill. A blob the repository already has is not
//! sent (HEAD first); one another repository of the registry has is mounted;
//! anything else goes up in chunks, and after each chunk the upload's URL is
//! saved beside the store. A later push asks the registry how much of that
//! upload it holds (`GET <upload URL>` → `Range: 0-N`) and continues from
//! there: distribution 2.8 appends a PATCH at whatever offset it is sent, so
//! the client must know the offset, not assume it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use serde::{Deserialize, Serialize};
use zoo_fetch::Progress;
use zoo_types::{OciRepository, Sha256Hex, TerminalSafe};

use crate::client::{Action, Client, read_limited, status_error};
use crate::error::OciError;

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

/// Push the file at `path` (which hashes to `digest`, `size` bytes) into `repo`.
#[allow(clippy::too_many_arguments)]
pub fn push_blob(
    client: &Client,
    repo: &OciRepository,
    digest: &Sha256Hex,
    size: u64,
    path: &Path,
    mount_from: Option<&OciRepository>,
    sessions: &Path,
    label: &str,
    progress: &dyn Progress,
) -> Result<Pushed, OciError> {
    if client.head_blob(repo, digest, Action::Push)?.is_some() {
        return Ok(Pushed::Present);
    }
    let state = session_path(sessions, client, repo, digest);
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
    std::thread::scope(|scope| -> Result<(), OciError> {
        // The next chunk is read while this one is sent: the registry would
        // otherwise sit idle for every read (a quarter of a second per 512 MiB
        // here, measured against skopeo's streamed upload).
        let mut ahead: Option<(u64, std::thread::ScopedJoinHandle<'_, _>)> = None;
        while offset < size {
            let len = chunk_bytes.min(size - offset);
            let body = match ahead.take() {
                Some((at, reading)) if at == offset => {
                    reading.join().expect("the chunk reader does not panic")?
                }
                // The registry holds another offset than we counted: read
                // afresh (a read ahead for the wrong place is dropped).
                _ => read_chunk(path, offset, len, size)?,
            };
            let next = offset + len;
            if next < size {
                let next_len = chunk_bytes.min(size - next);
                ahead = Some((
                    next,
                    scope.spawn(move || read_chunk(path, next, next_len, size)),
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

/// `len` bytes of the file at `path` from `offset`, shared (not copied) when
/// a request is built again after a 401.
fn read_chunk(path: &Path, offset: u64, len: u64, size: u64) -> Result<bytes::Bytes, OciError> {
    let mut chunk = Vec::with_capacity(len as usize);
    File::open(path)
        .and_then(|mut file| {
            file.seek(SeekFrom::Start(offset))?;
            file.take(len).read_to_end(&mut chunk)
        })
        .map_err(OciError::io("cannot read", path))?;
    if chunk.len() as u64 != len {
        return Err(OciError::Invalid(format!(
            "{} changed while it was being pushed (shorter than its {size} bytes)",
            path.display()
        )));
    }
    Ok(bytes::Bytes::from(chunk))
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
