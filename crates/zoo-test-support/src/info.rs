//! The metadata endpoints: model and dataset info, and the model search,
//! in the shapes `huggingface_hub` parses (`ModelInfo`, `DatasetInfo`,
//! `list_models` with `Link` pagination). Keys whose value would be null
//! are left out, as the Hub leaves them out.

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use crate::catalog::{Catalog, Repo, RepoKind};
use crate::http::Request;
use crate::routes::{Context, LAST_MODIFIED, Response, revision_not_found};

/// What `expand` may name for a model (huggingface_hub's `ExpandModelProperty_T`).
/// Names this server has no data for are accepted and left out.
const MODEL_EXPAND: &[&str] = &[
    "author",
    "baseModels",
    "cardData",
    "childrenModelCount",
    "config",
    "createdAt",
    "disabled",
    "downloads",
    "downloadsAllTime",
    "evalResults",
    "gated",
    "gguf",
    "inference",
    "inferenceProviderMapping",
    "lastModified",
    "library_name",
    "likes",
    "mask_token",
    "model-index",
    "pipeline_tag",
    "private",
    "resourceGroup",
    "safetensors",
    "sha",
    "siblings",
    "spaces",
    "tags",
    "transformersInfo",
    "trendingScore",
    "usedStorage",
    "widgetData",
];

/// What `expand` may name for a dataset (`ExpandDatasetProperty_T`).
const DATASET_EXPAND: &[&str] = &[
    "author",
    "cardData",
    "citation",
    "createdAt",
    "description",
    "disabled",
    "downloads",
    "downloadsAllTime",
    "gated",
    "lastModified",
    "likes",
    "mainSize",
    "paperswithcode_id",
    "private",
    "resourceGroup",
    "sha",
    "siblings",
    "tags",
    "trendingScore",
    "usedStorage",
];

/// A search result's keys without `full`.
const SUMMARY_KEYS: &[&str] = &[
    "_id",
    "id",
    "likes",
    "downloads",
    "private",
    "tags",
    "pipeline_tag",
    "library_name",
    "createdAt",
    "modelId",
];

/// Added by `full=true`.
const FULL_KEYS: &[&str] = &["author", "gated", "lastModified", "sha", "siblings"];

/// `sort` values of `GET /api/models` (what `list_models(sort=...)` sends, and `id`).
const SORTS: &[&str] = &[
    "downloads",
    "likes",
    "createdAt",
    "lastModified",
    "trendingScore",
    "id",
];

fn siblings(repo: &Repo, blobs: bool) -> Value {
    repo.files
        .iter()
        .map(|e| {
            let mut s = json!({ "rfilename": e.path });
            if blobs {
                s["size"] = json!(e.size);
                s["blobId"] = json!(e.oid);
                if let Some(sha) = &e.lfs_sha256 {
                    s["lfs"] =
                        json!({ "sha256": sha, "size": e.size, "pointerSize": e.pointer_size });
                }
            }
            s
        })
        .collect()
}

/// The fields common to models and datasets.
fn common(repo: &Repo, blobs: bool) -> Map<String, Value> {
    let m = &repo.meta;
    let mut o = Map::new();
    let mut put = |k: &str, v: Value| {
        o.insert(k.to_string(), v);
    };
    put("_id", json!(repo.object_id()));
    put("id", json!(repo.id));
    put("author", json!(repo.id.split('/').next().unwrap_or("")));
    put("sha", json!(repo.commit));
    put("lastModified", json!(LAST_MODIFIED));
    put("createdAt", json!(LAST_MODIFIED));
    put("private", json!(false));
    put(
        "gated",
        repo.gated.map_or(json!(false), |g| json!(g.as_str())),
    );
    put("disabled", json!(false));
    put("downloads", json!(m.downloads));
    put("likes", json!(m.likes));
    put("tags", json!(m.tags));
    put("siblings", siblings(repo, blobs));
    put("usedStorage", json!(m.used_storage));
    if let Some(card) = &m.card_data {
        put("cardData", card.clone());
    }
    o
}

/// Everything `GET /api/models/{id}` answers (`blobs`: file sizes, blob ids, LFS).
pub(crate) fn model_json(repo: &Repo, blobs: bool) -> Map<String, Value> {
    let m = &repo.meta;
    let mut o = common(repo, blobs);
    o.insert("modelId".into(), json!(repo.id));
    o.insert("spaces".into(), json!([]));
    let optional = [
        ("pipeline_tag", m.pipeline_tag.as_ref().map(|v| json!(v))),
        ("library_name", m.library_name.as_ref().map(|v| json!(v))),
        ("config", m.config.clone()),
        ("safetensors", m.safetensors.clone()),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            o.insert(k.into(), v);
        }
    }
    o
}

/// Everything `GET /api/datasets/{id}` answers.
pub(crate) fn dataset_json(repo: &Repo, blobs: bool) -> Map<String, Value> {
    let mut o = common(repo, blobs);
    if let Some(d) = &repo.meta.description {
        o.insert("description".into(), json!(d));
    }
    o
}

fn pick<'a>(all: &Map<String, Value>, keys: impl IntoIterator<Item = &'a str>) -> Value {
    let mut out = Map::new();
    for k in keys {
        if let Some(v) = all.get(k) {
            out.insert(k.to_string(), v.clone());
        }
    }
    Value::Object(out)
}

/// The `expand` values: `expand=a&expand=b` (as huggingface_hub sends them),
/// `expand[]=a` (as huggingface.js does), or comma-separated.
fn expand_of(req: &Request) -> Vec<String> {
    req.query()
        .into_iter()
        .filter(|(k, _)| k == "expand" || k == "expand[]")
        .flat_map(|(_, v)| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A 400 naming the first `expand` value the kind does not have, as the Hub refuses them.
fn check_expand(kind: RepoKind, expand: &[String]) -> Result<(), Response> {
    let allowed = match kind {
        RepoKind::Model => MODEL_EXPAND,
        RepoKind::Dataset => DATASET_EXPAND,
    };
    match expand.iter().find(|e| !allowed.contains(&e.as_str())) {
        Some(bad) => Err(bad_request(&format!(
            "\"expand\" must be one of [{}], got {bad:?}",
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

fn bad_request(message: &str) -> Response {
    Response::json(400, &json!({ "error": message })).header("X-Error-Message", message)
}

/// `GET /api/{models|datasets}/{id}[/revision/{rev}][?blobs=true][&expand=...]`.
/// Metadata is public even for gated repos, as on the Hub; only file contents
/// need the token. With `expand`, only `_id`, `id` and the named properties.
pub(crate) fn repo_info(repo: &Repo, rev: &str, req: &Request) -> Response {
    if !repo.has_revision(rev) {
        return revision_not_found(rev);
    }
    let blobs = req.query_flag("blobs");
    let all = match repo.kind {
        RepoKind::Model => model_json(repo, blobs),
        RepoKind::Dataset => dataset_json(repo, blobs),
    };
    let expand = expand_of(req);
    if expand.is_empty() {
        return Response::json(200, &Value::Object(all));
    }
    if let Err(resp) = check_expand(repo.kind, &expand) {
        return resp;
    }
    let keys = ["_id", "id"]
        .into_iter()
        .chain(expand.iter().map(String::as_str));
    Response::json(200, &pick(&all, keys))
}

/// The search's filters and output options, from the query string.
#[derive(Debug, Default)]
struct Search {
    text: Option<String>,
    author: Option<String>,
    pipeline_tag: Option<String>,
    filters: Vec<String>,
    gated: Option<bool>,
    sort: String,
    ascending: bool,
    limit: Option<usize>,
    offset: usize,
    full: bool,
    card_data: bool,
    config: bool,
    expand: Vec<String>,
}

impl Search {
    fn parse(req: &Request) -> Result<Search, Response> {
        let query = req.query();
        let one = |key: &str| {
            query
                .iter()
                .rfind(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        let all = |key: &str| -> Vec<String> {
            let list_key = format!("{key}[]");
            query
                .iter()
                .filter(|(k, _)| k == key || *k == list_key)
                .map(|(_, v)| v.clone())
                .collect()
        };
        let sort = one("sort").unwrap_or_else(|| "downloads".into());
        if !SORTS.contains(&sort.as_str()) {
            return Err(bad_request(&format!(
                "\"sort\" must be one of [{}]",
                SORTS.join(", ")
            )));
        }
        let limit = match one("limit") {
            None => None,
            Some(v) => Some(
                v.parse::<usize>()
                    .map_err(|_| bad_request("\"limit\" must be a non-negative integer"))?,
            ),
        };
        let offset = match one("cursor") {
            None => 0,
            Some(c) => decode_cursor(&c).ok_or_else(|| bad_request("Invalid cursor"))?,
        };
        let gated = match one("gated").as_deref() {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => return Err(bad_request("\"gated\" must be true or false")),
        };
        let expand = expand_of(req);
        check_expand(RepoKind::Model, &expand)?;
        Ok(Search {
            text: one("search").map(|s| s.to_lowercase()),
            author: one("author"),
            pipeline_tag: one("pipeline_tag"),
            filters: all("filter"),
            gated,
            sort,
            ascending: one("direction").as_deref() == Some("1"),
            limit,
            offset,
            full: req.query_flag("full"),
            card_data: req.query_flag("cardData"),
            config: req.query_flag("config"),
            expand,
        })
    }

    fn matches(&self, repo: &Repo) -> bool {
        let m = &repo.meta;
        let author = repo.id.split('/').next().unwrap_or("");
        self.text
            .as_ref()
            .is_none_or(|t| repo.id.to_lowercase().contains(t))
            && self
                .author
                .as_ref()
                .is_none_or(|a| a.eq_ignore_ascii_case(author))
            && self
                .pipeline_tag
                .as_ref()
                .is_none_or(|p| m.pipeline_tag.as_ref() == Some(p))
            && self.gated.is_none_or(|g| g == repo.gated.is_some())
            && self.filters.iter().all(|f| {
                m.tags.contains(f)
                    || m.library_name.as_ref() == Some(f)
                    || m.pipeline_tag.as_ref() == Some(f)
            })
    }

    /// `sort` in `direction`, ties by id (ascending) so pages never overlap.
    fn order(&self, a: &Repo, b: &Repo) -> Ordering {
        let key = |r: &Repo| match self.sort.as_str() {
            "downloads" => r.meta.downloads,
            "likes" => r.meta.likes,
            // Every fixture has the same dates and no trend.
            _ => 0,
        };
        let by_key = if self.sort == "id" {
            a.id.cmp(&b.id)
        } else {
            key(a).cmp(&key(b))
        };
        let by_key = if self.ascending {
            by_key
        } else {
            by_key.reverse()
        };
        by_key.then_with(|| a.id.cmp(&b.id))
    }

    fn item(&self, repo: &Repo) -> Value {
        let all = model_json(repo, false);
        if !self.expand.is_empty() {
            let keys = ["_id", "id"]
                .into_iter()
                .chain(self.expand.iter().map(String::as_str));
            return pick(&all, keys);
        }
        let mut keys: Vec<&str> = SUMMARY_KEYS.to_vec();
        if self.full {
            keys.extend(FULL_KEYS);
        }
        if self.card_data {
            keys.push("cardData");
        }
        if self.config {
            keys.push("config");
        }
        pick(&all, keys)
    }
}

/// `GET /api/models?search=&author=&pipeline_tag=&filter=&gated=&sort=&direction=&limit=&full=&cardData=&config=&expand=&cursor=`:
/// a JSON array of model summaries, `min(limit, page size)` at a time, with
/// `Link: <next>; rel="next"` (the same query plus a `cursor`) while more remain.
pub(crate) fn search_models(catalog: &Catalog, ctx: &Context<'_>, req: &Request) -> Response {
    let search = match Search::parse(req) {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let mut hits: Vec<&Repo> = catalog
        .repos
        .values()
        .map(AsRef::as_ref)
        .filter(|r| search.matches(r))
        .collect();
    hits.sort_by(|a, b| search.order(a, b));
    let per_page = search
        .limit
        .unwrap_or(usize::MAX)
        .min(ctx.search_page_size)
        .max(1);
    let page: Vec<Value> = hits
        .iter()
        .skip(search.offset)
        .take(per_page)
        .map(|r| search.item(r))
        .collect();
    let mut resp = Response::json(200, &Value::Array(page));
    let next = search.offset.saturating_add(per_page);
    if next < hits.len() {
        resp = resp.header(
            "Link",
            format!("<{}>; rel=\"next\"", next_url(ctx, req, next)),
        );
    }
    resp
}

/// The request's URL with `cursor` set to `offset`, absolute on the server's
/// endpoint (as the Hub's links are on huggingface.co; a relay in front is not
/// kept, like the LFS redirects).
fn next_url(ctx: &Context<'_>, req: &Request, offset: usize) -> String {
    let mut params: Vec<String> = req
        .target
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some("cursor"))
        .map(str::to_string)
        .collect();
    params.push(format!("cursor={}", encode_cursor(offset)));
    format!("{}{}?{}", ctx.endpoint, req.path(), params.join("&"))
}

/// Opaque to clients, like the Hub's: hex of `{"offset": n}`.
pub(crate) fn encode_cursor(offset: usize) -> String {
    hex::encode(json!({ "offset": offset }).to_string())
}

pub(crate) fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = hex::decode(cursor).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    usize::try_from(v.get("offset")?.as_u64()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        for n in [0, 1, 999, 123_456] {
            assert_eq!(decode_cursor(&encode_cursor(n)), Some(n));
        }
        assert_eq!(decode_cursor("zz"), None);
        assert_eq!(decode_cursor(&hex::encode("{\"offset\": -1}")), None);
        assert_eq!(decode_cursor(&hex::encode("[]")), None);
    }
}
