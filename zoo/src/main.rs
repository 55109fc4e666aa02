//! The `zoo` command line. It stays thin: parsing and printing here, the work in
//! the `zoo-*` library crates.

mod cli;
mod commands;
mod config;
mod exit;
mod progress;
mod table;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            exit::code_for(&err)
        }
    }
}
