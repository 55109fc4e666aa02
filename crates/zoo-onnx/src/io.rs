use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use prost::Message;

use crate::graph::for_each_tensor_mut;
use crate::proto::tensor_proto::DataLocation;
use crate::proto::{ModelProto, TensorProto};
use crate::{OnnxError, Result};

/// Largest protobuf message the ONNX runtimes (and protobuf itself) accept.
const MAX_MODEL_BYTES: u64 = i32::MAX as u64;

/// Reads an ONNX model, pulling any external tensor data into `raw_data` so the
/// returned model is self-contained and can be saved anywhere as a single file.
pub fn load(path: impl AsRef<Path>) -> Result<ModelProto> {
    let path = path.as_ref();
    let io_err = |source| OnnxError::Io {
        path: path.to_owned(),
        source,
    };
    let size = fs::metadata(path).map_err(io_err)?.len();
    check_size(path, size)?;
    let bytes = fs::read(path).map_err(io_err)?;
    let mut model = ModelProto::decode(bytes.as_slice()).map_err(|source| OnnxError::Decode {
        path: path.to_owned(),
        source,
    })?;

    let dir = parent_dir(path);
    let mut total = size;
    for_each_tensor_mut(&mut model, &mut |tensor| {
        inline_external_data(tensor, dir, path, &mut total)
    })?;
    Ok(model)
}

/// Writes `model` to `path` via a temporary sibling file and a rename, so readers
/// see either the old file or the complete new one, never a partial write.
pub fn save(model: &ModelProto, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    check_size(path, model.encoded_len() as u64)?;
    write_atomically(path, &model.encode_to_vec()).map_err(|source| OnnxError::Io {
        path: path.to_owned(),
        source,
    })
}

pub(crate) fn check_size(path: &Path, bytes: u64) -> Result<()> {
    if bytes > MAX_MODEL_BYTES {
        return Err(OnnxError::TooLarge {
            path: path.to_owned(),
            bytes,
        });
    }
    Ok(())
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

fn inline_external_data(
    tensor: &mut TensorProto,
    dir: &Path,
    model_path: &Path,
    total: &mut u64,
) -> Result<()> {
    if tensor.data_location() != DataLocation::External {
        return Ok(());
    }
    let fail = |path: &Path, reason: String| OnnxError::ExternalData {
        path: path.to_owned(),
        tensor: tensor.name().to_owned(),
        reason,
    };
    let number = |key: &str, value: &str| {
        value.parse::<u64>().map_err(|_| {
            fail(
                model_path,
                format!("`{key}` is not a byte count: {value:?}"),
            )
        })
    };

    let (mut location, mut offset, mut length) = (None, 0, None);
    for entry in &tensor.external_data {
        match entry.key() {
            "location" => location = Some(entry.value()),
            "offset" => offset = number("offset", entry.value())?,
            "length" => length = Some(number("length", entry.value())?),
            // `checksum` and unknown keys are advisory.
            _ => {}
        }
    }
    let location = location.ok_or_else(|| fail(model_path, "no `location` entry".into()))?;
    let file_path = resolve_location(dir, location).ok_or_else(|| {
        fail(
            model_path,
            format!("location {location:?} is outside the model's directory"),
        )
    })?;

    let io_err = |source| OnnxError::Io {
        path: file_path.clone(),
        source,
    };
    let mut file = File::open(&file_path).map_err(io_err)?;
    let file_len = file.metadata().map_err(io_err)?.len();
    let length = length.unwrap_or(file_len.saturating_sub(offset));
    if offset.checked_add(length).is_none_or(|end| end > file_len) {
        return Err(fail(
            &file_path,
            format!("needs {length} bytes at offset {offset} but the file has {file_len}"),
        ));
    }
    *total += length;
    check_size(model_path, *total)?;

    let mut data = vec![0; length as usize];
    file.seek(SeekFrom::Start(offset)).map_err(io_err)?;
    file.read_exact(&mut data).map_err(io_err)?;
    tensor.raw_data = Some(data);
    tensor.external_data.clear();
    tensor.data_location = None;
    Ok(())
}

/// Joins an external-data location onto the model directory, refusing absolute
/// paths and `..` so a model file cannot make us read arbitrary files.
fn resolve_location(dir: &Path, location: &str) -> Option<PathBuf> {
    let relative = Path::new(location);
    let inside = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    (inside && !location.is_empty()).then(|| dir.join(relative))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?;
    let dir = parent_dir(path);

    // Same directory, so the rename stays on one filesystem and is atomic.
    let (tmp_path, mut file) = loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            ".{}.{}-{n}.tmp",
            file_name.to_string_lossy(),
            std::process::id()
        );
        let candidate = dir.join(name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(file) => break (candidate, file),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    };

    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            drop(file);
            fs::rename(&tmp_path, path)
        });
    if written.is_err() {
        let _ = fs::remove_file(&tmp_path);
    }
    written?;

    // Persist the rename itself; only possible (and needed) where directories open.
    #[cfg(unix)]
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_limit_is_two_gib() {
        assert!(check_size(Path::new("m.onnx"), MAX_MODEL_BYTES).is_ok());
        let err = check_size(Path::new("m.onnx"), MAX_MODEL_BYTES + 1).unwrap_err();
        assert!(matches!(err, OnnxError::TooLarge { .. }));
        assert!(err.to_string().contains("2 GiB"), "{err}");
    }

    #[test]
    fn external_locations_stay_inside_the_model_dir() {
        let dir = Path::new("models");
        assert_eq!(resolve_location(dir, "w.bin"), Some(dir.join("w.bin")));
        assert_eq!(
            resolve_location(dir, "./sub/w.bin"),
            Some(dir.join("./sub/w.bin"))
        );
        assert_eq!(resolve_location(dir, "../w.bin"), None);
        assert_eq!(resolve_location(dir, "/etc/passwd"), None);
        assert_eq!(resolve_location(dir, ""), None);
    }
}
