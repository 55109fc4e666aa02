//! Writing a built model: the protobuf is streamed tensor by tensor, so the
//! weights are never held twice; models whose weights pass a threshold put them
//! in an external data file beside the `.onnx` (protobuf's 2 GiB limit).

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use prost::Message;
use prost::encoding::{WireType, encode_key, encode_varint};
use zoo_onnx::proto::tensor_proto::DataLocation;
use zoo_onnx::proto::{ModelProto, StringStringEntryProto};

use crate::error::{ConvertError, Result};

/// Weights above this many bytes go to external data: protobuf refuses
/// messages over 2 GiB, and the graph itself needs some room.
pub const EXTERNAL_DATA_ABOVE: u64 = 3 << 29; // 1.5 GiB

/// Largest protobuf message ONNX Runtime (and protobuf itself) accepts.
const MAX_PROTOBUF_BYTES: u64 = i32::MAX as u64;
/// Tensors smaller than this stay in the graph when the weights go external.
const INLINE_BELOW: usize = 1024;
const MODEL_GRAPH_TAG: u32 = 7;
const GRAPH_INITIALIZER_TAG: u32 = 5;
const TENSOR_RAW_DATA_TAG: u32 = 9;

/// What [`write_model`] wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub onnx: PathBuf,
    /// The external data file, when the weights were put outside the protobuf.
    pub external_data: Option<PathBuf>,
}

/// The external data file name for a model at `path`: `model.onnx.data`.
pub fn data_file_name(path: &Path) -> String {
    format!(
        "{}.data",
        path.file_name()
            .map_or("model.onnx".into(), |n| n.to_string_lossy())
    )
}

/// Writes `model` to `path`, the weights external when their total passes
/// `external_above` bytes. Files appear under their names only complete: each is
/// written to a temporary sibling, synced and renamed.
pub fn write_model(mut model: ModelProto, path: &Path, external_above: u64) -> Result<Written> {
    let mut graph = model.graph.take().unwrap_or_default();
    let initializers = std::mem::take(&mut graph.initializer);
    let weight_bytes: u64 = initializers.iter().map(|t| t.raw_data().len() as u64).sum();
    let external = weight_bytes > external_above;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let data_name = data_file_name(path);
    let data_path = dir.join(&data_name);
    let tmp = |p: &Path| {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        dir.join(format!(".{name}.{}.tmp", std::process::id()))
    };
    let (tmp_onnx, tmp_data) = (tmp(path), tmp(&data_path));
    let result = (|| -> Result<()> {
        let mut data = external.then(|| create(&tmp_data)).transpose()?;
        let mut offset = 0u64;
        let mut encoded_inits = Vec::with_capacity(initializers.len());
        for mut tensor in initializers {
            // Small tensors (shapes, axes, scalars) stay inline, as onnx's own
            // converter keeps them: shape inference needs to read them.
            let large = tensor.raw_data().len() >= INLINE_BELOW;
            if let Some((file, _)) = data.as_mut().filter(|_| large) {
                let bytes = tensor.raw_data.take().unwrap_or_default();
                file.write_all(&bytes)
                    .map_err(ConvertError::io(&tmp_data))?;
                tensor.data_location = Some(DataLocation::External as i32);
                tensor.external_data = vec![
                    entry("location", &data_name),
                    entry("offset", &offset.to_string()),
                    entry("length", &bytes.len().to_string()),
                ];
                offset += bytes.len() as u64;
            }
            encoded_inits.push(tensor);
        }
        if let Some((file, p)) = data {
            finish(file, &p)?;
        }
        let graph_len = graph.encoded_len()
            + encoded_inits
                .iter()
                .map(|t| field_len(GRAPH_INITIALIZER_TAG, t.encoded_len()))
                .sum::<usize>();
        let total = model.encoded_len() + field_len(MODEL_GRAPH_TAG, graph_len);
        if total as u64 > MAX_PROTOBUF_BYTES {
            return Err(zoo_onnx::OnnxError::TooLarge {
                path: path.to_owned(),
                bytes: total as u64,
            }
            .into());
        }

        let (mut out, p) = create(&tmp_onnx)?;
        let io = |e| ConvertError::io(&p)(e);
        out.write_all(&model.encode_to_vec()).map_err(io)?;
        let mut head = Vec::new();
        encode_key(MODEL_GRAPH_TAG, WireType::LengthDelimited, &mut head);
        encode_varint(graph_len as u64, &mut head);
        out.write_all(&head).map_err(io)?;
        out.write_all(&graph.encode_to_vec()).map_err(io)?;
        // Repeated fields may come in any order after the rest of the message.
        for mut tensor in encoded_inits {
            // The tensor's small fields are encoded, its raw_data written from
            // where it lies: the weights are never copied into the output buffer.
            let len = tensor.encoded_len();
            let raw = tensor.raw_data.take();
            let mut head = Vec::with_capacity(256);
            encode_key(GRAPH_INITIALIZER_TAG, WireType::LengthDelimited, &mut head);
            encode_varint(len as u64, &mut head);
            tensor.encode(&mut head).expect("a Vec grows as needed");
            if let Some(raw) = raw {
                encode_key(TENSOR_RAW_DATA_TAG, WireType::LengthDelimited, &mut head);
                encode_varint(raw.len() as u64, &mut head);
                out.write_all(&head).map_err(io)?;
                out.write_all(&raw).map_err(io)?;
            } else {
                out.write_all(&head).map_err(io)?;
            }
        }
        finish(out, &p)?;
        if external {
            fs::rename(&tmp_data, &data_path).map_err(ConvertError::io(&data_path))?;
        }
        fs::rename(&tmp_onnx, path).map_err(ConvertError::io(path))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp_onnx);
        let _ = fs::remove_file(&tmp_data);
    }
    result?;
    Ok(Written {
        onnx: path.to_owned(),
        external_data: external.then_some(data_path),
    })
}

fn field_len(tag: u32, len: usize) -> usize {
    prost::encoding::key_len(tag) + prost::encoding::encoded_len_varint(len as u64) + len
}

fn entry(key: &str, value: &str) -> StringStringEntryProto {
    StringStringEntryProto {
        key: Some(key.into()),
        value: Some(value.into()),
    }
}

fn create(path: &Path) -> Result<(BufWriter<File>, PathBuf)> {
    let file = File::create(path).map_err(ConvertError::io(path))?;
    Ok((BufWriter::with_capacity(1 << 20, file), path.to_owned()))
}

fn finish(out: BufWriter<File>, path: &Path) -> Result<()> {
    let file = out
        .into_inner()
        .map_err(|e| ConvertError::io(path)(e.into_error()))?;
    file.sync_all().map_err(ConvertError::io(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use zoo_onnx::proto::{GraphProto, OperatorSetIdProto, TensorProto};

    fn tiny_model() -> ModelProto {
        let weight = TensorProto {
            name: Some("w".into()),
            dims: vec![2, 300],
            data_type: Some(crate::builder::FLOAT),
            raw_data: Some((0..600).flat_map(|v| (v as f32).to_le_bytes()).collect()),
            ..Default::default()
        };
        let bias = TensorProto {
            name: Some("b".into()),
            dims: vec![3],
            data_type: Some(crate::builder::FLOAT),
            raw_data: Some(
                [7f32, 8., 9.]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
            ),
            ..Default::default()
        };
        ModelProto {
            ir_version: Some(8),
            opset_import: vec![OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(17),
            }],
            graph: Some(GraphProto {
                name: Some("g".into()),
                initializer: vec![weight, bias],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn streamed_model_decodes_to_the_same_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.onnx");
        let written = write_model(tiny_model(), &path, u64::MAX).unwrap();
        assert!(written.external_data.is_none());
        let bytes = fs::read(&path).unwrap();
        assert_eq!(ModelProto::decode(bytes.as_slice()).unwrap(), tiny_model());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary files left"
        );
    }

    #[test]
    fn external_data_loads_back_to_the_same_weights() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.onnx");
        let written = write_model(tiny_model(), &path, 0).unwrap();
        let data = written.external_data.unwrap();
        assert_eq!(data, dir.path().join("m.onnx.data"));
        // The 2x300 weight goes out; the 3-value bias stays inline.
        assert_eq!(fs::metadata(&data).unwrap().len(), 2400);
        // zoo-onnx's loader resolves external data back into raw_data.
        let loaded = zoo_onnx::load(&path).unwrap();
        let expected = tiny_model();
        let inits = &loaded.graph.unwrap().initializer;
        let want = &expected.graph.unwrap().initializer;
        for (got, want) in inits.iter().zip(want) {
            assert_eq!(got.raw_data, want.raw_data, "{}", got.name());
        }
    }
}
