//! sha256 over files and streams. sha2 picks SHA-NI at run time where the CPU has
//! it, which is what makes hashing every byte affordable.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::FetchError;

/// Large enough to keep syscalls off the profile, small enough to stay in L2.
pub(crate) const BUF_SIZE: usize = 1 << 20;

pub(crate) fn hex_digest(hasher: Sha256) -> String {
    hex::encode(hasher.finalize())
}

/// The git blob id of `size` bytes starts with this header (git's object format).
pub(crate) fn git_blob_header(size: u64) -> String {
    format!("blob {size}\0")
}

/// Feed `len` bytes (or all, when `None`) of a reader into `hasher`; returns bytes read.
pub(crate) fn update_from_reader(
    hasher: &mut impl sha2::digest::Update,
    mut reader: impl Read,
    len: Option<u64>,
) -> std::io::Result<u64> {
    let mut buf = vec![0u8; BUF_SIZE];
    let mut total = 0u64;
    loop {
        let want = match len {
            Some(l) if l - total < BUF_SIZE as u64 => (l - total) as usize,
            _ => BUF_SIZE,
        };
        if want == 0 {
            break;
        }
        let n = reader.read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok(total)
}

/// The git blob id of a file's bytes.
pub(crate) fn git_blob_of_file(path: &Path) -> Result<zoo_types::GitBlobId, FetchError> {
    use sha1::Digest as _;
    let size = std::fs::metadata(path)
        .map_err(FetchError::io("cannot stat", path))?
        .len();
    let mut hasher = sha1::Sha1::new();
    sha2::digest::Update::update(&mut hasher, git_blob_header(size).as_bytes());
    let file = std::fs::File::open(path).map_err(FetchError::io("cannot open", path))?;
    update_from_reader(&mut hasher, file, None).map_err(FetchError::io("cannot read", path))?;
    Ok(zoo_types::GitBlobId::from_bytes(&hasher.finalize().into()))
}

/// sha256 (hex) and size of a file.
pub fn sha256_file(path: &Path) -> Result<(String, u64), FetchError> {
    let file = std::fs::File::open(path).map_err(FetchError::io("cannot open", path))?;
    let mut hasher = Sha256::new();
    let size =
        update_from_reader(&mut hasher, file, None).map_err(FetchError::io("cannot read", path))?;
    Ok((hex_digest(hasher), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        let (hex, size) = sha256_file(&p).unwrap();
        assert_eq!(size, 3);
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
