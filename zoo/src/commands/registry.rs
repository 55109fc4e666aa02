//! `zoo registry check`.

use std::process::ExitCode;

use anyhow::Result;
use zoo_registry::{Catalog, RegistryError};

use crate::cli::CheckArgs;

pub fn check(args: &CheckArgs) -> Result<ExitCode> {
    let builtin = Catalog::embedded();
    let (what, result) = match &args.dir {
        Some(dir) => {
            let builtin_labels = |name: &str| builtin.as_ref().is_ok_and(|c| c.has_labels(name));
            (
                dir.display().to_string(),
                zoo_registry::check_dir(dir, &builtin_labels),
            )
        }
        None => (
            "built-in catalog".to_owned(),
            builtin.map(|c| c.entries().len()),
        ),
    };
    match result {
        Ok(count) => {
            if args.json {
                super::print_json(
                    &serde_json::json!({"ok": true, "cards": count, "problems": []}),
                )?;
            } else {
                println!("{what}: {count} card(s) OK");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(RegistryError::Invalid(diags)) if args.json => {
            super::print_json(&serde_json::json!({"ok": false, "problems": diags}))?;
            Ok(ExitCode::from(crate::exit::BAD_INPUT))
        }
        Err(RegistryError::Invalid(diags)) => {
            for d in &diags {
                eprintln!("{d}");
            }
            eprintln!("{what}: {} problem(s) found", diags.len());
            Ok(ExitCode::from(crate::exit::BAD_INPUT))
        }
        Err(e) => Err(e.into()),
    }
}
