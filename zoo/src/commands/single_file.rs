//! `zoo export NAME --single-file OUT.onnx`: a model whose weights live in
//! ONNX external data (a fine-tune's backbone, shared with every fine-tune of
//! the same base) written as one self-contained file for tools that want one.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde::Serialize;
use zoo_registry::Catalog;
use zoo_registry::card::{FileFormat, FileRole};

use crate::exit::BadInput;
use crate::table::human_bytes;

#[derive(Debug, Serialize)]
struct SingleFile {
    model: String,
    path: String,
    bytes: u64,
    sha256: String,
    /// The files whose tensors were written into it.
    inlined: Vec<String>,
}

pub fn export(catalog: &Catalog, name: &str, out: &Path, json: bool) -> Result<ExitCode> {
    if out.is_dir() {
        return Err(BadInput(format!(
            "--single-file {}: is a directory; give the path of the .onnx file to write",
            out.display()
        ))
        .into());
    }
    let (card, dir) = super::pulled_model(catalog, name)?;
    let graph = card
        .files
        .iter()
        .find(|f| f.format == FileFormat::Onnx && f.role == FileRole::Model)
        .with_context(|| format!("'{}' has no ONNX model file to export", card.name))?;
    // The weights are written into a file that no card describes any more:
    // checked against the card first, as `zoo verify` would.
    for f in card
        .files
        .iter()
        .filter(|f| f.format == FileFormat::OnnxData)
    {
        let (actual, _) = zoo_fetch::sha256_file(&f.path.join_to(&dir))?;
        if f.sha256.as_ref().is_none_or(|s| s.as_str() != actual) {
            anyhow::bail!(
                "{} of '{}' is not the file its card names (sha256 {actual}): run `zoo verify {}`",
                f.path,
                card.name,
                card.name
            );
        }
    }
    zoo_finetune::export::write_single_file(&graph.path.join_to(&dir), out)
        .with_context(|| format!("writing {}", out.display()))?;
    let (sha256, bytes) = zoo_fetch::sha256_file(out)?;
    let inlined = card
        .files
        .iter()
        .filter(|f| f.format == FileFormat::OnnxData)
        .map(|f| f.path.to_string())
        .collect();
    let report = SingleFile {
        model: card.name.to_string(),
        path: out.display().to_string(),
        bytes,
        sha256,
        inlined,
    };
    if json {
        super::print_json(&report)?;
    } else {
        eprintln!(
            "exported {} as one file: {} ({}, sha256 {})",
            report.model,
            zoo_types::TerminalSafe::new(&report.path),
            human_bytes(bytes),
            report.sha256
        );
    }
    Ok(ExitCode::SUCCESS)
}
