//! `zoo convert`, and the conversion on first use that `embed`, `predict` and
//! `finetune` share: a pulled checkpoint becomes a runnable ONNX model.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use zoo_convert::derived::{self, ConvertedModel};
use zoo_registry::{Card, Catalog};

use super::{print_json, pulled_model};
use crate::cli::ConvertArgs;
use crate::exit::BadInput;

pub fn convert(catalog: &Catalog, args: &ConvertArgs) -> Result<ExitCode> {
    // A path has a `/` (`./my-checkpoint`), so a model name never turns into a
    // directory that happens to share its name.
    let dir = Path::new(&args.model);
    if (args.model.contains('/') || matches!(args.model.as_str(), "." | "..")) && dir.is_dir() {
        return convert_dir(dir, args);
    }
    if args.out.is_some() {
        return Err(BadInput(
            "--out is for converting a directory; a pulled model's conversion goes to the store"
                .into(),
        )
        .into());
    }
    let (card, dir) = pulled_model(catalog, &args.model)?;
    let converted = derived::convert_pulled(&card, &dir, args.force, &mut || {})?;
    let onnx = converted.dir.join(&converted.record.onnx);
    if args.json {
        let mut value = serde_json::to_value(&converted.record)?;
        value["path"] = serde_json::json!(onnx);
        value["cached"] = serde_json::json!(converted.cached);
        print_json(&value)?;
    } else {
        let r = &converted.record;
        let how = if converted.cached {
            "already converted".to_owned()
        } else {
            format!("converted in {:.1} s", r.seconds)
        };
        println!(
            "{}: {}, {} parameters, {how}\n  {}\n  from {} (sha256 {}), builder {}",
            r.model,
            r.model_type,
            r.parameters,
            onnx.display(),
            r.source,
            r.source_sha256,
            r.builder_version
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn convert_dir(dir: &Path, args: &ConvertArgs) -> Result<ExitCode> {
    let out: &PathBuf = args.out.as_ref().ok_or_else(|| {
        BadInput(format!(
            "converting the directory {} needs --out FILE.onnx",
            dir.display()
        ))
    })?;
    if out.exists() && !args.force {
        return Err(BadInput(format!("{} exists; --force replaces it", out.display())).into());
    }
    let started = std::time::Instant::now();
    let conversion = zoo_convert::convert_checkpoint(
        &dir.join("config.json"),
        &dir.join("model.safetensors"),
        out,
        &[],
        if args.external_data {
            0
        } else {
            zoo_convert::EXTERNAL_DATA_ABOVE
        },
    )?;
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        let mut value = serde_json::to_value(&conversion)?;
        value["seconds"] = serde_json::json!(seconds);
        print_json(&value)?;
    } else {
        println!(
            "{}: {}, {} parameters, converted in {seconds:.1} s",
            conversion.onnx.display(),
            conversion.architecture,
            conversion.parameters
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A pulled model ready to run: as pulled when it has an ONNX graph, else its
/// checkpoint converted (from the store when converted before). Says on
/// stderr when it converts.
pub(crate) fn runnable_model(catalog: &Catalog, name: &str) -> Result<(Card, PathBuf)> {
    let (card, dir) = pulled_model(catalog, name)?;
    if !derived::is_convertible(&card) {
        return Ok((card, dir));
    }
    let name = card.name.clone();
    let announce = &mut || {
        eprintln!(
            "zoo: {name} has no ONNX model; converting its checkpoint (once, kept in the store)"
        );
    };
    let ConvertedModel {
        card,
        dir,
        record,
        cached,
    } = derived::convert_pulled(&card, &dir, false, announce)?;
    if !cached {
        eprintln!(
            "zoo: converted {} ({} parameters) in {:.1} s",
            record.model, record.parameters, record.seconds
        );
    }
    Ok((card, dir))
}
