//! Minimal, valid Python wheels for tests that install packages offline.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// Writes `{name}-{version}-py3-none-any.whl` into `dir` and returns its path.
///
/// `name` is `package` with runs of `-`, `_` and `.` turned into `_` (the
/// wheel filename rule). The archive holds `files` plus a
/// `{name}-{version}.dist-info/` with `METADATA`, `WHEEL` and a `RECORD` of
/// sha256 digests, which is what pip checks before accepting it, e.g. with
/// `pip download --no-index --find-links DIR PACKAGE==VERSION --no-deps`.
/// Entries carry a fixed timestamp, so the same input gives the same bytes.
///
/// # Panics
/// If the file cannot be written.
pub fn write_wheel(
    dir: impl AsRef<Path>,
    package: &str,
    version: &str,
    files: &[(&str, &[u8])],
) -> PathBuf {
    let name = escape_name(package);
    let dist_info = format!("{name}-{version}.dist-info");
    let metadata = format!("Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n");
    let wheel = "Wheel-Version: 1.0\nGenerator: zoo-test-support\nRoot-Is-Purelib: true\nTag: py3-none-any\n";

    let mut entries: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(path, bytes)| ((*path).to_string(), bytes.to_vec()))
        .collect();
    entries.push((format!("{dist_info}/METADATA"), metadata.into_bytes()));
    entries.push((format!("{dist_info}/WHEEL"), wheel.as_bytes().to_vec()));
    let mut record = String::new();
    for (path, bytes) in &entries {
        let digest = base64_urlsafe_nopad(&Sha256::digest(bytes));
        record.push_str(&format!(
            "{},sha256={digest},{}\n",
            csv_field(path),
            bytes.len()
        ));
    }
    let record_path = format!("{dist_info}/RECORD");
    record.push_str(&format!("{},,\n", csv_field(&record_path)));
    entries.push((record_path, record.into_bytes()));

    let out = dir
        .as_ref()
        .join(format!("{name}-{version}-py3-none-any.whl"));
    let result = (|| -> zip::result::ZipResult<()> {
        let mut zip = ZipWriter::new(File::create(&out)?);
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(DateTime::default())
            .unix_permissions(0o644);
        for (path, bytes) in &entries {
            zip.start_file(path.as_str(), options)?;
            zip.write_all(bytes)?;
        }
        zip.finish()?.sync_all()?;
        Ok(())
    })();
    if let Err(e) = result {
        panic!("write wheel {}: {e}", out.display());
    }
    out
}

/// The wheel filename form of a project name (`my-pkg.x` -> `my_pkg_x`).
fn escape_name(package: &str) -> String {
    let mut out = String::with_capacity(package.len());
    for c in package.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('_') {
                out.push('_');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// RECORD is CSV: quote paths that contain a comma or quote.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// RECORD digests are urlsafe base64 without padding (PEP 376/427).
fn base64_urlsafe_nopad(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=group.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_python() {
        // base64.urlsafe_b64encode(...).rstrip(b"=")
        assert_eq!(base64_urlsafe_nopad(b""), "");
        assert_eq!(base64_urlsafe_nopad(b"f"), "Zg");
        assert_eq!(base64_urlsafe_nopad(b"fo"), "Zm8");
        assert_eq!(base64_urlsafe_nopad(b"foo"), "Zm9v");
        assert_eq!(base64_urlsafe_nopad(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn names() {
        assert_eq!(escape_name("zoo-demo.pkg"), "zoo_demo_pkg");
        assert_eq!(escape_name("a--b"), "a_b");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
