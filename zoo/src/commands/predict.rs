//! `zoo predict`: classify images with a pulled model.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::Result;
use zoo_ort::Classifier;
use zoo_ort::pipeline::{PipelineOptions, expand_inputs};
use zoo_registry::card::Preprocessing;
use zoo_registry::{Catalog, Task};
use zoo_types::TerminalSafe;

use super::runnable_model;
use super::runtime::{classify_error, engine, open};
use crate::cli::PredictArgs;
use crate::exit::BadInput;
use crate::table::Table;

/// One JSON output line; a struct so the keys keep this order.
#[derive(serde::Serialize)]
struct Line<'a> {
    path: &'a str,
    predictions: &'a [zoo_ort::Score],
    provider: &'a str,
}

pub fn predict(catalog: &Catalog, args: &PredictArgs) -> Result<ExitCode> {
    let card = &catalog.resolve(&args.model)?.card;
    // Refuse the wrong kind of model before asking for a pull it would not need.
    let preprocessing = card.io.as_ref().and_then(|io| io.preprocessing.as_ref());
    if card.task == Task::TextClassification
        && matches!(preprocessing, Some(Preprocessing::Text(_)))
    {
        return predict_text(catalog, args);
    }
    if card.task == Task::TextEmbedding || matches!(preprocessing, Some(Preprocessing::Text(_))) {
        return Err(BadInput(format!(
            "model '{}' is a {} model, not an image classifier; use `zoo embed {}`",
            card.name, card.task, card.name
        ))
        .into());
    }
    let no_preprocessing = || {
        BadInput(format!(
            "model '{}' ({}) has no image preprocessing in its card; zoo predict runs image classifiers",
            card.name, card.task
        ))
    };
    // A checkpoint to convert may get its preprocessing from its own files.
    if !matches!(preprocessing, Some(Preprocessing::Image(_)))
        && !zoo_convert::derived::is_convertible(card)
    {
        return Err(no_preprocessing().into());
    }
    let labels = labels_of(catalog, card)?;

    let (card, dir) = runnable_model(catalog, &args.model)?;
    let preprocessing = card.io.as_ref().and_then(|io| io.preprocessing.as_ref());
    if !matches!(preprocessing, Some(Preprocessing::Image(_))) {
        return Err(no_preprocessing().into());
    }
    let stdin = std::io::stdin();
    let (paths, input_errors) = expand_inputs(&args.inputs, &mut stdin.lock());
    let mut failures = input_errors.len();
    for e in &input_errors {
        eprintln!(
            "error: {}: {}",
            TerminalSafe::new(&e.input),
            TerminalSafe::new(&e.message)
        );
    }
    if paths.is_empty() {
        return Err(BadInput("no images to classify".to_owned()).into());
    }

    let mut engine = engine(&args.exec)?;
    engine.set_decoders(true);
    let session = open(&engine, &card, &dir)?;
    let provider = session.provider();
    let workers = args
        .decoders
        .map_or_else(|| engine.decode_workers(provider), usize::from);
    let mut classifier = Classifier::new(session, &card, labels).map_err(classify_error)?;
    let options = PipelineOptions {
        batch: args.batch.max(1),
        workers,
    };
    let mut table = Table::new(&["IMAGE", "RANK", "LABEL", "PROBABILITY"]);
    let stdout = std::io::stdout();
    let started = std::time::Instant::now();
    classifier.classify_paths(&paths, args.top_k.max(1), options, |p| {
        let shown = p.path.display().to_string();
        match p.result {
            Err(message) => {
                failures += 1;
                eprintln!(
                    "error: {}: {}",
                    TerminalSafe::new(&shown),
                    TerminalSafe::new(&message)
                );
            }
            Ok(scores) if args.json => {
                let line = super::json_line(&Line {
                    path: &shown,
                    predictions: &scores,
                    provider: provider.ort_name(),
                })
                .expect("serializes");
                let _ = writeln!(stdout.lock(), "{line}");
            }
            Ok(scores) => score_rows(&mut table, shown, &scores),
        }
    })?;
    let seconds = started.elapsed().as_secs_f64();
    if !args.json {
        // Labels come from the catalog's label files.
        super::print_lines_safe(&table.render());
    }
    // Decoding, preprocessing and inference together, after start-up and the
    // model's load: the pipeline's own throughput (benchmarks read this line).
    eprintln!(
        "zoo: {} image(s) in {seconds:.3} s, {:.1} images/s ({workers} decoder thread(s); start-up and model load not counted)",
        paths.len(),
        paths.len() as f64 / seconds.max(1e-9)
    );
    if failures > 0 {
        eprintln!(
            "zoo: {failures} of {} inputs failed",
            paths.len() + input_errors.len()
        );
        return Ok(ExitCode::from(crate::exit::FAILURE));
    }
    Ok(ExitCode::SUCCESS)
}

fn labels_of(catalog: &Catalog, card: &zoo_registry::Card) -> Result<Vec<String>> {
    let labels_name = card.io.as_ref().and_then(|io| io.labels.clone()).ok_or_else(|| {
        BadInput(format!(
            "model '{}' has no labels (its card sets no io.labels), so zoo predict cannot name its classes",
            card.name
        ))
    })?;
    Ok(catalog.labels(&labels_name).ok_or_else(|| {
        BadInput(format!(
            "label file '{labels_name}' for model '{}' is not in the catalog",
            card.name
        ))
    })?)
}

/// One JSON output line of a text classifier.
#[derive(serde::Serialize)]
struct TextLine<'a> {
    text: &'a str,
    predictions: &'a [zoo_ort::Score],
    provider: &'a str,
}

/// `zoo predict` on a text classifier (e.g. one made by `zoo finetune` from a
/// text-embedding backbone): the inputs are texts, `-` reads lines from stdin.
fn predict_text(catalog: &Catalog, args: &PredictArgs) -> Result<ExitCode> {
    let (card, dir) = runnable_model(catalog, &args.model)?;
    let labels = labels_of(catalog, &card)?;
    let mut texts = Vec::new();
    for input in &args.inputs {
        if input == "-" {
            for line in std::io::stdin().lock().lines() {
                let line = line?;
                if !line.trim().is_empty() {
                    texts.push(line);
                }
            }
        } else {
            texts.push(input.clone());
        }
    }
    if texts.is_empty() {
        return Err(BadInput("no texts to classify".to_owned()).into());
    }
    let Some(Preprocessing::Text(pre)) = card.io.as_ref().and_then(|io| io.preprocessing.as_ref())
    else {
        unreachable!("checked by the caller");
    };
    let tokenizer = dir.join(&pre.tokenizer);
    let engine = engine(&args.exec)?;
    let session = open(&engine, &card, &dir)?;
    let provider = session.provider();
    let mut classifier = zoo_ort::TextClassifier::new(session, &card, &tokenizer, labels.clone())
        .map_err(classify_error)?;
    classifier.set_batch(args.batch.max(1));
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let probabilities = classifier.probabilities(&refs)?;
    let mut table = Table::new(&["TEXT", "RANK", "LABEL", "PROBABILITY"]);
    let stdout = std::io::stdout();
    for (text, probs) in texts.iter().zip(&probabilities) {
        let scores: Vec<zoo_ort::Score> = zoo_ort::top_k(probs, args.top_k.max(1))
            .into_iter()
            .map(|i| zoo_ort::Score {
                label: labels.get(i).cloned().unwrap_or_else(|| i.to_string()),
                index: i,
                probability: probs[i],
            })
            .collect();
        if args.json {
            let line = super::json_line(&TextLine {
                text,
                predictions: &scores,
                provider: provider.ort_name(),
            })?;
            writeln!(stdout.lock(), "{line}")?;
            continue;
        }
        score_rows(&mut table, preview(text), &scores);
    }
    if !args.json {
        super::print_lines_safe(&table.render());
    }
    Ok(ExitCode::SUCCESS)
}

/// A text cut to fit a table cell.
fn preview(text: &str) -> String {
    const WIDTH: usize = 50;
    if text.chars().count() <= WIDTH {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(WIDTH - 1).collect();
        format!("{cut}…")
    }
}

/// One table row per score, the input named on the first.
fn score_rows(table: &mut Table, input: String, scores: &[zoo_ort::Score]) {
    // File names and texts are the user's, but a folder may hold any name.
    let mut input = Some(TerminalSafe::new(&input).to_string());
    for (rank, s) in scores.iter().enumerate() {
        table.row(vec![
            input.take().unwrap_or_default(),
            (rank + 1).to_string(),
            s.label.clone(),
            format!("{:.4}", s.probability),
        ]);
    }
}
