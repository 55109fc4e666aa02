//! Cards made from the hub go into the user's catalog directory
//! (`$ZOO_HOME/catalog`), each written whole or not at all, and checked as
//! the catalog will read it before it is written.

use std::io::Write;
use std::path::{Path, PathBuf};

use zoo_registry::Card;
use zoo_types::ClassName;

use crate::error::HubError;

/// Write `card` as `<dir>/<name>.yaml` (and its class names as
/// `<dir>/labels/<name>.txt`), replacing an earlier version atomically.
pub fn save(dir: &Path, card: &Card, labels: Option<&[ClassName]>) -> Result<PathBuf, HubError> {
    let text = render(card)?;
    // The catalog reads a card only up to this size: a larger one would be
    // written, then skipped with a warning (a pull that said it succeeded,
    // and a model that is not there).
    if text.len() as u64 > CARD_BYTES {
        return Err(too_large(card, text.len() as u64));
    }
    let path = dir.join(format!("{}.yaml", card.name));
    // What zoo writes must load: the same check as `zoo registry check`.
    zoo_registry::check_card_text(&path.display().to_string(), &text)
        .map_err(|e| HubError::Invalid(format!("the card zoo made is not valid: {e}")))?;
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

/// The most a pull adds to a card made from metadata: the sha256 of each
/// file pinned by its git blob id (a line of about 80 bytes), and the io
/// section (at most three inputs and one output, each name at most 200 bytes).
const PULL_ADDS_PER_FILE: u64 = 96;
const PULL_ADDS_IO: u64 = 16 << 10;
const CARD_BYTES: u64 = zoo_fs::limits::CARD_BYTES;

/// Whether `card`, made from metadata, will still fit the catalog's card size
/// once a pull has completed it: checked before any file is fetched.
pub(crate) fn check_fits(card: &Card) -> Result<(), HubError> {
    let unhashed = card.files.iter().filter(|f| f.sha256.is_none()).count() as u64;
    let size = render(card)?.len() as u64 + unhashed * PULL_ADDS_PER_FILE + PULL_ADDS_IO;
    if size > CARD_BYTES {
        return Err(too_large(card, size));
    }
    Ok(())
}

fn too_large(card: &Card, size: u64) -> HubError {
    HubError::Invalid(format!(
        "the card for '{}' would be about {size} bytes ({} files), more than the {CARD_BYTES} a \
         catalog card may have: choose fewer files with --include / --exclude",
        card.name,
        card.files.len()
    ))
}

fn render(card: &Card) -> Result<String, HubError> {
    let yaml = serde_yaml::to_string(card).map_err(|e| HubError::Invalid(e.to_string()))?;
    Ok(format!(
        "# Written by zoo from the Hugging Face Hub's metadata for {}.\n# `zoo pull {}` again to refresh it.\n{yaml}",
        card.hub
            .as_ref()
            .map_or("a repository".to_owned(), |h| h.repo.to_string()),
        card.name
    ))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), HubError> {
    let err = |source| HubError::Write {
        path: path.to_owned(),
        source,
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
