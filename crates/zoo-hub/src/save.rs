//! Cards made from the hub go into the user's catalog directory
//! (`$ZOO_HOME/catalog`) through zoo-registry's checked, atomic writer.

use std::path::{Path, PathBuf};

use zoo_registry::Card;
use zoo_types::ClassName;

use crate::error::HubError;

/// Write `card` (and its class names) into the catalog directory `dir`.
pub fn save(dir: &Path, card: &Card, labels: Option<&[ClassName]>) -> Result<PathBuf, HubError> {
    // The catalog reads a card only up to this size: a larger one would be
    // written, then skipped with a warning (a pull that said it succeeded,
    // and a model that is not there).
    let size = render(card)?.len() as u64;
    if size > CARD_BYTES {
        return Err(too_large(card, size));
    }
    zoo_registry::save_card(dir, card, labels, &header(card))
        .map_err(|e| HubError::Invalid(format!("the card zoo made was not written: {e}")))
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

fn header(card: &Card) -> String {
    format!(
        "Written by zoo from the Hugging Face Hub's metadata for {}.\n`zoo pull {}` again to refresh it.",
        card.hub
            .as_ref()
            .map_or("a repository".to_owned(), |h| h.repo.to_string()),
        card.name
    )
}

/// The card's text as `zoo_registry::save_card` writes it.
fn render(card: &Card) -> Result<String, HubError> {
    let yaml = serde_yaml::to_string(card).map_err(|e| HubError::Invalid(e.to_string()))?;
    let mut text = String::new();
    for line in header(card).lines() {
        text.push_str(&format!("# {line}\n"));
    }
    text.push_str(&yaml);
    Ok(text)
}
