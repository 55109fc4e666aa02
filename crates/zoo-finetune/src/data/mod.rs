//! Labelled data sets: images in class folders or listed in a CSV/JSON-lines
//! file, texts in a CSV/JSON-lines file. Items that cannot be read are skipped and
//! reported, never fatal; a data set that cannot train a classifier is an error.

mod load;
mod split;

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{FinetuneError, Result};

pub use split::{Split, stratified_split};

/// What a backbone reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    Image,
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Image(PathBuf),
    Text(String),
}

#[derive(Debug, Clone)]
pub struct Example {
    pub input: Input,
    /// Index into [`Dataset::classes`].
    pub label: usize,
    /// sha256 of the file's bytes or of the text's UTF-8: the feature cache key.
    pub sha256: String,
}

/// An item left out, and why (unreadable file, malformed row, undecodable image).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub item: String,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct Dataset {
    /// What the user passed.
    pub source: PathBuf,
    pub modality: Modality,
    /// Class names in output order.
    pub classes: Vec<String>,
    pub examples: Vec<Example>,
    pub skipped: Vec<Skipped>,
}

impl Dataset {
    /// Reads a training set; its classes are the labels found, in natural order
    /// (numerically when every label is a number). Fails unless there are at least
    /// two classes and every class has an example.
    pub fn load(path: &Path, modality: Modality) -> Result<Dataset> {
        let raw = load::read(path, modality)?;
        let classes = load::class_order(&raw);
        let data = Dataset::label(path, modality, raw, &classes, true)?;
        data.check_classes()?;
        Ok(data)
    }

    /// Reads a set labelled with known `classes` (a validation or test set): every
    /// label must be one of them, though not every class needs examples.
    pub fn load_with_classes(
        path: &Path,
        modality: Modality,
        classes: &[String],
    ) -> Result<Dataset> {
        let raw = load::read(path, modality)?;
        let data = Dataset::label(path, modality, raw, classes, false)?;
        if data.examples.is_empty() {
            return Err(FinetuneError::data(path, "no readable examples"));
        }
        Ok(data)
    }

    fn label(
        path: &Path,
        modality: Modality,
        raw: load::Raw,
        classes: &[String],
        empty_classes_ok: bool,
    ) -> Result<Dataset> {
        let mut examples = Vec::with_capacity(raw.items.len());
        for item in raw.items {
            let Some(label) = classes.iter().position(|c| *c == item.label) else {
                return Err(FinetuneError::data(
                    path,
                    format!(
                        "label '{}' ({}) is not one of the model's classes: {}",
                        item.label,
                        item.origin,
                        classes.join(", ")
                    ),
                ));
            };
            examples.push(Example {
                input: item.input,
                label,
                sha256: item.sha256,
            });
        }
        let mut classes = classes.to_vec();
        if empty_classes_ok {
            // Class folders that exist but hold nothing readable still count as
            // classes, so that check_classes can name them.
            for c in raw.declared_classes {
                if !classes.contains(&c) {
                    classes.push(c);
                }
            }
        }
        Ok(Dataset {
            source: path.to_owned(),
            modality,
            classes,
            examples,
            skipped: raw.skipped,
        })
    }

    /// Examples per class.
    pub fn counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        for e in &self.examples {
            counts[e.label] += 1;
        }
        counts
    }

    /// At least two classes, each with at least one example.
    pub fn check_classes(&self) -> Result<()> {
        if self.classes.len() < 2 {
            let found = match self.classes.as_slice() {
                [] => "no classes".to_owned(),
                [only] => format!("only the class '{only}'"),
                _ => unreachable!(),
            };
            return Err(FinetuneError::data(
                &self.source,
                format!(
                    "a classifier needs at least two classes; found {found}{}",
                    self.skipped_note()
                ),
            ));
        }
        let empty: Vec<&str> = (self.classes.iter().zip(self.counts()))
            .filter(|(_, n)| *n == 0)
            .map(|(c, _)| c.as_str())
            .collect();
        if !empty.is_empty() {
            return Err(FinetuneError::data(
                &self.source,
                format!(
                    "class{} {} ha{} no readable examples{}",
                    if empty.len() > 1 { "es" } else { "" },
                    empty
                        .iter()
                        .map(|c| format!("'{c}'"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if empty.len() > 1 { "ve" } else { "s" },
                    self.skipped_note()
                ),
            ));
        }
        Ok(())
    }

    fn skipped_note(&self) -> String {
        match self.skipped.len() {
            0 => String::new(),
            n => format!(" ({n} item(s) were skipped as unreadable)"),
        }
    }

    /// Moves the examples whose sha256 is in `failed` to `skipped`, with the reason.
    pub fn drop_failed(&mut self, failed: &std::collections::HashMap<String, String>) {
        if failed.is_empty() {
            return;
        }
        let mut kept = Vec::with_capacity(self.examples.len());
        for e in self.examples.drain(..) {
            match failed.get(&e.sha256) {
                Some(reason) => self.skipped.push(Skipped {
                    item: describe(&e.input),
                    reason: reason.clone(),
                }),
                None => kept.push(e),
            }
        }
        self.examples = kept;
    }

    /// sha256 over the sorted (item sha256, label) pairs: equal fingerprints mean
    /// the same data with the same labels, whatever the file layout or order.
    pub fn fingerprint(&self) -> String {
        let mut lines: Vec<String> = (self.examples.iter())
            .map(|e| format!("{}\t{}\n", e.sha256, self.classes[e.label]))
            .collect();
        lines.sort_unstable();
        let mut h = Sha256::new();
        for l in &lines {
            h.update(l.as_bytes());
        }
        hex::encode(h.finalize())
    }
}

/// How an item is named in reports: its path, or the start of its text.
pub fn describe(input: &Input) -> String {
    match input {
        Input::Image(p) => p.display().to_string(),
        Input::Text(t) => {
            let short: String = t.chars().take(40).collect();
            if short.len() < t.len() {
                format!("text \"{short}…\"")
            } else {
                format!("text \"{short}\"")
            }
        }
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn err(r: Result<Dataset>) -> String {
        r.expect_err("an error").to_string()
    }

    #[test]
    fn class_folders_and_image_lists() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "tree/cat/a.png", b"cat a");
        write(d.path(), "tree/cat/sub/b.png", b"cat b");
        write(d.path(), "tree/dog/c.png", b"dog c");
        let tree = Dataset::load(&d.path().join("tree"), Modality::Image).unwrap();
        assert_eq!(tree.classes, ["cat", "dog"]);
        assert_eq!(tree.counts(), [2, 1]);

        // CSV paths are relative to the CSV's own directory.
        let csv = write(
            d.path(),
            "tree/list.csv",
            b"path,label\ncat/a.png,cat\ndog/c.png,dog\nmissing.png,dog\n",
        );
        let list = Dataset::load(&csv, Modality::Image).unwrap();
        assert_eq!(list.examples.len(), 2);
        assert_eq!(list.skipped.len(), 1, "{:?}", list.skipped);
        assert!(list.skipped[0].item.contains("missing.png"));
    }

    #[test]
    fn texts_from_csv_and_json_lines() {
        let d = tempfile::tempdir().unwrap();
        let csv = write(
            d.path(),
            "t.csv",
            b"text,label\n\"good, really\",pos\nbad,neg\nfine,pos\n",
        );
        let data = Dataset::load(&csv, Modality::Text).unwrap();
        assert_eq!(data.classes, ["neg", "pos"]);
        assert_eq!(data.examples[0].input, Input::Text("good, really".into()));
        let jsonl = write(
            d.path(),
            "t.jsonl",
            b"{\"text\": \"good\", \"label\": \"pos\"}\n{\"text\": \"bad\", \"label\": \"neg\"}\n",
        );
        let data = Dataset::load(&jsonl, Modality::Text).unwrap();
        assert_eq!(data.counts(), [1, 1]);
        // Same text, same cache key, whatever file it came from.
        let again = Dataset::load(&csv, Modality::Text).unwrap();
        let sha = |d: &Dataset, t: &str| {
            (d.examples.iter())
                .find(|e| e.input == Input::Text(t.into()))
                .unwrap()
                .sha256
                .clone()
        };
        assert_eq!(sha(&data, "bad"), sha(&again, "bad"));
    }

    #[test]
    fn unusable_data_sets_say_why() {
        let d = tempfile::tempdir().unwrap();
        let one = write(d.path(), "one.csv", b"text,label\na,x\nb,x\n");
        assert!(err(Dataset::load(&one, Modality::Text)).contains("only the class 'x'"));
        let e = err(Dataset::load(&d.path().join("nothing.csv"), Modality::Text));
        assert!(e.contains("nothing.csv"), "{e}");
        // A class that loses every example to unreadable files.
        let csv = write(d.path(), "imgs/l.csv", b"path,label\na.png,x\ngone.png,y\n");
        write(d.path(), "imgs/a.png", b"a");
        let e = err(Dataset::load(&csv, Modality::Image));
        assert!(e.contains("1 item(s) were skipped"), "{e}");
    }
}
