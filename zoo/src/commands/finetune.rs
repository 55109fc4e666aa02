//! `zoo finetune`, `zoo eval` and `zoo features`: transfer learning on a pulled
//! backbone. The work is in zoo-finetune; this file turns flags into options and
//! reports into tables.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use zoo_finetune::train::{ClassWeights, HeadSpec, TrainConfig};
use zoo_finetune::{FinetuneOptions, FinetuneReport, RunOptions, Validation};
use zoo_registry::Catalog;
use zoo_types::TerminalSafe;

use super::{print_json, runnable_model};
use crate::cli::{ClassWeighting, DataArgs, EvalArgs, FeaturesArgs, FinetuneArgs, HeadKind};
use crate::progress::{PullProgress, WorkProgress};
use crate::table::Table;

fn run_options(exec: &crate::cli::ExecArgs, batch: usize) -> RunOptions {
    RunOptions {
        device: exec.device,
        threads: exec.threads,
        batch: batch.max(1),
        ..Default::default()
    }
}

fn data_run(d: &DataArgs) -> RunOptions {
    run_options(&d.exec, d.extract_batch)
}

pub fn finetune(catalog: &Catalog, args: &FinetuneArgs) -> Result<ExitCode> {
    let (base, base_dir) = runnable_model(catalog, &args.base)?;
    // The key is read before training: a bad one fails in a second, not after.
    let signer = match &args.sign {
        Some(key) => Some(super::sign::read_signer(
            key,
            args.sign_cert.as_deref(),
            &args.sign_chain,
        )?),
        None => None,
    };
    let signed_by = signer.as_ref().map(zoo_sign::Signer::describe);
    let base_signer = base_signature(&base.name)?;
    let head = match args.head {
        HeadKind::Linear => HeadSpec::Linear,
        HeadKind::Mlp => HeadSpec::Mlp {
            hidden: args.hidden,
            dropout: args.dropout,
        },
    };
    let train = TrainConfig {
        head,
        epochs: args.epochs,
        lr: args.lr,
        batch_size: args.batch_size,
        weight_decay: args.weight_decay,
        label_smoothing: args.label_smoothing,
        class_weights: match args.class_weights {
            ClassWeighting::Uniform => ClassWeights::Uniform,
            ClassWeighting::Balanced => ClassWeights::Balanced,
        },
        // 0 means "never stop early".
        patience: if args.patience == 0 {
            usize::MAX
        } else {
            args.patience
        },
        seed: args.data.seed,
        ..Default::default()
    };
    let validation = match &args.val {
        Some(path) => Validation::Data(path.clone()),
        None => Validation::Split(args.val_split),
    };
    let opts = FinetuneOptions {
        name: args.out.clone(),
        data: args.data.data.clone(),
        validation,
        train,
        run: data_run(&args.data),
        dataset_license: args.dataset_license.clone(),
        replace: args.force,
        models_dir: zoo_env::local_models_dir(),
        register: true,
        signer: signer.map(|signer| {
            Arc::new(crate::signing::StagedSigner { signer }) as Arc<dyn zoo_finetune::ModelSigner>
        }),
        base_signer,
    };
    let progress = WorkProgress::new(args.data.quiet, "extracting features");
    let pull_progress = PullProgress::new(true, 0);
    let report = zoo_finetune::finetune(&base, &base_dir, &opts, &progress, &pull_progress)?;
    let signature = match &signed_by {
        Some(_) => {
            let name = zoo_types::ModelName::parse(&report.name)
                .map_err(|e| crate::exit::BadInput(e.to_string()))?;
            Some(crate::signing::copy_into_store(
                &zoo_fetch::Store::open_default(),
                &name,
                &report.dir,
            )?)
        }
        None => None,
    };
    if args.data.json {
        let mut value = serde_json::to_value(&report)?;
        value["signature"] = serde_json::json!(signature);
        value["signer"] = serde_json::json!(signed_by);
        print_json(&value)?;
    } else {
        print_finetune(&report);
        if let (Some(path), Some(by)) = (&signature, &signed_by) {
            println!(
                "signed with {}; wrote {}",
                TerminalSafe::new(by),
                path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The base model's signer for the lineage: recorded when its signature
/// verifies over its files (trusted or not, as the config says); a signature
/// that fails is said on stderr and not recorded.
fn base_signature(base: &zoo_types::ModelName) -> Result<Option<zoo_registry::card::BaseSigner>> {
    let store = zoo_fetch::Store::open_default();
    let Some(manifest) = store.manifest(base)? else {
        return Ok(None);
    };
    let trust = crate::signing::trust_from_config()?;
    // Against the digests recorded at pull: a large backbone is not read
    // twice (the lineage's base_sha256 records the bytes actually used).
    let status = crate::signing::status(
        &store,
        base,
        &manifest,
        &trust,
        crate::signing::FilesCheck::AsPulled,
    );
    if let zoo_sign::SignatureStatus::Failed { reason, .. } = &status {
        eprintln!(
            "warning: the signature of base model {base} does not verify ({}); the lineage records no signer",
            TerminalSafe::new(reason)
        );
    }
    Ok(crate::signing::base_signer(&status))
}

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

fn print_finetune(r: &FinetuneReport) {
    let e = &r.extraction;
    let mut t = Table::new(&["", ""]);
    t.row(vec![
        "model".into(),
        format!("{} ({})", r.name, r.dir.display()),
    ]);
    t.row(vec!["base".into(), r.base.clone()]);
    t.row(vec![
        "classes".into(),
        format!("{}: {}", r.classes.len(), r.classes.join(", ")),
    ]);
    t.row(vec![
        "items".into(),
        format!(
            "{} train, {} validation, {} skipped",
            r.train_items,
            r.val_items,
            r.skipped.len()
        ),
    ]);
    t.row(vec![
        "features".into(),
        format!(
            "{} computed, {} from cache, {} unreadable, {:.2} s{}",
            e.extracted,
            e.cached,
            e.failed,
            e.seconds,
            e.provider
                .as_deref()
                .map(|p| format!(" on {p}"))
                .unwrap_or_default()
        ),
    ]);
    t.row(vec![
        "head".into(),
        format!(
            "{}, best epoch {} of {}{}, trained in {:.3} s",
            r.head,
            r.best_epoch,
            r.epochs.len(),
            if r.stopped_early {
                " (stopped early)"
            } else {
                ""
            },
            r.timings.train_seconds
        ),
    ]);
    if let Some(acc) = r.val_accuracy {
        let baseline = r
            .majority_baseline
            .map(|b| format!(" (majority class: {})", pct(b)))
            .unwrap_or_default();
        t.row(vec![
            "val accuracy".into(),
            format!("{}{baseline}", pct(acc)),
        ]);
    }
    t.row(vec![
        "model.onnx".into(),
        format!("sha256 {}", r.model_sha256),
    ]);
    t.row(vec![
        "total".into(),
        format!("{:.2} s", r.timings.total_seconds),
    ]);
    // Class names and file names come from the data set.
    super::print_lines_safe(t.render().trim_start_matches('\n'));
    for s in r.skipped.iter().take(5) {
        eprintln!(
            "skipped: {}: {}",
            TerminalSafe::new(&s.item),
            TerminalSafe::new(&s.reason)
        );
    }
    if r.skipped.len() > 5 {
        eprintln!("skipped: ... and {} more", r.skipped.len() - 5);
    }
    println!(
        "\nTry: zoo predict {} ...   zoo eval {} --data TEST   zoo info {}",
        r.name, r.name, r.name
    );
}

pub fn eval(catalog: &Catalog, args: &EvalArgs) -> Result<ExitCode> {
    let (card, dir) = runnable_model(catalog, &args.model)?;
    let labels_name = card
        .io
        .as_ref()
        .and_then(|io| io.labels.clone())
        .ok_or_else(|| {
            crate::exit::BadInput(format!(
                "model '{}' has no labels (its card sets no io.labels), so it cannot be scored against a labelled set",
                card.name
            ))
        })?;
    let labels = catalog.labels(&labels_name).unwrap_or_default();
    let run = run_options(&args.exec, args.batch);
    let progress = WorkProgress::new(args.quiet, "scoring");
    let report = zoo_finetune::evaluate(
        &card, &dir, &labels, &args.data, &run, args.items, &progress,
    )?;
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let m = &report.metrics;
    super::print_lines_safe(&format!(
        "{} on {}: {} items, accuracy {}, macro-F1 {:.4} ({} skipped, {:.2} s on {})",
        report.model,
        report.data.display(),
        m.items,
        pct(m.accuracy),
        m.macro_f1,
        report.skipped.len(),
        report.seconds,
        report.provider
    ));
    let mut t = Table::new(&["CLASS", "PRECISION", "RECALL", "F1", "SUPPORT"]);
    for c in &m.per_class {
        t.row(vec![
            c.class.clone(),
            format!("{:.4}", c.precision),
            format!("{:.4}", c.recall),
            format!("{:.4}", c.f1),
            c.support.to_string(),
        ]);
    }
    super::print_lines_safe(&t.render());
    // Confusion matrix: rows are true classes, columns predicted, headed by index.
    let mut header = vec!["TRUE \\ PREDICTED".to_owned()];
    header.extend((0..report.classes.len()).map(|i| i.to_string()));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut cm = Table::new(&header);
    for (i, row) in m.confusion.iter().enumerate() {
        let mut cells = vec![format!("{i} {}", report.classes[i])];
        cells.extend(row.iter().map(usize::to_string));
        cm.row(cells);
    }
    super::print_lines_safe(&cm.render());
    for s in report.skipped.iter().take(5) {
        eprintln!(
            "skipped: {}: {}",
            TerminalSafe::new(&s.item),
            TerminalSafe::new(&s.reason)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn features(catalog: &Catalog, args: &FeaturesArgs) -> Result<ExitCode> {
    let (base, base_dir) = runnable_model(catalog, &args.base)?;
    let progress = WorkProgress::new(args.data.quiet, "extracting features");
    let opts = zoo_finetune::FeaturesOptions {
        data: args.data.data.clone(),
        out: args.out.clone(),
        val_split: args.val_split,
        seed: args.data.seed,
        run: data_run(&args.data),
    };
    let report = zoo_finetune::export_features(&base, &base_dir, &opts, &progress)?;
    if args.data.json {
        print_json(&report)?;
    } else {
        let e = &report.extraction;
        super::print_lines_safe(&format!(
            "{}: {} items x {} features from {} ({} classes; {} train, {} validation), {} computed, {} cached, {} skipped, {:.2} s",
            report.out.display(),
            report.items,
            report.dim,
            report.base,
            report.classes.len(),
            report.train_items,
            report.val_items,
            e.extracted,
            e.cached,
            report.skipped.len(),
            e.seconds
        ));
    }
    Ok(ExitCode::SUCCESS)
}
