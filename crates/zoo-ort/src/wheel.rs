//! Extracting files from a Python wheel, each checked against the wheel's own
//! `RECORD` (sha256 and size). A wheel from a pip mirror is only as trustworthy as
//! the mirror, but RECORD catches truncated and corrupted downloads, and the
//! manifest zoo writes afterwards lets `zoo runtime info` show exactly what is in use.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{OrtError, Result};

/// One file taken out of a wheel, as recorded in the runtime manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractedFile {
    /// Path relative to the runtime directory.
    pub path: String,
    /// Lower-case hex sha256 of the extracted bytes.
    pub sha256: String,
    pub size: u64,
    /// Path of the member inside the wheel.
    pub member: String,
}

/// A wheel's RECORD: member path -> (urlsafe-base64 sha256 without padding, size).
pub(crate) type Record = HashMap<String, (String, u64)>;

/// Parse RECORD, a CSV of `path,sha256=<b64>,size`. Paths containing commas are
/// quoted with `"` (doubled inside); entries without a hash (RECORD itself,
/// signatures) are skipped since nothing extracted is checked against them.
pub(crate) fn parse_record(text: &str) -> Record {
    let mut out = Record::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields = split_csv(line);
        if fields.len() < 3 {
            continue;
        }
        let Some(hash) = fields[1].strip_prefix("sha256=") else {
            continue;
        };
        let Ok(size) = fields[2].trim().parse::<u64>() else {
            continue;
        };
        out.insert(fields[0].clone(), (hash.to_owned(), size));
    }
    out
}

fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

/// The RECORD digest form of a sha256: urlsafe base64 without padding.
pub(crate) fn record_digest(sha256: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha256)
}

/// Most bytes of a wheel's RECORD (onnxruntime's lists a few hundred files).
const MAX_RECORD_BYTES: u64 = 16 << 20;

/// A wheel opened for extraction, with its RECORD read.
pub(crate) struct Wheel {
    name: String,
    archive: zip::ZipArchive<File>,
    record: Record,
}

impl std::fmt::Debug for Wheel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wheel")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Wheel {
    pub(crate) fn open(path: &Path) -> Result<Wheel> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bad = |message: String| OrtError::BadWheel {
            wheel: name.clone(),
            message,
        };
        let file = File::open(path).map_err(|e| OrtError::io(path, e))?;
        let mut archive =
            zip::ZipArchive::new(file).map_err(|e| bad(format!("not a zip archive: {e}")))?;
        let record_name = names(&archive)
            .into_iter()
            .find(|n| n.ends_with(".dist-info/RECORD") && n.matches('/').count() == 1)
            .ok_or_else(|| bad("no *.dist-info/RECORD".to_owned()))?;
        let mut text = String::new();
        archive
            .by_name(&record_name)
            .map_err(|e| bad(format!("{record_name}: {e}")))?
            .take(MAX_RECORD_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|e| bad(format!("{record_name}: {e}")))?;
        if text.len() as u64 > MAX_RECORD_BYTES {
            return Err(bad(format!(
                "{record_name} is larger than {MAX_RECORD_BYTES} bytes"
            )));
        }
        Ok(Wheel {
            record: parse_record(&text),
            name,
            archive,
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Member paths (regular files only), in archive order.
    pub(crate) fn members(&self) -> Vec<String> {
        names(&self.archive)
            .into_iter()
            .filter(|n| !n.ends_with('/'))
            .collect()
    }

    /// Extract `member` to `dest_dir/file_name`, hashing while writing, and fail
    /// unless both digest and size match RECORD. A file RECORD does not list is
    /// refused too: an unlisted native library is exactly what must not be loaded.
    pub(crate) fn extract(
        &mut self,
        member: &str,
        dest_dir: &Path,
        file_name: &str,
    ) -> Result<ExtractedFile> {
        let mismatch = |message: String| OrtError::RecordMismatch {
            wheel: self.name.clone(),
            file: member.to_owned(),
            message,
        };
        let (want_hash, want_size) = self
            .record
            .get(member)
            .cloned()
            .ok_or_else(|| mismatch("not listed in RECORD".to_owned()))?;
        // Never more than RECORD's size (plus one byte, to tell "too long"):
        // a zip bomb stops there instead of filling the disk.
        let mut entry = self
            .archive
            .by_name(member)
            .map_err(|e| OrtError::BadWheel {
                wheel: self.name.clone(),
                message: format!("{member}: {e}"),
            })?
            .take(want_size + 1);
        let dest: PathBuf = dest_dir.join(file_name);
        let mut out = File::create(&dest).map_err(|e| OrtError::io(&dest, e))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = entry.read(&mut buf).map_err(|e| OrtError::BadWheel {
                wheel: self.name.clone(),
                message: format!("{member}: {e}"),
            })?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])
                .map_err(|e| OrtError::io(&dest, e))?;
            size += n as u64;
        }
        out.sync_all().map_err(|e| OrtError::io(&dest, e))?;
        let digest = hasher.finalize();
        let got = record_digest(&digest);
        if got != want_hash {
            return Err(mismatch(format!("sha256 {got}, RECORD says {want_hash}")));
        }
        if size != want_size {
            return Err(mismatch(format!("{size} bytes, RECORD says {want_size}")));
        }
        Ok(ExtractedFile {
            path: file_name.to_owned(),
            sha256: hex::encode(digest),
            size,
            member: member.to_owned(),
        })
    }
}

/// Member names; a name that is not valid UTF-8 cannot be a file zoo wants.
fn names(archive: &zip::ZipArchive<File>) -> Vec<String> {
    archive
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect()
}

/// Lower-case hex sha256 of a file, streamed.
pub(crate) fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| OrtError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| OrtError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_parses_quoted_paths_and_skips_unhashed() {
        let text = "a/b.so,sha256=abc_-,12\n\"we,ird\"\"x\",sha256=zz,3\npkg.dist-info/RECORD,,\n";
        let r = parse_record(text);
        assert_eq!(r.get("a/b.so"), Some(&("abc_-".to_owned(), 12)));
        assert_eq!(r.get("we,ird\"x"), Some(&("zz".to_owned(), 3)));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn record_digest_is_urlsafe_unpadded() {
        // sha256("") in RECORD form, as pip writes it.
        let d = Sha256::digest(b"");
        assert_eq!(
            record_digest(&d),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
    }
}
