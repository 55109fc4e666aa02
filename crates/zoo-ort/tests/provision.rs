//! Runtime installation end to end — pip download, RECORD verification,
//! manifest, atomic rename — against small fake wheels served from a local
//! directory (PIP_NO_INDEX=1, PIP_FIND_LINKS), so no network is involved.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};
use zoo_ort::{Flavor, Found, Installer, OrtError};
use zoo_test_support::skip;

const LIB: &str = "onnxruntime/capi/libonnxruntime.so.1.31.1";
const SHARED: &str = "onnxruntime/capi/libonnxruntime_providers_shared.so";
const PYBIND: &str = "onnxruntime/capi/onnxruntime_pybind11_state.cpython-311-x86_64-linux-gnu.so";

/// pip for the installer to run; [`skip::missing`] if there is none.
fn have_pip() -> bool {
    skip::pip_available()
}

fn record_hash(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(data))
}

/// Write `onnxruntime-1.31.1-py3-none-any.whl` into `dir` with `files`;
/// `lie` names a member whose RECORD digest is deliberately wrong.
fn fake_wheel(dir: &Path, files: &[(&str, &[u8])], lie: Option<&str>) -> PathBuf {
    let path = dir.join("onnxruntime-1.31.1-py3-none-any.whl");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let info = "onnxruntime-1.31.1.dist-info";
    let metadata = b"Metadata-Version: 2.1\nName: onnxruntime\nVersion: 1.31.1\n".to_vec();
    let wheel =
        b"Wheel-Version: 1.0\nGenerator: zoo-test\nRoot-Is-Purelib: false\nTag: py3-none-any\n"
            .to_vec();
    let mut all: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(n, d)| (n.to_string(), d.to_vec()))
        .collect();
    all.push((format!("{info}/METADATA"), metadata));
    all.push((format!("{info}/WHEEL"), wheel));
    let mut record = String::new();
    for (name, data) in &all {
        let hash = if Some(name.as_str()) == lie {
            record_hash(b"something else")
        } else {
            record_hash(data)
        };
        record.push_str(&format!("{name},sha256={hash},{}\n", data.len()));
        zip.start_file(name.as_str(), opts).unwrap();
        zip.write_all(data).unwrap();
    }
    record.push_str(&format!("{info}/RECORD,,\n"));
    zip.start_file(format!("{info}/RECORD"), opts).unwrap();
    zip.write_all(record.as_bytes()).unwrap();
    zip.finish().unwrap();
    path
}

fn installer(root: &Path, links: &Path) -> Installer {
    Installer {
        root: root.to_owned(),
        pip_env: vec![
            ("PIP_NO_INDEX".into(), "1".into()),
            ("PIP_FIND_LINKS".into(), links.display().to_string()),
        ],
    }
}

fn leftovers(root: &Path) -> Vec<String> {
    std::fs::read_dir(root)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(".install-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn installs_verifies_and_records_the_runtime() {
    if !have_pip() {
        return;
    }
    let links = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    fake_wheel(
        links.path(),
        &[
            (LIB, b"not really ELF"),
            (SHARED, b"shared"),
            (PYBIND, b"python only"),
        ],
        None,
    );
    let inst = installer(root.path(), links.path());
    let mut steps = Vec::new();
    let loc = inst
        .install(Flavor::Cpu, &mut |s| steps.push(s.to_owned()))
        .unwrap();
    assert_eq!(loc.found, Found::JustInstalled);
    assert_eq!(loc.version.as_deref(), Some("1.31.1"));
    assert_eq!(
        loc.library,
        inst.dir(Flavor::Cpu).join("libonnxruntime.so.1.31.1")
    );
    assert_eq!(std::fs::read(&loc.library).unwrap(), b"not really ELF");
    assert!(
        !inst
            .dir(Flavor::Cpu)
            .join("onnxruntime_pybind11_state.cpython-311-x86_64-linux-gnu.so")
            .exists()
    );
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("verifying onnxruntime-1.31.1")),
        "{steps:?}"
    );

    let manifest = loc.manifest.unwrap();
    assert_eq!(manifest.files.len(), 2);
    let lib = manifest.files.iter().find(|f| f.member == LIB).unwrap();
    assert_eq!(lib.sha256, hex::encode(Sha256::digest(b"not really ELF")));
    assert_eq!(
        manifest.wheels[0].file,
        "onnxruntime-1.31.1-py3-none-any.whl"
    );
    assert_eq!(manifest.requirements, ["onnxruntime==1.31.1"]);

    let again = inst.installed(Flavor::Cpu).unwrap();
    assert_eq!(again.found, Found::Installed);
    assert!(inst.installed(Flavor::Cuda).is_none());
    assert!(leftovers(root.path()).is_empty());

    // A truncated file makes the install not intact; reinstalling replaces it.
    std::fs::write(&again.library, b"short").unwrap();
    assert!(inst.installed(Flavor::Cpu).is_none());
    let loc = inst.install(Flavor::Cpu, &mut |_| {}).unwrap();
    assert_eq!(std::fs::read(&loc.library).unwrap(), b"not really ELF");
    assert!(leftovers(root.path()).is_empty());
}

#[test]
fn refuses_files_that_do_not_match_record() {
    if !have_pip() {
        return;
    }
    let links = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    fake_wheel(
        links.path(),
        &[(LIB, b"tampered"), (SHARED, b"shared")],
        Some(LIB),
    );
    let err = installer(root.path(), links.path())
        .install(Flavor::Cpu, &mut |_| {})
        .unwrap_err();
    assert!(matches!(err, OrtError::RecordMismatch { .. }), "{err}");
    assert!(
        err.to_string().contains("libonnxruntime.so.1.31.1"),
        "{err}"
    );
    assert!(!root.path().join("onnxruntime-1.31.1-cpu").exists());
    assert!(leftovers(root.path()).is_empty(), "staging is cleaned up");
}

#[test]
fn wheel_without_the_library_is_refused() {
    if !have_pip() {
        return;
    }
    let links = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    fake_wheel(links.path(), &[(SHARED, b"shared")], None);
    let err = installer(root.path(), links.path())
        .install(Flavor::Cpu, &mut |_| {})
        .unwrap_err();
    assert!(
        err.to_string().contains("no libonnxruntime shared library"),
        "{err}"
    );
}

#[test]
fn pip_failure_is_reported_with_pips_words() {
    if !have_pip() {
        return;
    }
    let links = tempfile::tempdir().unwrap(); // empty: nothing to find
    let root = tempfile::tempdir().unwrap();
    let err = installer(root.path(), links.path())
        .install(Flavor::Cpu, &mut |_| {})
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, OrtError::PipFailed { .. }), "{msg}");
    assert!(msg.contains("onnxruntime==1.31.1"), "{msg}");
    assert!(msg.contains("No matching distribution"), "{msg}");
}
