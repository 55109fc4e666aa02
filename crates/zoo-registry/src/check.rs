//! Validation of catalog files: the YAML must parse into the schema, and the cards
//! must agree with themselves and with each other. Every problem found is reported
//! (not just the first), each as `file:line: message`.

use std::collections::HashMap;
use std::path::Path;

use crate::card::{Card, FileFormat, Preprocessing, SCHEMA_VERSION, Source};
use crate::catalog::{self, SourceFile};
use crate::error::{Diagnostic, RegistryError};
use crate::openness::OpennessClass;
use crate::text;
use zoo_types::TerminalSafe;

/// Parse and validate a set of card files that form one catalog layer. Labels are
/// not checked here; `check_dir` does that with the directory's label files.
pub(crate) fn parse_files(files: &[SourceFile]) -> Result<Vec<Card>, RegistryError> {
    let (cards, mut diags) = parse_all(files);
    diags.extend(check_cards(files, &cards, None));
    if diags.is_empty() {
        Ok(cards
            .into_iter()
            .map(|c| c.expect("no diagnostics means every card parsed"))
            .collect())
    } else {
        Err(RegistryError::Invalid(diags))
    }
}

/// Check one card's YAML as the catalog would read it (labels excepted): for
/// cards zoo writes itself, so that what it writes always loads.
pub fn check_card_text(display: &str, text: &str) -> Result<Card, RegistryError> {
    let files = [SourceFile {
        display: display.to_owned(),
        text: text.to_owned(),
    }];
    Ok(parse_files(&files)?.remove(0))
}

/// Full check of a catalog directory, as `zoo registry check DIR` runs it. Label
/// files may come from the directory's `labels/` or from the built-in catalog.
pub fn check_dir(
    dir: &Path,
    builtin_labels: &dyn Fn(&str) -> bool,
) -> Result<usize, RegistryError> {
    let layer = catalog::read_dir_files(dir)?;
    let (cards, mut diags) = parse_all(&layer.cards);
    let label_exists =
        |name: &str| layer.labels.iter().any(|(n, _)| n == name) || builtin_labels(name);
    diags.extend(check_cards(&layer.cards, &cards, Some(&label_exists)));
    if diags.is_empty() {
        Ok(cards.len())
    } else {
        Err(RegistryError::Invalid(diags))
    }
}

fn parse_all(files: &[SourceFile]) -> (Vec<Option<Card>>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let cards = files
        .iter()
        .map(|f| {
            if let Err(e) = zoo_fs::check_nesting(&f.text, zoo_fs::limits::YAML_DEPTH) {
                diags.push(Diagnostic {
                    file: f.display.clone(),
                    line: e.line,
                    message: e.to_string(),
                });
                return None;
            }
            let unsafe_text = text::unsafe_strings(&f.text);
            if !unsafe_text.is_empty() {
                diags.extend(unsafe_text.into_iter().map(|u| Diagnostic {
                    file: f.display.clone(),
                    line: u.line,
                    message: u.message,
                }));
                return None;
            }
            parse_card(f, &mut diags)
        })
        .collect();
    (cards, diags)
}

fn parse_card(f: &SourceFile, diags: &mut Vec<Diagnostic>) -> Option<Card> {
    match serde_yaml::from_str::<Card>(&f.text) {
        Ok(card) => Some(card),
        Err(e) => {
            diags.push(Diagnostic {
                file: f.display.clone(),
                line: e.location().map_or(0, |l| l.line()),
                // serde's messages quote the offending value.
                message: TerminalSafe::new(&strip_location(&e.to_string())).to_string(),
            });
            None
        }
    }
}

/// serde_yaml appends "at line L column C"; the diagnostic already leads with it.
fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

type LabelCheck<'a> = Option<&'a dyn Fn(&str) -> bool>;

fn check_cards(
    files: &[SourceFile],
    cards: &[Option<Card>],
    labels: LabelCheck<'_>,
) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    // name or alias (lower-case) -> (file, line) that claimed it first
    let mut claimed: HashMap<String, (String, usize)> = HashMap::new();
    for (file, card) in files.iter().zip(cards) {
        let Some(card) = card else { continue };
        let mut report = |needle: &str, message: String| {
            diags.push(Diagnostic {
                file: file.display.clone(),
                line: line_of(&file.text, needle),
                message,
            });
        };
        for (i, id) in std::iter::once(&card.name).chain(&card.aliases).enumerate() {
            let key = id.to_ascii_lowercase();
            let needle = if i == 0 {
                format!("name: {id}")
            } else {
                id.to_string()
            };
            let here = (file.display.clone(), line_of(&file.text, &needle));
            if let Some((other_file, other_line)) = claimed.get(&key) {
                report(
                    &needle,
                    format!(
                        "duplicate name or alias '{id}' (already used at {other_file}:{other_line})"
                    ),
                );
            } else {
                claimed.insert(key, here);
            }
        }
        check_card(card, &mut report, labels);
    }
    diags
}

fn check_card(card: &Card, report: &mut dyn FnMut(&str, String), labels: LabelCheck<'_>) {
    if card.schema != SCHEMA_VERSION {
        report(
            "schema:",
            format!(
                "schema {} is not supported; this zoo reads schema {SCHEMA_VERSION}",
                card.schema
            ),
        );
    }
    if let Err(e) = card.license.validate() {
        report("license:", e.0);
    }
    check_files(card, report);
    check_sources(card, report);
    check_openness(card, report);
    if let Some(io) = &card.io {
        if let (Some(label), Some(exists)) = (&io.labels, labels)
            && !exists(label)
        {
            report(
                "labels:",
                format!("label file '{label}' not found: add labels/{label}.txt beside the cards"),
            );
        }
        if let Some(Preprocessing::Image(image)) = &io.preprocessing
            && let Err(message) = check_image_sizes(image.resize, image.crop)
        {
            report("resize:", message);
        }
        if let Some(Preprocessing::Text(text)) = &io.preprocessing
            && card.file(&text.tokenizer).is_none()
        {
            report(
                "tokenizer:",
                format!(
                    "tokenizer '{}' is not one of the card's files",
                    text.tokenizer
                ),
            );
        }
    }
    for m in &card.metrics {
        if !m.value.is_finite() {
            report(
                "metrics:",
                format!("metric '{}' has a non-finite value", m.metric),
            );
        }
    }
}

/// The largest `resize` and `crop` a card may ask for. The crop is the model's
/// input (4096x4096 RGB floats are 200 MB per image of a batch) and every image is
/// resized to `resize` first; no real model takes more, and a card asking for
/// 60000 would make preprocessing allocate tens of gigabytes.
pub const MAX_IMAGE_SIDE: u32 = 4096;

/// `0 < crop <= resize <= MAX_IMAGE_SIDE`, said in a message that names the limit.
/// zoo-ort checks it again before it allocates, for cards that never went
/// through the catalog check.
pub fn check_image_sizes(resize: u32, crop: u32) -> Result<(), String> {
    if resize > MAX_IMAGE_SIDE || crop > MAX_IMAGE_SIDE {
        return Err(format!(
            "preprocessing resize {resize} / crop {crop} is larger than {MAX_IMAGE_SIDE} pixels, \
             the most zoo accepts (each image would need more memory than any real model uses)"
        ));
    }
    if crop == 0 || resize < crop {
        return Err(format!(
            "preprocessing needs 0 < crop <= resize, got resize {resize} crop {crop}"
        ));
    }
    Ok(())
}

fn check_files(card: &Card, report: &mut dyn FnMut(&str, String)) {
    let mut seen = Vec::new();
    for f in &card.files {
        if seen.contains(&&f.path) {
            report(&f.path, format!("file '{}' is listed twice", f.path));
        }
        seen.push(&f.path);
        match &f.sha256 {
            None if !card.sources.iter().any(|s| matches!(s, Source::Hf(_))) => report(
                &f.path,
                format!(
                    "file '{}' has no sha256 and no hf source to take the LFS digest from: \
                     nothing could verify it",
                    f.path
                ),
            ),
            _ => {}
        }
        let ext = f.path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        let expected = match ext.as_deref() {
            Some("onnx") => Some(FileFormat::Onnx),
            Some("safetensors") => Some(FileFormat::Safetensors),
            Some("gguf") => Some(FileFormat::Gguf),
            _ if crate::pickle::pickle_extension(&f.path).is_some() => Some(FileFormat::Pickle),
            _ => None,
        };
        if let Some(expected) = expected
            && expected != f.format
        {
            report(
                &f.path,
                format!(
                    "file '{}' has format {:?} but its extension says {:?}",
                    f.path, f.format, expected
                ),
            );
        }
    }
}

fn check_sources(card: &Card, report: &mut dyn FnMut(&str, String)) {
    for f in &card.files {
        if !card.sources.is_empty() && !card.sources.iter().any(|s| s.serves(&f.path)) {
            report(&f.path, format!("no source serves file '{}'", f.path));
        }
    }
    for source in &card.sources {
        match source {
            Source::Hf(hf) => {
                if !hf.repo.has_owner() {
                    report(
                        &hf.repo,
                        format!("hf repo '{}' must be 'org/name'", hf.repo),
                    );
                }
            }
            Source::Url(url) => {
                if !url.base.starts_with("https://") {
                    report(&url.base, format!("url '{}' must use https://", url.base));
                }
            }
            Source::Oci(oci) => {
                if oci.reference.digest.is_none() {
                    report(
                        "oci:",
                        format!(
                            "oci reference '{}' must be pinned by its manifest digest (@sha256:...)",
                            oci.reference
                        ),
                    );
                }
                for f in card.files.iter().filter(|f| f.sha256.is_none()) {
                    report(
                        &f.path,
                        format!(
                            "file '{}' has no sha256: an oci source fetches each file as the layer with that digest",
                            f.path
                        ),
                    );
                }
            }
            // Package names and versions were validated as they were read.
            Source::Pypi(_) | Source::File(_) => {}
        }
        for renamed in source.renamed_paths() {
            if card.file(renamed).is_none() {
                report(
                    renamed,
                    format!(
                        "{} source names '{renamed}', which is not one of the card's files",
                        source.kind()
                    ),
                );
            }
        }
    }
}

/// The declared openness must follow from the files and the license, so a user
/// filtering on `--openness open` never gets a model they may not ship.
fn check_openness(card: &Card, report: &mut dyn FnMut(&str, String)) {
    let declared = card.openness.class;
    if declared == OpennessClass::Closed {
        if !card.files.is_empty() || !card.sources.is_empty() {
            report(
                "class: closed",
                "a closed model has no files or sources; remove them or change openness".to_owned(),
            );
        }
        if card.api.is_none() {
            report(
                "class: closed",
                "a closed model needs `api` (provider and documentation URL)".to_owned(),
            );
        }
        return;
    }
    if card.files.is_empty() || card.sources.is_empty() {
        report(
            "openness:",
            format!(
                "openness '{declared}' needs at least one file and one source; use 'closed' for API-only models"
            ),
        );
    }
    let derived = match card.license.terms() {
        Some(t) if t.is_unrestricted() => OpennessClass::Open,
        _ => OpennessClass::OpenWeightsRestricted,
    };
    if declared != derived {
        let why = match derived {
            OpennessClass::Open => "its license has no use, commercial or redistribution limits",
            _ => "its license terms restrict use, are gated, or are unknown",
        };
        report(
            "class:",
            format!("openness is declared '{declared}' but {why}: it should be '{derived}'"),
        );
    }
}

/// The 1-based line of the first line containing `needle`, or 0.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(0, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_sizes_have_an_upper_bound() {
        assert!(check_image_sizes(256, 224).is_ok());
        assert!(check_image_sizes(4096, 4096).is_ok());
        let e = check_image_sizes(60000, 224).unwrap_err();
        assert!(e.contains("larger than 4096"), "{e}");
        assert!(check_image_sizes(224, 256).is_err());
        assert!(check_image_sizes(10, 0).is_err());
    }
}
