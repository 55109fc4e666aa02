//! zoo's artifacts as the other OCI tools see them, and theirs as zoo sees
//! them: skopeo (copies keep the manifest digest; an image layout across an
//! air gap), oras-py (files by their real names; a ModelPack artifact it
//! pushed, pulled by zoo).

use zoo_test_support::OciRegistry;

use crate::setup::{
    Home, python, python_oras, run_skopeo, sha256_hex, skopeo, skopeo_digest, tiny,
};

#[test]
fn skopeo_copies_keep_the_manifest_digest_and_zoo_pulls_the_copies() {
    if skopeo().is_none() {
        return;
    }
    let Some(registry) = OciRegistry::start() else {
        return;
    };
    let model = tiny("tiny", 11, 300_000);
    let a = Home::with(&model);
    let host = registry.host();
    let report = a.push("tiny", &format!("{host}/team/tiny:v1"), &[]);
    let digest = report["digest"].as_str().unwrap();
    assert_eq!(
        skopeo_digest(&format!("docker://{host}/team/tiny:v1")),
        digest
    );

    // Registry to registry: another repository, the same manifest.
    run_skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{host}/team/tiny:v1"),
        &format!("docker://{host}/mirror/tiny:v1"),
    ]);
    assert_eq!(
        skopeo_digest(&format!("docker://{host}/mirror/tiny:v1")),
        digest
    );
    // Registry to an image layout: the layout's index names the same digest.
    let layout = a.path().join("layout");
    run_skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{host}/team/tiny:v1"),
        &format!("oci:{}:v1", layout.display()),
    ]);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], digest, "{index:#}");

    // zoo pulls the registry copy (pinned by digest) and imports the layout.
    let b = Home::new();
    b.run(&[
        "pull",
        &format!("oci://{host}/mirror/tiny@{digest}"),
        "--quiet",
    ])
    .success();
    for f in &model.files {
        assert_eq!(b.read("tiny", &f.path), f.bytes, "{}", f.path);
    }
    let c = Home::new();
    c.run(&["import", layout.to_str().unwrap(), "--tag", "v1"])
        .success();
    for f in &model.files {
        assert_eq!(c.read("tiny", &f.path), f.bytes, "{}", f.path);
    }
}

#[test]
fn air_gap_export_import_and_skopeo_into_an_internal_registry() {
    if skopeo().is_none() {
        return;
    }
    let Some(registry) = OciRegistry::start() else {
        return;
    };
    let model = tiny("tiny", 12, 200_000);
    let a = Home::with(&model);
    let layout = a.path().join("usb");
    let exported = a
        .run(&[
            "export",
            "tiny",
            "--oci-layout",
            layout.to_str().unwrap(),
            "--tag",
            "v1",
            "--json",
        ])
        .success()
        .json();
    let digest = exported["digest"].as_str().unwrap().to_owned();
    assert_eq!(
        digest,
        format!(
            "sha256:{}",
            sha256_hex(
                &std::fs::read(
                    layout
                        .join("blobs/sha256")
                        .join(digest.trim_start_matches("sha256:"))
                )
                .unwrap()
            )
        )
    );
    // skopeo reads zoo's layout.
    assert_eq!(
        skopeo_digest(&format!("oci:{}:v1", layout.display())),
        digest
    );

    // The other side of the gap: a fresh home imports it...
    let b = Home::new();
    b.run(&["import", layout.to_str().unwrap(), "--tag", "v1"])
        .success();
    for f in &model.files {
        assert_eq!(b.read("tiny", &f.path), f.bytes, "{}", f.path);
    }
    b.run(&["verify", "tiny"]).success();
    // ...and skopeo pushes it into the internal registry, digest unchanged,
    // where zoo pulls it from.
    let host = registry.host();
    run_skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://{host}/internal/tiny:v1"),
    ]);
    assert_eq!(
        skopeo_digest(&format!("docker://{host}/internal/tiny:v1")),
        digest
    );
    let c = Home::new();
    c.run(&["pull", &format!("oci://{host}/internal/tiny:v1"), "--quiet"])
        .success();
    for f in &model.files {
        assert_eq!(c.read("tiny", &f.path), f.bytes, "{}", f.path);
    }
}

const ORAS_PULL: &str = r#"
import sys, oras.client
host, target, outdir = sys.argv[1:4]
client = oras.client.OrasClient(hostname=host, insecure=True)
for path in sorted(client.pull(target=target, outdir=outdir)):
    print(path)
"#;

#[test]
fn oras_pulls_a_zoo_artifact_as_files_with_their_real_names() {
    if !python_oras() {
        return;
    }
    let Some(registry) = OciRegistry::start() else {
        return;
    };
    let model = tiny("tiny", 13, 100_000);
    let a = Home::with(&model);
    let host = registry.host();
    a.push("tiny", &format!("{host}/team/tiny:v1"), &[]);
    let out = a.path().join("oras-out");
    let printed = python(
        ORAS_PULL,
        &[
            &host,
            &format!("{host}/team/tiny:v1"),
            out.to_str().unwrap(),
        ],
    );
    for f in &model.files {
        assert_eq!(
            std::fs::read(out.join(&f.path))
                .unwrap_or_else(|e| panic!("oras wrote no {} ({e}); it wrote:\n{printed}", f.path)),
            f.bytes
        );
    }
    let card = std::fs::read_to_string(out.join("zoo-card.yaml")).unwrap();
    assert!(card.contains("name: tiny"), "{card}");
    let bom: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("ai-bom.cdx.json")).unwrap()).unwrap();
    assert_eq!(bom["bomFormat"], "CycloneDX");
}

/// Pushes a ModelPack artifact the way other tools (modctl, KitOps) lay it
/// out, with oras-py's blob and manifest calls: argv host, repo:tag, license,
/// then file paths. Prints the manifest digest.
const ORAS_PUSH_MODELPACK: &str = r#"
import hashlib, json, os, sys, tempfile, oras.client
host, target, license = sys.argv[1:4]
paths = sys.argv[4:]
client = oras.client.OrasClient(hostname=host, insecure=True)
container = client.get_container(target)
def sha(path):
    with open(path, "rb") as f:
        return "sha256:" + hashlib.sha256(f.read()).hexdigest()
layers = []
for p in paths:
    name = os.path.basename(p)
    kind = "weight" if name.endswith(".safetensors") else "weight.config"
    layers.append({
        "mediaType": f"application/vnd.cncf.model.{kind}.v1.raw",
        "digest": sha(p),
        "size": os.path.getsize(p),
        "annotations": {
            "org.cncf.model.filepath": name,
            "org.opencontainers.image.title": name,
            "org.cncf.model.file.metadata+json": json.dumps({"name": name, "mode": 420, "uid": 0, "gid": 0, "size": os.path.getsize(p), "mtime": "2025-01-01T00:00:00Z", "typeflag": 48}),
        },
    })
config = {
    "descriptor": {
        "createdAt": "2025-01-01T00:00:00Z",
        "authors": ["Other Tool Authors"],
        "vendor": "Acme",
        "family": "acme-tiny",
        "name": "Acme-Tiny",
        "version": "2.0",
        "description": "A model pushed by another ModelPack tool.",
        "sourceURL": "https://example.com/acme/tiny",
        "licenses": [license],
    },
    "config": {"architecture": "transformer", "format": "safetensors", "paramSize": "1K", "precision": "float32"},
    "modelfs": {"type": "layers", "diffIds": [l["digest"] for l in layers]},
}
tmp = tempfile.mkdtemp()
config_path = os.path.join(tmp, "config.json")
with open(config_path, "w") as f:
    json.dump(config, f)
config_desc = {"mediaType": "application/vnd.cncf.model.config.v1+json", "digest": sha(config_path), "size": os.path.getsize(config_path)}
for p, layer in zip(paths + [config_path], layers + [config_desc]):
    r = client.upload_blob(p, container, layer)
    assert r.status_code in (200, 201, 202), (r.status_code, r.text)
manifest = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "artifactType": "application/vnd.cncf.model.manifest.v1+json",
    "config": config_desc,
    "layers": layers,
    "annotations": {"org.opencontainers.image.created": "2025-01-01T00:00:00Z"},
}
r = client.upload_manifest(manifest, container)
assert r.status_code in (200, 201), (r.status_code, r.text)
print(r.headers.get("Docker-Content-Digest", ""))
"#;

#[test]
fn a_modelpack_artifact_pushed_by_oras_is_pulled_with_a_card_from_its_config() {
    if !python_oras() {
        return;
    }
    let Some(registry) = OciRegistry::start() else {
        return;
    };
    let work = Home::new();
    let files = work.path().join("acme");
    std::fs::create_dir_all(&files).unwrap();
    let weights = zoo_test_support::fixture_bytes(21, 150_000);
    let config = br#"{"hidden_size": 8}"#.to_vec();
    std::fs::write(files.join("model.safetensors"), &weights).unwrap();
    std::fs::write(files.join("config.json"), &config).unwrap();
    let host = registry.host();
    let push = |repo: &str, license: &str| -> String {
        python(
            ORAS_PUSH_MODELPACK,
            &[
                &host,
                &format!("{host}/{repo}"),
                license,
                files.join("model.safetensors").to_str().unwrap(),
                files.join("config.json").to_str().unwrap(),
            ],
        )
        .trim()
        .to_owned()
    };
    let digest = push("acme/tiny:2.0", "Apache-2.0");
    assert!(digest.starts_with("sha256:"), "{digest}");

    let b = Home::new();
    b.run(&["pull", &format!("oci://{host}/acme/tiny:2.0"), "--quiet"])
        .success();
    assert_eq!(b.read("acme-tiny", "model.safetensors"), weights);
    assert_eq!(b.read("acme-tiny", "config.json"), config);
    let info = b.run(&["info", "acme-tiny", "--json"]).success().json();
    let card = &info["card"];
    assert_eq!(card["license"]["id"], "Apache-2.0", "{info:#}");
    assert_eq!(card["openness"]["class"], "open", "{info:#}");
    assert_eq!(card["version"], "2.0");
    assert_eq!(card["family"], "acme-tiny");
    assert_eq!(card["architecture"], "transformer");
    assert_eq!(card["provenance"]["organization"], "Acme");
    assert_eq!(
        card["provenance"]["upstream"],
        "https://example.com/acme/tiny"
    );
    let text = serde_json::to_string(card).unwrap();
    assert!(text.contains(&digest), "the card pins the manifest: {text}");
    b.run(&["verify", "acme-tiny"]).success();

    // A license that needs acceptance is gated like any card's.
    push("acme/restricted:1", "CC-BY-NC-4.0");
    let c = Home::new();
    let spec = format!("oci://{host}/acme/restricted:1");
    let refused = c.run(&["pull", &spec, "--name", "restricted"]);
    assert_eq!(refused.code, 4, "{refused:#?}");
    assert!(refused.stderr.contains("--accept-license"), "{refused:#?}");
    assert!(!c.model_dir("restricted").exists());
    c.run(&[
        "pull",
        &spec,
        "--name",
        "restricted",
        "--accept-license",
        "--quiet",
    ])
    .success();
    assert_eq!(c.read("restricted", "model.safetensors"), weights);
}
