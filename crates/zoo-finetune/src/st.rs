//! Small helpers over safetensors files: f32/int tensors in, atomic writes out,
//! and reading a header without the tensor data.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};

use crate::error::{FinetuneError, Result};

/// One tensor to write: name, dtype, shape, little-endian bytes.
pub(crate) struct Tensor {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub bytes: Vec<u8>,
}

impl Tensor {
    pub fn f32(name: &str, shape: Vec<usize>, values: &[f32]) -> Tensor {
        Tensor {
            name: name.to_owned(),
            dtype: Dtype::F32,
            shape,
            bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    pub fn i64(name: &str, values: &[i64]) -> Tensor {
        Tensor {
            name: name.to_owned(),
            dtype: Dtype::I64,
            shape: vec![values.len()],
            bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    pub fn u8(name: &str, values: &[u8]) -> Tensor {
        Tensor {
            name: name.to_owned(),
            dtype: Dtype::U8,
            shape: vec![values.len()],
            bytes: values.to_vec(),
        }
    }
}

fn st_err(path: &Path) -> impl Fn(safetensors::SafeTensorError) -> FinetuneError + '_ {
    move |e| FinetuneError::Safetensors {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// Serializes `tensors` with `metadata` and writes them to `path` atomically.
pub(crate) fn write(
    path: &Path,
    tensors: &[Tensor],
    metadata: HashMap<String, String>,
) -> Result<()> {
    let views = tensors
        .iter()
        .map(|t| TensorView::new(t.dtype, t.shape.clone(), &t.bytes).map(|v| (t.name.clone(), v)))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(st_err(path))?;
    let bytes = safetensors::tensor::serialize(views, Some(metadata)).map_err(st_err(path))?;
    write_atomic(path, &bytes)
}

/// Writes via a temporary sibling and a rename: readers see the old file or the
/// whole new one, and an interrupted run leaves no half-written file behind.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(FinetuneError::io(dir))?;
    let mut tmp = tempfile_in(dir, path)?;
    std::io::Write::write_all(&mut tmp.1, bytes).map_err(FinetuneError::io(&tmp.0))?;
    drop(tmp.1);
    std::fs::rename(&tmp.0, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp.0);
        FinetuneError::Io {
            path: path.to_owned(),
            source: e,
        }
    })
}

fn tempfile_in(dir: &Path, target: &Path) -> Result<(std::path::PathBuf, std::fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let candidate = dir.join(format!(".{name}.{}-{n}.tmp", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(f) => return Ok((candidate, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(FinetuneError::io(candidate)(e)),
        }
    }
}

/// The header of a safetensors file: its metadata and each tensor's dtype and
/// shape, read without the tensor data.
pub(crate) struct Header {
    pub metadata: HashMap<String, String>,
    pub tensors: HashMap<String, (String, Vec<usize>)>,
    /// Bytes the whole file should have (length prefix, header, and the data up to
    /// the last tensor's end), so a file cut short can be told from a whole one.
    pub file_len: u64,
}

/// Largest header read; far above what any shard writes.
const MAX_HEADER: u64 = 100 << 20;

pub(crate) fn read_header(path: &Path) -> Result<Header> {
    let bad = |m: String| FinetuneError::Safetensors {
        path: path.to_owned(),
        message: m,
    };
    let mut f = std::fs::File::open(path).map_err(FinetuneError::io(path))?;
    let mut len = [0u8; 8];
    f.read_exact(&mut len).map_err(FinetuneError::io(path))?;
    let n = u64::from_le_bytes(len);
    if n > MAX_HEADER {
        return Err(bad(format!("header of {n} bytes is implausibly large")));
    }
    let mut buf = vec![0u8; n as usize];
    f.read_exact(&mut buf).map_err(FinetuneError::io(path))?;
    let json: serde_json::Value =
        serde_json::from_slice(&buf).map_err(|e| bad(format!("header is not JSON: {e}")))?;
    let obj = json
        .as_object()
        .ok_or_else(|| bad("header is not an object".into()))?;
    let mut header = Header {
        metadata: HashMap::new(),
        tensors: HashMap::new(),
        file_len: 8 + n,
    };
    let mut data_end = 0u64;
    for (k, v) in obj {
        if k == "__metadata__" {
            for (mk, mv) in v.as_object().into_iter().flatten() {
                if let Some(s) = mv.as_str() {
                    header.metadata.insert(mk.clone(), s.to_owned());
                }
            }
            continue;
        }
        let dtype = v["dtype"].as_str().unwrap_or_default().to_owned();
        let shape = (v["shape"].as_array().into_iter().flatten())
            .filter_map(|d| d.as_u64().map(|d| d as usize))
            .collect();
        if let Some(end) = v["data_offsets"].get(1).and_then(|e| e.as_u64()) {
            data_end = data_end.max(end);
        }
        header.tensors.insert(k.clone(), (dtype, shape));
    }
    header.file_len = header.file_len.saturating_add(data_end);
    Ok(header)
}

/// The f32 tensor `name` of a whole safetensors file held in `bytes`.
pub(crate) fn f32_tensor(path: &Path, bytes: &[u8], name: &str) -> Result<(Vec<usize>, Vec<f32>)> {
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(st_err(path))?;
    let t = st.tensor(name).map_err(st_err(path))?;
    if t.dtype() != Dtype::F32 {
        return Err(FinetuneError::Safetensors {
            path: path.to_owned(),
            message: format!("tensor '{name}' is {:?}, expected F32", t.dtype()),
        });
    }
    let values = t
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok((t.shape().to_vec(), values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn written_files_read_back_with_the_safetensors_crate() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("t.safetensors");
        // Values whose bits a lossy path would change: -0, subnormal, NaN, extremes.
        let f: Vec<f32> = vec![
            1.5,
            -0.0,
            f32::MIN_POSITIVE / 4.0,
            f32::NAN,
            f32::MAX,
            -3.25,
        ];
        let ints = [i64::MIN, -1, 0, 7, i64::MAX];
        let bytes = [0u8, 1, 255];
        let metadata = HashMap::from([
            ("format".to_owned(), "1".to_owned()),
            ("note".to_owned(), "a, b; \"c\"".to_owned()),
        ]);
        write(
            &path,
            &[
                Tensor::f32("features", vec![2, 3], &f),
                Tensor::i64("labels", &ints),
                Tensor::u8("split", &bytes),
            ],
            metadata.clone(),
        )
        .unwrap();
        assert_eq!(files_in(d.path()), ["t.safetensors"], "no temporary left");

        let raw = std::fs::read(&path).unwrap();
        let st = safetensors::SafeTensors::deserialize(&raw).unwrap();
        let mut names = st.names();
        names.sort_unstable();
        assert_eq!(names, ["features", "labels", "split"]);

        let t = st.tensor("features").unwrap();
        assert_eq!((t.dtype(), t.shape()), (Dtype::F32, &[2usize, 3][..]));
        let back: Vec<u32> = (t.data().chunks_exact(4))
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let want: Vec<u32> = f.iter().map(|v| v.to_bits()).collect();
        assert_eq!(back, want);

        let t = st.tensor("labels").unwrap();
        assert_eq!((t.dtype(), t.shape()), (Dtype::I64, &[5usize][..]));
        let back: Vec<i64> = (t.data().chunks_exact(8))
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(back, ints);

        let t = st.tensor("split").unwrap();
        assert_eq!((t.dtype(), t.shape()), (Dtype::U8, &[3usize][..]));
        assert_eq!(t.data(), bytes);

        let (_, meta) = safetensors::SafeTensors::read_metadata(&raw).unwrap();
        assert_eq!(meta.metadata().as_ref(), Some(&metadata));

        // Our own readers agree with the crate.
        let (shape, values) = f32_tensor(&path, &raw, "features").unwrap();
        assert_eq!(shape, [2, 3]);
        let bits: Vec<u32> = values.iter().map(|v| v.to_bits()).collect();
        assert_eq!(bits, want);
        let header = read_header(&path).unwrap();
        assert_eq!(header.metadata, metadata);
        assert_eq!(header.tensors["features"], ("F32".to_owned(), vec![2, 3]));
        assert_eq!(header.tensors["labels"], ("I64".to_owned(), vec![5]));
        assert_eq!(header.tensors["split"], ("U8".to_owned(), vec![3]));
        assert_eq!(header.file_len, raw.len() as u64);
    }

    #[test]
    fn wrong_dtypes_names_and_shapes_are_errors() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("t.safetensors");
        write(&path, &[Tensor::i64("labels", &[1, 2])], HashMap::new()).unwrap();
        let raw = std::fs::read(&path).unwrap();
        let e = f32_tensor(&path, &raw, "labels").unwrap_err().to_string();
        assert!(e.contains("'labels' is I64, expected F32"), "{e}");
        assert!(e.contains("t.safetensors"), "{e}");
        assert!(f32_tensor(&path, &raw, "features").is_err());
        // A cut-short file is refused by the full reader, and its header says how
        // long it should have been.
        std::fs::write(&path, &raw[..raw.len() - 3]).unwrap();
        let cut = std::fs::read(&path).unwrap();
        let e = f32_tensor(&path, &cut, "labels").unwrap_err().to_string();
        assert!(e.contains("t.safetensors"), "{e}");
        assert_eq!(read_header(&path).unwrap().file_len, raw.len() as u64);

        // Three values cannot fill a [2, 2] tensor: nothing is written.
        let bad = d.path().join("bad.safetensors");
        let e = write(
            &bad,
            &[Tensor::f32("x", vec![2, 2], &[1.0; 3])],
            HashMap::new(),
        );
        assert!(e.is_err());
        assert!(!bad.exists());
        assert_eq!(files_in(d.path()), ["t.safetensors"]);
    }

    #[test]
    fn unreadable_headers_are_errors() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("h.safetensors");
        for bytes in [
            &b"\x10\x00"[..],
            &b"\x05\x00\x00\x00\x00\x00\x00\x00{}"[..],
            &b"\x02\x00\x00\x00\x00\x00\x00\x00[]"[..],
            &b"\x02\x00\x00\x00\x00\x00\x00\x00{x"[..],
            &u64::MAX.to_le_bytes()[..],
        ] {
            std::fs::write(&path, bytes).unwrap();
            assert!(read_header(&path).is_err(), "{bytes:?}");
        }
        assert!(read_header(&d.path().join("missing.safetensors")).is_err());
    }

    #[test]
    fn atomic_writes_replace_whole_files() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("sub/labels.txt");
        write_atomic(&path, b"a much longer first version\n").unwrap();
        write_atomic(&path, b"short\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"short\n");
        assert_eq!(files_in(&d.path().join("sub")), ["labels.txt"]);
    }
}
