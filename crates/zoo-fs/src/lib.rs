//! zoo-fs: reading files zoo did not write, within bounds.
//!
//! A card, a policy, a config file, a data-set item or an image named on the
//! command line may be a device (`/dev/zero`), a FIFO or a file of any size.
//! [`read_bounded`] reads only regular files and stops at a stated limit, so a
//! hostile path is an error naming the file and the limit rather than a hang or
//! an out-of-memory abort. [`check_nesting`] refuses YAML/JSON text nested deeper
//! than any real card, policy or config, before a parser spends time on it.
//!
//! The limits zoo applies are the constants in [`limits`], documented there and
//! in docs/cli.md ("Limits on inputs").

mod nesting;

pub use nesting::{NestingError, check_nesting};

use std::io::{self, Read};
use std::path::Path;

/// The size and depth limits zoo applies to what it reads.
pub mod limits {
    /// A catalog card (`*.yaml`), a fine-tuned model's `card.yaml`: the largest
    /// built-in card is a few KiB.
    pub const CARD_BYTES: u64 = 1 << 20;
    /// A labels file (`labels/*.txt`, `labels.txt`): 21k ImageNet classes take
    /// about 0.5 MiB.
    pub const LABELS_BYTES: u64 = 16 << 20;
    /// An audit policy file (`--policy`).
    pub const POLICY_BYTES: u64 = 1 << 20;
    /// zoo's config file (`~/.config/zoo/config.yaml`).
    pub const CONFIG_BYTES: u64 = 1 << 20;
    /// Nesting of YAML/JSON collections in cards, policies and config files:
    /// real ones nest 6 deep at most.
    pub const YAML_DEPTH: usize = 32;
    /// One image file (`zoo predict` inputs, fine-tuning data-set items): a
    /// 100-megapixel JPEG is about 40 MiB.
    pub const IMAGE_FILE_BYTES: u64 = 64 << 20;
    /// One text item of a data set (a file in a class folder).
    pub const TEXT_ITEM_BYTES: u64 = 1 << 20;
    /// A data-set list (`.csv`, `.tsv`, `.jsonl`).
    pub const DATA_LIST_BYTES: u64 = 1 << 30;
}

/// Reads the whole of `path` if it is a regular file of at most `max` bytes.
///
/// Errors are `io::Error`s so callers keep their own error types: a device, FIFO,
/// socket or directory is `InvalidInput` ("not a regular file"); a file larger than
/// `max` (or one that grows past it while being read) is `FileTooLarge`. Neither
/// reads more than `max + 1` bytes.
pub fn read_bounded(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    // Checked before opening: opening a FIFO for reading blocks until a writer
    // comes, and a device reads forever.
    require_regular(&std::fs::metadata(path)?)?;
    let file = std::fs::File::open(path)?;
    // Checked again on the open file, in case the path was swapped meanwhile.
    let meta = file.metadata()?;
    require_regular(&meta)?;
    if meta.len() > max {
        return Err(too_large(meta.len(), max));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_large(bytes.len() as u64, max));
    }
    Ok(bytes)
}

/// Opens `path` for streaming if it is a regular file of at most `max` bytes; the
/// reader stops at `max` bytes even if the file grows. Same errors as [`read_bounded`].
pub fn open_bounded(path: &Path, max: u64) -> io::Result<io::Take<std::fs::File>> {
    require_regular(&std::fs::metadata(path)?)?;
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    require_regular(&meta)?;
    if meta.len() > max {
        return Err(too_large(meta.len(), max));
    }
    Ok(file.take(max))
}

/// [`read_bounded`], as UTF-8 text (`InvalidData` when it is not).
pub fn read_to_string_bounded(path: &Path, max: u64) -> io::Result<String> {
    String::from_utf8(read_bounded(path, max)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

fn require_regular(meta: &std::fs::Metadata) -> io::Result<()> {
    if meta.is_file() {
        return Ok(());
    }
    let kind = if meta.is_dir() {
        "a directory"
    } else {
        "a device, FIFO or socket"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a regular file ({kind}); zoo reads only regular files"),
    ))
}

fn too_large(size: u64, max: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!(
            "larger than the {} zoo reads for this kind of file ({size} bytes or more)",
            human(max)
        ),
    )
}

/// `1 MiB`, `64 MiB`, `1 GiB`, or plain bytes.
pub fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regular_files_within_the_limit() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, b"hello").unwrap();
        assert_eq!(read_bounded(&p, 5).unwrap(), b"hello");
        assert_eq!(read_to_string_bounded(&p, 100).unwrap(), "hello");
        let e = read_bounded(&p, 4).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
        assert!(e.to_string().contains("4 bytes"), "{e}");
        let e = read_bounded(d.path(), 100).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("directory"), "{e}");
        std::fs::write(&p, b"\xff\xfe").unwrap();
        let e = read_to_string_bounded(&p, 100).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }

    #[cfg(unix)]
    #[test]
    fn devices_are_refused_without_reading() {
        let e = read_bounded(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human(1 << 20), "1 MiB");
        assert_eq!(human(64 << 20), "64 MiB");
        assert_eq!(human(1 << 30), "1 GiB");
        assert_eq!(human(1000), "1000 bytes");
    }
}
