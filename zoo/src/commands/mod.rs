mod audit;
pub(crate) mod completions;
mod convert;
mod embed;
mod finetune;
mod hub;
mod info;
mod list;
mod oci;
mod predict;
mod pull;
mod registry;
mod runtime;
mod sign;
mod single_file;
mod store;

use std::process::ExitCode;

use anyhow::Result;
use zoo_registry::Catalog;

use crate::cli::{Cli, Command, GlobalArgs, RegistryCommand, RuntimeCommand};

pub(crate) use convert::runnable_model;

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::List(args) => list::list(&load_catalog(&cli.global)?, &args),
        Command::Search(args) if args.hub => hub::search(&load_catalog(&cli.global)?, &args),
        Command::Search(args) => list::search(&load_catalog(&cli.global)?, &args),
        Command::Add(args) => hub::add(&load_catalog(&cli.global)?, &args),
        Command::Outdated(args) => hub::outdated(&load_catalog(&cli.global)?, &args),
        Command::Push(args) => oci::push(&load_catalog(&cli.global)?, &args),
        Command::Export(args) => oci::export(&load_catalog(&cli.global)?, &args),
        Command::Import(args) => oci::import(&args),
        Command::Info(args) => info::info(&load_catalog(&cli.global)?, &args),
        Command::Registry(RegistryCommand::Check(args)) => registry::check(&args),
        Command::Pull(args) => pull::pull(&load_catalog(&cli.global)?, &args),
        Command::Ls(args) => store::ls(&args),
        Command::Verify(args) => store::verify(&load_catalog(&cli.global)?, &args),
        Command::Sign(args) => sign::sign(&load_catalog(&cli.global)?, &args),
        Command::Rm(args) => store::rm(&load_catalog(&cli.global)?, &args),
        Command::Gc(args) => store::gc(&args),
        Command::Path(args) => store::path(&load_catalog(&cli.global)?, &args),
        Command::Audit(args) => audit::audit(&load_catalog(&cli.global)?, &args),
        Command::Runtime(RuntimeCommand::Install(args)) => runtime::install(&args),
        Command::Runtime(RuntimeCommand::Info(args)) => runtime::info(&args),
        Command::Predict(args) => predict::predict(&load_catalog(&cli.global)?, &args),
        Command::Convert(args) => convert::convert(&load_catalog(&cli.global)?, &args),
        Command::Embed(args) => embed::embed(&load_catalog(&cli.global)?, &args),
        Command::Finetune(args) => finetune::finetune(&load_catalog(&cli.global)?, &args),
        Command::Eval(args) => finetune::eval(&load_catalog(&cli.global)?, &args),
        Command::Features(args) => finetune::features(&load_catalog(&cli.global)?, &args),
        Command::Completions(args) => completions::completions(&args),
    }
}

/// The built-in catalog, then models made locally by `zoo finetune`, then the
/// cards made from the hub (`$ZOO_HOME/catalog`), then the user's `--registry`
/// directories, each layer overriding earlier ones by name.
/// Folders that killed `zoo finetune` runs left behind are removed first, and
/// problems with local models are warnings: they must not stop every command.
fn load_catalog(global: &GlobalArgs) -> Result<Catalog> {
    let local = zoo_env::local_models_dir();
    for dir in zoo_finetune::export::remove_stale_dirs(&local) {
        eprintln!(
            "zoo: removed {}, left by a zoo finetune that was killed",
            dir.display()
        );
    }
    let mut catalog = Catalog::embedded()?;
    // Parsed cards of the user catalog and --registry directories, so that a
    // catalog of thousands of cards is not parsed again by every command.
    catalog.use_index(&zoo_env::catalog_index_dir());
    catalog.merge_local_models(&local)?;
    catalog.merge_user_dir(&zoo_env::user_catalog_dir())?;
    for warning in catalog.warnings() {
        for line in warning.lines() {
            eprintln!("warning: {}", zoo_types::TerminalSafe::new(line));
        }
    }
    for dir in &global.registries {
        catalog.merge_dir(dir)?;
    }
    Ok(catalog)
}

/// A pulled model: its card and the directory holding its files at their card
/// paths. Errors name the `zoo pull` to run when it is not in the store.
pub fn pulled_model(
    catalog: &Catalog,
    name: &str,
) -> Result<(zoo_registry::Card, std::path::PathBuf)> {
    let entry = catalog.resolve(name)?;
    let dir = zoo_fetch::Store::open_default().model_dir(&entry.card.name);
    if !dir.join(zoo_fetch::MANIFEST_FILE).is_file() {
        anyhow::bail!(
            "model '{}' is not pulled: run `zoo pull {}` first",
            entry.card.name,
            entry.card.name
        );
    }
    Ok((entry.card.clone(), dir))
}

/// Print text made from cards line by line, each with control and
/// text-direction characters escaped: the catalog check refuses them, and this
/// keeps a card that never went through it off the terminal's controls too.
fn print_lines_safe(text: &str) {
    for line in text.lines() {
        println!("{}", zoo_types::TerminalSafe::new(line));
    }
}

/// Print a value as pretty JSON on stdout.
fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", json_pretty(value)?);
    Ok(())
}

/// A value as pretty JSON, terminal-safe (see [`terminal_safe_json`]).
fn json_pretty(value: &impl serde::Serialize) -> Result<String> {
    Ok(terminal_safe_json(serde_json::to_string_pretty(value)?))
}

/// A value as one line of JSON (for JSON lines output), terminal-safe.
fn json_line(value: &impl serde::Serialize) -> serde_json::Result<String> {
    Ok(terminal_safe_json(serde_json::to_string(value)?))
}

/// JSON text with every character a terminal could act on written as a `\uXXXX`
/// escape: serde_json escapes C0 controls, but leaves DEL, C1 controls (CSI
/// starts escape sequences too), bidirectional overrides and the Unicode line
/// separators raw. The same JSON value, safe to `cat`. serde_json writes such
/// characters only inside strings, and the only raw control character it
/// writes, the pretty printer's newline, stays.
fn terminal_safe_json(json: String) -> String {
    use std::fmt::Write as _;
    if !json
        .chars()
        .any(|c| c != '\n' && zoo_types::is_unsafe_char(c))
    {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if c != '\n' && zoo_types::is_unsafe_char(c) {
            // Every such character is in the Basic Multilingual Plane.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_what_a_terminal_would_act_on() {
        let hostile = "a\u{1b}[31mb\u{7f}c\u{9b}2Jd\u{202e}e\u{2028}f\ng";
        let value = serde_json::json!({ hostile: [hostile] });
        for text in [json_pretty(&value).unwrap(), json_line(&value).unwrap()] {
            assert!(
                !text
                    .chars()
                    .any(|c| c != '\n' && zoo_types::is_unsafe_char(c)),
                "{text:?}"
            );
            let back: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(back, value);
        }
        assert!(json_line(&value).unwrap().contains("\\u009b"));
        assert_eq!(json_line(&"plain ü").unwrap(), "\"plain ü\"");
    }
}
