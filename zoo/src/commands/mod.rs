mod info;
mod list;
mod registry;

use std::process::ExitCode;

use anyhow::Result;
use zoo_registry::Catalog;

use crate::cli::{Cli, Command, GlobalArgs, RegistryCommand};

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::List(args) => list::list(&load_catalog(&cli.global)?, &args),
        Command::Search(args) => list::search(&load_catalog(&cli.global)?, &args),
        Command::Info(args) => info::info(&load_catalog(&cli.global)?, &args),
        Command::Registry(RegistryCommand::Check(args)) => registry::check(&args),
    }
}

fn load_catalog(global: &GlobalArgs) -> Result<Catalog> {
    Ok(Catalog::load(&global.registries)?)
}

/// Print a value as pretty JSON on stdout.
fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
