//! The `zoo` command line. It stays thin: parsing and printing here, the work in
//! the `zoo-*` library crates.

mod cli;
mod commands;
mod config;
mod exit;
mod progress;
mod signing;
mod table;

use clap::Parser;

fn main() -> std::process::ExitCode {
    // A shell asking for completions (`zoo completions`) is answered, then exits.
    cli::complete_from_env();
    quiet_on_closed_stdout();
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            exit::code_for(&err)
        }
    }
}

/// `zoo ls | head` closes stdout early (and `zoo predict ... 2>&1 | head` stderr
/// too); Rust's print macros then panic. Like other Unix tools, stop quietly
/// instead of printing a panic message.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        let closed_pipe = (message.starts_with("failed printing to stdout")
            || message.starts_with("failed printing to stderr"))
            && message.contains("Broken pipe");
        if closed_pipe {
            std::process::exit(0);
        }
        default(info);
    }));
}
