//! One registry, spoken to over the OCI distribution API with the blocking
//! HTTP client zoo uses everywhere: requests carry the cached token for their
//! scope; a 401 with a challenge fetches one (or falls back to Basic) and the
//! request is sent again, once. Every answer is read bounded.
//!
//! Why not `oci-client`: it is async (a tokio runtime per command), and it
//! cannot resume an interrupted upload; zoo's transfer engine (verifying
//! writer, resumable ranged downloads) is blocking, so the client is too.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;

use reqwest::blocking::{Client as HttpClient, RequestBuilder, Response};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use zoo_fetch::Secret;
use zoo_types::{OciReference, OciRegistry, OciRepository, Sha256Hex, TerminalSafe};

use crate::auth::{Challenge, Credentials, parse_challenge};
use crate::error::OciError;
use crate::sha256_bytes;

/// The largest manifest read: a model with thousands of files is well under
/// a megabyte; more is a broken or hostile registry.
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// Token answers, error bodies and other small JSON.
const MAX_SMALL_BYTES: u64 = 1 << 20;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// What a request is allowed to do, for the token's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pull,
    Push,
}

impl Action {
    fn scope(self, repo: &OciRepository) -> String {
        match self {
            Action::Pull => format!("repository:{repo}:pull"),
            Action::Push => format!("repository:{repo}:pull,push"),
        }
    }

    fn word(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
        }
    }
}

#[derive(Debug)]
pub struct Client {
    http: HttpClient,
    registry: OciRegistry,
    base: String,
    credentials: Credentials,
    /// Scope → `Authorization` value that worked for it.
    auth: Mutex<HashMap<String, Secret>>,
}

/// A manifest as the registry sent it: the exact bytes (their digest is the
/// manifest's identity), the digest and the media type.
#[derive(Debug, Clone)]
pub struct RawManifest {
    pub bytes: Vec<u8>,
    pub digest: Sha256Hex,
    pub media_type: String,
}

impl Client {
    /// A client for `registry`: HTTPS, or HTTP for a loopback registry or
    /// when `insecure` is asked for explicitly.
    pub fn new(
        registry: &OciRegistry,
        insecure: bool,
        credentials: Credentials,
    ) -> Result<Client, OciError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let stall = zoo_env::stall_timeout().map_err(|e| OciError::Invalid(e.to_string()))?;
        let connect = zoo_env::connect_timeout().map_err(|e| OciError::Invalid(e.to_string()))?;
        let http = HttpClient::builder()
            .timeout(stall)
            .connect_timeout(connect)
            // Registries answer the API directly; a redirect here would send
            // the token elsewhere. Blob downloads (which may be redirected to
            // storage) go through zoo-fetch, which drops it across origins.
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .user_agent(concat!("zoo/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OciError::Invalid(format!("cannot build HTTP client: {e}")))?;
        let scheme = if insecure || registry.is_loopback() {
            "http"
        } else {
            "https"
        };
        Ok(Client {
            http,
            registry: registry.clone(),
            base: format!("{scheme}://{registry}"),
            credentials,
            auth: Mutex::new(HashMap::new()),
        })
    }

    pub fn registry(&self) -> &OciRegistry {
        &self.registry
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn blob_url(&self, repo: &OciRepository, digest: &Sha256Hex) -> String {
        self.url(&format!("/v2/{repo}/blobs/sha256:{digest}"))
    }

    /// The `Authorization` value that last worked for pulling `repo`, after
    /// making sure there is one (a token fetched if the registry wants one).
    pub fn pull_authorization(&self, repo: &OciRepository) -> Result<Option<Secret>, OciError> {
        let scope = Action::Pull.scope(repo);
        if let Some(s) = self.auth.lock().expect("lock").get(&scope) {
            return Ok(Some(s.clone()));
        }
        // A cheap request that needs the pull scope.
        let url = self.url(&format!("/v2/{repo}/tags/list?n=1"));
        let _ = self.send(repo, Action::Pull, |c| c.get(&url))?;
        Ok(self.auth.lock().expect("lock").get(&scope).cloned())
    }

    /// Send a request built by `build`, with the cached authorization for the
    /// scope; on a 401 challenge, authenticate and send it once more.
    pub(crate) fn send(
        &self,
        repo: &OciRepository,
        action: Action,
        build: impl Fn(&HttpClient) -> RequestBuilder,
    ) -> Result<Response, OciError> {
        let scope = action.scope(repo);
        let cached = self.auth.lock().expect("lock").get(&scope).cloned();
        let first = self.dispatch(build(&self.http), cached.as_ref())?;
        if first.status().as_u16() != 401 {
            return Ok(first);
        }
        let challenge = first
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_challenge);
        let value = match challenge {
            Some(Challenge::Bearer {
                realm,
                service,
                scope: asked,
            }) => Some(
                self.token(
                    &realm,
                    service.as_deref(),
                    asked.as_deref().unwrap_or(&scope),
                )
                .map_err(|e| match e {
                    // The token service refused who we are (no or wrong
                    // credentials): the advice is the same as the registry's.
                    OciError::Status {
                        status: 401 | 403, ..
                    } => self.denied(repo, action),
                    e => e,
                })?,
            ),
            Some(Challenge::Basic) | None => self.credentials.basic_header(),
        };
        let Some(value) = value else {
            return Err(self.denied(repo, action));
        };
        let second = self.dispatch(build(&self.http), Some(&value))?;
        if second.status().as_u16() == 401 {
            return Err(self.denied(repo, action));
        }
        self.auth.lock().expect("lock").insert(scope, value);
        Ok(second)
    }

    fn dispatch(&self, req: RequestBuilder, auth: Option<&Secret>) -> Result<Response, OciError> {
        let req = match auth {
            Some(a) => req.header(AUTHORIZATION, a.expose()),
            None => req,
        };
        req.send().map_err(|e| OciError::Http {
            url: self.base.clone(),
            // reqwest's messages carry the URL, never our headers.
            message: TerminalSafe::shortened(&e.to_string(), 300).to_string(),
        })
    }

    fn denied(&self, repo: &OciRepository, action: Action) -> OciError {
        OciError::Denied {
            registry: self.registry.to_string(),
            repository: repo.to_string(),
            action: action.word(),
            config: crate::auth::docker_config_path().map_or_else(
                || "the Docker config file".to_owned(),
                |p| p.display().to_string(),
            ),
        }
    }

    /// The token service's answer for `scope`, with Basic credentials when
    /// there are some (only over HTTPS, or to a loopback service).
    fn token(&self, realm: &str, service: Option<&str>, scope: &str) -> Result<Secret, OciError> {
        let mut url = reqwest::Url::parse(realm).map_err(|_| {
            OciError::BadArtifact(format!(
                "the registry's token realm is not a URL: {}",
                TerminalSafe::shortened(realm, 200)
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OciError::BadArtifact(
                "the token realm is not http(s)".into(),
            ));
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            q.append_pair("scope", scope);
        }
        let safe_for_password = url.scheme() == "https"
            || url
                .host_str()
                .is_some_and(|h| h == "localhost" || h.starts_with("127."));
        let mut req = self.http.get(url.clone());
        if safe_for_password && let Some(basic) = self.credentials.basic_header() {
            req = req.header(AUTHORIZATION, basic.expose());
        }
        let resp = req.send().map_err(|e| OciError::Http {
            url: TerminalSafe::shortened(realm, 200).to_string(),
            message: TerminalSafe::shortened(&e.to_string(), 300).to_string(),
        })?;
        let status = resp.status().as_u16();
        let body = read_limited(resp, MAX_SMALL_BYTES, "the token answer")?;
        if status != 200 {
            return Err(OciError::Status {
                what: "the registry's token service".into(),
                status,
                detail: String::new(),
            });
        }
        #[derive(serde::Deserialize)]
        struct TokenAnswer {
            token: Option<String>,
            access_token: Option<String>,
        }
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|_| OciError::BadArtifact("the token service did not answer JSON".into()))?;
        let token = answer
            .token
            .or(answer.access_token)
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                OciError::BadArtifact("the token service gave no usable token".into())
            })?;
        Ok(Secret::new(format!("Bearer {token}")))
    }

    /// The manifest `reference` names, read bounded; when it is pinned by
    /// digest, the bytes must hash to it.
    pub fn get_manifest(&self, reference: &OciReference) -> Result<RawManifest, OciError> {
        let repo = &reference.repository;
        let url = self.url(&format!("/v2/{repo}/manifests/{}", reference.target()));
        let resp = self.send(repo, Action::Pull, |c| {
            c.get(&url)
                .header(ACCEPT, format!("{OCI_MANIFEST}, {OCI_INDEX}"))
        })?;
        let what = format!("manifest {reference}");
        let status = resp.status().as_u16();
        if status == 404 {
            return Err(OciError::NotFound {
                what,
                registry: self.registry.to_string(),
            });
        }
        let media_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_owned();
        let bytes = read_limited(resp, MAX_MANIFEST_BYTES, &what)?;
        if status != 200 {
            return Err(status_error(&what, status, &bytes));
        }
        let digest = sha256_bytes(&bytes);
        if let Some(expected) = &reference.digest
            && *expected != digest
        {
            return Err(OciError::DigestMismatch {
                what,
                expected: expected.to_string(),
                actual: digest.to_string(),
            });
        }
        Ok(RawManifest {
            bytes,
            digest,
            media_type,
        })
    }

    /// Upload a manifest under `tag_or_digest`; returns its digest.
    pub fn put_manifest(
        &self,
        repo: &OciRepository,
        tag_or_digest: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Sha256Hex, OciError> {
        self.put_manifest_answer(repo, tag_or_digest, bytes, media_type)
            .map(|(digest, _)| digest)
    }

    /// Upload a manifest; returns its digest and whether the registry answered
    /// with `OCI-Subject`, which is how a registry with the referrers API says
    /// it indexed the manifest's subject (distribution 2.8 does not).
    pub(crate) fn put_manifest_answer(
        &self,
        repo: &OciRepository,
        tag_or_digest: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<(Sha256Hex, bool), OciError> {
        let url = self.url(&format!("/v2/{repo}/manifests/{tag_or_digest}"));
        let resp = self.send(repo, Action::Push, |c| {
            c.put(&url)
                .header(CONTENT_TYPE, media_type)
                .body(bytes.to_vec())
        })?;
        let status = resp.status().as_u16();
        if status != 201 && status != 200 {
            let body = read_limited(resp, MAX_SMALL_BYTES, "the answer").unwrap_or_default();
            return Err(status_error(
                &format!("uploading the manifest to {repo}:{tag_or_digest}"),
                status,
                &body,
            ));
        }
        let indexed = resp.headers().contains_key("oci-subject");
        Ok((sha256_bytes(bytes), indexed))
    }

    /// The referrers of `subject` with `artifact_type` as the registry's
    /// referrers API lists them (an image index, bounded), or `None` when the
    /// registry has no such API.
    pub(crate) fn get_referrers(
        &self,
        repo: &OciRepository,
        subject: &Sha256Hex,
        artifact_type: &str,
    ) -> Result<Option<Vec<u8>>, OciError> {
        let mut url =
            reqwest::Url::parse(&self.url(&format!("/v2/{repo}/referrers/sha256:{subject}")))
                .map_err(|e| OciError::Invalid(e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("artifactType", artifact_type);
        let resp = self.send(repo, Action::Pull, |c| {
            c.get(url.clone()).header(ACCEPT, OCI_INDEX)
        })?;
        let status = resp.status().as_u16();
        let what = format!("the referrers of sha256:{subject}");
        let bytes = read_limited(resp, MAX_MANIFEST_BYTES, &what)?;
        match status {
            200 => Ok(Some(bytes)),
            // Registries without the API answer "unknown route" in one of
            // these ways; the tag schema is the fallback for them.
            400 | 404 | 405 | 501 => Ok(None),
            s => Err(status_error(&what, s, &bytes)),
        }
    }

    /// The size of a blob when the repository has it.
    pub fn head_blob(
        &self,
        repo: &OciRepository,
        digest: &Sha256Hex,
        action: Action,
    ) -> Result<Option<u64>, OciError> {
        let url = self.blob_url(repo, digest);
        let resp = self.send(repo, action, |c| c.head(&url))?;
        match resp.status().as_u16() {
            200 => Ok(resp.content_length()),
            404 => Ok(None),
            s => Err(status_error(
                &format!("checking blob sha256:{digest}"),
                s,
                &[],
            )),
        }
    }

    /// A small blob (a config, a card) read into memory, bounded and verified.
    pub fn get_small_blob(
        &self,
        repo: &OciRepository,
        digest: &Sha256Hex,
        limit: u64,
        what: &str,
    ) -> Result<Vec<u8>, OciError> {
        let url = self.blob_url(repo, digest);
        let mut resp = self.send(repo, Action::Pull, |c| c.get(&url))?;
        // Registries may send blobs from storage elsewhere; follow, without
        // the token (it belongs to the registry only).
        for _ in 0..5 {
            if !matches!(resp.status().as_u16(), 301 | 302 | 303 | 307 | 308) {
                break;
            }
            let next = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| reqwest::Url::parse(&url).ok()?.join(l).ok())
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| {
                    OciError::BadArtifact(format!("{what}: a redirect without a usable Location"))
                })?;
            resp = self.dispatch(self.http.get(next), None)?;
        }
        let status = resp.status().as_u16();
        let bytes = read_limited(resp, limit, what)?;
        if status != 200 {
            return Err(status_error(what, status, &bytes));
        }
        crate::check_digest(&bytes, digest, what)?;
        Ok(bytes)
    }
}

/// Read at most `limit` bytes of a body; more is an error, not a truncation.
pub(crate) fn read_limited(resp: Response, limit: u64, what: &str) -> Result<Vec<u8>, OciError> {
    let mut body = Vec::new();
    resp.take(limit + 1)
        .read_to_end(&mut body)
        .map_err(|e| OciError::Http {
            url: what.to_owned(),
            message: format!("reading the answer failed: {e}"),
        })?;
    if body.len() as u64 > limit {
        return Err(OciError::TooLarge {
            what: what.to_owned(),
            limit,
        });
    }
    Ok(body)
}

/// An HTTP status error with the registry's own error code, escaped.
pub(crate) fn status_error(what: &str, status: u16, body: &[u8]) -> OciError {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        code: String,
        #[serde(default)]
        message: String,
    }
    let detail = serde_json::from_slice::<Errors>(body)
        .ok()
        .and_then(|e| e.errors.into_iter().next())
        .map(|e| {
            format!(
                " ({}: {})",
                TerminalSafe::shortened(&e.code, 60),
                TerminalSafe::shortened(&e.message, 200)
            )
        })
        .unwrap_or_default();
    OciError::Status {
        what: what.to_owned(),
        status,
        detail,
    }
}
