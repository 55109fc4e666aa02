//! `write_wheel` output is accepted by pip. Without pip for the tests' Python
//! (ZOO_PYTHON) the pip test goes through zoo_test_support::skip.

use zoo_test_support::{skip, write_wheel};

#[test]
fn wheel_is_deterministic_and_named_by_the_spec() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let files: &[(&str, &[u8])] = &[("zoo_demo/__init__.py", b"X = 1\n")];
    let wa = write_wheel(a.path(), "zoo-demo", "1.2.3", files);
    let wb = write_wheel(b.path(), "zoo-demo", "1.2.3", files);
    assert_eq!(wa.file_name().unwrap(), "zoo_demo-1.2.3-py3-none-any.whl");
    assert_eq!(std::fs::read(wa).unwrap(), std::fs::read(wb).unwrap());
}

#[test]
fn pip_download_accepts_the_wheel() {
    if !skip::pip_available() {
        return;
    }
    let links = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let wheel = write_wheel(
        links.path(),
        "zoo-demo.pkg",
        "0.4.0",
        &[
            ("zoo_demo_pkg/__init__.py", b"VALUE = 42\n"),
            ("zoo_demo_pkg/data/a,b.txt", b"comma in the name"),
        ],
    );
    let result = skip::python_command()
        .args([
            "-m",
            "pip",
            "download",
            "--no-index",
            "--no-deps",
            "--disable-pip-version-check",
        ])
        .arg("--find-links")
        .arg(links.path())
        .arg("-d")
        .arg(out.path())
        .arg("zoo-demo.pkg==0.4.0")
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "pip refused the wheel:\n{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    let got = out.path().join(wheel.file_name().unwrap());
    assert_eq!(std::fs::read(got).unwrap(), std::fs::read(&wheel).unwrap());

    // pip download does not read RECORD; Python's own zip and hash check does.
    let check = format!(
        r#"
import base64, csv, hashlib, io, sys, zipfile
z = zipfile.ZipFile({:?})
rows = list(csv.reader(io.TextIOWrapper(z.open("zoo_demo_pkg-0.4.0.dist-info/RECORD"))))
assert len(rows) == len(z.namelist()), rows
for path, digest, size in rows:
    if path.endswith("RECORD"):
        continue
    data = z.read(path)
    want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    assert digest == want and int(size) == len(data), (path, digest, want)
meta = z.read("zoo_demo_pkg-0.4.0.dist-info/METADATA").decode()
assert "Name: zoo-demo.pkg" in meta and "Version: 0.4.0" in meta
print("ok")
"#,
        wheel.to_str().unwrap()
    );
    let verified = skip::python_command()
        .args(["-c", &check])
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
}
