//! `zoo audit` end to end: the planted cases of crates/zoo-audit/tests/planted.rs
//! run through the real binary, checking the exit codes CI pipelines gate on:
//! 0 clean, 1 findings at or above --fail-on, 2 bad input.

#[path = "../crates/zoo-audit/tests/common/mod.rs"]
mod fixtures;
mod util;

use std::process::Command;

use fixtures::{Env, RESNET50_SHA256};
use util::Run;

/// `zoo` with ZOO_HOME and the caches in the fixture's temp dir, the user catalog
/// as `--registry`, and nothing from the user's environment.
fn zoo(env: &Env, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_zoo"))
        .args(args)
        .current_dir(env.dir.path())
        .env("ZOO_HOME", env.home())
        .env("HF_HUB_CACHE", env.dir.path().join("hf-cache"))
        .env("HF_HOME", env.dir.path().join("hf-home"))
        .env("XDG_CONFIG_HOME", env.dir.path().join("config"))
        .env("ZOO_REGISTRY", env.registry())
        .env_remove("ZOO_CONFIG")
        .env_remove("ZOO_OFFLINE")
        .env_remove("HF_HUB_OFFLINE")
        .env_remove("HF_TOKEN")
        .env_remove("HF_ENDPOINT")
        .output()
        .expect("run zoo");
    Run::from(out)
}

fn policy(env: &Env, yaml: &str) -> String {
    env.write("policy.yaml", yaml.as_bytes())
        .display()
        .to_string()
}

#[test]
fn non_commercial_lineage_fails_a_commercial_policy() {
    let env = Env::new();
    std::fs::create_dir_all(env.registry()).unwrap();
    env.finetuned(
        "pets",
        "resnet50-v1-7",
        RESNET50_SHA256,
        "Apache-2.0",
        Some("CC-BY-4.0"),
    );
    zoo(&env, &["audit"])
        .code(0)
        .stdout_has("non-commercial — training data ImageNet-1k (ILSVRC 2012) of resnet50-v1-7");
    zoo(&env, &["audit", "--fail-on", "warning"]).code(1);
    let p = policy(&env, "intended_use: commercial\n");
    zoo(&env, &["audit", "--policy", &p])
        .code(1)
        .stdout_has("error   non-commercial")
        .stdout_has("intended use (commercial)");
}

#[test]
fn modified_file_exits_1() {
    let env = Env::new();
    env.tiny_card(&[("model.onnx", b"tiny model bytes")]);
    zoo(&env, &["pull", "tiny", "--quiet"]).success();
    zoo(&env, &["audit", "tiny"]).code(0).stdout_has("1 ok");
    let path = env
        .store()
        .model_dir(&"tiny".parse().unwrap())
        .join("model.onnx");
    std::fs::write(path, b"tampered").unwrap();
    zoo(&env, &["audit"])
        .code(1)
        .stdout_has("file-modified — file model.onnx");
}

#[test]
fn unknown_license_is_reported_and_gated_by_policy() {
    let env = Env::new();
    env.add_card(
        "acme",
        "schema: 1\nname: acme-net\nversion: \"2\"\nfamily: acme\ntask: image-classification\n\
         architecture: AcmeNet\ndescription: A model under a license zoo has never seen.\n\
         files:\n  - path: acme.onnx\n    format: onnx\n    role: model\n\
         sources:\n  - hf:\n      repo: acme/acme-net\n\
         license:\n  id: LicenseRef-Acme-Model-License\n  name: Acme Model License\n  url: https://acme.invalid/license\n\
         openness:\n  class: open-weights-restricted\nprovenance:\n  organization: Acme\n",
    );
    zoo(&env, &["audit", "acme-net"])
        .code(0)
        .stdout_has("warning license-unknown — license");
    let p = policy(&env, "allow_unknown_licenses: false\n");
    zoo(&env, &["audit", "acme-net", "--policy", &p])
        .code(1)
        .stdout_has("error   license-unknown");
}

#[test]
fn closed_model_in_the_collection() {
    let env = Env::new();
    std::fs::create_dir_all(env.registry()).unwrap();
    let run = zoo(&env, &["audit", "--all", "--catalog", "--format", "json"]).code(0);
    let report = run.json();
    let gpt = report["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "gpt-4o")
        .expect("gpt-4o audited");
    assert_eq!(gpt["scope"], "catalog");
    assert!(
        gpt["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "closed-model")
    );
    assert!(
        run.stderr.contains("nothing at or above error"),
        "{}",
        run.stderr
    );
    zoo(&env, &["audit", "gpt-4o", "--fail-on", "warning"]).code(1);
    let p = policy(&env, "min_openness: open-weights-restricted\n");
    zoo(&env, &["audit", "gpt-4o", "--policy", &p])
        .code(1)
        .stdout_has("openness-below-policy");
}

#[test]
fn gated_model_without_recorded_acceptance_exits_1() {
    let env = Env::new();
    std::fs::create_dir_all(env.registry()).unwrap();
    env.fake_pull(
        "llama-3.1-8b",
        "LicenseRef-Llama-3.1-Community",
        false,
        &[("config.json", b"{}")],
    );
    zoo(&env, &["audit"])
        .code(1)
        .stdout_has("required but NOT recorded at pull")
        .stdout_has("acceptance-not-recorded — license");
}

#[test]
fn finetuned_model_shows_inherited_attribution() {
    let env = Env::new();
    std::fs::create_dir_all(env.registry()).unwrap();
    env.finetuned(
        "pets",
        "resnet50-v1-7",
        RESNET50_SHA256,
        "Apache-2.0",
        Some("CC-BY-4.0"),
    );
    zoo(&env, &["audit", "pets"])
        .code(0)
        .stdout_has("pets 1 (fine-tuned)")
        .stdout_has("info    attribution-required — base model resnet50-v1-7")
        .stdout_has("base model resnet50-v1-7: Give attribution");
}

#[test]
fn bad_input_exits_2_with_file_and_line() {
    let env = Env::new();
    std::fs::create_dir_all(env.registry()).unwrap();
    let p = policy(
        &env,
        "deny_licenses: [CC-BY-NC-*]\nintended_use: commercial\nmin_mof: II\n",
    );
    zoo(&env, &["audit", "--policy", &p])
        .code(2)
        .stderr_has("policy.yaml:3:")
        .stderr_has("unknown field `min_mof`");
    let p = policy(&env, "min_mof_class: IV\n");
    zoo(&env, &["audit", "--policy", &p])
        .code(2)
        .stderr_has("policy.yaml:1:");
    zoo(&env, &["audit", "resnet5O"])
        .code(2)
        .stderr_has("did you mean");
    zoo(&env, &["audit", "--policy", "missing.yaml"])
        .code(2)
        .stderr_has("missing.yaml");
    zoo(&env, &["audit", "--fail-on", "fatal"]).code(2);
}

#[test]
fn boms_are_written_to_files() {
    let env = Env::new();
    std::fs::create_dir_all(env.registry()).unwrap();
    env.finetuned("pets", "resnet50-v1-7", RESNET50_SHA256, "Apache-2.0", None);
    let out = env.dir.path().join("ai-bom.cdx.json");
    zoo(
        &env,
        &[
            "audit",
            "--format",
            "cyclonedx",
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .code(0)
    .stdout_has("wrote");
    let cdx: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(cdx["bomFormat"], "CycloneDX");
    assert_eq!(cdx["components"][0]["type"], "machine-learning-model");
    let spdx = zoo(&env, &["audit", "pets", "--format", "spdx"])
        .code(0)
        .json();
    assert_eq!(
        spdx["@context"],
        "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
    );
}

/// A card in the user catalog for `name`, whose files (all declared with
/// their sha256) come from a `file` source; `license` is the YAML under
/// `license:` and `extra` is appended under `provenance:`.
fn plant_card(
    env: &Env,
    name: &str,
    files: &[(&str, &str, usize)],
    license: &str,
    class: &str,
    extra: &str,
) {
    let mut entries = String::new();
    for (path, sha, size) in files {
        entries.push_str(&format!(
            "  - path: {path}\n    sha256: {sha}\n    size: {size}\n    format: onnx\n    role: model\n"
        ));
    }
    env.add_card(
        name,
        &format!(
            "schema: 1\nname: {name}\nversion: \"1\"\nfamily: tiny\ntask: image-classification\n\
             architecture: Tiny CNN\ndescription: A planted test model.\nfiles:\n{entries}\
             sources:\n  - file:\n      path: {}\nlicense:\n{license}openness:\n  class: {class}\n\
             provenance:\n  organization: Test\n{extra}",
            env.dir.path().join("src").display()
        ),
    );
}

const WEIGHTS: &[u8] = b"planted weights";

/// A model `name` pulled into the store with `model.onnx` = [`WEIGHTS`] (its
/// license accepted at pull, as a restrictive one must be), and its card.
fn plant_pulled(env: &Env, name: &str, license_id: &str, license: &str, class: &str, extra: &str) {
    let sha = fixtures::sha256_hex(WEIGHTS);
    plant_card(
        env,
        name,
        &[("model.onnx", &sha, WEIGHTS.len())],
        license,
        class,
        extra,
    );
    env.fake_pull(name, license_id, true, &[("model.onnx", WEIGHTS)]);
}

/// A LicenseRef license with explicit terms.
fn terms_license(redistribution: bool, restrictions: &str) -> String {
    format!(
        "  id: LicenseRef-Planted\n  name: Planted License\n  url: https://example.invalid/license\n  terms:\n\
         \x20   commercial_use: true\n    attribution: false\n    share_alike: false\n\
         \x20   redistribution: {redistribution}\n    use_restrictions: [{restrictions}]\n"
    )
}

/// Each finding kind no other test plants: the problem, the model audited, the
/// kind and severity it must produce, and `zoo audit`'s exit code (default
/// `--fail-on error`). `--fail-on` at the finding's severity must then exit 1.
#[test]
fn every_planted_problem_has_its_kind_severity_and_exit_code() {
    type Plant = fn(&Env);
    let cases: &[(&str, Plant, &str, &str, i32)] = &[
        (
            "license-conflict",
            |env| {
                // A base that forbids commercial use, and a derivative that allows it.
                let base = b"non-commercial base";
                let sha = fixtures::sha256_hex(base);
                plant_card(
                    env,
                    "nc-base",
                    &[("base.onnx", &sha, base.len())],
                    "  id: CC-BY-NC-4.0\n",
                    "open-weights-restricted",
                    "",
                );
                env.finetuned("derived", "nc-base", &sha, "CC-BY-NC-4.0", Some("MIT"));
                let card = env.local_models().join("derived/card.yaml");
                let text = std::fs::read_to_string(&card).unwrap();
                std::fs::write(
                    &card,
                    text.replace("license:\n  id: CC-BY-NC-4.0", "license:\n  id: MIT"),
                )
                .unwrap();
            },
            "derived",
            "warning",
            0,
        ),
        (
            "share-alike",
            |env| {
                plant_pulled(
                    env,
                    "sa",
                    "CC-BY-SA-4.0",
                    "  id: CC-BY-SA-4.0\n",
                    "open",
                    "",
                )
            },
            "sa",
            "info",
            0,
        ),
        (
            "use-restrictions",
            |env| {
                let lic = terms_license(true, "No use in surveillance.");
                plant_pulled(
                    env,
                    "restricted",
                    "LicenseRef-Planted",
                    &lic,
                    "open-weights-restricted",
                    "",
                );
            },
            "restricted",
            "info",
            0,
        ),
        (
            "no-redistribution",
            |env| {
                let lic = terms_license(false, "");
                plant_pulled(
                    env,
                    "keep",
                    "LicenseRef-Planted",
                    &lic,
                    "open-weights-restricted",
                    "",
                );
            },
            "keep",
            "info",
            0,
        ),
        (
            "dataset-terms-unknown",
            |env| {
                plant_pulled(
                    env,
                    "mystery",
                    "MIT",
                    "  id: MIT\n",
                    "open",
                    "  training_data:\n    - name: Mystery photos\n",
                )
            },
            "mystery",
            "info",
            0,
        ),
        (
            "card-missing",
            |env| env.fake_pull("orphan", "MIT", false, &[("model.onnx", WEIGHTS)]),
            "orphan",
            "warning",
            0,
        ),
        (
            "manifest-unreadable",
            |env| {
                plant_pulled(env, "garbled", "MIT", "  id: MIT\n", "open", "");
                let manifest = env
                    .store()
                    .model_dir(&"garbled".parse::<zoo_types::ModelName>().unwrap())
                    .join(zoo_fetch::MANIFEST_FILE);
                std::fs::write(manifest, b"{ not json").unwrap();
            },
            "garbled",
            "error",
            1,
        ),
        (
            "file-not-pulled",
            |env| {
                let sha = fixtures::sha256_hex(WEIGHTS);
                let other = fixtures::sha256_hex(b"never pulled");
                plant_card(
                    env,
                    "partial",
                    &[
                        ("model.onnx", &sha, WEIGHTS.len()),
                        ("extra.onnx", &other, 12),
                    ],
                    "  id: MIT\n",
                    "open",
                    "",
                );
                env.fake_pull("partial", "MIT", false, &[("model.onnx", WEIGHTS)]);
            },
            "partial",
            "warning",
            0,
        ),
        (
            "digest-mismatch",
            |env| {
                // The card publishes one digest; the pull recorded (and the
                // file has) another.
                let published = fixtures::sha256_hex(b"what the card publishes");
                plant_card(
                    env,
                    "drift",
                    &[("model.onnx", &published, WEIGHTS.len())],
                    "  id: MIT\n",
                    "open",
                    "",
                );
                env.fake_pull("drift", "MIT", false, &[("model.onnx", WEIGHTS)]);
            },
            "drift",
            "error",
            1,
        ),
    ];
    for (kind, plant, name, severity, code) in cases {
        let env = Env::new();
        std::fs::create_dir_all(env.registry()).unwrap();
        std::fs::create_dir_all(env.dir.path().join("src")).unwrap();
        plant(&env);
        let run = zoo(&env, &["audit", name, "--format", "json"]);
        assert_eq!(
            run.code, *code,
            "{kind}: exit code\n{}\n{}",
            run.stdout, run.stderr
        );
        let report = run.json();
        let audited = report["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == *name)
            .unwrap_or_else(|| panic!("{kind}: {name} not audited: {report}"));
        let found: Vec<&serde_json::Value> = audited["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == *kind)
            .collect();
        assert!(
            !found.is_empty(),
            "{kind}: not reported for {name}: {audited:#}"
        );
        for f in &found {
            assert_eq!(f["severity"], *severity, "{kind}: {f:#}");
            assert!(!f["message"].as_str().unwrap().is_empty(), "{kind}: {f:#}");
        }
        // The finding is what gates: failing on its severity exits 1.
        zoo(&env, &["audit", name, "--fail-on", severity]).code(1);
        // And it shows in the table, with its severity.
        zoo(&env, &["audit", name])
            .code(*code)
            .stdout_has(&format!("{severity:<7} {kind}"));
    }
}
