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
    };
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
        header.tensors.insert(k.clone(), (dtype, shape));
    }
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
