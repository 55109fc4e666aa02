//! Hub metadata as served: derived model fields (tags, config, safetensors),
//! card data and the generated README, claimed blob ids, datasets, and the
//! paginated model search.

mod common;

use common::{get, send};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use zoo_test_support::{
    FixtureDataset, FixtureFile, FixtureRepo, HubServer, ServerConfig, fixture_bytes,
};

fn git_blob_id(bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex::encode(h.finalize())
}

/// A safetensors file with F32 tensors of these shapes and one I64 tensor of 7.
fn safetensors(shapes: &[&[u64]]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut offset = 0u64;
    let mut add = |name: String, dtype: &str, shape: &[u64], width: u64| {
        let n: u64 = shape.iter().product();
        header.insert(
            name,
            json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n * width]}),
        );
        offset += n * width;
    };
    for (i, shape) in shapes.iter().enumerate() {
        add(format!("layer.{i}.weight"), "F32", shape, 4);
    }
    add("position_ids".into(), "I64", &[1, 7], 8);
    header.insert("__metadata__".into(), json!({"format": "pt"}));
    let mut header = Value::Object(header).to_string().into_bytes();
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&header);
    out.extend(fixture_bytes(9, offset as usize));
    out
}

fn encoder() -> FixtureRepo {
    FixtureRepo::new("org/encoder")
        .lfs_file("model.safetensors", safetensors(&[&[4, 8], &[8]]))
        .lfs_file("onnx/model.onnx", fixture_bytes(1, 2000))
        .text_file(
            "config.json",
            r#"{"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 8}"#,
        )
        .text_file(
            "tokenizer_config.json",
            r#"{"cls_token": "[CLS]", "mask_token": {"content": "[MASK]", "lstrip": true}, "model_max_length": 512}"#,
        )
        .card_data(json!({
            "license": "apache-2.0",
            "datasets": ["org/pairs"],
            "pipeline_tag": "feature-extraction",
            "library_name": "sentence-transformers",
            "language": "en",
        }))
        .tag("text-embeddings-inference")
        .downloads(1234)
        .likes(5)
}

#[test]
fn model_info_has_the_hub_fields() {
    let hub = HubServer::start(vec![encoder()]);
    let info = get(&hub.endpoint(), "/api/models/org/encoder?blobs=true").json();
    assert_eq!(info["id"], "org/encoder");
    assert_eq!(info["modelId"], "org/encoder");
    assert_eq!(info["author"], "org");
    assert_eq!(info["_id"].as_str().unwrap().len(), 24);
    assert_eq!(info["pipeline_tag"], "feature-extraction");
    assert_eq!(info["library_name"], "sentence-transformers");
    assert_eq!(
        (info["downloads"].clone(), info["likes"].clone()),
        (json!(1234), json!(5))
    );
    assert_eq!(info["spaces"], json!([]));
    assert_eq!(
        info["tags"],
        json!([
            "sentence-transformers",
            "onnx",
            "safetensors",
            "bert",
            "feature-extraction",
            "text-embeddings-inference",
            "en",
            "dataset:org/pairs",
            "license:apache-2.0",
            "region:us"
        ])
    );
    assert_eq!(info["cardData"]["license"], "apache-2.0");
    assert_eq!(
        info["config"],
        json!({
            "architectures": ["BertModel"],
            "model_type": "bert",
            "tokenizer_config": {"cls_token": "[CLS]", "mask_token": "[MASK]"}
        })
    );
    // 4*8 + 8 F32 elements, 7 I64 ones.
    assert_eq!(
        info["safetensors"],
        json!({"parameters": {"F32": 40, "I64": 7}, "total": 47})
    );
    let used: u64 = info["siblings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["size"].as_u64().unwrap())
        .sum();
    assert_eq!(info["usedStorage"], used);

    // The card also lands in a plain-git README.md.
    let names: Vec<&str> = info["siblings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rfilename"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"README.md"), "{names:?}");
    let readme = get(&hub.endpoint(), "/org/encoder/resolve/main/README.md");
    assert_eq!(readme.status, 200);
    let text = String::from_utf8(readme.body).unwrap();
    let front = text
        .strip_prefix("---\n")
        .and_then(|t| t.split_once("\n---\n"))
        .unwrap()
        .0;
    let parsed: Value = serde_json::from_str(front).unwrap();
    assert_eq!(parsed, info["cardData"]);

    // expand: only _id, id and what was asked, repeated or as expand[].
    for q in [
        "expand=cardData&expand=likes",
        "expand%5B%5D=cardData&expand%5B%5D=likes",
    ] {
        let r = get(&hub.endpoint(), &format!("/api/models/org/encoder?{q}")).json();
        let mut keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["_id", "cardData", "id", "likes"], "{q}");
    }
    let bad = get(&hub.endpoint(), "/api/models/org/encoder?expand=nonsense");
    assert_eq!(bad.status, 400);
}

#[test]
fn bare_repo_leaves_out_what_it_lacks() {
    let hub = HubServer::start(vec![
        FixtureRepo::new("org/bare").lfs_file("pytorch_model.bin", vec![0; 10]),
        FixtureRepo::new("org/own-readme")
            .text_file("README.md", "# hand written\n")
            .card_data(json!({"license": "mit"}))
            .gated_auto(),
    ]);
    let info = get(&hub.endpoint(), "/api/models/org/bare").json();
    for key in [
        "pipeline_tag",
        "library_name",
        "cardData",
        "config",
        "safetensors",
    ] {
        assert!(info.get(key).is_none(), "{key}: {info}");
    }
    assert_eq!(info["tags"], json!(["pytorch", "region:us"]));
    assert_eq!(info["gated"], false);

    let info = get(&hub.endpoint(), "/api/models/org/own-readme").json();
    assert_eq!(info["gated"], "auto");
    assert_eq!(info["cardData"], json!({"license": "mit"}));
    // Gated: the README needs the token too.
    let path = "/org/own-readme/resolve/main/README.md";
    assert_eq!(get(&hub.endpoint(), path).status, 401);
    let bearer = format!("Bearer {}", hub.token());
    let readme = send(&hub.endpoint(), "GET", path, &[("Authorization", &bearer)]);
    assert_eq!(readme.body, b"# hand written\n");
}

#[test]
fn claimed_blob_id_is_listed_but_real_bytes_are_served() {
    const LIE: &str = "0123456789abcdef0123456789abcdef01234567";
    let repo = || {
        FixtureRepo::new("org/liar")
            .file(FixtureFile::text("config.json", "{\"a\": 1}").with_claimed_oid(LIE))
            .text_file("vocab.txt", "a\nb\n")
    };
    let hub = HubServer::start(vec![repo()]);
    let commit = hub.commit_of("org/liar").unwrap();
    // Stable: the same fixture gives the same commit.
    assert_eq!(
        HubServer::start(vec![repo()]).commit_of("org/liar"),
        Some(commit.clone())
    );
    let honest = HubServer::start(vec![
        FixtureRepo::new("org/liar")
            .text_file("config.json", "{\"a\": 1}")
            .text_file("vocab.txt", "a\nb\n"),
    ]);
    assert_ne!(honest.commit_of("org/liar"), Some(commit.clone()));

    let info = get(&hub.endpoint(), "/api/models/org/liar?blobs=true").json();
    assert_eq!(info["siblings"][0]["blobId"], LIE);
    assert_eq!(info["siblings"][1]["blobId"], git_blob_id(b"a\nb\n"));
    let tree = get(
        &hub.endpoint(),
        &format!("/api/models/org/liar/tree/{commit}"),
    )
    .json();
    assert_eq!(tree[0]["oid"], LIE);
    let r = get(&hub.endpoint(), "/org/liar/resolve/main/config.json");
    assert_eq!(r.header("ETag"), Some(format!("\"{LIE}\"").as_str()));
    assert_eq!(r.body, b"{\"a\": 1}");
}

#[test]
fn datasets_are_served() {
    let hub = HubServer::start(Vec::new());
    hub.add_dataset(
        FixtureDataset::new("org/reviews")
            .card_data(json!({
                "license": "cc-by-nc-4.0",
                "task_categories": ["text-classification"],
                "pretty_name": "Reviews",
            }))
            .text_file("data/train.csv", "text,label\ngood,1\n")
            .downloads(3)
            .gated(),
    );
    let commit = hub.dataset_commit_of("org/reviews").unwrap();
    for path in [
        "/api/datasets/org/reviews".to_string(),
        format!("/api/datasets/org/reviews/revision/{commit}"),
        "/api/datasets/org/reviews/revision/main?blobs=true".to_string(),
    ] {
        let info = get(&hub.endpoint(), &path);
        assert_eq!(info.status, 200, "{path}");
        let info = info.json();
        assert_eq!(info["id"], "org/reviews");
        assert_eq!(info["sha"], commit.as_str());
        assert_eq!(info["gated"], "manual");
        assert_eq!(info["cardData"]["license"], "cc-by-nc-4.0");
        assert_eq!(
            info["tags"],
            json!([
                "task_categories:text-classification",
                "license:cc-by-nc-4.0",
                "region:us"
            ])
        );
        // The README title: the card's pretty_name.
        assert_eq!(info["description"], "Reviews");
        assert!(info.get("modelId").is_none());
    }
    // Not a model, and unknown datasets are RepoNotFound.
    assert_eq!(get(&hub.endpoint(), "/api/models/org/reviews").status, 404);
    let r = get(&hub.endpoint(), "/api/datasets/org/nope");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("X-Error-Code"), Some("RepoNotFound"));
    let r = get(&hub.endpoint(), "/api/datasets/org/reviews/revision/v2");
    assert_eq!(r.header("X-Error-Code"), Some("RevisionNotFound"));

    // Gated: files need the token; the log names them under datasets/.
    let path = "/datasets/org/reviews/resolve/main/data/train.csv";
    let r = send(&hub.endpoint(), "GET", path, &[]);
    assert_eq!(r.status, 401);
    assert_eq!(r.header("X-Error-Code"), Some("GatedRepo"));
    let bearer = format!("Bearer {}", hub.token());
    let r = send(&hub.endpoint(), "GET", path, &[("Authorization", &bearer)]);
    assert_eq!(r.body, b"text,label\ngood,1\n");
    let last = hub.log().pop().unwrap();
    assert_eq!(
        last.file.as_deref(),
        Some("datasets/org/reviews/data/train.csv")
    );
    let tree = get(
        &hub.endpoint(),
        "/api/datasets/org/reviews/tree/main?recursive=true",
    )
    .json();
    assert_eq!(tree.as_array().unwrap().len(), 3, "{tree}");
}

/// Follows `Link: <...>; rel="next"` from `first` and returns every page.
fn walk_pages(endpoint: &str, first: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut next = Some(first.to_string());
    while let Some(path) = next.take() {
        let r = get(endpoint, &path);
        assert_eq!(r.status, 200, "{path}");
        next = r.header("Link").map(|link| {
            let url = link
                .strip_prefix('<')
                .and_then(|l| l.split_once(">; rel=\"next\""))
                .unwrap_or_else(|| panic!("bad Link: {link}"))
                .0;
            let path = url
                .strip_prefix(endpoint)
                .unwrap_or_else(|| panic!("{url}"));
            assert!(path.contains("cursor="), "{path}");
            path.to_string()
        });
        pages.push(r.json().as_array().unwrap().clone());
        assert!(pages.len() < 100, "pagination does not end");
    }
    pages
}

#[test]
fn search_paginates_in_download_order() {
    let config = ServerConfig {
        search_page_size: 2,
        ..ServerConfig::default()
    };
    let mut repos: Vec<FixtureRepo> = (0..5u64)
        .map(|i| {
            FixtureRepo::new(format!("org{i}/Tiny-Search-{i}"))
                .text_file("config.json", "{}")
                .pipeline_tag(if i % 2 == 0 {
                    "feature-extraction"
                } else {
                    "fill-mask"
                })
                .downloads([30, 10, 50, 20, 40][i as usize])
        })
        .collect();
    repos.push(FixtureRepo::new("org/other").downloads(1000));
    let hub = HubServer::start_with(config, repos).unwrap();
    let ids = |pages: &[Vec<Value>]| -> Vec<String> {
        pages
            .iter()
            .flatten()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    };

    let pages = walk_pages(&hub.endpoint(), "/api/models?search=tiny-search&limit=100");
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    assert_eq!(
        ids(&pages),
        [
            "org2/Tiny-Search-2",
            "org4/Tiny-Search-4",
            "org0/Tiny-Search-0",
            "org3/Tiny-Search-3",
            "org1/Tiny-Search-1"
        ]
    );
    let first = &pages[0][0];
    let mut keys: Vec<&String> = first.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "_id",
            "createdAt",
            "downloads",
            "id",
            "likes",
            "modelId",
            "pipeline_tag",
            "private",
            "tags"
        ]
    );

    // A limit below the page size makes smaller pages; filters narrow.
    let pages = walk_pages(
        &hub.endpoint(),
        "/api/models?search=TINY&limit=1&pipeline_tag=feature-extraction&full=true&cardData=true",
    );
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1, 1]);
    assert_eq!(
        ids(&pages),
        [
            "org2/Tiny-Search-2",
            "org4/Tiny-Search-4",
            "org0/Tiny-Search-0"
        ]
    );
    assert!(pages[0][0]["siblings"].is_array() && pages[0][0]["sha"].is_string());
    let pages = walk_pages(&hub.endpoint(), "/api/models?author=org3&filter=fill-mask");
    assert_eq!(ids(&pages), ["org3/Tiny-Search-3"]);
    let pages = walk_pages(
        &hub.endpoint(),
        "/api/models?search=tiny&sort=downloads&direction=1",
    );
    assert_eq!(ids(&pages)[0], "org1/Tiny-Search-1");
    let pages = walk_pages(
        &hub.endpoint(),
        "/api/models?search=tiny&expand[]=downloads",
    );
    let mut keys: Vec<&String> = pages[0][0].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["_id", "downloads", "id"]);

    assert_eq!(get(&hub.endpoint(), "/api/models?cursor=zz").status, 400);
    assert_eq!(get(&hub.endpoint(), "/api/models?sort=nope").status, 400);
    // Every page was a logged request.
    let searches = hub
        .log()
        .iter()
        .filter(|r| r.path.starts_with("/api/models?"))
        .count();
    assert!(searches >= 10, "{searches}");
}
