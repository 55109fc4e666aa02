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
            let Some(label) = classes.iter().position(|c| item.label == c.as_str()) else {
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
                if !classes.iter().any(|known| c == known.as_str()) {
                    classes.push(c.to_string());
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
    use std::collections::HashMap;

    fn write(dir: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn err(r: Result<Dataset>) -> String {
        r.expect_err("an error").to_string()
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_back_up_a_class_folder_is_entered_once() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "tree/cat/a.png", b"cat a");
        write(d.path(), "tree/dog/c.png", b"dog c");
        std::os::unix::fs::symlink(d.path().join("tree/cat"), d.path().join("tree/cat/loop"))
            .unwrap();
        let tree = Dataset::load(&d.path().join("tree"), Modality::Image).unwrap();
        assert_eq!(tree.counts(), [1, 1]);
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_oversized_items_are_skipped_not_read() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "set/b.png", b"b");
        write(d.path(), "set/c.png", b"c");
        // The list may name only paths inside its folder; a link there may
        // still lead to a device.
        std::os::unix::fs::symlink("/dev/zero", d.path().join("set/zero")).unwrap();
        let csv = write(
            d.path(),
            "set/l.csv",
            b"path,label\nzero,a\nb.png,b\nc.png,a\n",
        );
        let data = Dataset::load(&csv, Modality::Image).unwrap();
        assert_eq!(data.counts(), [1, 1]);
        assert_eq!(data.skipped.len(), 1, "{:?}", data.skipped);
        assert!(data.skipped[0].item.contains("set/zero"));
        assert!(
            data.skipped[0].reason.contains("not a regular file"),
            "{:?}",
            data.skipped
        );
        // A text item past its cap is skipped too, with the limit named.
        write(d.path(), "txt/a/1.txt", b"fine");
        write(d.path(), "txt/b/1.txt", b"also fine");
        write(
            d.path(),
            "txt/b/huge.txt",
            &vec![b'x'; zoo_fs::limits::TEXT_ITEM_BYTES as usize + 1],
        );
        let data = Dataset::load(&d.path().join("txt"), Modality::Text).unwrap();
        assert_eq!(data.skipped.len(), 1, "{:?}", data.skipped);
        assert!(
            data.skipped[0].reason.contains("1 MiB"),
            "{:?}",
            data.skipped
        );
        // A list that is a device is an error, not an endless read.
        let e = err(Dataset::load(Path::new("/dev/zero"), Modality::Text));
        assert!(e.contains("/dev/zero"), "{e}");
    }

    #[test]
    fn class_names_are_validated_where_they_are_read() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "t/cat/a.png", b"a");
        write(d.path(), "t/bad\nname/b.png", b"b");
        let e = err(Dataset::load(&d.path().join("t"), Modality::Image));
        assert!(
            e.contains("class folder") && e.contains("control character"),
            "{e}"
        );
        assert!(!e.contains('\n'), "the name is escaped: {e}");
        let csv = write(d.path(), "l.csv", b"text,label\nok,a\nno,a/b\n");
        let e = err(Dataset::load(&csv, Modality::Text));
        assert!(e.contains("l.csv:3") && e.contains("'/'"), "{e}");
        // Labels are trimmed before they are checked.
        let csv = write(d.path(), "m.csv", b"text,label\nok, a \nno,b\n");
        assert_eq!(
            Dataset::load(&csv, Modality::Text).unwrap().classes,
            ["a", "b"]
        );
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

    fn texts(d: &Dataset) -> Vec<(String, String)> {
        (d.examples.iter())
            .map(|e| match &e.input {
                Input::Text(t) => (t.clone(), d.classes[e.label].clone()),
                Input::Image(p) => (p.display().to_string(), d.classes[e.label].clone()),
            })
            .collect()
    }

    #[test]
    fn class_folder_trees_for_images_and_texts() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "img/10/a.jpg", b"a");
        write(d.path(), "img/9/b.jpg", b"b");
        write(d.path(), "img/9/.hidden.jpg", b"hidden");
        write(d.path(), "img/.git/c.jpg", b"not a class");
        write(d.path(), "img/2/deep/er/c.jpg", b"c");
        write(d.path(), "img/loose.jpg", b"not in a class folder");
        let data = Dataset::load(&d.path().join("img"), Modality::Image).unwrap();
        // Numeric names in numeric order.
        assert_eq!(data.classes, ["2", "9", "10"]);
        assert_eq!(data.counts(), [1, 1, 1]);
        assert_eq!(
            data.examples.len(),
            3,
            "hidden and loose files are not items"
        );
        let c = data.examples.iter().find(|e| e.label == 0).unwrap();
        assert_eq!(c.input, Input::Image(d.path().join("img/2/deep/er/c.jpg")));
        assert_eq!(c.sha256, sha256_hex(b"c"));
        assert_eq!(data.source, d.path().join("img"));

        write(d.path(), "txt/pos/1.txt", b"  great film \n");
        write(d.path(), "txt/pos/2.txt", b"\xff\xfe not utf-8");
        write(d.path(), "txt/neg/1.txt", b"dull");
        write(d.path(), "txt/neg/2.txt", b"   \n");
        let data = Dataset::load(&d.path().join("txt"), Modality::Text).unwrap();
        assert_eq!(data.classes, ["neg", "pos"]);
        let mut got = texts(&data);
        got.sort();
        assert_eq!(
            got,
            [
                ("dull".to_owned(), "neg".to_owned()),
                ("great film".to_owned(), "pos".to_owned())
            ]
        );
        // Skipped and counted, with the reason.
        assert_eq!(data.skipped.len(), 2, "{:?}", data.skipped);
        let reasons: Vec<&str> = data.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert!(reasons.contains(&"not UTF-8 text") && reasons.contains(&"empty text"));
        // A folder's text hashes as its trimmed UTF-8, as the same text in a CSV.
        assert_eq!(
            (data.examples.iter())
                .find(|e| e.input == Input::Text("dull".into()))
                .unwrap()
                .sha256,
            sha256_hex(b"dull")
        );
    }

    #[test]
    fn class_folders_without_examples_are_named() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "t/a/1.jpg", b"1");
        write(d.path(), "t/b/2.jpg", b"2");
        std::fs::create_dir_all(d.path().join("t/empty")).unwrap();
        let e = err(Dataset::load(&d.path().join("t"), Modality::Image));
        assert!(e.contains("class 'empty' has no readable examples"), "{e}");
        assert!(e.contains(&d.path().join("t").display().to_string()), "{e}");

        std::fs::create_dir_all(d.path().join("flat")).unwrap();
        write(d.path(), "flat/x.jpg", b"x");
        let e = err(Dataset::load(&d.path().join("flat"), Modality::Image));
        assert!(e.contains("no class folders") && e.contains("flat"), "{e}");

        write(d.path(), "one/only/x.jpg", b"x");
        let e = err(Dataset::load(&d.path().join("one"), Modality::Image));
        assert!(
            e.contains("at least two classes") && e.contains("'only'"),
            "{e}"
        );
    }

    #[test]
    fn image_lists_resolve_paths_against_their_own_folder() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "set/pics/a.png", b"a");
        write(d.path(), "set/pics/b.png", b"b");
        let abs = write(d.path(), "elsewhere/c.png", b"c");
        // Other column names and order, a TSV; an absolute path and one with
        // `..` are skipped, not read, though the files are there.
        let tsv = write(
            d.path(),
            "set/list.tsv",
            format!(
                "Class\tFilename\nx\tpics/a.png\ny\t pics/b.png \ny\t{}\nx\t../elsewhere/c.png\n",
                abs.display()
            )
            .as_bytes(),
        );
        let data = Dataset::load(&tsv, Modality::Image).unwrap();
        assert_eq!(data.classes, ["x", "y"]);
        let paths: Vec<&Input> = data.examples.iter().map(|e| &e.input).collect();
        assert_eq!(paths.len(), 2, "{paths:?}");
        assert!(paths.contains(&&Input::Image(d.path().join("set/pics/a.png"))));
        assert!(paths.contains(&&Input::Image(d.path().join("set/pics/b.png"))));
        assert_eq!(data.skipped.len(), 2, "{:?}", data.skipped);
        for s in &data.skipped {
            assert!(
                s.reason
                    .contains("is not a relative path inside the data set's folder"),
                "{s:?}"
            );
        }
        assert!(data.skipped[1].reason.contains("'../elsewhere/c.png'"));

        // Headerless, two columns; unreadable files are skipped and counted.
        let csv = write(
            d.path(),
            "set/plain.csv",
            b"pics/a.png,x\npics/b.png,y\npics/nope.png,y\nnope2.png,x\n",
        );
        let data = Dataset::load(&csv, Modality::Image).unwrap();
        assert_eq!(data.counts(), [1, 1]);
        assert_eq!(data.skipped.len(), 2);
        assert!(
            data.skipped
                .iter()
                .all(|s| s.reason.starts_with("cannot read"))
        );
        assert!(
            data.skipped[0].item.contains("plain.csv:"),
            "{:?}",
            data.skipped
        );
    }

    #[test]
    fn text_lists_in_every_layout() {
        let d = tempfile::tempdir().unwrap();
        // Headerless, with a spreadsheet's byte-order mark, a quoted newline, a
        // short row, an empty label and an empty text.
        let csv = write(
            d.path(),
            "plain.csv",
            "\u{feff}\"two\nlines\",b\nshort\nx,\n   ,a\nhello,a\n".as_bytes(),
        );
        let data = Dataset::load(&csv, Modality::Text).unwrap();
        assert_eq!(data.classes, ["a", "b"]);
        assert_eq!(
            texts(&data),
            [
                ("two\nlines".to_owned(), "b".to_owned()),
                ("hello".to_owned(), "a".to_owned())
            ]
        );
        assert_eq!(data.skipped.len(), 3, "{:?}", data.skipped);

        // A header with a byte-order mark is still a header, not a class.
        let csv = write(
            d.path(),
            "bom.csv",
            "\u{feff}label,sentence\n1,one\n2,two\n10,ten\n".as_bytes(),
        );
        let data = Dataset::load(&csv, Modality::Text).unwrap();
        assert_eq!(data.classes, ["1", "2", "10"]);
        assert!(data.skipped.is_empty(), "{:?}", data.skipped);

        let jsonl = write(
            d.path(),
            "t.jsonl",
            "\u{feff}{\"text\": \"good\", \"label\": 1}\n\n{\"review\": \"bad\", \"category\": 0}\n\
             not json\n{\"text\": \"no label\"}\n{\"text\": [1], \"label\": 1}\n"
                .as_bytes(),
        );
        let data = Dataset::load(&jsonl, Modality::Text).unwrap();
        assert_eq!(data.classes, ["0", "1"]);
        assert_eq!(
            texts(&data),
            [
                ("good".to_owned(), "1".to_owned()),
                ("bad".to_owned(), "0".to_owned())
            ]
        );
        assert_eq!(data.skipped.len(), 3, "{:?}", data.skipped);
        assert!(
            data.skipped[0].item.ends_with("t.jsonl:4"),
            "{:?}",
            data.skipped
        );
    }

    #[test]
    fn missing_columns_are_errors_that_name_the_file() {
        let d = tempfile::tempdir().unwrap();
        let cases: [(&str, &[u8], Modality, &str); 6] = [
            (
                "nolabel.csv",
                b"text,sentiment\ngood,pos\nbad,neg\n",
                Modality::Text,
                "has no label column",
            ),
            (
                "notext.csv",
                b"path,label\na.png,x\nb.png,y\n",
                Modality::Text,
                "has no text column",
            ),
            (
                "nopath.csv",
                b"caption,label\nx,y\nz,w\n",
                Modality::Text,
                "has no text column",
            ),
            (
                "onecol.csv",
                b"good\nbad\n",
                Modality::Text,
                "expected at least 2 columns",
            ),
            (
                "nolabel.jsonl",
                b"{\"text\": \"a\"}\n{\"text\": \"b\", \"labels\": \"x\"}\n",
                Modality::Text,
                "expected an object with \"text\" and \"label\"",
            ),
            (
                "array.json",
                b"[{\"path\": \"a.png\",\n  \"label\": \"x\"}]\n",
                Modality::Image,
                "not JSON",
            ),
        ];
        for (name, bytes, modality, want) in cases {
            let path = write(d.path(), name, bytes);
            let e = err(Dataset::load(&path, modality));
            assert!(e.contains(want), "{name}: {e}");
            assert!(e.contains(name), "{name}: {e}");
        }
        let e = err(Dataset::load(
            &write(d.path(), "empty.csv", b""),
            Modality::Text,
        ));
        assert!(e.contains("no rows") && e.contains("empty.csv"), "{e}");
        let e = err(Dataset::load(
            &write(d.path(), "x.parquet", b"PAR1"),
            Modality::Text,
        ));
        assert!(e.contains("x.parquet") && e.contains(".jsonl"), "{e}");
    }

    #[test]
    fn a_class_emptied_by_failures_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "t/cat/a.jpg", b"a");
        write(d.path(), "t/cat/b.jpg", b"b");
        write(d.path(), "t/dog/c.jpg", b"c");
        let mut data = Dataset::load(&d.path().join("t"), Modality::Image).unwrap();
        let fp = data.fingerprint();
        let failed = HashMap::from([(sha256_hex(b"c"), "cannot decode".to_owned())]);
        data.drop_failed(&failed);
        assert_eq!(data.counts(), [2, 0]);
        assert_eq!(
            data.skipped,
            [Skipped {
                item: d.path().join("t/dog/c.jpg").display().to_string(),
                reason: "cannot decode".into()
            }]
        );
        assert_ne!(data.fingerprint(), fp);
        let e = data.check_classes().unwrap_err().to_string();
        assert!(e.contains("class 'dog' has no readable examples"), "{e}");
        assert!(e.contains("1 item(s) were skipped"), "{e}");
        assert!(e.contains(&d.path().join("t").display().to_string()), "{e}");
    }

    #[test]
    fn validation_sets_use_the_training_classes() {
        let d = tempfile::tempdir().unwrap();
        let classes = vec!["neg".to_owned(), "neu".to_owned(), "pos".to_owned()];
        // Not every class needs examples, and the class order is the model's.
        let val = write(d.path(), "val.csv", b"text,label\nok,pos\nmeh,neg\n");
        let data = Dataset::load_with_classes(&val, Modality::Text, &classes).unwrap();
        assert_eq!(data.classes, classes);
        assert_eq!(data.counts(), [1, 0, 1]);
        let bad = write(d.path(), "bad.csv", b"text,label\nok,pos\nwow,great\n");
        let e = err(Dataset::load_with_classes(&bad, Modality::Text, &classes));
        assert!(e.contains("'great'") && e.contains("bad.csv:3"), "{e}");
        let none = write(d.path(), "none.csv", b"text,label\n  ,pos\n");
        let e = err(Dataset::load_with_classes(&none, Modality::Text, &classes));
        assert!(
            e.contains("no readable examples") && e.contains("none.csv"),
            "{e}"
        );
    }

    #[test]
    fn fingerprints_ignore_order_but_not_labels() {
        let d = tempfile::tempdir().unwrap();
        let a = write(d.path(), "a.csv", b"text,label\nx,1\ny,2\n");
        let b = write(
            d.path(),
            "b.jsonl",
            b"{\"text\":\"y\",\"label\":2}\n{\"text\":\"x\",\"label\":1}\n",
        );
        let c = write(d.path(), "c.csv", b"text,label\nx,2\ny,1\n");
        let fp = |p: &Path| Dataset::load(p, Modality::Text).unwrap().fingerprint();
        assert_eq!(fp(&a), fp(&b));
        assert_ne!(fp(&a), fp(&c));
    }

    #[test]
    fn descriptions_are_short() {
        assert_eq!(describe(&Input::Text("hi".into())), "text \"hi\"");
        let long = "é".repeat(50);
        let short = describe(&Input::Text(long));
        assert_eq!(short, format!("text \"{}…\"", "é".repeat(40)));
    }
}
