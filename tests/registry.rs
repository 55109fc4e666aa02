//! `zoo list | info | search | registry check` on the real catalog, and every
//! class of planted catalog error.

mod util;

use util::{TestEnv, repo_root};

#[test]
fn list_shows_open_restricted_and_closed_models() {
    let env = TestEnv::new();
    let run = env.run(&["list"]).success();
    for name in [
        "resnet50-v1-7",
        "all-minilm-l6-v2",
        "open-nsfw",
        "llama-3.1-8b",
        "gpt-4o",
    ] {
        assert!(
            run.stdout.contains(name),
            "{name} missing from:\n{}",
            run.stdout
        );
    }
    let json = env.run(&["list", "--json"]).success().json();
    let rows = json.as_array().unwrap();
    assert!(rows.len() >= 25, "only {} cards", rows.len());
    for class in ["open", "open-weights-restricted", "closed"] {
        assert!(
            rows.iter().any(|r| r["openness"] == class),
            "no {class} model"
        );
    }
}

/// The names of a `--json` listing.
fn names(rows: &serde_json::Value) -> Vec<String> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn list_filters_combine() {
    let env = TestEnv::new();
    let list = |args: &[&str]| {
        let mut all = vec!["list"];
        all.extend_from_slice(args);
        all.push("--json");
        env.run(&all).success().json()
    };
    // Each filtered listing is exactly the unfiltered one with the predicate
    // applied, and not empty, so no check below can hold vacuously.
    let everything = list(&[]);
    let expect = |keep: &dyn Fn(&serde_json::Value) -> bool| -> Vec<String> {
        let rows: Vec<serde_json::Value> = everything
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| keep(r))
            .cloned()
            .collect();
        names(&serde_json::Value::Array(rows))
    };
    let resnets = list(&["--task", "image-classification", "--family", "resnet"]);
    assert_eq!(
        names(&resnets).len(),
        10,
        "ResNet v1 and v2, five depths each"
    );
    assert_eq!(
        names(&resnets),
        expect(&|r| r["task"] == "image-classification" && r["family"] == "resnet")
    );
    // The task alone keeps more than the combination: the filters intersect.
    let classifiers = list(&["--task", "image-classification"]);
    assert!(names(&classifiers).len() > 10, "{:?}", names(&classifiers));
    assert_eq!(
        names(&classifiers),
        expect(&|r| r["task"] == "image-classification")
    );

    let closed = list(&["--openness", "closed"]);
    assert!(!names(&closed).is_empty(), "no closed model listed");
    assert_eq!(names(&closed), expect(&|r| r["openness"] == "closed"));
    assert!(closed.as_array().unwrap().iter().all(|r| r["files"] == 0));

    let lic = list(&["--license", "LicenseRef-*"]);
    assert!(!names(&lic).is_empty(), "no LicenseRef- license listed");
    assert_eq!(
        names(&lic),
        expect(&|r| r["license"].as_str().unwrap().contains("LicenseRef-"))
    );
    // Openness and license together: the intersection of the two.
    let both = list(&["--openness", "closed", "--license", "LicenseRef-*"]);
    let want: Vec<String> = names(&closed)
        .into_iter()
        .filter(|n| names(&lic).contains(n))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(names(&both), want);

    env.run(&["list", "--task", "painting"])
        .code(2)
        .stderr_has("unknown task");
}

#[test]
fn info_resnet50_tells_what_where_and_license() {
    let env = TestEnv::new();
    let run = env.run(&["info", "resnet50"]).success();
    for needle in [
        "resnet50-v1-7",
        "Apache-2.0",
        "commercial use: yes",
        "hf onnxmodelzoo/resnet50-v1-7@main",
        "af16a04a6ec4",
        "ImageNet",
        "NOT for commercial use",
        "Labels",
        "not pulled",
    ] {
        assert!(
            run.stdout.contains(needle),
            "{needle:?} missing from:\n{}",
            run.stdout
        );
    }
    let json = env.run(&["info", "resnet50", "--json"]).success().json();
    assert_eq!(
        json["card"]["files"][0]["sha256"],
        "af16a04a6ec48ac494065d4439fe9dea590d337b9ca6dc328160ccf04a217b9c"
    );
    assert_eq!(json["card"]["files"][0]["size"], 102583340);
}

#[test]
fn unknown_model_suggests_names() {
    let env = TestEnv::new();
    env.run(&["info", "resnet5"])
        .code(2)
        .stderr_has("did you mean")
        .stderr_has("resnet50");
}

#[test]
fn search_ranks_name_matches_first() {
    let env = TestEnv::new();
    let search = |args: &[&str]| {
        let mut all = vec!["search"];
        all.extend_from_slice(args);
        all.push("--json");
        names(&env.run(&all).success().json())
    };
    // Only the two MiniLM cards mention it, both in their names: a tie, by name.
    assert_eq!(
        search(&["minilm"]),
        ["all-minilm-l6-v2", "all-minilm-l6-v2-int8"]
    );
    env.run(&["search", "text", "embedding"])
        .success()
        .stdout_has("all-minilm-l6-v2");
    env.run(&["search", "no-such-model-anywhere"]).code(1);

    // A catalog where "quokka" matches each card in a different field: the
    // exact name, then names containing it (ties by name), then family, then
    // description, then organization; a card without it is not listed.
    let dir = env.path().join("ranked");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, edit) in [
        ("zz-quokka", None),
        (
            "epsilon",
            Some(("organization: Test", "organization: Quokka Labs")),
        ),
        (
            "delta",
            Some((
                "description: A test card.",
                "description: Trained on quokka photos.",
            )),
        ),
        ("quokka", None),
        ("gamma", Some(("family: test", "family: quokka"))),
        ("alpha-quokka", None),
        ("omega", None),
    ] {
        let mut card = GOOD.replace(
            "name: tiny\naliases: [tiny-alias]",
            &format!("name: {name}"),
        );
        if let Some((from, to)) = edit {
            card = card.replace(from, to);
        }
        std::fs::write(dir.join(format!("{name}.yaml")), card).unwrap();
    }
    let dir = dir.to_str().unwrap();
    assert_eq!(
        search(&["--registry", dir, "quokka"]),
        [
            "quokka",
            "alpha-quokka",
            "zz-quokka",
            "gamma",
            "delta",
            "epsilon"
        ]
    );
    // Every word must match; scores add up across words.
    assert_eq!(search(&["--registry", dir, "quokka", "photos"]), ["delta"]);
}

#[test]
fn registry_check_passes_on_the_shipped_catalog() {
    let env = TestEnv::new();
    let dir = repo_root().join("registry");
    env.run(&["registry", "check", dir.to_str().unwrap()])
        .success()
        .stdout_has("OK");
    env.run(&["registry", "check"]).success();
}

const GOOD: &str = "schema: 1
name: tiny
aliases: [tiny-alias]
version: \"1\"
family: test
task: image-classification
architecture: Tiny
description: A test card.
files:
  - path: tiny.onnx
    sha256: 0000000000000000000000000000000000000000000000000000000000000000
    size: 10
    format: onnx
    role: model
sources:
  - url:
      base: https://example.invalid/models
license:
  id: MIT
openness:
  class: open
provenance:
  organization: Test
io:
  labels: imagenet-1k
";

/// Write `card` as the only card of a fresh catalog dir and run `registry check`.
fn check_card(env: &TestEnv, card: &str) -> util::Run {
    let dir = env.path().join(format!("cat-{}", rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tiny.yaml"), card).unwrap();
    env.run(&["registry", "check", dir.to_str().unwrap()])
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[test]
fn a_good_card_passes() {
    let env = TestEnv::new();
    check_card(&env, GOOD).success();
}

#[test]
fn planted_errors_are_each_caught_with_file_and_line() {
    let env = TestEnv::new();
    let cases: &[(&str, String, &str)] = &[
        (
            "malformed yaml",
            GOOD.replace("task: image-classification", "task: [image"),
            "tiny.yaml:",
        ),
        (
            "unknown field",
            GOOD.replace("family: test", "family: test\ncolour: blue"),
            "unknown field `colour`",
        ),
        (
            "bad sha256",
            GOOD.replace(
                "0000000000000000000000000000000000000000000000000000000000000000",
                "abc123",
            ),
            "64 lower-case hex",
        ),
        (
            "bad spdx id",
            GOOD.replace("id: MIT", "id: MIT License"),
            "not a valid SPDX expression",
        ),
        (
            "licenseref without url",
            GOOD.replace("id: MIT", "id: LicenseRef-Custom"),
            "give its `name` and `url`",
        ),
        (
            "missing labels",
            GOOD.replace("labels: imagenet-1k", "labels: no-such-labels"),
            "label file 'no-such-labels' not found",
        ),
        (
            "unsafe path",
            GOOD.replace("path: tiny.onnx", "path: ../tiny.onnx"),
            "must be relative",
        ),
        (
            "closed with files",
            GOOD.replace("class: open", "class: closed"),
            "a closed model has no files",
        ),
        (
            "open but restrictive",
            GOOD.replace("id: MIT", "id: CC-BY-NC-4.0"),
            "should be 'open-weights-restricted'",
        ),
        (
            "bad name",
            GOOD.replace("name: tiny", "name: Tiny Model"),
            "lower-case letters",
        ),
        (
            "wrong schema",
            GOOD.replace("schema: 1", "schema: 7"),
            "schema 7 is not supported",
        ),
        (
            "http url",
            GOOD.replace("https://example.invalid", "http://example.invalid"),
            "must use https://",
        ),
    ];
    for (what, card, needle) in cases {
        let run = check_card(&env, card);
        assert_eq!(
            run.code, 2,
            "{what}: expected exit 2, got {}:\n{}",
            run.code, run.stderr
        );
        assert!(
            run.stderr.contains(needle),
            "{what}: {needle:?} not in:\n{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("tiny.yaml:"),
            "{what}: no file:line in:\n{}",
            run.stderr
        );
        assert!(
            run.stdout.is_empty(),
            "{what}: partial output:\n{}",
            run.stdout
        );
    }
}

#[test]
fn duplicate_names_across_files_are_caught() {
    let env = TestEnv::new();
    let dir = env.path().join("dups");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.yaml"), GOOD).unwrap();
    std::fs::write(
        dir.join("b.yaml"),
        GOOD.replace("tiny-alias", "other-alias"),
    )
    .unwrap();
    env.run(&["registry", "check", dir.to_str().unwrap()])
        .code(2)
        .stderr_has("b.yaml:2: duplicate name or alias 'tiny'")
        .stderr_has("a.yaml:2");
}

#[test]
fn a_bad_user_catalog_stops_every_command() {
    let env = TestEnv::new();
    let dir = env.path().join("bad");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("x.yaml"),
        GOOD.replace("family: test", "family: test\nextra: 1"),
    )
    .unwrap();
    env.zoo()
        .args(["list"])
        .env("ZOO_REGISTRY", &dir)
        .output()
        .map(util::Run::from)
        .unwrap()
        .code(2)
        .stderr_has("x.yaml:");
}

#[test]
fn user_catalog_overrides_by_name() {
    let env = TestEnv::new();
    let dir = env.path().join("mine");
    std::fs::create_dir_all(dir.join("labels")).unwrap();
    std::fs::write(dir.join("labels/two.txt"), "cat\ndog\n").unwrap();
    let card = GOOD
        .replace("name: tiny", "name: resnet50-v1-7")
        .replace("aliases: [tiny-alias]", "aliases: [my-resnet]")
        .replace("labels: imagenet-1k", "labels: two")
        .replace("A test card.", "My own build of ResNet-50.");
    std::fs::write(dir.join("resnet.yaml"), card).unwrap();
    let run = env
        .run(&["--registry", dir.to_str().unwrap(), "info", "resnet50-v1-7"])
        .success();
    assert!(run.stdout.contains("My own build"), "{}", run.stdout);
    assert!(run.stdout.contains("two (2 classes)"), "{}", run.stdout);
    env.run(&["--registry", dir.to_str().unwrap(), "info", "my-resnet"])
        .success();
}
