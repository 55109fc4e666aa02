//! A blob's bytes as an upload sends them: chunks read from disk into reused
//! buffers, hashed in the order they are sent.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};

/// The sha256 state after the first `len` bytes of the file at `path`; a
/// file shorter than that is `UnexpectedEof`.
pub(crate) fn hash_prefix(path: &Path, len: u64) -> io::Result<Sha256> {
    let mut hasher = Sha256::new();
    let mut reader = File::open(path)?.take(len);
    let mut buf = vec![0u8; 1 << 20];
    let mut hashed = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        hashed += n as u64;
    }
    if hashed != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(hasher)
}

/// [`read_chunk`], and `hasher` (the state before `offset`) moved past it.
pub(crate) fn read_hashed(
    path: &Path,
    offset: u64,
    len: u64,
    mut hasher: Sha256,
    buffer: Option<BytesMut>,
) -> io::Result<(Bytes, Sha256)> {
    let chunk = read_chunk(path, offset, len, buffer)?;
    hasher.update(&chunk);
    Ok((chunk, hasher))
}

/// `len` bytes of the file at `path` from `offset`, read into `buffer` when
/// given; a file that ends first is `UnexpectedEof`. The bytes are shared,
/// not copied, when a request is built again after a 401.
pub(crate) fn read_chunk(
    path: &Path,
    offset: u64,
    len: u64,
    buffer: Option<BytesMut>,
) -> io::Result<Bytes> {
    let mut chunk = buffer.unwrap_or_default();
    // Only bytes beyond the buffer's old length are zeroed.
    chunk.resize(len as usize, 0);
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(&mut chunk)?;
    Ok(chunk.freeze())
}

/// The digest of what `hasher` has seen.
pub(crate) fn finish(hasher: Sha256) -> zoo_types::Sha256Hex {
    zoo_types::Sha256Hex::from_bytes(&hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_hash_like_the_whole_file_and_reuse_buffers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let mut hasher = hash_prefix(&path, 1000).unwrap();
        let mut spare = None;
        let mut offset = 1000;
        while offset < 10_000 {
            let len = 3000.min(10_000 - offset);
            let (chunk, next) = read_hashed(&path, offset, len, hasher, spare.take()).unwrap();
            assert_eq!(&chunk[..], &bytes[offset as usize..(offset + len) as usize]);
            hasher = next;
            spare = chunk.try_into_mut().ok();
            assert!(spare.is_some(), "an unshared chunk gives its buffer back");
            offset += len;
        }
        assert_eq!(finish(hasher), finish(Sha256::new_with_prefix(&bytes)));
    }

    #[test]
    fn a_short_file_is_unexpected_eof() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        std::fs::write(&path, b"12345").unwrap();
        let kind = |r: io::Result<_>| r.map(|_| ()).unwrap_err().kind();
        assert_eq!(
            kind(hash_prefix(&path, 6).map(|_| ())),
            io::ErrorKind::UnexpectedEof
        );
        assert_eq!(
            kind(read_chunk(&path, 3, 3, None).map(|_| ())),
            io::ErrorKind::UnexpectedEof
        );
    }
}
