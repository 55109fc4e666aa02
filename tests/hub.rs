//! Any Hub repository without a hand-written card: `zoo add` / `zoo pull
//! hf:ORG/NAME` against the local Hub look-alike, whose API answers have the
//! real Hub's shape (tests/hub_fixtures.rs checks them with huggingface_hub).

mod util;

#[path = "hub/fixtures.rs"]
mod fixtures;

use std::process::Command;

use fixtures::{Hub, safetensors_bytes};
use serde_json::json;
use util::{Run, TestEnv, list_files};
use zoo_test_support::FixtureRepo;

fn zoo(env: &TestEnv, hub: &Hub) -> Command {
    let mut cmd = env.zoo();
    cmd.env("HF_ENDPOINT", hub.server.endpoint());
    cmd
}

fn run(env: &TestEnv, hub: &Hub, args: &[&str]) -> Run {
    Run::from(zoo(env, hub).args(args).output().expect("run zoo"))
}

fn card_path(env: &TestEnv, name: &str) -> std::path::PathBuf {
    env.zoo_home().join("catalog").join(format!("{name}.yaml"))
}

fn card_yaml(env: &TestEnv, name: &str) -> serde_yaml::Value {
    let text = std::fs::read_to_string(card_path(env, name)).expect("card written");
    serde_yaml::from_str(&text).expect("card is YAML")
}

#[test]
fn add_writes_a_card_that_pins_every_file_and_passes_the_catalog_check() {
    let hub = Hub::start();
    let env = TestEnv::new();
    run(&env, &hub, &["add", "hf:acme/open-encoder"]).success();
    let card = card_yaml(&env, "acme--open-encoder");
    assert_eq!(card["license"]["id"], "Apache-2.0");
    assert_eq!(card["openness"]["class"], "open");
    assert_eq!(card["task"], "text-embedding");
    assert_eq!(
        card["hub"]["commit"],
        hub.server.commit_of("acme/open-encoder").unwrap().as_str()
    );
    assert_eq!(card["hub"]["fields"]["license"], "readme-front-matter");
    assert_eq!(
        card["parameters"], 6,
        "element count of the safetensors header"
    );
    for f in card["files"].as_sequence().unwrap() {
        let pinned = f.get("sha256").is_some() || f.get("git_blob").is_some();
        assert!(pinned, "file not pinned: {f:?}");
    }
    // Nothing was downloaded: no model in the store, no blob in the cache.
    assert!(!env.zoo_home().join("store").join("models").exists());
    assert!(list_files(&env.hf_cache()).is_empty());
    // The catalog check accepts what zoo wrote, and the catalog loads it.
    run(
        &env,
        &hub,
        &[
            "registry",
            "check",
            env.zoo_home().join("catalog").to_str().unwrap(),
        ],
    )
    .success();
    let info = run(&env, &hub, &["info", "hf:acme/open-encoder", "--json"]).success();
    assert_eq!(info.json()["card"]["name"], "acme--open-encoder");
}

#[test]
fn open_model_with_an_onnx_export_is_pulled_verified_and_embeds() {
    let Some(hub) = Hub::start_with_minilm() else {
        return;
    };
    let env = TestEnv::new();
    let pulled = run(
        &env,
        &hub,
        &[
            "pull",
            "hf:sentence-transformers/all-MiniLM-L6-v2",
            "--json",
        ],
    )
    .success();
    let report = pulled.json();
    let files: Vec<String> = report[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect();
    assert!(files.contains(&"onnx/model.onnx".to_owned()), "{files:?}");
    assert!(files.contains(&"model.safetensors".to_owned()), "{files:?}");
    assert!(
        !files.iter().any(|f| f.contains("qint8")),
        "ONNX variants left out: {files:?}"
    );
    let card = card_yaml(&env, "sentence-transformers--all-minilm-l6-v2");
    assert_eq!(card["hub"]["runnable"], true, "{card:?}");
    assert_eq!(card["io"]["outputs"][0]["name"], "last_hidden_state");
    assert_eq!(card["io"]["outputs"][0]["dim"], 384);
    assert_eq!(card["io"]["preprocessing"]["text"]["max_length"], 256);
    assert_eq!(card["io"]["preprocessing"]["text"]["normalize"], true);
    // Small files were pinned by git blob id and now carry their sha256 too.
    let tok = card["files"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "tokenizer.json")
        .unwrap()
        .clone();
    assert!(
        tok.get("git_blob").is_some() && tok.get("sha256").is_some(),
        "{tok:?}"
    );

    let out = run(
        &env,
        &hub,
        &[
            "embed",
            "sentence-transformers--all-minilm-l6-v2",
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "A man is riding a horse.",
        ],
    )
    .success();
    let vecs: Vec<Vec<f64>> = out
        .stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(vecs.len(), 3);
    assert_eq!(vecs[0].len(), 384);
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    assert!((dot(&vecs[0], &vecs[0]) - 1.0).abs() < 1e-3, "normalised");
    let (near, far) = (dot(&vecs[0], &vecs[1]), dot(&vecs[0], &vecs[2]));
    assert!(
        near > 0.6 && near > far + 0.2,
        "similar {near}, different {far}"
    );
    // `zoo verify` re-hashes what the card pins.
    run(
        &env,
        &hub,
        &["verify", "sentence-transformers--all-minilm-l6-v2"],
    )
    .success();

    // `zoo finetune` takes the hub model as a backbone, and the result's
    // lineage names the hub card.
    let mut csv = String::from("text,label\n");
    let pairs = [
        ("a wonderful, moving film", "a dull and tedious mess"),
        (
            "brilliant acting and a great story",
            "boring, predictable and far too long",
        ),
        ("I loved every minute of it", "I hated every minute of it"),
        ("a delightful triumph", "a tiresome failure"),
    ];
    for i in 0..24 {
        let (good, bad) = pairs[i % pairs.len()];
        csv.push_str(&format!("\"{good} ({i})\",pos\n\"{bad} ({i})\",neg\n"));
    }
    let data = env.write("reviews.csv", &csv);
    let args = [
        "finetune",
        "sentence-transformers--all-minilm-l6-v2",
        "--data",
        data.to_str().unwrap(),
        "--out",
        "hub-sentiment",
        "--epochs",
        "5",
        "--json",
    ];
    run(&env, &hub, &args).success();
    let audit = run(&env, &hub, &["audit", "hub-sentiment", "--format", "json"]);
    assert!(
        audit
            .stdout
            .contains("sentence-transformers--all-minilm-l6-v2"),
        "{}",
        audit.stdout
    );
}

#[test]
fn an_image_classifier_with_a_preprocessor_config_is_runnable_by_predict() {
    let Some(hub) = Hub::start().with_image_classifier() else {
        return;
    };
    let env = TestEnv::new();
    run(&env, &hub, &["pull", "hf:acme/nsfw-classifier"]).success();
    let card = card_yaml(&env, "acme--nsfw-classifier");
    assert_eq!(card["hub"]["runnable"], true, "{card:?}");
    let io = &card["io"];
    assert_eq!(
        io["inputs"][0]["layout"], "NHWC",
        "read from the graph's input shape"
    );
    assert_eq!(
        io["outputs"][0]["kind"], "probabilities",
        "the graph ends in a Softmax"
    );
    assert_eq!(io["preprocessing"]["image"]["resize_mode"], "exact");
    assert_eq!(io["preprocessing"]["image"]["crop"], 224);
    assert_eq!(io["labels"], "acme--nsfw-classifier");
    let labels_file = env
        .zoo_home()
        .join("catalog/labels/acme--nsfw-classifier.txt");
    assert_eq!(std::fs::read_to_string(labels_file).unwrap(), "sfw\nnsfw\n");
    let img = env.path().join("red.png");
    image::RgbImage::from_pixel(300, 200, image::Rgb([200, 30, 30]))
        .save(&img)
        .unwrap();
    let args = [
        "predict",
        "acme--nsfw-classifier",
        img.to_str().unwrap(),
        "--json",
        "-k",
        "2",
    ];
    let out = run(&env, &hub, &args).success();
    let line: serde_json::Value = serde_json::from_str(out.stdout.lines().next().unwrap()).unwrap();
    let text = line.to_string();
    assert!(
        text.contains("\"sfw\"") && text.contains("\"nsfw\""),
        "{text}"
    );
}

#[test]
fn gated_restricted_model_needs_acceptance_and_a_token_which_is_never_printed() {
    let hub = Hub::start();
    let env = TestEnv::new();
    let spec = "hf:meta-llama/Llama-3.1-8B";
    let refused = run(&env, &hub, &["pull", spec]).code(4);
    assert!(
        refused.stderr.contains("--accept-license"),
        "{}",
        refused.stderr
    );
    assert!(
        !env.zoo_home().join("store/models").exists(),
        "nothing fetched before the gate"
    );
    assert!(
        !hub.server
            .log()
            .iter()
            .any(|r| r.path.contains("/resolve/")),
        "no file request before the license gate"
    );

    let no_token = run(&env, &hub, &["pull", spec, "--accept-license"]);
    assert_eq!(no_token.code, 1);
    assert!(
        no_token
            .stderr
            .contains("is gated on the hub: set HF_TOKEN"),
        "{}",
        no_token.stderr
    );
    assert!(
        !hub.server
            .log()
            .iter()
            .any(|r| r.path.contains("/resolve/")),
        "no file request without a token"
    );

    let token = hub.server.token().to_owned();
    let ok = Run::from(
        zoo(&env, &hub)
            .args(["pull", spec, "--accept-license"])
            .env("HF_TOKEN", &token)
            .output()
            .unwrap(),
    )
    .success();
    assert!(!ok.stderr.contains(&token) && !ok.stdout.contains(&token));
    assert!(!no_token.stderr.contains(&token));
    let card = card_yaml(&env, "meta-llama--llama-3.1-8b");
    assert_eq!(card["license"]["id"], "LicenseRef-Llama-3.1-Community");
    assert_eq!(card["license"]["terms"]["gated"], true);
    assert_eq!(card["openness"]["class"], "open-weights-restricted");
    assert_eq!(card["hub"]["gated"], "manual");
}

#[test]
fn license_other_keeps_its_name_and_link_and_no_license_is_noassertion() {
    let hub = Hub::start();
    let env = TestEnv::new();
    run(
        &env,
        &hub,
        &["add", "hf:acme/custom-license", "hf:acme/no-license"],
    )
    .success();
    let other = card_yaml(&env, "acme--custom-license");
    assert_eq!(
        other["license"]["id"],
        "LicenseRef-Acme-Research-License-1.0"
    );
    assert_eq!(other["license"]["name"], "Acme Research License 1.0");
    assert_eq!(other["license"]["url"], "https://acme.example/license");
    let none = card_yaml(&env, "acme--no-license");
    assert_eq!(none["license"]["id"], "NOASSERTION");
    assert_eq!(none["openness"]["class"], "open-weights-restricted");
    assert!(
        none["hub"]["missing"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|m| m == "license")
    );
    // Unknown terms: the gate asks, and a policy can deny.
    run(&env, &hub, &["pull", "hf:acme/no-license"]).code(4);
    run(
        &env,
        &hub,
        &[
            "pull",
            "hf:acme/no-license",
            "--accept-license",
            "--deny-license",
            "NOASSERTION",
        ],
    )
    .code(4)
    .stderr_has("NOASSERTION");
    let info = run(&env, &hub, &["info", "acme--custom-license"]).success();
    assert!(
        info.stdout.contains("Acme Research License 1.0"),
        "{}",
        info.stdout
    );
}

#[test]
fn a_fine_tune_inherits_its_gated_base_license_and_its_dataset_terms_in_the_audit() {
    let hub = Hub::start();
    let env = TestEnv::new();
    run(&env, &hub, &["add", "hf:acme/llama-finetune"]).success();
    let card = card_yaml(&env, "acme--llama-finetune");
    assert_eq!(
        card["license"]["id"], "Apache-2.0",
        "its own license, as declared"
    );
    assert_eq!(card["provenance"]["base_model"], "acme--llama-instruct");
    assert_eq!(card["hub"]["base_models"][0]["relation"], "finetune");
    // The chain was followed through the hub: each base got a card of its own.
    let mid = card_yaml(&env, "acme--llama-instruct");
    assert_eq!(mid["provenance"]["base_model"], "meta-llama--llama-3.2-1b");
    assert_eq!(mid["hub"]["base_models"][0]["relation"], "quantized");
    let base = card_yaml(&env, "meta-llama--llama-3.2-1b");
    assert_eq!(base["license"]["id"], "LicenseRef-Llama-3.2-Community");
    assert_eq!(base["license"]["terms"]["gated"], true);
    let data = &card["provenance"]["training_data"][0];
    assert_eq!(data["name"], "acme/reviews-nc");
    assert_eq!(data["license"], "CC-BY-NC-4.0");
    assert_eq!(data["commercial_use"], false);

    let audit = run(
        &env,
        &hub,
        &["audit", "acme--llama-finetune", "--format", "json"],
    );
    let text = audit.json().to_string();
    assert!(text.contains("meta-llama--llama-3.2-1b"), "{text}");
    assert!(text.contains("LicenseRef-Llama-3.2-Community"), "{text}");
    assert!(
        text.contains("700 million monthly active users"),
        "inherited Llama terms: {text}"
    );
    assert!(text.contains("CC-BY-NC-4.0"), "{text}");
    let human = run(&env, &hub, &["audit", "acme--llama-finetune"]);
    assert!(
        human.stdout.contains("meta-llama--llama-3.2-1b"),
        "{}",
        human.stdout
    );

    // Pulling the fine-tune means accepting the terms it inherits, and a
    // policy that denies the base's license denies the fine-tune.
    let spec = "hf:acme/llama-finetune";
    run(&env, &hub, &["pull", spec]).code(4).stderr_has(
        "through its base model acme--llama-instruct under Llama 3.2 Community License",
    );
    let denied = [
        "pull",
        spec,
        "--accept-license",
        "--deny-license",
        "LicenseRef-Llama-*",
    ];
    run(&env, &hub, &denied)
        .code(4)
        .stderr_has("your policy denies");
    run(&env, &hub, &["pull", spec, "--accept-license"]).success();

    // A base the curated catalog already has is not imported again: the
    // fine-tune points at the curated card, with its terms.
    run(&env, &hub, &["add", "hf:acme/curated-base-finetune"]).success();
    let curated = card_yaml(&env, "acme--curated-base-finetune");
    assert_eq!(curated["provenance"]["base_model"], "llama-3.1-8b");
    assert!(!card_path(&env, "meta-llama--llama-3.1-8b").exists());
}

#[test]
fn safetensors_are_fetched_instead_of_pickle_and_pickle_only_needs_allow_pickle() {
    let hub = Hub::start();
    let env = TestEnv::new();
    run(&env, &hub, &["pull", "hf:acme/both-formats", "--json"]).success();
    let served: Vec<String> = hub.server.log().into_iter().map(|r| r.path).collect();
    assert!(
        !served.iter().any(|p| p.contains("pytorch_model.bin")),
        "{served:?}"
    );
    assert!(
        served.iter().any(|p| p.contains("model.safetensors")),
        "{served:?}"
    );

    run(&env, &hub, &["pull", "hf:acme/pickle-only"])
        .code(5)
        .stderr_has("--allow-pickle");
    assert!(
        !env.zoo_home()
            .join("store/models/acme--pickle-only")
            .exists()
    );
    // --include chooses files as hf download does; --exclude removes some.
    run(
        &env,
        &hub,
        &[
            "add",
            "hf:acme/both-formats",
            "--name",
            "picked",
            "--include",
            "*.json",
            "--exclude",
            "tokenizer*",
        ],
    )
    .success();
    let picked = card_yaml(&env, "picked");
    let paths: Vec<&str> = picked["files"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["config.json"]);
}

#[test]
fn a_small_file_whose_bytes_do_not_match_its_git_blob_id_is_refused() {
    let hub = Hub::start();
    let env = TestEnv::new();
    let r = run(&env, &hub, &["pull", "hf:acme/lying-blob"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("git blob id mismatch for 'config.json'"),
        "{}",
        r.stderr
    );
    assert!(
        !env.zoo_home()
            .join("store/models/acme--lying-blob")
            .exists()
    );
    assert!(
        !card_path(&env, "acme--lying-blob").exists(),
        "no card for a failed pull"
    );
    let left: Vec<String> = list_files(&env.hf_cache())
        .into_iter()
        .filter(|p| p.contains("/blobs/"))
        .collect();
    assert!(
        left.iter().all(|p| !p.ends_with(fixtures::CLAIMED_OID)),
        "{left:?}"
    );
}

#[test]
fn hub_search_walks_pages_and_reports_license_class_gating_and_runnability() {
    let hub = Hub::start_paged(2);
    let env = TestEnv::new();
    let out = run(
        &env,
        &hub,
        &["search", "--hub", "encoder", "--limit", "5", "--json"],
    )
    .success();
    let hits = out.json();
    let ids: Vec<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["repo"].as_str().unwrap())
        .collect();
    assert_eq!(ids, fixtures::ENCODERS_BY_DOWNLOADS[..5]);
    let pages = hub
        .server
        .log()
        .iter()
        .filter(|r| r.path.starts_with("/api/models?"))
        .count();
    assert!(pages >= 3, "{pages} pages for 5 results of 2 per page");
    let by = |id: &str| {
        hits.as_array()
            .unwrap()
            .iter()
            .find(|h| h["repo"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by("acme/open-encoder")["license_class"], "open");
    assert_eq!(by("acme/open-encoder")["runnable"], true);
    assert_eq!(by("acme/gated-encoder")["gated"], true);
    assert_eq!(by("acme/gated-encoder")["license_class"], "restricted");
    assert_eq!(by("acme/nc-encoder")["license"], "CC-BY-NC-4.0");
    assert_eq!(by("acme/unlicensed-encoder")["license_class"], "unknown");

    let apache = run(
        &env,
        &hub,
        &[
            "search",
            "--hub",
            "encoder",
            "--license",
            "Apache-*",
            "--json",
        ],
    )
    .success();
    assert!(
        apache
            .json()
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["license"] == "Apache-2.0")
    );
    let table = run(&env, &hub, &["search", "--hub", "encoder", "--limit", "2"]).success();
    assert!(table.stdout.contains("hf:acme/"), "{}", table.stdout);
}

#[test]
fn a_moved_revision_is_reported_by_outdated_and_a_new_pull_keeps_both_commits() {
    let hub = Hub::start();
    let env = TestEnv::new();
    run(&env, &hub, &["pull", "hf:acme/open-encoder"]).success();
    let first = hub.server.commit_of("acme/open-encoder").unwrap();
    assert_eq!(
        run(&env, &hub, &["outdated", "--json"]).success().json(),
        json!([])
    );

    hub.server
        .add_repo(fixtures::open_encoder().text_file("NOTES.md", "a new commit\n"));
    let second = hub.server.commit_of("acme/open-encoder").unwrap();
    assert_ne!(first, second);
    let outdated = run(&env, &hub, &["outdated", "--json"]).success().json();
    assert_eq!(outdated[0]["name"], "acme--open-encoder");
    assert_eq!(outdated[0]["card_commit"], first.as_str());
    assert_eq!(outdated[0]["hub_commit"], second.as_str());

    run(&env, &hub, &["pull", "hf:acme/open-encoder"]).success();
    let card = card_yaml(&env, "acme--open-encoder");
    assert_eq!(card["hub"]["commit"], second.as_str());
    assert_eq!(card["hub"]["previous_commits"][0], first.as_str());
    assert_eq!(
        run(&env, &hub, &["outdated", "--json"]).success().json(),
        json!([])
    );
}

#[test]
fn bad_specs_and_unknown_repositories_are_clear_errors() {
    let hub = Hub::start();
    let env = TestEnv::new();
    run(&env, &hub, &["pull", "hf:../../etc"])
        .code(2)
        .stderr_has("repository id");
    run(&env, &hub, &["pull", "hf:acme/absent"])
        .code(2)
        .stderr_has("not found");
    run(&env, &hub, &["pull", "hf:acme/open-encoder@no-such-branch"])
        .code(2)
        .stderr_has("revision");
    run(
        &env,
        &hub,
        &[
            "add",
            "hf:acme/open-encoder",
            "hf:acme/no-license",
            "--name",
            "x",
        ],
    )
    .code(2);
    run(&env, &hub, &["info", "hf:acme/open-encoder"])
        .code(2)
        .stderr_has("zoo add");
    assert!(list_files(&env.zoo_home().join("catalog")).is_empty());
    // A repository with a file the card check would refuse is still safe:
    // a hostile tag or pipeline never reaches the card.
    hub.server.add_repo(
        FixtureRepo::new("acme/odd-tags")
            .lfs_file("model.safetensors", safetensors_bytes(2))
            .pipeline_tag("text-classification\u{1b}[31m")
            .tag("evil\u{7}"),
    );
    run(&env, &hub, &["add", "hf:acme/odd-tags"]).success();
    let text = std::fs::read_to_string(card_path(&env, "acme--odd-tags")).unwrap();
    assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'));
}

/// The fixtures zoo is tested against must be what the real client reads:
/// huggingface_hub parses every one of them, and its view of the commit,
/// license and files is the one zoo wrote into the cards.
#[test]
fn huggingface_hub_parses_every_fixture_these_tests_use() {
    if !zoo_test_support::skip::python_has(&["huggingface_hub"], &["huggingface_hub"]) {
        return;
    }
    let hub = Hub::start();
    let env = TestEnv::new();
    let script = util::repo_root().join("scripts/hub_model_info.py");
    let ids = fixtures::repo_ids();
    let datasets = fixtures::dataset_ids();
    let mut cmd = Command::new(zoo_test_support::skip::python());
    cmd.arg(&script)
        .arg(hub.server.endpoint())
        .args(&ids)
        .arg("--datasets")
        .args(&datasets);
    let out = cmd
        .env("HF_HOME", env.path().join("py-hf"))
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env_remove("HF_TOKEN")
        .env_remove("HF_ENDPOINT")
        .output()
        .expect("run the tests' Python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let models = parsed["models"].as_array().unwrap();
    assert_eq!(models.len(), ids.len());
    assert_eq!(parsed["datasets"].as_array().unwrap().len(), datasets.len());
    // zoo's cards agree with what huggingface_hub read.
    run(
        &env,
        &hub,
        &["add", "hf:acme/llama-finetune", "hf:acme/custom-license"],
    )
    .success();
    for m in models {
        let id = m["id"].as_str().unwrap();
        assert_eq!(m["sha"], hub.server.commit_of(id).unwrap().as_str(), "{id}");
        let name = id.to_ascii_lowercase().replace('/', "--");
        let path = card_path(&env, &name);
        if !path.exists() {
            continue;
        }
        let card = card_yaml(&env, &name);
        assert_eq!(card["hub"]["commit"].as_str(), m["sha"].as_str(), "{id}");
        let declared = m["card_data"]["license"].as_str().unwrap_or("");
        let expected = match declared {
            "apache-2.0" => "Apache-2.0",
            "llama3.2" => "LicenseRef-Llama-3.2-Community",
            "other" => "LicenseRef-Acme-Research-License-1.0",
            other => panic!("{id}: add the expected zoo id for {other:?}"),
        };
        assert_eq!(card["license"]["id"].as_str(), Some(expected), "{id}");
        let files: Vec<&str> = m["siblings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["rfilename"].as_str().unwrap())
            .collect();
        for f in card["files"].as_sequence().unwrap() {
            assert!(
                files.contains(&f["path"].as_str().unwrap()),
                "{id}: {f:?} not listed"
            );
        }
    }
}
