//! Moving initializers out of a model into one external-data file, so that
//! models sharing weights (every fine-tune of one base) share that file byte
//! for byte, and with it one blob in the store, the registry and the network.

use std::collections::HashSet;

use crate::proto::tensor_proto::DataLocation;
use crate::proto::{ModelProto, StringStringEntryProto, TensorProto};
use crate::{OnnxError, Result};

/// Tensors start at multiples of this, so ONNX Runtime can map them from the
/// file instead of copying (its mmap path wants page-aligned offsets).
const ALIGNMENT: usize = 4096;

/// Initializers below this size stay inside the model: moving them would cost
/// more padding than it saves.
pub const MIN_EXTERNAL_BYTES: usize = 1024;

/// Moves the `raw_data` of the graph initializers named in `names` (those of at
/// least [`MIN_EXTERNAL_BYTES`]) into one buffer and points each tensor at it
/// as ONNX external data in `location`, a file beside the model. Returns the
/// buffer, which the caller writes to that file.
///
/// The layout depends only on the moved tensors and their order in the graph,
/// so two models cut from the same backbone produce identical bytes.
pub fn externalize(
    model: &mut ModelProto,
    names: &HashSet<String>,
    location: &str,
) -> Result<Vec<u8>> {
    check_location(location)?;
    let graph = model
        .graph
        .as_mut()
        .ok_or_else(|| OnnxError::InvalidGraph("the model has no graph".into()))?;
    let mut data = Vec::new();
    for tensor in graph.initializer.iter_mut() {
        let movable = names.contains(tensor.name())
            && tensor.data_location() != DataLocation::External
            && tensor
                .raw_data
                .as_ref()
                .is_some_and(|raw| raw.len() >= MIN_EXTERNAL_BYTES);
        if !movable {
            continue;
        }
        let raw = tensor.raw_data.take().unwrap_or_default();
        data.resize(data.len().next_multiple_of(ALIGNMENT), 0);
        let offset = data.len();
        data.extend_from_slice(&raw);
        point_at(tensor, location, offset, raw.len());
    }
    Ok(data)
}

fn point_at(tensor: &mut TensorProto, location: &str, offset: usize, length: usize) {
    let entry = |key: &str, value: String| StringStringEntryProto {
        key: Some(key.to_owned()),
        value: Some(value),
    };
    tensor.data_location = Some(DataLocation::External as i32);
    tensor.external_data = vec![
        entry("location", location.to_owned()),
        entry("offset", offset.to_string()),
        entry("length", length.to_string()),
    ];
}

/// A plain file name: external data beside the model, never in another folder.
fn check_location(location: &str) -> Result<()> {
    let plain = !location.is_empty()
        && !location.starts_with('.')
        && location
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if plain {
        Ok(())
    } else {
        Err(OnnxError::InvalidGraph(format!(
            "external data location {location:?} is not a plain file name"
        )))
    }
}
