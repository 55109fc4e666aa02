//! Cards zoo writes itself (made from hub metadata, pulled from a registry)
//! go into the user's catalog directory (`$ZOO_HOME/catalog`), each written
//! whole or not at all, and checked as the catalog will read it first.

use std::io::Write;
use std::path::{Path, PathBuf};

use zoo_types::ClassName;

use crate::Card;
use crate::error::RegistryError;

/// Write `card` as `<dir>/<name>.yaml` (and its class names as
/// `<dir>/labels/<name>.txt`), replacing an earlier version atomically;
/// `header` is a comment line or two saying where the card came from.
pub fn save_card(
    dir: &Path,
    card: &Card,
    labels: Option<&[ClassName]>,
    header: &str,
) -> Result<PathBuf, RegistryError> {
    let yaml = serde_yaml::to_string(card).map_err(|e| RegistryError::Write {
        path: dir.to_owned(),
        message: e.to_string(),
    })?;
    let mut text = String::new();
    for line in header.lines() {
        text.push_str(&format!("# {line}\n"));
    }
    text.push_str(&yaml);
    let path = dir.join(format!("{}.yaml", card.name));
    // What zoo writes must load: the same check as `zoo registry check`.
    crate::check_card_text(&path.display().to_string(), &text)?;
    if let Some(labels) = labels {
        let mut body = String::new();
        for l in labels {
            body.push_str(l.as_str());
            body.push('\n');
        }
        write_atomically(
            &dir.join("labels").join(format!("{}.txt", card.name)),
            body.as_bytes(),
        )?;
    }
    write_atomically(&path, text.as_bytes())?;
    Ok(path)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    let err = |source: std::io::Error| RegistryError::Write {
        path: path.to_owned(),
        message: source.to_string(),
    };
    let parent = path.parent().expect("catalog files have a folder");
    std::fs::create_dir_all(parent).map_err(err)?;
    let name = path.file_name().expect("a file name").to_string_lossy();
    let tmp = parent.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(())
}
