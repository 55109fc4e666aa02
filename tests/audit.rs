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
