//! `zoo ls`, `zoo verify`, `zoo rm`, `zoo gc`, `zoo path`.

use std::process::ExitCode;

use anyhow::Result;
use zoo_fetch::{FetchError, Store};
use zoo_registry::Catalog;
use zoo_types::{ModelName, TerminalSafe};

use crate::cli::{JsonArgs, NameArgs, VerifyArgs};
use crate::table::{Table, human_bytes};

/// A catalog name or alias to the stored name; names not in the catalog (e.g.
/// models removed from it) are taken as they are, if they are model names.
fn stored_name(catalog: &Catalog, name: &str) -> Result<ModelName> {
    match catalog.resolve(name) {
        Ok(e) => Ok(e.card.name.clone()),
        Err(_) => ModelName::parse(name).map_err(|e| crate::exit::BadInput(e.to_string()).into()),
    }
}

pub fn ls(args: &JsonArgs) -> Result<ExitCode> {
    let models = Store::open_default().list()?;
    if args.json {
        super::print_json(&models)?;
        return Ok(ExitCode::SUCCESS);
    }
    if models.is_empty() {
        println!("no models pulled yet; try `zoo pull resnet50`");
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&[
        "NAME", "VERSION", "SIZE", "FILES", "LICENSE", "OPENNESS", "ACCEPTED", "PULLED",
    ]);
    for m in &models {
        table.row(vec![
            m.name.to_string(),
            m.version.clone(),
            human_bytes(m.total_size()),
            m.files.len().to_string(),
            m.license.id.clone(),
            m.license.openness.clone(),
            if m.license.accepted { "yes" } else { "-" }.to_owned(),
            m.pulled_at.clone(),
        ]);
    }
    // Manifests are files on disk: nothing in them reaches the terminal raw.
    super::print_lines_safe(&table.render());
    Ok(ExitCode::SUCCESS)
}

pub fn verify(catalog: &Catalog, args: &VerifyArgs) -> Result<ExitCode> {
    if args.signature {
        return super::sign::verify(catalog, args);
    }
    let store = Store::open_default();
    let names: Vec<ModelName> = match &args.name {
        Some(n) => vec![stored_name(catalog, n)?],
        None => store.list()?.into_iter().map(|m| m.name).collect(),
    };
    let mut reports = Vec::new();
    for name in &names {
        match store.verify(name) {
            Ok(r) => reports.push(r),
            Err(FetchError::NotPulled(n)) => {
                anyhow::bail!("model '{n}' is not pulled: run `zoo pull {n}`")
            }
            Err(e) => return Err(e.into()),
        }
    }
    let clean = reports.iter().all(|r| r.is_clean());
    if args.json {
        super::print_json(&reports)?;
    } else {
        for r in &reports {
            if r.is_clean() {
                println!("{}: OK ({} files verified)", r.name, r.ok.len());
                continue;
            }
            // Extra files are named by whoever put them in the model's folder.
            println!("{}: PROBLEMS", r.name);
            for p in &r.missing {
                println!("  missing   {}", TerminalSafe::new(p));
            }
            for m in &r.modified {
                println!(
                    "  modified  {} (expected sha256 {}, found {})",
                    TerminalSafe::new(&m.path),
                    m.expected_sha256,
                    m.actual_sha256
                );
            }
            for p in &r.extra {
                println!("  extra     {}", TerminalSafe::new(p));
            }
        }
        if reports.is_empty() {
            println!("no models pulled");
        } else if !clean {
            println!("re-pull damaged models with `zoo pull NAME`");
        }
    }
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::FAILURE)
    })
}

pub fn rm(catalog: &Catalog, args: &NameArgs) -> Result<ExitCode> {
    let name = stored_name(catalog, &args.name)?;
    match Store::open_default().remove(&name) {
        Ok(m) if args.json => {
            super::print_json(&serde_json::json!({
                "name": name,
                "version": m.version,
                "files": m.files.len(),
                "size_bytes": m.total_size(),
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        Ok(m) => {
            println!(
                "removed {name} ({}); run `zoo gc` to free blobs no model uses",
                human_bytes(m.total_size())
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(FetchError::NotPulled(n)) => {
            anyhow::bail!("model '{n}' is not pulled; `zoo ls` lists what is")
        }
        Err(e) => Err(e.into()),
    }
}

pub fn gc(args: &JsonArgs) -> Result<ExitCode> {
    // gc waits for running pulls; say so rather than hang silently.
    let store = Store::open_default();
    let report = store.gc(&crate::progress::PullProgress::Lines("fetching"))?;
    // ONNX graphs converted from checkpoints no pulled model has any more.
    let converted = zoo_convert::derived::collect_garbage(&store);
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        value["removed_conversions"] = serde_json::json!(converted.removed_conversions);
        value["freed_bytes"] = serde_json::json!(report.freed_bytes + converted.freed_bytes);
        super::print_json(&value)?;
    } else {
        println!(
            "removed {} blob(s), {} partial download(s), {} wheel(s), {} conversion(s); freed {}",
            report.removed_blobs,
            report.removed_partials,
            report.removed_wheels,
            converted.removed_conversions,
            human_bytes(report.freed_bytes + converted.freed_bytes)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn path(catalog: &Catalog, args: &NameArgs) -> Result<ExitCode> {
    let (card, dir) = super::pulled_model(catalog, &args.name)?;
    if args.json {
        super::print_json(&serde_json::json!({"name": card.name, "path": dir}))?;
    } else {
        println!("{}", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}
