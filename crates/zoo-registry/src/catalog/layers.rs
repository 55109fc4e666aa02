//! The layers merged over the built-in cards: models made by `zoo finetune`,
//! the user catalog zoo writes itself, and `--registry` directories; each read
//! through the catalog index when [`Catalog::use_index`] named one.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::index::{self, DirCache, Mode};
use super::summary::Field;
use super::{Catalog, Entry, Origin, Slot, SourceFile};
use crate::card::Card;
use crate::check;
use crate::error::{Diagnostic, RegistryError};
use crate::labels::parse_labels;

/// Directories of fewer cards are parsed whole every time, as they take a few
/// milliseconds, and leave nothing in zoo's cache.
const INDEX_FROM: usize = 64;

/// Label files by name (file stem), each as its class names.
type LabelFiles = Vec<(String, Vec<String>)>;

/// How a label file of the user catalog turned out, the first time a card named it.
enum LabelState {
    Loaded,
    Missing,
    Failed(String),
}

impl Catalog {
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
            match read_card_file(&d.join("card.yaml")) {
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
        let mut layer = Vec::new();
        for (card, d) in kept {
            if let Some(label) = card.io.as_ref().and_then(|io| io.labels.clone()) {
                match read_labels_file(&d.join("labels.txt")) {
                    Ok(None) => {}
                    Ok(Some(names)) => {
                        self.labels.insert(label, names);
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
            layer.push(Slot::parsed(Entry {
                card,
                origin: Origin::Dir {
                    path: d.join("card.yaml"),
                },
            }));
        }
        self.push_layer(layer);
        Ok(())
    }

    /// Merge the catalog directory zoo writes itself (`zoo add`, `zoo pull
    /// hf:ORG/NAME`). As with local models, a damaged card there spoils only
    /// itself: it becomes a [`Catalog::warnings`] entry. A missing `dir` adds
    /// nothing.
    pub fn merge_user_dir(&mut self, dir: &Path) -> Result<(), RegistryError> {
        if !dir.is_dir() {
            return Ok(());
        }
        let Some(scan) = index::scan(dir, Mode::User) else {
            return Ok(());
        };
        let mut cache = match &self.index_dir {
            Some(index_dir) if scan.cards.len() >= INDEX_FROM => {
                DirCache::open(index_dir, dir, Mode::User, &scan)
            }
            _ => DirCache::none(),
        };
        let label_files: HashMap<&str, &index::FileStat> = scan
            .labels
            .iter()
            .filter_map(|f| Some((f.name.to_str()?, f)))
            .collect();
        let mut label_state: HashMap<String, LabelState> = HashMap::new();
        let mut layer = Vec::new();
        let paths: Vec<PathBuf> = scan.cards.iter().map(|f| scan.dir.join(&f.name)).collect();
        let slots = cache.cards(&scan.dir, scan.cards);
        for (path, slot) in paths.into_iter().zip(slots) {
            let slot = match slot {
                Ok(slot) => slot,
                Err(e) => {
                    self.warnings.push(format!(
                        "ignoring a card of your catalog: {e}; fix or remove the file"
                    ));
                    continue;
                }
            };
            if let Some(label) = slot.summary.get(Field::Labels) {
                // A labels name is a file name in `labels/`; `../x` would
                // read a file outside the catalog.
                if !is_label_name(label) {
                    self.warnings.push(format!(
                        "ignoring {}: its labels '{}' is not a file name in {}",
                        path.display(),
                        zoo_types::TerminalSafe::new(label),
                        dir.join("labels").display()
                    ));
                    continue;
                }
                let file = dir.join("labels").join(format!("{label}.txt"));
                if !label_state.contains_key(label) {
                    let stat = label_files.get(format!("{label}.txt").as_str()).copied();
                    let state = match cache.labels(stat, &file) {
                        Ok(Some(names)) => {
                            self.labels.insert(label.to_owned(), names);
                            LabelState::Loaded
                        }
                        Ok(None) => LabelState::Missing,
                        Err(e) => LabelState::Failed(e.to_string()),
                    };
                    label_state.insert(label.to_owned(), state);
                }
                match &label_state[label] {
                    LabelState::Loaded => {}
                    LabelState::Missing if self.labels.contains_key(label) => {}
                    LabelState::Missing => {
                        self.warnings.push(format!(
                            "ignoring {}: its labels file {} is missing; run `zoo pull {}` again",
                            path.display(),
                            file.display(),
                            slot.summary.name()
                        ));
                        continue;
                    }
                    LabelState::Failed(e) => {
                        self.warnings
                            .push(format!("ignoring {}: {e}", path.display()));
                        continue;
                    }
                }
            }
            layer.push(slot);
        }
        cache.finish();
        self.push_layer(layer);
        Ok(())
    }

    /// Merge a user catalog directory of YAML cards (and its `labels/`).
    pub fn merge_dir(&mut self, dir: &Path) -> Result<(), RegistryError> {
        if let Some(index_dir) = &self.index_dir
            && let Some((slots, labels)) = indexed_layer(index_dir, dir)
        {
            self.push_layer(slots);
            self.labels.extend(labels);
            return Ok(());
        }
        let layer = read_dir_files(dir)?;
        let cards = check::parse_files(&layer.cards)?;
        let slots = cards
            .into_iter()
            .zip(layer.card_paths)
            .map(|(card, path)| {
                Slot::parsed(Entry {
                    card,
                    origin: Origin::Dir { path },
                })
            })
            .collect();
        self.push_layer(slots);
        self.labels.extend(layer.labels);
        Ok(())
    }

    /// Put a layer over the catalog: each card replaces the one of the same
    /// name, and of two alike in the layer the later one wins (as if each was
    /// merged in turn).
    fn push_layer(&mut self, layer: Vec<Slot>) {
        let last: HashMap<&str, usize> = layer
            .iter()
            .enumerate()
            .map(|(i, s)| (s.summary.name(), i))
            .collect();
        self.slots.retain(|s| !last.contains_key(s.summary.name()));
        let keep: Vec<bool> = (0..layer.len())
            .map(|i| last.get(layer[i].summary.name()) == Some(&i))
            .collect();
        self.slots.extend(
            layer
                .into_iter()
                .zip(keep)
                .filter_map(|(s, keep)| keep.then_some(s)),
        );
    }
}

/// A `--registry` directory read through its index: `None` for a small one,
/// and whenever anything is wrong with it (a card that does not read, parse
/// or check, a name used twice, a bad label file), so that the caller reads
/// it the old way and reports every problem exactly as before. Nothing is
/// recorded then.
fn indexed_layer(index_dir: &Path, dir: &Path) -> Option<(Vec<Slot>, LabelFiles)> {
    let scan = index::scan(dir, Mode::Strict)?;
    if scan.cards.len() < INDEX_FROM {
        return None;
    }
    let mut cache = DirCache::open(index_dir, dir, Mode::Strict, &scan);
    let mut claimed: HashSet<String> = HashSet::new();
    let mut slots = Vec::with_capacity(scan.cards.len());
    for slot in cache.cards(&scan.dir, scan.cards) {
        let slot = slot.ok()?;
        let ids = std::iter::once(slot.summary.name()).chain(slot.summary.aliases());
        for id in ids {
            if !claimed.insert(id.to_ascii_lowercase()) {
                return None;
            }
        }
        slots.push(slot);
    }
    let mut labels = Vec::with_capacity(scan.labels.len());
    for file in &scan.labels {
        let path = dir.join("labels").join(&file.name);
        let names = cache.labels(Some(file), &path).ok()??;
        let stem = Path::new(&file.name).file_stem().unwrap_or_default();
        labels.push((stem.to_string_lossy().into_owned(), names));
    }
    cache.finish();
    Some((slots, labels))
}

/// One card file, read bounded and checked on its own, so that a bad one
/// spoils only itself.
pub(crate) fn read_card_file(path: &Path) -> Result<Card, RegistryError> {
    // Bounded, and only a regular file: a FIFO would hang every command and
    // /dev/zero would fill memory.
    let text = zoo_fs::read_to_string_bounded(path, zoo_fs::limits::CARD_BYTES)
        .map_err(|e| cannot_read(path, e))?;
    let file = SourceFile {
        display: path.display().to_string(),
        text,
    };
    let mut cards = check::parse_files(std::slice::from_ref(&file))?;
    Ok(cards.remove(0))
}

/// One plain, visible file name: no folder, no `..`, not hidden.
fn is_label_name(label: &str) -> bool {
    zoo_types::RelPath::parse(label).is_ok_and(|p| p.depth() == 1) && !label.starts_with('.')
}

/// A labels file parsed, or `None` when there is none.
pub(crate) fn read_labels_file(path: &Path) -> Result<Option<Vec<String>>, RegistryError> {
    let text = match zoo_fs::read_to_string_bounded(path, zoo_fs::limits::LABELS_BYTES) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cannot_read(path, e)),
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

/// The raw contents of one catalog directory.
pub(crate) struct DirFiles {
    pub cards: Vec<SourceFile>,
    pub card_paths: Vec<PathBuf>,
    pub labels: LabelFiles,
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
