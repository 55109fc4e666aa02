//! Reading the supported layouts into labelled items, hashing each.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use zoo_fs::limits::{DATA_LIST_BYTES, IMAGE_FILE_BYTES, TEXT_ITEM_BYTES};
use zoo_types::{ClassName, RelPath, TerminalSafe};

use super::{Input, Modality, Skipped, sha256_hex};
use crate::error::{FinetuneError, Result};

pub(super) struct RawItem {
    pub input: Input,
    pub label: ClassName,
    pub sha256: String,
    /// Where the item came from, for error messages ("line 12", a path).
    pub origin: String,
}

pub(super) struct Raw {
    pub items: Vec<RawItem>,
    pub skipped: Vec<Skipped>,
    /// Class folders, including empty ones.
    pub declared_classes: Vec<ClassName>,
}

/// The most an item's file may hold: images as `zoo predict` reads them, texts
/// up to [`TEXT_ITEM_BYTES`]. Devices and FIFOs are refused, not read.
fn read_item(file: &Path, modality: Modality) -> std::io::Result<Vec<u8>> {
    let max = match modality {
        Modality::Image => IMAGE_FILE_BYTES,
        Modality::Text => TEXT_ITEM_BYTES,
    };
    zoo_fs::read_bounded(file, max)
}

/// A label parsed into a [`ClassName`]: a bad one is an error naming where it
/// came from, before any feature is extracted.
fn class_name(path: &Path, label: &str, origin: &str) -> Result<ClassName> {
    ClassName::parse(label).map_err(|e| {
        FinetuneError::data(
            path,
            format!("{origin}: {e}; rename the class (folder or label) and run again"),
        )
    })
}

/// Columns that may hold the item in a CSV header or a JSON object.
const IMAGE_KEYS: [&str; 4] = ["path", "image", "file", "filename"];
const TEXT_KEYS: [&str; 3] = ["text", "sentence", "review"];
const LABEL_KEYS: [&str; 3] = ["label", "class", "category"];

pub(super) fn read(path: &Path, modality: Modality) -> Result<Raw> {
    let meta = std::fs::metadata(path).map_err(FinetuneError::io(path))?;
    if meta.is_dir() {
        return read_folders(path, modality);
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let rows = match ext.as_str() {
        "csv" => read_csv(path, b',', modality)?,
        "tsv" => read_csv(path, b'\t', modality)?,
        "jsonl" | "ndjson" | "json" => read_jsonl(path, modality)?,
        _ => {
            return Err(FinetuneError::data(
                path,
                "expected a directory with one folder per class, a .csv/.tsv file or a .jsonl file",
            ));
        }
    };
    if rows.0.is_empty() {
        // Every row malformed is a layout problem (wrong columns, not JSON lines),
        // not a few bad items: say what the first row lacked.
        let why = match rows.1.first() {
            None => "no rows".to_owned(),
            Some(s) => format!(
                "no usable rows; all {} were skipped, the first ({}) because: {}",
                rows.1.len(),
                s.item,
                s.reason
            ),
        };
        return Err(FinetuneError::data(path, why));
    }
    finish_rows(path, modality, rows)
}

/// Labels in natural order: numerically when all are integers, else by name.
pub(super) fn class_order(raw: &Raw) -> Vec<String> {
    let mut classes: Vec<String> = raw.items.iter().map(|i| i.label.to_string()).collect();
    classes.extend(raw.declared_classes.iter().map(ClassName::to_string));
    classes.sort_unstable();
    classes.dedup();
    if classes.iter().all(|c| c.parse::<i64>().is_ok()) {
        classes.sort_by_key(|c| c.parse::<i64>().unwrap_or_default());
    }
    classes
}

fn is_hidden(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(FinetuneError::io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !is_hidden(p))
        .collect();
    entries.sort();
    Ok(entries)
}

/// Every non-hidden file under `dir`, recursively, in sorted order.
/// Files below `dir`, each directory entered once by its canonical path (a
/// symbolic link back up the tree would otherwise recurse without end).
fn files_under(dir: &Path, out: &mut Vec<PathBuf>, seen: &mut HashSet<PathBuf>) -> Result<()> {
    if !seen.insert(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())) {
        return Ok(());
    }
    for p in sorted_entries(dir)? {
        if p.is_dir() {
            files_under(&p, out, seen)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// `root/<class>/**/<file>`: each top-level folder is a class.
fn read_folders(root: &Path, modality: Modality) -> Result<Raw> {
    let mut declared = Vec::new();
    let mut files = Vec::new();
    for class_dir in sorted_entries(root)?.into_iter().filter(|p| p.is_dir()) {
        let name = class_dir.file_name().unwrap_or_default();
        let class = match name.to_str() {
            Some(name) => class_name(root, name, "class folder")?,
            None => {
                return Err(FinetuneError::data(
                    root,
                    format!(
                        "class folder {:?}: its name is not UTF-8; rename it",
                        name.to_string_lossy()
                    ),
                ));
            }
        };
        let mut under = Vec::new();
        files_under(&class_dir, &mut under, &mut HashSet::new())?;
        files.extend(under.into_iter().map(|f| (f, class.clone())));
        declared.push(class);
    }
    if declared.is_empty() {
        return Err(FinetuneError::data(
            root,
            "no class folders: expected one sub-directory per class",
        ));
    }
    let hashed: Vec<std::result::Result<RawItem, Skipped>> = files
        .into_par_iter()
        .map(|(file, label)| {
            let origin = file.display().to_string();
            let bytes = read_item(&file, modality).map_err(|e| Skipped {
                item: origin.clone(),
                reason: format!("cannot read: {e}"),
            })?;
            let input = match modality {
                Modality::Image => Input::Image(file),
                Modality::Text => Input::Text(text_of(bytes.clone(), &origin)?),
            };
            Ok(RawItem {
                input,
                label,
                sha256: sha256_hex(&bytes),
                origin,
            })
        })
        .collect();
    let (items, skipped) = partition(hashed);
    Ok(Raw {
        items,
        skipped,
        declared_classes: declared,
    })
}

fn text_of(bytes: Vec<u8>, origin: &str) -> std::result::Result<String, Skipped> {
    let text = String::from_utf8(bytes).map_err(|_| Skipped {
        item: origin.to_owned(),
        reason: "not UTF-8 text".to_owned(),
    })?;
    let text = text.trim().to_owned();
    if text.is_empty() {
        return Err(Skipped {
            item: origin.to_owned(),
            reason: "empty text".to_owned(),
        });
    }
    Ok(text)
}

fn partition<T>(results: Vec<std::result::Result<T, Skipped>>) -> (Vec<T>, Vec<Skipped>) {
    let mut ok = Vec::new();
    let mut skipped = Vec::new();
    for r in results {
        match r {
            Ok(v) => ok.push(v),
            Err(s) => skipped.push(s),
        }
    }
    (ok, skipped)
}

/// One row of a CSV or JSON-lines file: the item field and the label.
struct Row {
    origin: String,
    value: String,
    label: String,
}

type Rows = (Vec<Row>, Vec<Skipped>);

fn key_index(header: &[String], keys: &[&str]) -> Option<usize> {
    keys.iter()
        .find_map(|k| header.iter().position(|h| h.trim().eq_ignore_ascii_case(k)))
}

fn other_keys(modality: Modality) -> &'static [&'static str] {
    match modality {
        Modality::Image => &TEXT_KEYS,
        Modality::Text => &IMAGE_KEYS,
    }
}

fn what(modality: Modality) -> &'static str {
    match modality {
        Modality::Image => "image path",
        Modality::Text => "text",
    }
}

fn item_keys(modality: Modality) -> &'static [&'static str] {
    match modality {
        Modality::Image => &IMAGE_KEYS,
        Modality::Text => &TEXT_KEYS,
    }
}

/// A header row naming the item and label columns is used when present; otherwise
/// the first two columns are the item and the label. A header that names one of
/// them (or the other modality's item column) but not both is an error.
fn read_csv(path: &Path, delimiter: u8, modality: Modality) -> Result<Rows> {
    let file = zoo_fs::open_bounded(path, DATA_LIST_BYTES)
        .map_err(|e| FinetuneError::data(path, format!("cannot read: {e}")))?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(file);
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    let mut columns = (0, 1);
    for (i, record) in reader.byte_records().enumerate() {
        let line = record
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .map_or(i as u64 + 1, |p| p.line());
        let origin = format!("{}:{line}", path.display());
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                skipped.push(Skipped {
                    item: origin,
                    reason: format!("malformed row: {e}"),
                });
                continue;
            }
        };
        let mut fields: Vec<String> = record
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        // The byte-order mark spreadsheet programs put at the start of UTF-8.
        if let Some(first) = fields.first_mut().filter(|_| i == 0)
            && let Some(rest) = first.strip_prefix('\u{feff}')
        {
            *first = rest.to_owned();
        }
        if i == 0 {
            let item = key_index(&fields, item_keys(modality));
            let label = key_index(&fields, &LABEL_KEYS);
            let other = key_index(&fields, other_keys(modality));
            match (item, label) {
                (Some(item), Some(label)) => {
                    columns = (item, label);
                    continue;
                }
                // No header at all: the first two columns are item and label.
                (None, None) if other.is_none() => {}
                // A header, but one that lacks a column: reading it as data would
                // make a class of the header's label field.
                _ => {
                    let (kind, keys) = if item.is_none() {
                        (what(modality), item_keys(modality))
                    } else {
                        ("label", &LABEL_KEYS[..])
                    };
                    return Err(FinetuneError::data(
                        path,
                        format!(
                            "the header ({}) has no {kind} column; name it one of: {}",
                            fields.join(","),
                            keys.join(", ")
                        ),
                    ));
                }
            }
        }
        if record.iter().any(|f| std::str::from_utf8(f).is_err()) {
            skipped.push(Skipped {
                item: origin,
                reason: "not UTF-8 text".to_owned(),
            });
            continue;
        }
        match (fields.get(columns.0), fields.get(columns.1)) {
            (Some(value), Some(label)) => rows.push(Row {
                origin,
                value: value.clone(),
                label: label.trim().to_owned(),
            }),
            _ => skipped.push(Skipped {
                item: origin,
                reason: format!("expected at least {} columns", columns.0.max(columns.1) + 1),
            }),
        }
    }
    Ok((rows, skipped))
}

fn read_jsonl(path: &Path, modality: Modality) -> Result<Rows> {
    let text = zoo_fs::read_bounded(path, DATA_LIST_BYTES)
        .map_err(|e| FinetuneError::data(path, format!("cannot read: {e}")))?;
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let origin = format!("{}:{}", path.display(), i + 1);
        let line = if i == 0 {
            line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
        } else {
            line
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let skip = |reason: String| Skipped {
            item: origin.clone(),
            reason,
        };
        let value: serde_json::Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(e) => {
                skipped.push(skip(format!("not JSON: {e}")));
                continue;
            }
        };
        let field = |keys: &[&str]| {
            keys.iter().find_map(|k| match value.get(*k)? {
                serde_json::Value::String(s) => Some(s.clone()),
                v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => {
                    Some(v.to_string())
                }
                _ => None,
            })
        };
        match (field(item_keys(modality)), field(&LABEL_KEYS)) {
            (Some(v), Some(label)) => rows.push(Row {
                origin,
                value: v,
                label: label.trim().to_owned(),
            }),
            _ => skipped.push(skip(format!(
                "expected an object with \"{}\" and \"label\"",
                item_keys(modality)[0]
            ))),
        }
    }
    Ok((rows, skipped))
}

/// An image path from a list, resolved under the list's folder. Only a relative
/// path that stays inside it is accepted: a list from elsewhere must not make
/// zoo read `/etc/...` or `../../secret` into a model.
fn item_path(base: &Path, cell: &str) -> std::result::Result<PathBuf, String> {
    RelPath::parse(cell)
        .map(|rel| rel.join_to(base))
        .map_err(|e| {
            format!(
                "'{}' is not a relative path inside the data set's folder: {}",
                TerminalSafe::shortened(cell, 80),
                e.reason
            )
        })
}

/// Turns rows into items: image paths are resolved against the list's directory
/// and hashed; texts are hashed as UTF-8.
fn finish_rows(list: &Path, modality: Modality, (rows, mut skipped): Rows) -> Result<Raw> {
    let base = list.parent().unwrap_or(Path::new("."));
    // Labels first, all of them: a bad one stops the run before any file is read.
    let mut labelled = Vec::with_capacity(rows.len());
    for row in rows {
        if row.label.is_empty() {
            skipped.push(Skipped {
                item: row.origin,
                reason: "empty label".to_owned(),
            });
            continue;
        }
        let label = class_name(list, &row.label, &format!("label at {}", row.origin))?;
        labelled.push((row, label));
    }
    let results: Vec<std::result::Result<RawItem, Skipped>> = labelled
        .into_par_iter()
        .map(|(row, label)| match modality {
            Modality::Image => {
                let file = item_path(base, row.value.trim()).map_err(|reason| Skipped {
                    item: row.origin.clone(),
                    reason,
                })?;
                let bytes = read_item(&file, modality).map_err(|e| Skipped {
                    item: format!("{} ({})", row.origin, file.display()),
                    reason: format!("cannot read: {e}"),
                })?;
                Ok(RawItem {
                    sha256: sha256_hex(&bytes),
                    input: Input::Image(file),
                    label,
                    origin: row.origin,
                })
            }
            Modality::Text => {
                let text = text_of(row.value.into_bytes(), &row.origin)?;
                Ok(RawItem {
                    sha256: sha256_hex(text.as_bytes()),
                    input: Input::Text(text),
                    label,
                    origin: row.origin,
                })
            }
        })
        .collect();
    let (items, more) = partition(results);
    skipped.extend(more);
    Ok(Raw {
        items,
        skipped,
        declared_classes: Vec::new(),
    })
}
