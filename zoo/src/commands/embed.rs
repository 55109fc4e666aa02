//! `zoo embed`: sentence embeddings from a pulled text-embedding model.

use std::collections::HashMap;
use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use zoo_ort::TextEmbedder;
use zoo_registry::Catalog;
use zoo_registry::card::{Preprocessing, TextPreprocessing};

use super::runnable_model;
use super::runtime::{classify_error, engine, open};
use crate::cli::EmbedArgs;
use crate::exit::BadInput;

/// One output line; a struct so the keys keep this order.
#[derive(serde::Serialize)]
struct Line<'a> {
    text: &'a str,
    embedding: &'a [f32],
}

fn text_preprocessing(card: &zoo_registry::Card) -> Result<&TextPreprocessing> {
    match card.io.as_ref().and_then(|io| io.preprocessing.as_ref()) {
        Some(Preprocessing::Text(t)) => Ok(t),
        Some(Preprocessing::Image(_)) => Err(BadInput(format!(
            "model '{}' is an {} model and takes images; use `zoo predict {} IMAGE...`",
            card.name, card.task, card.name
        ))
        .into()),
        None => Err(BadInput(format!(
            "model '{}' ({}) has no text preprocessing in its card; zoo embed runs text-embedding models",
            card.name, card.task
        ))
        .into()),
    }
}

fn read_texts(args: &EmbedArgs) -> Result<Vec<String>> {
    let mut texts = args.texts.clone();
    if let Some(file) = &args.file {
        let reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            let f = std::fs::File::open(file)
                .map_err(|e| BadInput(format!("{}: {e}", file.display())))?;
            Box::new(std::io::BufReader::new(f))
        };
        for line in reader.lines() {
            let line = line.with_context(|| format!("reading {}", file.display()))?;
            if !line.trim().is_empty() {
                texts.push(line);
            }
        }
    }
    if texts.is_empty() {
        return Err(BadInput("no texts to embed".to_owned()).into());
    }
    Ok(texts)
}

pub fn embed(catalog: &Catalog, args: &EmbedArgs) -> Result<ExitCode> {
    let card = &catalog.resolve(&args.model)?.card;
    // Refuse the wrong kind of model before asking for a pull it would not need;
    // a checkpoint to convert may get its preprocessing from its own files.
    let declared = card
        .io
        .as_ref()
        .is_some_and(|io| io.preprocessing.is_some());
    if declared || !zoo_convert::derived::is_convertible(card) {
        text_preprocessing(card)?;
    }
    let (card, dir) = runnable_model(catalog, &args.model)?;
    let pre = text_preprocessing(&card)?.clone();
    let texts = read_texts(args)?;

    let engine = engine(&args.exec)?;
    let session = open(&engine, &card, &dir)?;
    let provider = session.provider();
    let tokenizer = dir.join(&pre.tokenizer);
    let mut embedder = TextEmbedder::new(session, &card, &tokenizer).map_err(classify_error)?;
    embedder.set_batch(args.batch);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();

    match &args.out {
        None => {
            let mut out = BufWriter::new(std::io::stdout().lock());
            embedder.embed_each(&refs, |i, e| {
                let line = super::json_line(&Line {
                    text: &texts[i],
                    embedding: e,
                })
                .expect("serializes");
                writeln!(out, "{line}")
                    .map_err(|e| zoo_ort::OrtError::Input(format!("writing output: {e}")))
            })?;
            out.flush()?;
        }
        Some(path) => {
            let rows = embedder.embed(&refs)?;
            let dim = rows.first().map_or(0, Vec::len);
            let pooling = format!(
                "{:?}",
                pre.pooling.unwrap_or(zoo_registry::card::Pooling::Mean)
            )
            .to_lowercase();
            let metadata = HashMap::from([
                ("model".to_owned(), card.name.to_string()),
                ("count".to_owned(), rows.len().to_string()),
                ("dim".to_owned(), dim.to_string()),
                ("pooling".to_owned(), pooling.clone()),
                ("normalized".to_owned(), pre.normalize.to_string()),
                ("provider".to_owned(), provider.ort_name().to_owned()),
            ]);
            zoo_ort::write_safetensors(path, &rows, metadata)?;
            eprintln!(
                "zoo: wrote {} embeddings of dimension {dim} to {}",
                rows.len(),
                path.display()
            );
            if args.json {
                super::print_json(&serde_json::json!({
                    "out": path,
                    "model": card.name,
                    "count": rows.len(),
                    "dim": dim,
                    "pooling": pooling,
                    "normalized": pre.normalize,
                    "provider": provider.ort_name(),
                }))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
