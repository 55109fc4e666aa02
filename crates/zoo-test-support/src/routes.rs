//! The Hub endpoints: request in, response description out (no I/O here).
//!
//! Shapes follow huggingface.co as seen by `huggingface_hub`: model info,
//! tree listing, `/resolve` with LFS redirects, and a CDN that serves ranges.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::catalog::{Catalog, Entry, Repo, RepoKind, Source};
use crate::faults::FaultKind;
use crate::http::{RangeSpec, Request, parse_range, percent_decode};
use crate::info;

/// Fixed so that responses are reproducible.
pub(crate) const LAST_MODIFIED: &str = "2024-01-01T00:00:00.000Z";

#[derive(Debug)]
pub(crate) enum Body {
    Bytes(Vec<u8>),
    /// `len` bytes of `source` from `start`: file content, the only kind of body
    /// that body faults act on.
    File {
        source: Source,
        start: u64,
        len: u64,
    },
}

impl Body {
    pub fn len(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::File { len, .. } => *len,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    /// Everything but `Content-Length`, which the server adds from the body.
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// `org/name/path` of the file this request is about, if any.
    pub file_key: Option<String>,
}

impl Response {
    fn new(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: Body::Bytes(body),
            file_key: None,
        }
    }

    pub(crate) fn json(status: u16, value: &Value) -> Self {
        Self::new(
            status,
            "application/json; charset=utf-8",
            value.to_string().into_bytes(),
        )
    }

    fn text(status: u16, text: &str) -> Self {
        Self::new(
            status,
            "text/plain; charset=utf-8",
            format!("{text}\n").into_bytes(),
        )
    }

    pub(crate) fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A Hub error: `X-Error-Code`, `X-Error-Message` and `{"error": ...}`,
    /// which `huggingface_hub` maps to its typed exceptions.
    pub(crate) fn hub_error(status: u16, code: &str, message: &str) -> Self {
        Self::json(status, &json!({ "error": message }))
            .header("X-Error-Code", code)
            .header("X-Error-Message", message)
    }

    /// The response that replaces the real one when a status fault fires;
    /// `target` is the request's, for redirects.
    pub fn fault(kind: &FaultKind, file_key: Option<String>, target: &str) -> Self {
        let mut resp = match kind {
            FaultKind::RedirectTo { endpoint } => {
                Self::new(302, "text/plain; charset=utf-8", Vec::new()).header(
                    "Location",
                    format!("{}{target}", endpoint.trim_end_matches('/')),
                )
            }
            FaultKind::ErrorText { status, text } => Self::new(
                *status,
                "text/plain; charset=utf-8",
                text.clone().into_bytes(),
            )
            .header("X-Error-Message", text.clone()),
            _ => Self::plain_fault(kind),
        };
        resp.file_key = file_key;
        resp
    }

    fn plain_fault(kind: &FaultKind) -> Self {
        match *kind {
            FaultKind::TooManyRequests { retry_after_secs } => {
                Self::text(429, "injected fault: too many requests")
                    .header("Retry-After", retry_after_secs.to_string())
            }
            FaultKind::Status(code) => Self::text(code, &format!("injected fault: status {code}")),
            _ => Self::text(500, "injected fault"),
        }
    }

    /// For a 206 of a file: the same number of bytes from `from` (clipped to
    /// the file) and the `Content-Range` that says so; `None` when that would
    /// change nothing or this is not a ranged file answer.
    pub fn range_from(&self, from: u64) -> Option<(u64, String)> {
        let Body::File { start, len, .. } = &self.body else {
            return None;
        };
        let total = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-range"))
            .and_then(|(_, v)| v.rsplit_once('/'))
            .and_then(|(_, t)| t.parse::<u64>().ok())?;
        if self.status != 206 || from >= total || from == *start {
            return None;
        }
        let len = (*len).min(total - from);
        Some((len, format!("bytes {}-{}/{total}", from, from + len - 1)))
    }

    /// Applies [`Response::range_from`].
    pub fn serve_range_from(&mut self, from: u64) {
        let Some((new_len, range)) = self.range_from(from) else {
            return;
        };
        if let Body::File { start, len, .. } = &mut self.body {
            *start = from;
            *len = new_len;
        }
        for (name, value) in &mut self.headers {
            if name.eq_ignore_ascii_case("content-range") {
                *value = range.clone();
            }
        }
    }
}

/// Settings the routes need besides the catalog.
#[derive(Debug)]
pub(crate) struct Context<'a> {
    /// `http://127.0.0.1:PORT`, for absolute redirect locations.
    pub endpoint: &'a str,
    /// The bearer token that opens gated repos.
    pub token: &'a str,
    /// Most models per page of `GET /api/models`.
    pub search_page_size: usize,
}

pub(crate) fn route(catalog: &Catalog, ctx: &Context<'_>, req: &Request) -> Response {
    if req.method != "GET" && req.method != "HEAD" {
        return Response::text(405, "only GET and HEAD are served").header("Allow", "GET, HEAD");
    }
    let segs: Vec<&str> = req.path().trim_start_matches('/').split('/').collect();
    let (models, datasets) = (&catalog.repos, &catalog.datasets);
    match segs.as_slice() {
        ["api", "models"] | ["api", "models", ""] => info::search_models(catalog, ctx, req),
        ["api", kind @ ("models" | "datasets"), org, name] => {
            let map = if *kind == "models" { models } else { datasets };
            with_repo(map, org, name, |repo| {
                info::repo_info(repo, &repo.revision, req)
            })
        }
        [
            "api",
            kind @ ("models" | "datasets"),
            org,
            name,
            "revision",
            rev @ ..,
        ] if !rev.is_empty() => {
            let map = if *kind == "models" { models } else { datasets };
            let rev = decode_join(rev);
            with_repo(map, org, name, |repo| info::repo_info(repo, &rev, req))
        }
        [
            "api",
            kind @ ("models" | "datasets"),
            org,
            name,
            "tree",
            rev,
            path @ ..,
        ] => {
            let map = if *kind == "models" { models } else { datasets };
            let (rev, path) = (percent_decode(rev), decode_join(path));
            with_repo(map, org, name, |repo| tree(repo, &rev, &path, req))
        }
        ["datasets", org, name, "resolve", rev, path @ ..] if !path.is_empty() => {
            let (rev, path) = (percent_decode(rev), decode_join(path));
            with_repo(datasets, org, name, |repo| {
                resolve(repo, ctx, &rev, &path, req)
            })
        }
        [org, name, "resolve", rev, path @ ..] if !path.is_empty() => {
            let (rev, path) = (percent_decode(rev), decode_join(path));
            with_repo(models, org, name, |repo| {
                resolve(repo, ctx, &rev, &path, req)
            })
        }
        ["cdn", sha] => cdn(catalog, sha, req),
        _ => Response::text(404, "no such endpoint on this fake Hub"),
    }
}

fn decode_join(segs: &[&str]) -> String {
    segs.iter()
        .map(|s| percent_decode(s))
        .collect::<Vec<_>>()
        .join("/")
        .trim_matches('/')
        .to_string()
}

fn with_repo(
    repos: &BTreeMap<String, Arc<Repo>>,
    org: &str,
    name: &str,
    f: impl FnOnce(&Repo) -> Response,
) -> Response {
    let id = format!("{}/{}", percent_decode(org), percent_decode(name));
    match repos.get(&id) {
        Some(repo) => f(repo),
        None => Response::hub_error(404, "RepoNotFound", "Repository not found"),
    }
}

pub(crate) fn revision_not_found(rev: &str) -> Response {
    Response::hub_error(404, "RevisionNotFound", &format!("Invalid rev id: {rev}"))
}

/// `GET /api/{models|datasets}/{id}/tree/{rev}[/{path}]?recursive=...`: what
/// `list_repo_tree` (and so `snapshot_download`) reads. Everything fits in one
/// page, so no `Link` header.
fn tree(repo: &Repo, rev: &str, dir: &str, req: &Request) -> Response {
    if !repo.has_revision(rev) {
        return revision_not_found(rev);
    }
    let recursive = req.query_flag("recursive");
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let mut dirs = std::collections::BTreeSet::new();
    let mut items = Vec::new();
    for e in repo.files.iter().filter(|e| e.path.starts_with(&prefix)) {
        let rest = &e.path[prefix.len()..];
        // Every folder between `dir` and the file (only the first if not recursive).
        let parts: Vec<&str> = rest.split('/').collect();
        let depth = if recursive {
            parts.len() - 1
        } else {
            1.min(parts.len() - 1)
        };
        for i in 1..=depth {
            dirs.insert(format!("{prefix}{}", parts[..i].join("/")));
        }
        if recursive || parts.len() == 1 {
            items.push((e.path.clone(), file_item(e)));
        }
    }
    if !dir.is_empty() && items.is_empty() && dirs.is_empty() {
        return Response::hub_error(
            404,
            "EntryNotFound",
            &format!("{dir} does not exist on \"{rev}\""),
        )
        .header("X-Repo-Commit", &repo.commit);
    }
    for d in dirs {
        let oid = hex::encode(Sha1::digest(format!("{}\0{d}", repo.commit).as_bytes()));
        items.push((
            d.clone(),
            json!({ "type": "directory", "oid": oid, "size": 0, "path": d }),
        ));
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    Response::json(
        200,
        &Value::Array(items.into_iter().map(|(_, v)| v).collect()),
    )
}

fn file_item(e: &Entry) -> Value {
    let mut v = json!({ "type": "file", "oid": e.oid, "size": e.size, "path": e.path });
    if let Some(sha) = &e.lfs_sha256 {
        v["lfs"] = json!({ "oid": sha, "size": e.size, "pointerSize": e.pointer_size });
    }
    v
}

/// `HEAD|GET /{id}/resolve/{rev}/{path}` (`/datasets/{id}/resolve/...` for datasets).
fn resolve(repo: &Repo, ctx: &Context<'_>, rev: &str, path: &str, req: &Request) -> Response {
    let key = Some(format!("{}{}", repo.key_prefix(), path));
    let mut resp = resolve_inner(repo, ctx, rev, path, req);
    resp.file_key = key;
    resp
}

fn resolve_inner(repo: &Repo, ctx: &Context<'_>, rev: &str, path: &str, req: &Request) -> Response {
    if repo.gated.is_some() && req.header("authorization") != Some(&format!("Bearer {}", ctx.token))
    {
        let kind = match repo.kind {
            RepoKind::Model => "model",
            RepoKind::Dataset => "dataset",
        };
        let msg = format!(
            "Access to {kind} {} is restricted. You must have access to it and be authenticated to access it. Please log in.",
            repo.id
        );
        return Response::hub_error(401, "GatedRepo", &msg);
    }
    if !repo.has_revision(rev) {
        return revision_not_found(rev);
    }
    let Some(entry) = repo.file(path) else {
        return Response::hub_error(404, "EntryNotFound", "Entry not found")
            .header("X-Repo-Commit", &repo.commit);
    };
    let etag = format!("\"{}\"", entry.etag());
    match &entry.lfs_sha256 {
        Some(sha) => Response::new(302, "text/plain; charset=utf-8", Vec::new())
            .header("Location", format!("{}/cdn/{sha}", ctx.endpoint))
            .header("X-Repo-Commit", &repo.commit)
            .header("ETag", &etag)
            .header("X-Linked-Etag", &etag)
            .header("X-Linked-Size", entry.size.to_string())
            .header("Accept-Ranges", "bytes"),
        None => file_response(&entry.source, entry.size, req)
            .header("X-Repo-Commit", &repo.commit)
            .header("ETag", &etag),
    }
}

/// `HEAD|GET /cdn/{sha256}`: the LFS object store. Not gated, like the Hub's
/// signed CDN URLs. It also sends `X-Repo-Commit` because `huggingface_hub`
/// follows same-host redirects on `HEAD` and reads the commit from the final
/// response; when several repos share the object, the first repo's commit is sent.
fn cdn(catalog: &Catalog, sha: &str, req: &Request) -> Response {
    let Some(blob) = catalog.blobs.get(sha) else {
        return Response::text(404, "no such object");
    };
    let mut resp = file_response(&blob.source, blob.size, req)
        .header("ETag", format!("\"{sha}\""))
        .header("X-Repo-Commit", &blob.commit);
    resp.file_key = Some(blob.file_key.clone());
    resp
}

/// 200, 206 or 416 for a file of `total` bytes, honouring `Range`.
fn file_response(source: &Source, total: u64, req: &Request) -> Response {
    let (status, start, len, content_range) = match parse_range(req.header("range"), total) {
        RangeSpec::Full => (200, 0, total, None),
        RangeSpec::Part { start, len } => (
            206,
            start,
            len,
            Some(format!("bytes {}-{}/{}", start, start + len - 1, total)),
        ),
        RangeSpec::Unsatisfiable => {
            return Response::text(416, "range not satisfiable")
                .header("Content-Range", format!("bytes */{total}"))
                .header("Accept-Ranges", "bytes");
        }
    };
    let mut resp = Response {
        status,
        headers: vec![
            ("Content-Type".into(), "application/octet-stream".into()),
            ("Accept-Ranges".into(), "bytes".into()),
        ],
        body: Body::File {
            source: source.clone(),
            start,
            len,
        },
        file_key: None,
    };
    if let Some(cr) = content_range {
        resp = resp.header("Content-Range", cr);
    }
    resp
}
