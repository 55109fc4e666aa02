//! One card of the catalog: its summary now, its [`Entry`] parsed now or, for
//! a card kept in a catalog index, when it is first asked for.

use std::ffi::OsString;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use super::index::{IndexBytes, hash64};
use super::summary::Summary;
use super::{Entry, Origin, layers, par};
use crate::card::Card;
use crate::error::{Diagnostic, RegistryError};

#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub summary: Summary,
    /// Boxed: a card is large, and a catalog moves thousands of slots.
    entry: OnceLock<Box<Entry>>,
    stored: Option<Stored>,
}

/// A card in an index file: its JSON, checked only when it is used.
#[derive(Clone)]
pub(crate) struct Stored {
    pub index: Arc<IndexBytes>,
    pub blob: Range<usize>,
    pub hash: u64,
    /// The card's own file, `dir/name`: its origin, and where it is read
    /// from again if the index turns out to be damaged.
    pub dir: Arc<Path>,
    pub name: OsString,
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stored")
            .field("index", &self.index.path)
            .field("blob", &self.blob)
            .field("name", &self.name)
            .finish()
    }
}

impl Slot {
    pub fn parsed(entry: Entry) -> Slot {
        Slot {
            summary: Summary::of(&entry.card),
            entry: OnceLock::from(Box::new(entry)),
            stored: None,
        }
    }

    pub fn stored(summary: Summary, stored: Stored) -> Slot {
        Slot {
            summary,
            entry: OnceLock::new(),
            stored: Some(stored),
        }
    }

    /// The entry if it is parsed already.
    pub fn ready(&self) -> Option<&Entry> {
        self.entry.get().map(|e| &**e)
    }

    /// The entry, parsing the card from the index on first use.
    pub fn entry(&self) -> Result<&Entry, RegistryError> {
        if let Some(e) = self.entry.get() {
            return Ok(&**e);
        }
        let Some(stored) = &self.stored else {
            unreachable!("a slot is made either parsed or stored")
        };
        let card = stored.load(&self.summary)?;
        Ok(self.entry.get_or_init(|| {
            Box::new(Entry {
                card,
                origin: Origin::Dir {
                    path: stored.dir.join(&stored.name),
                },
            })
        }))
    }
}

/// Parse the cards of `slots` not parsed yet, before most of them are used:
/// when there are many, each index is read in one go rather than card by
/// card, and the cards are parsed on all cores. (A card that fails is left
/// for [`Slot::entry`] to report.)
pub(crate) fn parse_many<'a>(slots: impl Iterator<Item = &'a Slot>) {
    let pending: Vec<&Slot> = slots.filter(|s| s.entry.get().is_none()).collect();
    if pending.len() < MANY {
        return;
    }
    for slot in &pending {
        if let Some(stored) = &slot.stored {
            stored.index.blobs.read_all();
        }
    }
    par::map(&pending, MANY, |s| drop(s.entry()));
}

/// How many unparsed cards make [`parse_many`] worth it.
const MANY: usize = 64;

impl Stored {
    /// The card from its JSON, if the JSON is what the index wrote and says
    /// what the summary says; else, the index being damaged, from the card's
    /// file (parsed and checked as when it was first read), and the index is
    /// removed so that the next zoo writes a good one.
    fn load(&self, summary: &Summary) -> Result<Card, RegistryError> {
        let from_index = self
            .index
            .blobs
            .get(self.blob.clone())
            .filter(|json| hash64(json) == self.hash)
            .and_then(|json| serde_json::from_slice::<Card>(&json).ok())
            .filter(|card| summary.describes(card));
        if let Some(card) = from_index {
            return Ok(card);
        }
        let _ = std::fs::remove_file(&self.index.path);
        let path = self.dir.join(&self.name);
        let card = layers::read_card_file(&path)?;
        if !summary.describes(&card) {
            return Err(RegistryError::Invalid(vec![Diagnostic {
                file: path.display().to_string(),
                line: 0,
                message: "the card changed while zoo read the catalog; run the command again"
                    .to_owned(),
            }]));
        }
        Ok(card)
    }
}
