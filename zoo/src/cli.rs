//! Every flag and subcommand of `zoo`, in one place, so help texts stay consistent.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Examples:
  zoo list --task image-classification
  zoo info resnet50
  zoo search minilm
  zoo registry check registry/

Environment variables are listed in docs/environment.md.";

#[derive(Debug, Parser)]
#[command(
    name = "zoo",
    version,
    about = "Find, pull, verify, run, fine-tune and audit pretrained models.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Extra catalog directory of YAML cards, merged over the built-in catalog
    /// (repeatable; later directories override earlier ones by name).
    #[arg(long = "registry", value_name = "DIR", global = true, env = "ZOO_REGISTRY", value_delimiter = ':')]
    pub registries: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the models in the catalog.
    #[command(after_help = "Examples:\n  zoo list\n  zoo list --task text-embedding --json\n  zoo list --openness open --license 'Apache-*'")]
    List(ListArgs),
    /// Show one model's card: what it is, where its bytes come from, what its license allows.
    #[command(after_help = "Examples:\n  zoo info resnet50\n  zoo info all-minilm-l6-v2 --json")]
    Info(InfoArgs),
    /// Search names, aliases, tasks and descriptions.
    #[command(after_help = "Examples:\n  zoo search resnet\n  zoo search text embedding --json")]
    Search(SearchArgs),
    /// Work on catalogs of model cards.
    #[command(subcommand)]
    Registry(RegistryCommand),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only models for this task (e.g. image-classification, text-embedding).
    #[arg(long)]
    pub task: Option<zoo_registry::Task>,
    /// Only models of this family (e.g. resnet, bert).
    #[arg(long)]
    pub family: Option<String>,
    /// Only models whose license id matches this pattern ('*' matches any text).
    #[arg(long, value_name = "PATTERN")]
    pub license: Option<String>,
    /// Only models of this openness: open, open-weights-restricted or closed.
    #[arg(long)]
    pub openness: Option<zoo_registry::OpennessClass>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Model name or alias.
    pub name: String,
    /// Print the full card as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words to look for; every word must match.
    #[arg(required = true)]
    pub text: Vec<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Validate a catalog directory: schema, SPDX ids, sha256 format, unique names,
    /// label files, and sources consistent with openness.
    #[command(after_help = "Examples:\n  zoo registry check registry/\n  zoo registry check ~/my-cards --json\n\nWith no DIR, checks the built-in catalog.")]
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Catalog directory (YAML cards plus labels/); the built-in catalog when omitted.
    pub dir: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}
