//! `zoo pull`.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Result;
use zoo_fetch::{DenyRule, PullOptions, Store};
use zoo_registry::{Card, Catalog};

use crate::cli::PullArgs;
use crate::progress::PullProgress;
use crate::table::human_bytes;

pub fn pull(catalog: &Catalog, args: &PullArgs) -> Result<ExitCode> {
    let (config, config_path) = crate::config::load()?;
    let mut deny: Vec<DenyRule> = config
        .deny_licenses
        .iter()
        .map(|p| DenyRule {
            pattern: p.clone(),
            origin: config_path.display().to_string(),
        })
        .collect();
    deny.extend(args.deny_license.iter().map(|p| DenyRule {
        pattern: p.clone(),
        origin: "--deny-license".to_owned(),
    }));
    let store = Store::open_default();
    let mut reports = Vec::new();
    for spec in &args.names {
        let card = resolve_versioned(catalog, spec)?;
        let accept = args.accept_license || ask_acceptance(&card, args, &deny)?;
        let opts = PullOptions {
            revision: args.revision.clone(),
            source: args.source.clone(),
            offline: args.offline,
            accept_license: accept,
            allow_pickle: args.allow_pickle,
            deny: deny.clone(),
            jobs: args.jobs,
        };
        let progress = PullProgress::new(args.quiet || args.json, card.total_size());
        let started = std::time::Instant::now();
        let result = zoo_fetch::pull(&store, &card, &opts, &progress);
        progress.finish();
        let report = result?;
        let secs = started.elapsed().as_secs_f64();
        if !args.quiet && !args.json {
            let total = report.manifest.total_size();
            let fetched = report.transferred();
            let lic = &card.license;
            let accepted = if report.manifest.license.accepted {
                ", license accepted"
            } else {
                ""
            };
            eprintln!(
                "pulled {} {} ({} in {} files; {} fetched in {secs:.1}s)\n  path:     {}\n  license:  {}{accepted}\n  openness: {}",
                card.name,
                card.version,
                human_bytes(total),
                report.files.len(),
                human_bytes(fetched),
                report.dir.display(),
                lic.display_name(),
                card.openness.class,
            );
        }
        reports.push(report);
    }
    if args.json {
        super::print_json(&reports)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `NAME` or `NAME@VERSION`; the catalog holds one version per name, so a version
/// is a check that the user gets what they asked for.
fn resolve_versioned(catalog: &Catalog, spec: &str) -> Result<Card> {
    let (name, version) = match spec.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (spec, None),
    };
    let card = catalog.resolve(name)?.card.clone();
    if let Some(v) = version
        && v != card.version
    {
        return Err(crate::exit::BadInput(format!(
            "the catalog has version {} of '{}', not {v}; run `zoo pull {}`",
            card.version, card.name, card.name
        ))
        .into());
    }
    Ok(card)
}

/// On an interactive terminal, show the terms and ask; elsewhere the gate refuses
/// and says to pass --accept-license.
fn ask_acceptance(card: &Card, args: &PullArgs, deny: &[DenyRule]) -> Result<bool> {
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !interactive || args.json || !zoo_fetch::gate::needs_acceptance(card) {
        return Ok(false);
    }
    if deny.iter().any(|r| card.license.matches(&r.pattern))
        || card.openness.class == zoo_registry::OpennessClass::Closed
    {
        return Ok(false);
    }
    let lic = &card.license;
    eprintln!(
        "{} is under {}{}",
        card.name,
        lic.display_name(),
        lic.url
            .as_ref()
            .map(|u| format!(" ({u})"))
            .unwrap_or_default()
    );
    match lic.terms() {
        Some(t) => {
            for o in t.obligations() {
                eprintln!("  • {o}");
            }
        }
        None => eprintln!("  • zoo cannot read these terms; read the license text."),
    }
    eprint!("Accept the license terms? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}
