//! Which files of a repository a card lists: by default what a user of the
//! model needs (weights in safetensors rather than pickle, the ONNX export,
//! configs, tokenizer, docs), or what `--include` / `--exclude` globs say, as
//! in `hf download` (`*` also matches `/`).

use crate::info::HubFile;

/// `--include` and `--exclude` patterns, already parsed.
#[derive(Debug, Clone, Default)]
pub struct FileFilter {
    pub include: Vec<glob::Pattern>,
    pub exclude: Vec<glob::Pattern>,
}

impl FileFilter {
    /// Parse glob patterns, naming the bad one.
    pub fn new(include: &[String], exclude: &[String]) -> Result<FileFilter, String> {
        let parse = |p: &String| {
            glob::Pattern::new(p).map_err(|e| format!("bad glob pattern '{p}': {}", e.msg))
        };
        Ok(FileFilter {
            include: include.iter().map(parse).collect::<Result<_, _>>()?,
            exclude: exclude.iter().map(parse).collect::<Result<_, _>>()?,
        })
    }
}

/// Small files a model's library reads beside the weights.
const CONFIG_NAMES: &[&str] = &[
    "config.json",
    "generation_config.json",
    "preprocessor_config.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "model.safetensors.index.json",
    "pytorch_model.bin.index.json",
];

const TOKENIZER_NAMES: &[&str] = &[
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
];

const PICKLE_WEIGHTS: &[&str] = &["pytorch_model.bin", "model.bin", "model.pt", "model.pth"];

/// The files a card lists, in path order.
pub fn select<'a>(files: &'a [HubFile], filter: &FileFilter) -> Vec<&'a HubFile> {
    let chosen: Vec<&HubFile> = if filter.include.is_empty() {
        default_files(files)
    } else {
        files
            .iter()
            .filter(|f| filter.include.iter().any(|p| p.matches(f.path.as_str())))
            .collect()
    };
    chosen
        .into_iter()
        .filter(|f| !filter.exclude.iter().any(|p| p.matches(f.path.as_str())))
        .collect()
}

fn default_files(files: &[HubFile]) -> Vec<&HubFile> {
    let at_root = |f: &&HubFile| f.path.depth() == 1;
    let name = |f: &HubFile| f.path.file_name().to_owned();
    let has_safetensors = files
        .iter()
        .any(|f| at_root(&f) && name(f).ends_with(".safetensors"));
    let onnx = main_onnx(files);
    files
        .iter()
        .filter(|f| {
            let n = name(f);
            let p = f.path.as_str();
            if onnx.is_some_and(|o| o == p) {
                return true;
            }
            // ONNX external data beside the chosen graph.
            if let Some(o) = onnx
                && (p == format!("{o}_data") || p == format!("{o}.data"))
            {
                return true;
            }
            // sentence-transformers modules: `1_Pooling/config.json` and the like.
            if f.path.depth() == 2 && n == "config.json" {
                let dir = p.split('/').next().unwrap_or("");
                return dir
                    .split_once('_')
                    .is_some_and(|(num, _)| num.bytes().all(|b| b.is_ascii_digit()));
            }
            if !at_root(f) {
                return false;
            }
            if n.ends_with(".safetensors") {
                return true;
            }
            if PICKLE_WEIGHTS.contains(&n.as_str()) || is_pickle_shard(&n) {
                return !has_safetensors;
            }
            CONFIG_NAMES.contains(&n.as_str())
                || TOKENIZER_NAMES.contains(&n.as_str())
                || n == "README.md"
                || n.starts_with("LICENSE")
        })
        .collect()
}

/// `pytorch_model-00001-of-00002.bin`.
fn is_pickle_shard(name: &str) -> bool {
    name.starts_with("pytorch_model-") && name.ends_with(".bin")
}

/// The ONNX graph zoo would run: optimum's `onnx/model.onnx`, else a root
/// `model.onnx`, else the only root `.onnx` file.
pub fn main_onnx(files: &[HubFile]) -> Option<&str> {
    for preferred in ["onnx/model.onnx", "model.onnx"] {
        if files.iter().any(|f| f.path == preferred) {
            return Some(preferred);
        }
    }
    let mut root = files
        .iter()
        .filter(|f| f.path.depth() == 1 && f.path.as_str().ends_with(".onnx"));
    match (root.next(), root.next()) {
        (Some(only), None) => Some(only.path.as_str()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zoo_types::RelPath;

    fn files(paths: &[&str]) -> Vec<HubFile> {
        paths
            .iter()
            .map(|p| HubFile {
                path: RelPath::parse(p).unwrap(),
                size: Some(1),
                lfs_sha256: None,
                git_blob: None,
            })
            .collect()
    }

    fn names(v: Vec<&HubFile>) -> Vec<String> {
        v.into_iter().map(|f| f.path.to_string()).collect()
    }

    #[test]
    fn safetensors_win_over_pickle_and_onnx_variants_are_left_out() {
        let repo = files(&[
            ".gitattributes",
            "1_Pooling/config.json",
            "README.md",
            "config.json",
            "model.safetensors",
            "onnx/model.onnx",
            "onnx/model_qint8_avx512.onnx",
            "openvino/openvino_model.bin",
            "pytorch_model.bin",
            "rust_model.ot",
            "tf_model.h5",
            "tokenizer.json",
            "train_script.py",
        ]);
        assert_eq!(
            names(select(&repo, &FileFilter::default())),
            [
                "1_Pooling/config.json",
                "README.md",
                "config.json",
                "model.safetensors",
                "onnx/model.onnx",
                "tokenizer.json"
            ]
        );
    }

    #[test]
    fn pickle_is_chosen_only_without_safetensors() {
        let repo = files(&["config.json", "pytorch_model.bin"]);
        assert_eq!(
            names(select(&repo, &FileFilter::default())),
            ["config.json", "pytorch_model.bin"]
        );
    }

    #[test]
    fn globs_replace_the_default_as_in_hf_download() {
        let repo = files(&["a/x.json", "b.onnx", "c.onnx", "d.txt"]);
        let f = FileFilter::new(&["*.onnx".into(), "a/*".into()], &["c.*".into()]).unwrap();
        assert_eq!(names(select(&repo, &f)), ["a/x.json", "b.onnx"]);
        assert!(
            FileFilter::new(&["[".into()], &[])
                .unwrap_err()
                .contains("'['")
        );
    }
}
