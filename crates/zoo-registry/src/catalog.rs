//! The catalog: the cards embedded in the binary, with user catalogs layered on top.

use std::path::{Path, PathBuf};

use crate::card::Card;
use crate::check;
use crate::error::{Diagnostic, RegistryError};
use crate::labels::parse_labels;

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
    entries: Vec<Entry>,
    /// Label files by name (file stem), later layers overriding earlier ones;
    /// every line already parsed as a class name.
    labels: Vec<(String, Vec<String>)>,
    warnings: Vec<String>,
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
        let entries = cards
            .into_iter()
            .zip(embedded::EMBEDDED_CARDS)
            .map(|(card, (file, _))| Entry {
                card,
                origin: Origin::Embedded {
                    file: (*file).to_owned(),
                },
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
            entries,
            labels,
            warnings: Vec::new(),
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

    /// Merge the cards of models zoo made locally: `<dir>/<name>/card.yaml`, each
    /// with its labels beside it in `labels.txt`. A missing `dir` adds nothing.
    ///
    /// This layer is written by `zoo finetune`, and a damaged entry in it must
    /// not take every command down with it: hidden folders (`zoo finetune`'s
    /// `.<name>.staging-<pid>` and `.<name>.old-<pid>` while it moves a model
    /// into place) are never read, and an unreadable card or two folders with
    /// the same model name become [`Catalog::warnings`]. Of two folders named
    /// alike, the one whose folder name is the model name wins, else the first
    /// by path.
    pub fn merge_local_models(&mut self, dir: &Path) -> Result<(), RegistryError> {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        let mut model_dirs: Vec<PathBuf> = rd
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| e.path())
            .filter(|p| p.join("card.yaml").is_file())
            .collect();
        model_dirs.sort();
        let mut parsed: Vec<(Card, PathBuf)> = Vec::new();
        for d in model_dirs {
            match read_local_card(&d) {
                Ok(card) => parsed.push((card, d)),
                Err(e) => self.warnings.push(format!(
                    "ignoring the local model in {}: {e}; fix its card.yaml or remove the folder",
                    d.display()
                )),
            }
        }
        let folder_is_name =
            |card: &Card, d: &Path| d.file_name() == Some(std::ffi::OsStr::new(card.name.as_str()));
        parsed.sort_by(|(a, da), (b, db)| {
            a.name
                .cmp(&b.name)
                .then(folder_is_name(b, db).cmp(&folder_is_name(a, da)))
                .then(da.cmp(db))
        });
        let mut kept: Vec<(Card, PathBuf)> = Vec::new();
        for (card, d) in parsed {
            if let Some((_, first)) = kept.iter().find(|(c, _)| c.name == card.name) {
                self.warnings.push(format!(
                    "two local models are named '{}': {} and {}; using {}. Rename or remove the other folder",
                    card.name,
                    first.display(),
                    d.display(),
                    first.display()
                ));
                continue;
            }
            kept.push((card, d));
        }
        for (card, d) in kept {
            if let Some(label) = card.io.as_ref().and_then(|io| io.labels.clone()) {
                match read_local_labels(&d) {
                    Ok(None) => {}
                    Ok(Some(names)) => {
                        self.labels.retain(|(n, _)| *n != label);
                        self.labels.push((label, names));
                    }
                    Err(e) => {
                        self.warnings.push(format!(
                            "ignoring the local model in {}: {e}; fix its labels.txt or remove the folder",
                            d.display()
                        ));
                        continue;
                    }
                }
            }
            self.entries.retain(|e| e.card.name != card.name);
            self.entries.push(Entry {
                card,
                origin: Origin::Dir {
                    path: d.join("card.yaml"),
                },
            });
        }
        Ok(())
    }

    /// Problems found while loading that did not stop it, for the CLI to print.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Merge the catalog directory zoo writes itself (`zoo add`, `zoo pull
    /// hf:ORG/NAME`). As with local models, a damaged card there spoils only
    /// itself: it becomes a [`Catalog::warnings`] entry. A missing `dir` adds
    /// nothing.
    pub fn merge_user_dir(&mut self, dir: &Path) -> Result<(), RegistryError> {
        if !dir.is_dir() {
            return Ok(());
        }
        let Ok(rd) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        let mut paths: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        paths.sort();
        for path in paths {
            let card = zoo_fs::read_to_string_bounded(&path, zoo_fs::limits::CARD_BYTES)
                .map_err(|e| cannot_read(&path, e))
                .and_then(|text| {
                    let file = SourceFile {
                        display: path.display().to_string(),
                        text,
                    };
                    check::parse_files(std::slice::from_ref(&file)).map(|mut c| c.remove(0))
                });
            match card {
                Ok(card) => {
                    if let Some(label) = card.io.as_ref().and_then(|io| io.labels.clone()) {
                        // A labels name is a file name in `labels/`; `../x`
                        // would read a file outside the catalog.
                        if !is_label_name(&label) {
                            self.warnings.push(format!(
                                "ignoring {}: its labels '{}' is not a file name in {}",
                                path.display(),
                                zoo_types::TerminalSafe::new(&label),
                                dir.join("labels").display()
                            ));
                            continue;
                        }
                        let file = dir.join("labels").join(format!("{label}.txt"));
                        match read_labels_file(&file) {
                            Ok(Some(names)) => {
                                self.labels.retain(|(n, _)| *n != label);
                                self.labels.push((label, names));
                            }
                            Ok(None) if self.has_labels(&label) => {}
                            Ok(None) => {
                                self.warnings.push(format!(
                                    "ignoring {}: its labels file {} is missing; run `zoo pull {}` again",
                                    path.display(),
                                    file.display(),
                                    card.name
                                ));
                                continue;
                            }
                            Err(e) => {
                                self.warnings
                                    .push(format!("ignoring {}: {e}", path.display()));
                                continue;
                            }
                        }
                    }
                    self.entries.retain(|e| e.card.name != card.name);
                    self.entries.push(Entry {
                        card,
                        origin: Origin::Dir { path },
                    });
                }
                Err(e) => self.warnings.push(format!(
                    "ignoring a card of your catalog: {e}; fix or remove the file"
                )),
            }
        }
        Ok(())
    }

    /// Merge a user catalog directory of YAML cards (and its `labels/`).
    pub fn merge_dir(&mut self, dir: &Path) -> Result<(), RegistryError> {
        let layer = read_dir_files(dir)?;
        let cards = check::parse_files(&layer.cards)?;
        for (card, file) in cards.into_iter().zip(layer.card_paths) {
            self.entries.retain(|e| e.card.name != card.name);
            self.entries.push(Entry {
                card,
                origin: Origin::Dir { path: file },
            });
        }
        for (name, text) in layer.labels {
            self.labels.retain(|(n, _)| *n != name);
            self.labels.push((name, text));
        }
        Ok(())
    }

    /// All entries, sorted by name.
    pub fn entries(&self) -> Vec<&Entry> {
        let mut all: Vec<&Entry> = self.entries.iter().collect();
        all.sort_by(|a, b| a.card.name.cmp(&b.card.name));
        all
    }

    /// The license of the built-in cards with this id (a `LicenseRef-` the
    /// catalog documents, with its name, URL and terms), so cards made from
    /// other metadata use the same words.
    pub fn known_license(&self, id: &str) -> Option<&crate::License> {
        self.entries
            .iter()
            .filter(|e| matches!(e.origin, Origin::Embedded { .. }))
            .map(|e| &e.card.license)
            .find(|l| l.id == id)
    }

    /// The card made from the hub repository `repo` (`zoo add` / `zoo pull
    /// hf:ORG/NAME`), if any; repository ids compare case-insensitively, as
    /// on the hub.
    pub fn find_hub_repo(&self, repo: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| {
            e.card
                .hub
                .as_ref()
                .is_some_and(|h| h.repo.eq_ignore_ascii_case(repo))
        })
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
            .entries
            .iter()
            .rev()
            .find(|e| e.card.name.eq_ignore_ascii_case(query));
        let by_alias = || self.entries.iter().rev().find(|e| e.card.answers_to(query));
        by_name
            .or_else(by_alias)
            .ok_or_else(|| RegistryError::UnknownModel {
                name: query.to_owned(),
                suggestions: self.suggest(query),
            })
    }

    /// Names and aliases close to `query`, best first, for "did you mean".
    pub fn suggest(&self, query: &str) -> Vec<String> {
        let q = query.to_ascii_lowercase();
        let mut scored: Vec<(f64, &str)> = self
            .entries
            .iter()
            .flat_map(|e| std::iter::once(&e.card.name).chain(&e.card.aliases))
            .map(|n| {
                let lower = n.to_ascii_lowercase();
                let mut score = strsim::jaro_winkler(&q, &lower);
                if lower.contains(&q) || q.contains(&lower) {
                    score = score.max(0.9);
                }
                (score, n.as_str())
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
        let mut hits: Vec<(u32, &Entry)> = self
            .entries
            .iter()
            .filter_map(|e| {
                let mut total = 0;
                for w in &words {
                    let s = match_score(&e.card, w);
                    if s == 0 {
                        return None;
                    }
                    total += s;
                }
                Some((total, e))
            })
            .collect();
        hits.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.card.name.cmp(&b.1.card.name)));
        hits.into_iter().map(|(_, e)| e).collect()
    }

    /// The labels of a label file, one per line, in model output order.
    pub fn labels(&self, name: &str) -> Option<Vec<String>> {
        self.labels
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, names)| names.clone())
    }

    pub fn has_labels(&self, name: &str) -> bool {
        self.labels.iter().any(|(n, _)| n == name)
    }
}

fn match_score(card: &Card, word: &str) -> u32 {
    let has = |s: &str| s.to_ascii_lowercase().contains(word);
    if card.name.eq_ignore_ascii_case(word)
        || card.aliases.iter().any(|a| a.eq_ignore_ascii_case(word))
    {
        return 100;
    }
    if has(&card.name) || card.aliases.iter().any(|a| has(a)) {
        return 50;
    }
    if has(card.task.as_str()) || has(&card.family) || has(&card.architecture) {
        return 20;
    }
    if has(&card.license.id) || has(&card.description) {
        return 10;
    }
    if card.provenance.organization.as_deref().is_some_and(has) {
        return 5;
    }
    0
}

/// One local model's card, checked on its own so that a bad one spoils only itself.
fn read_local_card(dir: &Path) -> Result<Card, RegistryError> {
    let path = dir.join("card.yaml");
    // Bounded, and only a regular file: a FIFO would hang every command and
    // /dev/zero would fill memory.
    let text = zoo_fs::read_to_string_bounded(&path, zoo_fs::limits::CARD_BYTES)
        .map_err(|e| cannot_read(&path, e))?;
    let file = SourceFile {
        display: path.display().to_string(),
        text,
    };
    let mut cards = check::parse_files(std::slice::from_ref(&file))?;
    Ok(cards.remove(0))
}

/// A local model's `labels.txt` parsed, or `None` when there is none.
fn read_local_labels(dir: &Path) -> Result<Option<Vec<String>>, RegistryError> {
    read_labels_file(&dir.join("labels.txt"))
}

/// One plain, visible file name: no folder, no `..`, not hidden.
fn is_label_name(label: &str) -> bool {
    zoo_types::RelPath::parse(label).is_ok_and(|p| p.depth() == 1) && !label.starts_with('.')
}

/// A labels file parsed, or `None` when there is none.
fn read_labels_file(path: &Path) -> Result<Option<Vec<String>>, RegistryError> {
    let path = path.to_owned();
    let text = match zoo_fs::read_to_string_bounded(&path, zoo_fs::limits::LABELS_BYTES) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cannot_read(&path, e)),
    };
    parse_labels(&path.display().to_string(), &text)
        .map(Some)
        .map_err(|d| RegistryError::Invalid(vec![d]))
}

fn cannot_read(path: &Path, e: std::io::Error) -> RegistryError {
    RegistryError::Invalid(vec![Diagnostic {
        file: path.display().to_string(),
        line: 0,
        message: format!("cannot read: {e}"),
    }])
}

/// The labels files built into the binary: file name and text.
pub(crate) fn embedded_labels() -> &'static [(&'static str, &'static str)] {
    embedded::EMBEDDED_LABELS
}

fn stem(file: &str) -> String {
    file.rsplit_once('.').map_or(file, |(s, _)| s).to_owned()
}

/// The raw contents of one catalog directory.
pub(crate) struct DirFiles {
    pub cards: Vec<SourceFile>,
    pub card_paths: Vec<PathBuf>,
    pub labels: Vec<(String, Vec<String>)>,
}

pub(crate) fn read_dir_files(dir: &Path) -> Result<DirFiles, RegistryError> {
    let read_err = |source| RegistryError::ReadDir {
        path: dir.to_owned(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    paths.sort();
    let mut cards = Vec::new();
    let mut diags = Vec::new();
    for path in &paths {
        match zoo_fs::read_to_string_bounded(path, zoo_fs::limits::CARD_BYTES) {
            Ok(text) => cards.push(SourceFile {
                display: path.display().to_string(),
                text,
            }),
            Err(e) => diags.push(Diagnostic {
                file: path.display().to_string(),
                line: 0,
                message: format!("cannot read: {e}"),
            }),
        }
    }
    if !diags.is_empty() {
        return Err(RegistryError::Invalid(diags));
    }
    let mut labels = Vec::new();
    let labels_dir = dir.join("labels");
    if let Ok(rd) = std::fs::read_dir(&labels_dir) {
        let mut label_paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        label_paths.retain(|p| p.extension().is_some_and(|e| e == "txt"));
        label_paths.sort();
        for p in label_paths {
            let text = zoo_fs::read_to_string_bounded(&p, zoo_fs::limits::LABELS_BYTES).map_err(
                |source| RegistryError::ReadDir {
                    path: p.clone(),
                    source,
                },
            )?;
            let name = p
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            match parse_labels(&p.display().to_string(), &text) {
                Ok(names) => labels.push((name, names)),
                Err(d) => diags.push(d),
            }
        }
    }
    if !diags.is_empty() {
        return Err(RegistryError::Invalid(diags));
    }
    Ok(DirFiles {
        cards,
        card_paths: paths,
        labels,
    })
}
