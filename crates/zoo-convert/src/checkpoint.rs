//! A safetensors checkpoint opened for reading one tensor at a time.
//!
//! The header is parsed by the safetensors crate's own validating `Metadata`
//! (offsets contiguous, shape × dtype size equal to each byte range, no
//! overflow); on top of that the header must fit in the file and the data must
//! end exactly where the file does. Tensors are then read by positioned reads
//! straight into the buffer that becomes the ONNX initializer: no memory map
//! (no unsafe) and no second copy of the weights.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, Metadata, TensorInfo};

use crate::error::{ConvertError, Result};

/// Largest header accepted: the safetensors crate's own limit.
const MAX_HEADER_BYTES: u64 = 100_000_000;
/// More tensors than any real checkpoint has (a 70B model has about 1,000).
const MAX_TENSORS: usize = 100_000;

#[derive(Debug)]
pub struct Checkpoint {
    path: PathBuf,
    file: File,
    data_start: u64,
    tensors: BTreeMap<String, TensorInfo>,
}

impl Checkpoint {
    pub fn open(path: &Path) -> Result<Checkpoint> {
        let bad = |message: String| ConvertError::Checkpoint {
            path: path.to_owned(),
            message,
        };
        let mut file = File::open(path).map_err(ConvertError::io(path))?;
        let meta = file.metadata().map_err(ConvertError::io(path))?;
        if !meta.is_file() {
            return Err(bad("not a regular file".into()));
        }
        let file_len = meta.len();
        let mut len_bytes = [0u8; 8];
        file.read_exact(&mut len_bytes).map_err(|_| {
            bad(format!(
                "the file is {file_len} bytes, too short for the 8-byte header length"
            ))
        })?;
        let header_len = u64::from_le_bytes(len_bytes);
        if header_len > MAX_HEADER_BYTES {
            return Err(bad(format!(
                "the header claims {header_len} bytes, over the {MAX_HEADER_BYTES}-byte limit"
            )));
        }
        if header_len > file_len - 8 {
            return Err(bad(format!(
                "the header claims {header_len} bytes but only {} follow; the file is truncated",
                file_len - 8
            )));
        }
        let mut header = vec![0u8; header_len as usize];
        file.read_exact(&mut header)
            .map_err(ConvertError::io(path))?;
        let metadata: Metadata =
            serde_json::from_slice(&header).map_err(|e| bad(format!("invalid header: {e}")))?;
        let data_start = 8 + header_len;
        let data_len = metadata.data_len() as u64;
        if data_start + data_len != file_len {
            let why = if data_start + data_len > file_len {
                "the file is truncated (re-download it: `zoo pull --force`)"
            } else {
                "trailing bytes follow the last tensor"
            };
            return Err(bad(format!(
                "the header describes {data_len} bytes of tensor data after a {header_len}-byte \
                 header, but the file has {}: {why}",
                file_len - data_start
            )));
        }
        let tensors = metadata.tensors();
        if tensors.len() > MAX_TENSORS {
            return Err(bad(format!(
                "{} tensors, over the limit of {MAX_TENSORS}",
                tensors.len()
            )));
        }
        let tensors = tensors
            .into_iter()
            .map(|(name, info)| (name, info.clone()))
            .collect();
        Ok(Checkpoint {
            path: path.to_owned(),
            file,
            data_start,
            tensors,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn info(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// The raw little-endian bytes of tensor `name` (known to exist).
    pub fn read(&self, name: &str) -> Result<Vec<u8>> {
        let info = self.info(name).ok_or_else(|| ConvertError::Tensor {
            path: self.path.clone(),
            tensor: name.to_owned(),
            message: "not in the checkpoint".into(),
        })?;
        let (start, end) = info.data_offsets;
        let mut bytes = vec![0u8; end - start];
        let io = ConvertError::io(&self.path);
        let mut file = &self.file;
        file.seek(SeekFrom::Start(self.data_start + start as u64))
            .and_then(|_| file.read_exact(&mut bytes))
            .map_err(io)?;
        Ok(bytes)
    }

    /// Tensor `name` as little-endian f32 bytes, widening f16 and bf16.
    pub fn read_f32(&self, name: &str) -> Result<Vec<u8>> {
        let dtype = self.info(name).map(|i| i.dtype);
        let bytes = self.read(name)?;
        match dtype {
            Some(Dtype::F32) => Ok(bytes),
            Some(Dtype::F16) => Ok(widen(&bytes, f16_to_f32)),
            Some(Dtype::BF16) => Ok(widen(&bytes, |h| f32::from_bits(u32::from(h) << 16))),
            other => Err(ConvertError::Tensor {
                path: self.path.clone(),
                tensor: name.to_owned(),
                message: format!(
                    "dtype {other:?} is not a floating-point weight type (F32, F16 or BF16)"
                ),
            }),
        }
    }
}

fn widen(bytes: &[u8], convert: impl Fn(u16) -> f32) -> Vec<u8> {
    bytes
        .chunks_exact(2)
        .flat_map(|b| convert(u16::from_le_bytes([b[0], b[1]])).to_le_bytes())
        .collect()
}

/// IEEE half to single precision, subnormals and non-finite values included.
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let mantissa = u32::from(h & 0x3ff);
    let bits = match (exp, mantissa) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: value = m * 2^-24; normalise into an f32.
            return sign_factor(sign) * (m as f32) * 2f32.powi(-24);
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

fn sign_factor(sign: u32) -> f32 {
    if sign == 0 { 1.0 } else { -1.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_widens_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x8001), -(2f32.powi(-24)));
        assert!(f16_to_f32(0x7c00).is_infinite());
        assert!(f16_to_f32(0x7e00).is_nan());
    }
}

#[cfg(test)]
mod hostile {
    use super::*;

    /// A safetensors file: 8-byte header length, header, data.
    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    fn open(bytes: &[u8]) -> Result<Checkpoint> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        std::fs::write(&path, bytes).unwrap();
        Checkpoint::open(&path)
    }

    fn refused(bytes: &[u8], needle: &str) {
        let err = open(bytes).unwrap_err().to_string();
        assert!(err.contains(needle), "{err:?} lacks {needle:?}");
    }

    const ONE: &str = r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;

    #[test]
    fn a_valid_file_reads_back() {
        let data: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let ckpt = open(&file(ONE, &data)).unwrap();
        assert_eq!(ckpt.read_f32("w").unwrap(), data);
    }

    #[test]
    fn malformed_files_are_refused_with_the_reason() {
        refused(b"\x01\x02", "too short");
        refused(&u64::MAX.to_le_bytes(), "over the");
        let mut claims_more = file(ONE, &[0; 8]);
        claims_more[..8].copy_from_slice(&10_000u64.to_le_bytes());
        refused(&claims_more, "header claims 10000 bytes");
        refused(&file(ONE, &[0; 4]), "truncated");
        refused(&file(ONE, &[0; 12]), "trailing bytes");
        refused(&file("{not json", &[]), "invalid header");
        // Shape x dtype size disagrees with the byte range.
        let wrong_size = r#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#;
        refused(&file(wrong_size, &[0; 8]), "invalid header");
        // Overlapping ranges.
        let overlap = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
                          "b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#;
        refused(&file(overlap, &[0; 12]), "invalid header");
        // A shape whose element count overflows.
        let huge =
            r#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}}"#;
        refused(&file(huge, &[0; 8]), "invalid header");
    }

    #[test]
    fn half_and_bfloat16_tensors_widen_to_f32() {
        let header = r#"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},
                         "b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]}}"#;
        // f16 1.0 and -2.0; bf16 1.0 and -0.5.
        let data = [0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 0x00, 0xbf];
        let ckpt = open(&file(header, &data)).unwrap();
        let f32s = |bytes: Vec<u8>| -> Vec<f32> {
            (bytes.chunks(4))
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect()
        };
        assert_eq!(f32s(ckpt.read_f32("h").unwrap()), [1.0, -2.0]);
        assert_eq!(f32s(ckpt.read_f32("b").unwrap()), [1.0, -0.5]);
    }

    #[test]
    fn integer_tensors_are_not_weights() {
        let header = r#"{"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#;
        let ckpt = open(&file(header, &[0; 8])).unwrap();
        let err = ckpt.read_f32("ids").unwrap_err().to_string();
        assert!(err.contains("`ids`") && err.contains("I64"), "{err}");
    }
}
