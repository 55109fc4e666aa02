//! Telling a pickle by its bytes, whatever the card or the file name says.
//!
//! A pickle of protocol 2 to 5 starts with the PROTO opcode (0x80) and its
//! version, and ends with STOP (`.`). PyTorch's own format since 1.6 is a zip
//! archive holding `data.pkl`; any zip with a `.pkl` member is treated the same.
//! Safetensors files can start with 0x80 0x02 too (a 640-byte header length), so
//! their JSON header (`{` at byte 8) rules them out.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::FetchError;
use crate::manifest::ManifestFile;
use crate::pull::{FileOutcome, FileReport};
use crate::store::Store;

/// Run on a pull's files before the model is published (unless pickles are
/// allowed): a file whose bytes are a pickle is refused whatever its name or
/// format on the card. Its blob is deleted if this pull downloaded it, so the
/// refusal leaves nothing behind; blobs found already present are left alone,
/// since another model (or the Hugging Face cache) may own them.
pub(crate) fn refuse_pickled(
    store: &Store,
    model: &str,
    files: &[(ManifestFile, FileReport)],
) -> Result<(), FetchError> {
    for (file, report) in files {
        let Some(kind) = sniff_file(&file.blob) else {
            continue;
        };
        if matches!(report.outcome, FileOutcome::Downloaded { .. })
            && zoo_types::Sha256Hex::parse(&file.sha256)
                .is_ok_and(|sha| file.blob == store.blob_path(&sha))
        {
            let _ = std::fs::remove_file(&file.blob);
        }
        return Err(FetchError::PickleRefused {
            model: model.to_owned(),
            path: file.path.to_string(),
            ext: kind.describe().to_owned(),
        });
    }
    Ok(())
}

/// What the bytes of a file show it to be, when it is a pickle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickleKind {
    /// A raw pickle stream (protocol 2 to 5).
    Stream,
    /// A zip archive with a pickle inside (PyTorch checkpoints).
    ZipContainer,
}

impl PickleKind {
    pub fn describe(self) -> &'static str {
        match self {
            PickleKind::Stream => "its bytes are a Python pickle stream",
            PickleKind::ZipContainer => "it is a zip archive holding a Python pickle (data.pkl)",
        }
    }
}

/// Sniffs `path`; files that cannot be read are not pickles here (the caller
/// reports unreadable files its own way).
pub fn sniff_file(path: &Path) -> Option<PickleKind> {
    let mut file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut head = [0u8; 9];
    let n = read_up_to(&mut file, &mut head);
    let head = &head[..n];
    if head.starts_with(b"PK\x03\x04") {
        file.seek(SeekFrom::Start(0)).ok()?;
        let archive = zip::ZipArchive::new(file).ok()?;
        let has_pickle = archive
            .file_names()
            .flatten()
            .any(|name| name.to_ascii_lowercase().ends_with(".pkl"));
        return has_pickle.then_some(PickleKind::ZipContainer);
    }
    if !is_pickle_header(head) {
        return None;
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::End(-1)).ok()?;
    file.read_exact(&mut last).ok()?;
    (last[0] == b'.').then_some(PickleKind::Stream)
}

/// PROTO 2..=5, then an opcode (never 0x00), and not a safetensors header.
fn is_pickle_header(head: &[u8]) -> bool {
    head.len() >= 3
        && head[0] == 0x80
        && (2..=5).contains(&head[1])
        && head[2] != 0
        && head.get(8) != Some(&b'{')
}

fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> usize {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => filled += n,
        }
    }
    filled
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn pickle_streams_and_torch_zips_are_found_by_their_bytes() {
        let d = tempfile::tempdir().unwrap();
        // pickle.dumps({}, protocol=2) and protocol=4.
        let p2 = write(d.path(), "renamed.onnx", b"\x80\x02}q\x00.");
        assert_eq!(sniff_file(&p2), Some(PickleKind::Stream));
        let p4 = write(
            d.path(),
            "x",
            b"\x80\x04\x95\x04\x00\x00\x00\x00\x00\x00\x00}\x94.",
        );
        assert_eq!(sniff_file(&p4), Some(PickleKind::Stream));

        let zip_path = d.path().join("model.safetensors");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        zip.start_file("archive/data.pkl", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"\x80\x02}q\x00.").unwrap();
        zip.finish().unwrap();
        assert_eq!(sniff_file(&zip_path), Some(PickleKind::ZipContainer));
    }

    #[test]
    fn other_formats_are_not_pickles() {
        let d = tempfile::tempdir().unwrap();
        // A safetensors file whose header is 640 bytes long: 0x80 0x02 0x00 ...
        let mut st = vec![0x80, 0x02, 0, 0, 0, 0, 0, 0];
        st.extend_from_slice(b"{\"__metadata__\":{}}");
        st.resize(8 + 640, b' ');
        st.push(b'.');
        let st = write(d.path(), "a.safetensors", &st);
        assert_eq!(sniff_file(&st), None);
        let onnx = write(d.path(), "a.onnx", b"\x08\x07\x12\x04test.");
        assert_eq!(sniff_file(&onnx), None);
        let empty = write(d.path(), "empty", b"");
        assert_eq!(sniff_file(&empty), None);
        let zip_path = d.path().join("plain.zip");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        zip.start_file("readme.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.finish().unwrap();
        assert_eq!(sniff_file(&zip_path), None);
        assert_eq!(sniff_file(d.path()), None);
    }
}
