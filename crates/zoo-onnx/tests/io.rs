//! Loading and saving: round trips, atomic replacement, external data, errors.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use zoo_onnx::proto::StringStringEntryProto;
use zoo_onnx::proto::tensor_proto::DataLocation;
use zoo_onnx::{OnnxError, load, save};

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn save_then_load_round_trips_and_replaces_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.onnx");
    save(&conv_model(), &path).unwrap();
    assert_eq!(load(&path).unwrap(), conv_model());

    save(&mlp_model(), &path).unwrap();
    assert_eq!(
        load(&path).unwrap(),
        mlp_model(),
        "an existing file is replaced"
    );
    assert_eq!(
        files_in(dir.path()),
        ["model.onnx"],
        "no temporary files left behind"
    );
}

#[test]
fn save_into_a_missing_directory_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing/model.onnx");
    let err = save(&mlp_model(), &path).unwrap_err();
    assert!(
        matches!(&err, OnnxError::Io { path: p, .. } if *p == path),
        "{err:?}"
    );
    assert!(err.to_string().contains("missing/model.onnx"), "{err}");
}

#[test]
fn load_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.onnx");
    let err = load(&missing).unwrap_err();
    assert!(
        matches!(&err, OnnxError::Io { path, .. } if *path == missing),
        "{err:?}"
    );

    // Field 7 (graph) announcing 16 bytes that are not there.
    let truncated = dir.path().join("truncated.onnx");
    fs::write(&truncated, [0x3a, 0x10, 0x0a]).unwrap();
    let err = load(&truncated).unwrap_err();
    assert!(
        matches!(&err, OnnxError::Decode { path, .. } if *path == truncated),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("truncated.onnx: not a valid ONNX model"),
        "{err}"
    );
}

/// The MLP model with `w1` moved to `weights/w1.bin` at `offset`, after junk bytes.
fn with_external_w1(dir: &Path, location: &str, offset: usize, length: Option<usize>) {
    let mut model = mlp_model();
    let w1 = &mut model.graph.as_mut().unwrap().initializer[0];
    let mut bytes = vec![0xAB; offset];
    bytes.extend(w1.float_data.iter().flat_map(|v| v.to_le_bytes()));
    fs::create_dir_all(dir.join("weights")).unwrap();
    fs::write(dir.join("weights/w1.bin"), bytes).unwrap();

    w1.float_data.clear();
    w1.data_location = Some(DataLocation::External as i32);
    let mut entries = vec![
        ("location", location.to_owned()),
        ("offset", offset.to_string()),
    ];
    entries.extend(length.map(|l| ("length", l.to_string())));
    w1.external_data = (entries.into_iter())
        .map(|(k, v)| StringStringEntryProto {
            key: Some(k.into()),
            value: Some(v),
        })
        .collect();
    save(&model, dir.join("model.onnx")).unwrap();
}

#[test]
fn load_inlines_external_data() {
    let dir = tempfile::tempdir().unwrap();
    with_external_w1(dir.path(), "weights/w1.bin", 16, Some(32 * 4));
    let model = load(dir.path().join("model.onnx")).unwrap();
    let w1 = initializer(&model, "w1");
    assert_eq!(floats(w1), mlp_w1());
    assert!(w1.external_data.is_empty());
    assert_eq!(w1.data_location(), DataLocation::Default);

    // Without `length` the tensor runs to the end of the file.
    with_external_w1(dir.path(), "./weights/w1.bin", 4, None);
    let model = load(dir.path().join("model.onnx")).unwrap();
    assert_eq!(floats(initializer(&model, "w1")), mlp_w1());
}

#[test]
fn external_data_problems_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let model_path = dir.path().join("model.onnx");
    let cases = [
        ("../w1.bin", None, "outside the model's directory"),
        ("/etc/hostname", None, "outside the model's directory"),
        ("weights/w1.bin", Some(1000), "needs 1000 bytes at offset 8"),
    ];
    for (location, length, expected) in cases {
        with_external_w1(dir.path(), location, 8, length);
        let err = load(&model_path).unwrap_err();
        assert!(
            matches!(&err, OnnxError::ExternalData { tensor, .. } if tensor == "w1"),
            "{err:?}"
        );
        assert!(err.to_string().contains(expected), "{err}");
    }

    with_external_w1(dir.path(), "weights/absent.bin", 8, None);
    let err = load(&model_path).unwrap_err();
    assert!(err.to_string().contains("absent.bin"), "{err}");
}
