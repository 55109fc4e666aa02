//! `zoo-hf-server --root DIR [--port P] [--token T]`: serves every
//! `DIR/{org}/{name}/` as a Hub model repo until killed, for benchmarks and demos.

use std::io::Write;
use std::path::PathBuf;

use clap::Parser;
use zoo_test_support::{FixtureRepo, HubServer, ServerConfig, TEST_TOKEN};

#[derive(Debug, Parser)]
#[command(about = "A local Hugging Face Hub look-alike serving repos from a directory")]
struct Args {
    /// Directory holding `{org}/{name}/` repo folders.
    #[arg(long)]
    root: PathBuf,
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Bearer token that opens gated repos.
    #[arg(long, default_value = TEST_TOKEN)]
    token: String,
}

fn main() {
    let args = Args::parse();
    let repos = match find_repos(&args.root) {
        Ok(repos) => repos,
        Err(e) => {
            eprintln!("zoo-hf-server: cannot read {}: {e}", args.root.display());
            std::process::exit(2);
        }
    };
    let config = ServerConfig {
        port: args.port,
        token: args.token,
        ..ServerConfig::default()
    };
    let names: Vec<String> = repos.iter().map(|r| r.id.clone()).collect();
    let server = match HubServer::start_with(config, repos) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("zoo-hf-server: {e}");
            std::process::exit(1);
        }
    };
    eprintln!(
        "zoo-hf-server: serving {} repo(s): {}",
        names.len(),
        names.join(", ")
    );
    // Scripts wait for this line, so flush it right away.
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "endpoint={}", server.endpoint());
    let _ = stdout.flush();
    loop {
        std::thread::park();
    }
}

/// Every `root/{org}/{name}` directory, as a repo.
fn find_repos(root: &std::path::Path) -> std::io::Result<Vec<FixtureRepo>> {
    let mut repos = Vec::new();
    for org in sorted_dirs(root)? {
        for name in sorted_dirs(&org)? {
            let id = format!(
                "{}/{}",
                org.file_name().unwrap_or_default().to_string_lossy(),
                name.file_name().unwrap_or_default().to_string_lossy()
            );
            repos.push(FixtureRepo::from_dir(id, &name)?);
        }
    }
    Ok(repos)
}

fn sorted_dirs(dir: &std::path::Path) -> std::io::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if entry.file_type()?.is_dir() && !hidden {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}
