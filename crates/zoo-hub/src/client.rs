//! Calls to the hub's API (`HF_ENDPOINT`), each bounded in size and time, and
//! their answers validated into [`ModelInfo`] and friends.

use serde::de::DeserializeOwned;
use zoo_fetch::{ApiAnswer, ApiClient};
use zoo_types::{RepoId, Revision};

use crate::error::HubError;
use crate::info::{DatasetInfoJson, ModelInfo, ModelInfoJson, shown};

/// The largest model info read: one entry per file, a few hundred bytes each,
/// so 16 MiB is tens of thousands of files; more is a broken or hostile server.
pub const MAX_INFO_BYTES: u64 = 16 << 20;
/// Dataset info is read for its license only.
const MAX_DATASET_BYTES: u64 = 4 << 20;
/// One page of search results.
pub(crate) const MAX_PAGE_BYTES: u64 = 16 << 20;

#[derive(Debug, Clone)]
pub struct HubClient {
    api: ApiClient,
    endpoint: String,
}

impl HubClient {
    /// A client for `HF_ENDPOINT` (default huggingface.co) with `HF_TOKEN`.
    pub fn new() -> Result<HubClient, HubError> {
        Ok(HubClient {
            api: ApiClient::new()?,
            endpoint: zoo_env::hf_endpoint().trim_end_matches('/').to_owned(),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn has_token(&self) -> bool {
        self.api.has_token()
    }

    /// The longest one API answer may take.
    pub fn deadline(&self) -> std::time::Duration {
        self.api.deadline()
    }

    /// The repository's page on the hub, for cards and messages.
    pub fn repo_url(&self, repo: &RepoId) -> String {
        format!("{}/{repo}", self.endpoint)
    }

    pub fn dataset_url(&self, id: &RepoId) -> String {
        format!("{}/datasets/{id}", self.endpoint)
    }

    /// Model info at `revision`, with file sizes and digests (`blobs=true`).
    pub fn model_info(&self, repo: &RepoId, revision: &Revision) -> Result<ModelInfo, HubError> {
        let url = format!(
            "{}/api/models/{repo}/revision/{}?blobs=true",
            self.endpoint,
            encode(revision.as_str())
        );
        let from = format!("{} for '{repo}' at '{revision}'", shown(&self.endpoint));
        let answer = self.api.get(&url, MAX_INFO_BYTES)?;
        self.check_status(&answer, "model repository", repo.as_str(), Some(revision))?;
        let json: ModelInfoJson = parse(&answer, &from)?;
        ModelInfo::from_json(repo, json, &from)
    }

    pub(crate) fn dataset_info(&self, id: &RepoId) -> Result<DatasetInfoJson, HubError> {
        let url = format!("{}/api/datasets/{id}", self.endpoint);
        let answer = self.api.get(&url, MAX_DATASET_BYTES)?;
        self.check_status(&answer, "dataset", id.as_str(), None)?;
        parse(
            &answer,
            &format!("{} for dataset '{id}'", shown(&self.endpoint)),
        )
    }

    /// GET an API URL of this endpoint (a search page); the next page's URL
    /// must stay on the same endpoint.
    pub(crate) fn get_page(&self, url: &str) -> Result<ApiAnswer, HubError> {
        if !url.starts_with(&format!("{}/", self.endpoint)) {
            return Err(HubError::Untrusted {
                from: shown(&self.endpoint),
                message: format!("a next page on another host: {}", shown(url)),
            });
        }
        let answer = self.api.get(url, MAX_PAGE_BYTES)?;
        self.check_status(&answer, "search", "results", None)?;
        Ok(answer)
    }

    fn check_status(
        &self,
        answer: &ApiAnswer,
        what: &'static str,
        id: &str,
        revision: Option<&Revision>,
    ) -> Result<(), HubError> {
        let code = answer.error_code.clone().unwrap_or_default();
        match answer.status {
            200 => Ok(()),
            404 if code == "RevisionNotFound" => Err(HubError::NotFound {
                what: "revision",
                id: format!("{id}@{}", revision.map(Revision::as_str).unwrap_or("?")),
                endpoint: shown(&self.endpoint),
                hint: ": check the branch, tag or commit",
            }),
            404 => Err(HubError::NotFound {
                what,
                id: id.to_owned(),
                endpoint: shown(&self.endpoint),
                hint: if self.has_token() {
                    ": check the name (and that HF_TOKEN can see it, if it is private)"
                } else {
                    ": check the name; a private repository needs HF_TOKEN"
                },
            }),
            status @ (401 | 403) => Err(HubError::Denied {
                id: id.to_owned(),
                endpoint: shown(&self.endpoint),
                status,
                code: if code.is_empty() {
                    String::new()
                } else {
                    format!(", {code}")
                },
                hint: "set HF_TOKEN to a token with access (gated repositories: accept the terms on the hub first)",
            }),
            status => Err(HubError::BadAnswer {
                from: shown(&self.endpoint),
                message: format!(
                    "HTTP {status} for {what} '{id}'{}",
                    if code.is_empty() {
                        String::new()
                    } else {
                        format!(" ({code})")
                    }
                ),
            }),
        }
    }
}

fn parse<T: DeserializeOwned>(answer: &ApiAnswer, from: &str) -> Result<T, HubError> {
    serde_json::from_slice(&answer.body).map_err(|e| HubError::BadAnswer {
        from: from.to_owned(),
        message: format!("not the JSON the hub API sends: {}", shown(&e.to_string())),
    })
}

/// Percent-encode one path segment or query value.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
