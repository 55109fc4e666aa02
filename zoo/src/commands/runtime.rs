//! `zoo runtime install|info`, and what `predict` and `embed` share: opening a
//! pulled model on the requested device.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use zoo_ort::{Engine, EngineOptions, Flavor, ModelSession, OrtError};
use zoo_registry::Card;
use zoo_registry::card::{FileFormat, FileRole};

use super::print_json;
use crate::cli::{ExecArgs, JsonArgs, RuntimeInstallArgs};
use crate::exit::BadInput;
use crate::table::Table;

pub fn install(args: &RuntimeInstallArgs) -> Result<ExitCode> {
    let flavor = if args.cuda { Flavor::Cuda } else { Flavor::Cpu };
    let existing = zoo_ort::provision::installed(flavor);
    let location = match existing {
        Some(found) if !args.force => {
            if !args.json {
                eprintln!(
                    "ONNX Runtime {} ({flavor}) is already installed in {} (--force reinstalls)",
                    found.version.as_deref().unwrap_or("?"),
                    found.dir().display()
                );
            }
            found
        }
        _ => {
            if flavor == Flavor::Cuda
                && let zoo_ort::DriverHint::Absent(why) = zoo_ort::driver_hint()
            {
                eprintln!(
                    "zoo: warning: {why}; installing anyway, CUDA will not run on this machine"
                );
            }
            zoo_ort::provision::install(flavor, &mut |step| eprintln!("zoo: {step}"))?
        }
    };
    if args.json {
        print_json(&location)?;
    } else if let Some(m) = &location.manifest {
        let total: u64 = m.files.iter().map(|f| f.size).sum();
        println!(
            "ONNX Runtime {} ({}) in {}: {} files, {:.1} MB, verified against {}",
            m.version,
            m.flavor,
            location.dir().display(),
            m.files.len(),
            total as f64 / 1e6,
            m.wheels
                .iter()
                .map(|w| w.file.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn info(args: &JsonArgs) -> Result<ExitCode> {
    let installs: Vec<(Flavor, Option<zoo_ort::RuntimeLocation>)> = [Flavor::Cpu, Flavor::Cuda]
        .into_iter()
        .map(|f| (f, zoo_ort::provision::installed(f)))
        .collect();
    let Some(location) = zoo_ort::provision::best_installed()? else {
        if args.json {
            print_json(&serde_json::json!({
                "installed": false,
                "runtime_dir": zoo_env::runtime_dir(),
                "hint": "run `zoo runtime install` (or any command that runs a model)",
            }))?;
        } else {
            println!(
                "No ONNX Runtime installed in {}.\nRun `zoo runtime install` (or `--cuda`), or point ORT_DYLIB_PATH at a libonnxruntime.",
                zoo_env::runtime_dir().display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    };
    let runtime = zoo_ort::load(location)?;
    let info = runtime.info();
    if args.json {
        let mut value = serde_json::to_value(&info)?;
        value["installed"] = serde_json::json!(
            installs
                .iter()
                .map(|(f, l)| (f.as_str(), l.as_ref().map(|l| l.dir().to_path_buf())))
                .collect::<std::collections::BTreeMap<_, _>>()
        );
        print_json(&value)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new(&["", ""]);
    t.row(vec!["version".into(), info.version.clone()]);
    t.row(vec!["library".into(), info.library.clone()]);
    t.row(vec!["found via".into(), info.found.to_string()]);
    t.row(vec!["build".into(), info.flavor.to_string()]);
    t.row(vec!["providers".into(), info.providers.join(", ")]);
    let devices: Vec<String> = info
        .devices
        .iter()
        .map(|d| format!("{} {} ({}, id {})", d.provider, d.kind, d.vendor, d.id))
        .collect();
    t.row(vec![
        "devices".into(),
        if devices.is_empty() {
            "none reported".into()
        } else {
            devices.join("; ")
        },
    ]);
    let cuda = if info.cuda.usable {
        format!(
            "usable, {} device(s)",
            info.cuda.devices.map_or("?".to_owned(), |n| n.to_string())
        )
    } else {
        format!(
            "not usable: {}",
            info.cuda.reason.as_deref().unwrap_or("unknown")
        )
    };
    t.row(vec!["cuda".into(), cuda]);
    if info.cuda.reason.as_deref() != Some(info.cuda.driver.as_str()) {
        t.row(vec!["nvidia driver".into(), info.cuda.driver.clone()]);
    }
    for (flavor, loc) in &installs {
        let what = loc.as_ref().map_or("not installed".to_owned(), |l| {
            l.dir().display().to_string()
        });
        t.row(vec![format!("installed ({flavor})"), what]);
    }
    // The header row is empty (a key-value listing); drop its blank line.
    print!("{}", t.render().trim_start_matches('\n'));
    Ok(ExitCode::SUCCESS)
}

/// Load the runtime for `exec.device` (installing the CPU runtime when missing).
pub(super) fn engine(exec: &ExecArgs) -> Result<Engine> {
    let options = EngineOptions {
        device: exec.device,
        threads: exec.threads,
        cache: (!exec.no_cache).then(|| zoo_env::cache_dir().join("sessions")),
    };
    Ok(Engine::new(options)?)
}

/// The card's ONNX model file in the pulled directory, with its digest.
pub(super) fn model_file(card: &Card, dir: &Path) -> Result<(PathBuf, Option<String>)> {
    let entry = card
        .files
        .iter()
        .find(|f| f.format == FileFormat::Onnx && f.role == FileRole::Model)
        .ok_or_else(|| {
            BadInput(format!(
                "model '{}' has no ONNX model file; zoo runs ONNX models only",
                card.name
            ))
        })?;
    // Weights in external-data files are part of the digest that names the
    // optimized-model cache entry.
    let digest = match (&entry.sha256, card.external_data_sha256()) {
        (Some(model), Some(data)) => Some(zoo_ort::graph_digest(model.as_str(), &data)),
        _ => None,
    };
    if digest.is_none() && card.external_data_sha256().is_none_or(|d| !d.is_empty()) {
        // Without every digest the cache cannot be keyed safely: run uncached
        // rather than hash only the graph file.
        return Err(BadInput(format!(
            "model '{}' has ONNX external data without a sha256 in its card; add the \
             digests (zoo registry check lists what is missing)",
            card.name
        ))
        .into());
    }
    Ok((dir.join(&entry.path), digest))
}

/// Open the pulled model and say on stderr which provider runs it.
pub(super) fn open(engine: &Engine, card: &Card, dir: &Path) -> Result<ModelSession> {
    let (path, digest) = model_file(card, dir)?;
    let session = engine
        .open(&path, digest.as_deref())
        .with_context(|| format!("opening {}", path.display()))?;
    eprintln!(
        "zoo: {} on {} ({} threads, ONNX Runtime {})",
        card.name,
        session.provider(),
        engine.threads(),
        engine.runtime().version()
    );
    Ok(session)
}

/// Input mistakes from zoo-ort (wrong kind of model, bad card) exit with 2.
pub(super) fn classify_error(e: OrtError) -> anyhow::Error {
    match e {
        OrtError::Input(m) => BadInput(m).into(),
        other => other.into(),
    }
}
