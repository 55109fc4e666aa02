//! The catalog: the cards embedded in the binary, with user catalogs layered on top.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::card::Card;
use crate::check;
use crate::error::RegistryError;
use crate::labels::parse_labels;

mod index;
pub(crate) mod layers;
mod par;
mod slot;
mod summary;

pub(crate) use layers::read_dir_files;
pub(crate) use slot::{Slot, Stored};
use summary::Field;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// Where a card was read from, for error messages and `zoo info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Embedded { file: String },
    Dir { path: PathBuf },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Embedded { file } => write!(f, "built-in catalog ({file})"),
            Origin::Dir { path } => write!(f, "{}", path.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub card: Card,
    pub origin: Origin,
}

/// A text file from a catalog: name and contents.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    pub display: String,
    pub text: String,
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// The cards, each layer after the one it overrides.
    slots: Vec<Slot>,
    /// Label files by name (file stem), later layers overriding earlier ones;
    /// every line already parsed as a class name.
    labels: HashMap<String, Vec<String>>,
    warnings: Vec<String>,
    /// Where the parsed cards of catalog directories are kept, if anywhere.
    index_dir: Option<PathBuf>,
}

impl Catalog {
    /// Only the cards shipped inside the binary.
    pub fn embedded() -> Result<Catalog, RegistryError> {
        let files: Vec<SourceFile> = embedded::EMBEDDED_CARDS
            .iter()
            .map(|(name, text)| SourceFile {
                display: format!("registry/{name}"),
                text: (*text).to_owned(),
            })
            .collect();
        let cards = check::parse_files(&files)?;
        let slots = cards
            .into_iter()
            .zip(embedded::EMBEDDED_CARDS)
            .map(|(card, (file, _))| {
                Slot::parsed(Entry {
                    card,
                    origin: Origin::Embedded {
                        file: (*file).to_owned(),
                    },
                })
            })
            .collect();
        let labels = embedded_labels()
            .iter()
            .map(|(file, text)| {
                parse_labels(&format!("registry/labels/{file}"), text)
                    .map(|names| (stem(file), names))
                    .map_err(|d| RegistryError::Invalid(vec![d]))
            })
            .collect::<Result<_, _>>()?;
        Ok(Catalog {
            slots,
            labels,
            warnings: Vec::new(),
            index_dir: None,
        })
    }

    /// The embedded catalog with each directory merged over it in order; a card in
    /// a later directory replaces an earlier card of the same name.
    pub fn load(user_dirs: &[PathBuf]) -> Result<Catalog, RegistryError> {
        let mut catalog = Catalog::embedded()?;
        for dir in user_dirs {
            catalog.merge_dir(dir)?;
        }
        Ok(catalog)
    }

    /// Keep the parsed cards of the directories merged from now on (the user
    /// catalog and `--registry` directories) in an index under `dir`, one file
    /// per directory, so that the next command parses only the cards that
    /// changed, and only the cards it uses. What the catalog holds is the
    /// same with or without it, warnings and errors included.
    pub fn use_index(&mut self, dir: &Path) {
        self.index_dir = Some(dir.to_owned());
    }

    /// Problems found while loading that did not stop it, for the CLI to print.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// All entries, sorted by name.
    pub fn entries(&self) -> Vec<&Entry> {
        slot::parse_many(self.slots.iter());
        let mut all: Vec<(&str, &Entry)> = self
            .slots
            .iter()
            .filter_map(|s| Some((s.summary.name(), s.entry().ok()?)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all.into_iter().map(|(_, e)| e).collect()
    }

    /// The license of the built-in cards with this id (a `LicenseRef-` the
    /// catalog documents, with its name, URL and terms), so cards made from
    /// other metadata use the same words.
    pub fn known_license(&self, id: &str) -> Option<&crate::License> {
        self.slots
            .iter()
            .filter_map(Slot::ready)
            .filter(|e| matches!(e.origin, Origin::Embedded { .. }))
            .map(|e| &e.card.license)
            .find(|l| l.id == id)
    }

    /// The card made from the hub repository `repo` (`zoo add` / `zoo pull
    /// hf:ORG/NAME`), if any; repository ids compare case-insensitively, as
    /// on the hub.
    pub fn find_hub_repo(&self, repo: &str) -> Option<&Entry> {
        self.slots
            .iter()
            .rev()
            .filter(|s| {
                s.summary
                    .get(Field::HubRepo)
                    .is_some_and(|r| r.eq_ignore_ascii_case(repo))
            })
            .find_map(|s| s.entry().ok())
    }

    /// Resolve a name or alias, or `hf:ORG/NAME` for a card made from that
    /// hub repository. Exact names win over aliases, and among aliases the
    /// most recently layered card wins, so a user catalog can re-point an alias.
    pub fn resolve(&self, query: &str) -> Result<&Entry, RegistryError> {
        if let Some(repo) = query.strip_prefix("hf:") {
            let repo = repo.split_once('@').map_or(repo, |(r, _)| r);
            return self
                .find_hub_repo(repo)
                .ok_or_else(|| RegistryError::UnknownModel {
                    name: query.to_owned(),
                    suggestions: vec![format!("zoo add {query}")],
                });
        }
        let by_name = self
            .slots
            .iter()
            .rev()
            .find(|s| s.summary.name().eq_ignore_ascii_case(query));
        let by_alias = || {
            self.slots
                .iter()
                .rev()
                .find(|s| s.summary.answers_to(query))
        };
        match by_name.or_else(by_alias) {
            Some(slot) => slot.entry(),
            None => Err(RegistryError::UnknownModel {
                name: query.to_owned(),
                suggestions: self.suggest(query),
            }),
        }
    }

    /// Names and aliases close to `query`, best first, for "did you mean".
    pub fn suggest(&self, query: &str) -> Vec<String> {
        let q = query.to_ascii_lowercase();
        let mut scored: Vec<(f64, &str)> = self
            .slots
            .iter()
            .flat_map(|s| std::iter::once(s.summary.name()).chain(s.summary.aliases()))
            .map(|n| {
                let lower = n.to_ascii_lowercase();
                let mut score = strsim::jaro_winkler(&q, &lower);
                if lower.contains(&q) || q.contains(&lower) {
                    score = score.max(0.9);
                }
                (score, n)
            })
            .filter(|(s, _)| *s >= 0.8)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        let mut names: Vec<String> = Vec::new();
        for (_, n) in scored {
            if !names.iter().any(|x| x == n) {
                names.push(n.to_owned());
            }
        }
        names.truncate(3);
        names
    }

    /// Cards matching every word of `text` in their name, aliases, task, family,
    /// architecture, description or license; ranked by where the words matched.
    pub fn search(&self, text: &str) -> Vec<&Entry> {
        let words: Vec<String> = text
            .split_whitespace()
            .map(str::to_ascii_lowercase)
            .collect();
        let mut hits: Vec<(u32, &Slot)> = self
            .slots
            .iter()
            .filter_map(|s| {
                let mut total = 0;
                for w in &words {
                    let score = s.summary.match_score(w);
                    if score == 0 {
                        return None;
                    }
                    total += score;
                }
                Some((total, s))
            })
            .collect();
        hits.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(a.1.summary.name().cmp(b.1.summary.name()))
        });
        slot::parse_many(hits.iter().map(|(_, s)| *s));
        hits.into_iter()
            .filter_map(|(_, s)| s.entry().ok())
            .collect()
    }

    /// The labels of a label file, one per line, in model output order.
    pub fn labels(&self, name: &str) -> Option<Vec<String>> {
        self.labels.get(name).cloned()
    }

    pub fn has_labels(&self, name: &str) -> bool {
        self.labels.contains_key(name)
    }
}

impl Drop for Catalog {
    /// A catalog of thousands of cards holds hundreds of thousands of
    /// allocations, and freeing them takes longer than `zoo info` takes to
    /// answer: they are freed on another thread, which a process that exits
    /// does not wait for.
    fn drop(&mut self) {
        if self.slots.len() >= FREE_ELSEWHERE {
            let slots = std::mem::take(&mut self.slots);
            // Without a thread, they are freed here.
            let _ = std::thread::Builder::new().spawn(move || drop(slots));
        }
    }
}

/// How many cards a catalog holds before [`Catalog`]'s drop frees them on
/// another thread.
const FREE_ELSEWHERE: usize = 1024;

/// The labels files built into the binary: file name and text.
pub(crate) fn embedded_labels() -> &'static [(&'static str, &'static str)] {
    embedded::EMBEDDED_LABELS
}

fn stem(file: &str) -> String {
    file.rsplit_once('.').map_or(file, |(s, _)| s).to_owned()
}
