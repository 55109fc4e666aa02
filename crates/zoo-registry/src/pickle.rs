//! Which file names are Python pickles: the one list that the card check, the
//! pull gate and the audit share. Matched case-insensitively (`MODEL.PT`,
//! `weights.Pickle`); zoo-fetch also sniffs the bytes, since a name can lie.

/// Extensions of formats that are (or wrap) a Python pickle, which runs code when
/// loaded: PyTorch (`.bin`, `.pt`, `.pth`, `.ckpt`), plain pickles and joblib.
pub const PICKLE_EXTENSIONS: [&str; 7] = ["bin", "pt", "pth", "pkl", "pickle", "ckpt", "joblib"];

/// The extension of `path` (a card path or a file name) if it is a pickle one,
/// lower-cased (`"pt"` for `Model.PT`).
pub fn pickle_extension(path: &str) -> Option<String> {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let (_, ext) = name.rsplit_once('.')?;
    let ext = ext.to_ascii_lowercase();
    PICKLE_EXTENSIONS.contains(&ext.as_str()).then_some(ext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_of_every_pickle_extension() {
        for name in [
            "a.pkl",
            "dir/a.PICKLE",
            "a.pickle",
            "pytorch_model.bin",
            "m.Pt",
            "m.PTH",
            "x.ckpt",
            "clf.joblib",
        ] {
            assert!(pickle_extension(name).is_some(), "{name}");
        }
        assert_eq!(pickle_extension("A.PiCkLe").as_deref(), Some("pickle"));
        for name in [
            "a.onnx",
            "a.safetensors",
            "pkl",
            "dir.pkl/model.onnx",
            "a.pkl.txt",
        ] {
            assert_eq!(pickle_extension(name), None, "{name}");
        }
    }
}
