//! The hub's model search (`/api/models?search=...`), page by page as the hub
//! paginates (`Link: <...>; rel="next"`), each result with the license class
//! zoo derives, its gated flag, downloads, and whether zoo could run it.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use zoo_registry::{Catalog, Task};
use zoo_types::RepoId;

use crate::client::{HubClient, encode};
use crate::error::HubError;
use crate::info::{shown, strings, token};
use crate::license;

/// Pages read at most for one search: with a license filter applied here,
/// the hub may have to be asked more than once, but never without end.
const MAX_PAGES: usize = 20;
/// Results asked for per page.
const PAGE_SIZE: usize = 100;

#[derive(Debug, Clone)]
pub struct SearchQuery {
    pub text: String,
    /// A hub task tag (`pipeline_tag`), e.g. `feature-extraction`.
    pub task: Option<String>,
    /// A license pattern (`*` matches any text) against the zoo license id.
    pub license: Option<String>,
    pub limit: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub repo: String,
    /// The SPDX id or `LicenseRef-` zoo maps the hub's license to
    /// (`NOASSERTION` when none is declared).
    pub license: String,
    /// `open`, `restricted` or `unknown`, from the license's terms.
    pub license_class: &'static str,
    pub gated: bool,
    pub downloads: u64,
    pub likes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub library_name: Option<String>,
    /// The repository has an ONNX export for a task zoo runs
    /// (image classification, text embedding, text classification).
    pub runnable: bool,
}

#[derive(Debug, Deserialize)]
struct HitJson {
    id: String,
    #[serde(default)]
    downloads: Option<u64>,
    #[serde(default)]
    likes: Option<u64>,
    #[serde(default)]
    gated: Value,
    #[serde(default)]
    pipeline_tag: Option<String>,
    #[serde(default)]
    library_name: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default, rename = "cardData")]
    card_data: Option<Value>,
}

/// Search the hub; at most `query.limit` hits, in the hub's order (downloads).
pub fn search(
    client: &HubClient,
    catalog: &Catalog,
    query: &SearchQuery,
) -> Result<Vec<SearchHit>, HubError> {
    let mut url = format!(
        "{}/api/models?search={}&sort=downloads&direction=-1&limit={}&full=true&cardData=true",
        client.endpoint(),
        encode(&query.text),
        query.limit.clamp(1, PAGE_SIZE)
    );
    if let Some(task) = &query.task {
        url.push_str(&format!("&pipeline_tag={}", encode(task)));
    }
    let mut hits = Vec::new();
    // The pages in all get one answer's time (each is bounded, but twenty
    // slow ones would hold the command for most of an hour): then the
    // results so far, as after MAX_PAGES.
    let deadline = Instant::now() + client.deadline();
    for page_number in 0..MAX_PAGES {
        if page_number > 0 && Instant::now() > deadline {
            break;
        }
        let answer = client.get_page(&url)?;
        let page: Vec<Value> =
            serde_json::from_slice(&answer.body).map_err(|e| HubError::BadAnswer {
                from: shown(client.endpoint()),
                message: format!(
                    "search results are not a JSON list: {}",
                    shown(&e.to_string())
                ),
            })?;
        for item in page {
            let Ok(json) = serde_json::from_value::<HitJson>(item) else {
                continue;
            };
            let Some(hit) = hit(json, catalog) else {
                continue;
            };
            if query
                .license
                .as_ref()
                .is_some_and(|p| !zoo_registry::license::glob_match(p, &hit.license))
            {
                continue;
            }
            hits.push(hit);
            if hits.len() >= query.limit {
                return Ok(hits);
            }
        }
        match answer.next {
            Some(next) => url = next,
            None => break,
        }
    }
    Ok(hits)
}

fn hit(json: HitJson, catalog: &Catalog) -> Option<SearchHit> {
    let repo = RepoId::parse(&json.id).ok()?;
    let tags: Vec<String> = json.tags.iter().filter_map(|t| token(t)).collect();
    let mut ids = json
        .card_data
        .as_ref()
        .and_then(|d| d.get("license"))
        .map(strings)
        .unwrap_or_default();
    if ids.is_empty() {
        ids = tags
            .iter()
            .filter_map(|t| t.strip_prefix("license:"))
            .map(str::to_owned)
            .collect();
    }
    let lic = if ids.is_empty() {
        None
    } else {
        let name = json
            .card_data
            .as_ref()
            .and_then(|d| d.get("license_name"))
            .and_then(Value::as_str)
            .and_then(crate::info::printable);
        let all = ids
            .iter()
            .map(|id| {
                if id.eq_ignore_ascii_case("other") {
                    license::other(name.as_deref(), None, repo.as_ref())
                } else {
                    license::from_hub_id(id, catalog)
                }
            })
            .collect();
        Some(license::all_of(all))
    };
    let gated = matches!(&json.gated, Value::Bool(true) | Value::String(_));
    let license_class = match lic.as_ref().and_then(zoo_registry::License::terms) {
        Some(t) if t.is_unrestricted() && !gated => "open",
        Some(_) => "restricted",
        None => "unknown",
    };
    let pipeline_tag = json.pipeline_tag.as_deref().and_then(token);
    let library_name = json.library_name.as_deref().and_then(token);
    let runnable = tags.iter().any(|t| t == "onnx")
        && pipeline_tag.as_deref().is_some_and(|p| {
            matches!(
                crate::import::task_of(p, library_name.as_deref()),
                Task::ImageClassification | Task::TextEmbedding | Task::TextClassification
            )
        });
    Some(SearchHit {
        repo: repo.to_string(),
        license: lic.map_or_else(|| zoo_registry::license::NO_ASSERTION.to_owned(), |l| l.id),
        license_class,
        gated,
        downloads: json.downloads.unwrap_or(0),
        likes: json.likes.unwrap_or(0),
        pipeline_tag,
        library_name,
        runnable,
    })
}
