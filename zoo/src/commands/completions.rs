//! `zoo completions SHELL`, and the model names the shell completes.
//!
//! The script printed by default is clap_complete's dynamic one: on each TAB the
//! shell runs `COMPLETE=SHELL zoo -- zoo ARGS...` (answered by
//! [`crate::cli::complete_from_env`] before parsing), which completes
//! subcommands and flags from the command tree and model names through
//! [`model_names`]. `--static` prints clap_complete's self-contained script
//! instead (no model names, no call back into zoo).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory as _;
use clap_complete::engine::CompletionCandidate;
use zoo_registry::Catalog;
use zoo_types::TerminalSafe;

use crate::cli::{Cli, CompletionsArgs};

/// The environment variable the dynamic scripts set to ask zoo for completions
/// (clap_complete's default, so `source <(COMPLETE=bash zoo)` works too).
const VAR: &str = "COMPLETE";

pub fn completions(args: &CompletionsArgs) -> Result<ExitCode> {
    let mut script = Vec::new();
    if args.static_script {
        let mut cmd = Cli::command();
        clap_complete::generate(args.shell, &mut cmd, "zoo", &mut script);
    } else {
        let shell = args.shell.to_string();
        let shells = clap_complete::env::Shells::builtins();
        let completer = shells
            .completer(&shell)
            .ok_or_else(|| anyhow::anyhow!("no dynamic completion for {shell}"))?;
        completer.write_registration(VAR, "zoo", "zoo", &completer_path(), &mut script)?;
    }
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The program the script runs to complete, as clap_complete's own `COMPLETE=SHELL
/// zoo` registration names it: `zoo` when run from PATH, else the path it was
/// run by, made absolute.
fn completer_path() -> String {
    let arg0 = std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "zoo".into());
    let path = if arg0.components().count() > 1 {
        std::env::current_dir().map_or(arg0.clone(), |d| d.join(&arg0))
    } else {
        arg0
    };
    path.to_string_lossy().into_owned()
}

/// Model names for the shell, from local files only (never the network, never a
/// write, never a message: it runs on every TAB): the built-in catalog, the
/// models `zoo finetune` made, the cards in `$ZOO_HOME/catalog`, the
/// `ZOO_REGISTRY` directories, and pulled models. Aliases are hidden candidates:
/// offered only when no name matches what was typed. A layer that does not load
/// is left out. (`--registry DIR` on the command line is not seen here.)
pub fn model_names() -> Vec<CompletionCandidate> {
    // name -> (help, hidden)
    let mut names: BTreeMap<String, (String, bool)> = BTreeMap::new();
    if let Some(catalog) = quiet_catalog() {
        for entry in catalog.entries() {
            let card = &entry.card;
            let help = format!(
                "{} ({})",
                TerminalSafe::shortened(card.task.as_str(), 40),
                TerminalSafe::shortened(&card.license.id, 40)
            );
            names.insert(card.name.to_string(), (help, false));
            for alias in &card.aliases {
                names
                    .entry(alias.to_string())
                    .or_insert_with(|| (format!("alias of {}", card.name), true));
            }
        }
    }
    if let Ok(pulled) = zoo_fetch::Store::open_default().list() {
        for m in pulled {
            let version = TerminalSafe::shortened(&m.version, 40);
            names
                .entry(m.name.to_string())
                .and_modify(|(_, hidden)| *hidden = false)
                .or_insert_with(|| (format!("pulled, version {version}"), false));
        }
    }
    names
        .into_iter()
        .map(|(name, (help, hidden))| {
            CompletionCandidate::new(name)
                .help(Some(help.into()))
                .hide(hidden)
        })
        .collect()
}

/// The catalog as `zoo` loads it, without its messages and without removing what
/// killed runs left behind (that is for the commands).
fn quiet_catalog() -> Option<Catalog> {
    let mut catalog = Catalog::embedded().ok()?;
    let _ = catalog.merge_local_models(&zoo_env::local_models_dir());
    let _ = catalog.merge_user_dir(&zoo_env::user_catalog_dir());
    // ':'-separated, as `--registry`'s env = "ZOO_REGISTRY" reads it.
    if let Some(dirs) = std::env::var_os("ZOO_REGISTRY") {
        for dir in dirs.to_string_lossy().split(':').filter(|d| !d.is_empty()) {
            let _ = catalog.merge_dir(std::path::Path::new(dir));
        }
    }
    Some(catalog)
}
