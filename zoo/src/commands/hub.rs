//! Models from the Hugging Face Hub without a hand-written card: `zoo add`,
//! `zoo pull hf:ORG/NAME`, `zoo search --hub` and `zoo outdated`.

use std::process::ExitCode;

use anyhow::{Context, Result};
use serde::Serialize;
use zoo_hub::{FileFilter, HubClient, ImportOptions, Imported, SearchQuery};
use zoo_registry::{Card, Catalog};
use zoo_types::{RepoId, Revision, TerminalSafe};

use crate::cli::{AddArgs, HubFileArgs, JsonArgs, SearchArgs};
use crate::exit::BadInput;

/// `hf:ORG/NAME[@REV]`, parsed; `None` for anything without the prefix.
pub fn parse_spec(spec: &str) -> Option<Result<(RepoId, Revision)>> {
    let rest = spec.strip_prefix("hf:")?;
    let (repo, rev) = match rest.split_once('@') {
        Some((r, v)) => (r, v),
        None => (rest, "main"),
    };
    let parsed = RepoId::parse(repo)
        .map_err(|e| BadInput(format!("{e} (expected hf:ORG/NAME[@REVISION])")))
        .and_then(|repo| {
            Revision::parse(rev)
                .map(|rev| (repo, rev))
                .map_err(|e| BadInput(e.to_string()))
        })
        .map_err(anyhow::Error::from);
    Some(parsed)
}

pub fn import_options(args: &HubFileArgs) -> Result<ImportOptions> {
    Ok(ImportOptions {
        name: args.card_name.clone(),
        filter: FileFilter::new(&args.include, &args.exclude).map_err(BadInput)?,
    })
}

/// Make the card of one hub repository (and of the base models it names),
/// printing the notes. Nothing is written here.
pub fn import(
    client: &HubClient,
    catalog: &Catalog,
    repo: &RepoId,
    revision: &Revision,
    opts: &ImportOptions,
    quiet: bool,
) -> Result<Imported> {
    let imported = zoo_hub::import(client, catalog, repo, revision, opts)
        .with_context(|| format!("cannot make a card for hf:{repo}@{revision}"))?;
    if !quiet {
        for note in &imported.notes {
            eprintln!("note: {}", TerminalSafe::new(note));
        }
    }
    Ok(imported)
}

/// Write the cards of base models the catalog does not have yet.
pub fn save_bases(bases: &[Card]) -> Result<()> {
    let dir = zoo_env::user_catalog_dir();
    for base in bases {
        zoo_hub::save(&dir, base, None)?;
    }
    Ok(())
}

/// The license gate for what a hub model derives from: a denied license
/// anywhere on its lineage refuses it, and restrictive or unknown terms there
/// need `--accept-license` as its own would.
pub fn gate_inherited(
    imported: &Imported,
    catalog: &Catalog,
    accepted: bool,
    deny: &[zoo_fetch::DenyRule],
) -> Result<()> {
    let card = &imported.card;
    for (base, license) in imported.inherited_licenses(catalog) {
        if let Some(rule) = deny.iter().find(|r| license.matches(&r.pattern)) {
            return Err(zoo_fetch::FetchError::LicenseDenied {
                model: card.name.to_string(),
                license: format!("{} through its base model {base}", license.id),
                pattern: rule.pattern.clone(),
                origin: rule.origin.clone(),
            }
            .into());
        }
        let restricted = license.terms().is_none_or(|t| !t.is_unrestricted());
        if restricted && !accepted {
            return Err(zoo_fetch::FetchError::LicenseNotAccepted {
                model: card.name.to_string(),
                license: format!(
                    "{}, and through its base model {base} under {}",
                    card.license.display_name(),
                    license.display_name()
                ),
                url: license
                    .url
                    .as_ref()
                    .map(|u| format!(" ({u})"))
                    .unwrap_or_default(),
                why: "binds derivatives by terms that restrict their use or are unknown".to_owned(),
            }
            .into());
        }
    }
    Ok(())
}

/// After a pull: complete a hub card from the pulled files and write it
/// (with its labels) into the user catalog.
pub fn complete_and_save(
    card: &Card,
    pulled: &zoo_fetch::PullReport,
) -> Result<(std::path::PathBuf, Card)> {
    let completed = zoo_hub::complete(card, pulled)?;
    let path = zoo_hub::save(
        &zoo_env::user_catalog_dir(),
        &completed.card,
        completed.labels.as_deref(),
    )?;
    Ok((path, completed.card))
}

#[derive(Debug, Serialize)]
struct AddReport {
    name: String,
    repo: String,
    commit: String,
    card: std::path::PathBuf,
    license: String,
    openness: String,
    base_models: Vec<String>,
    files: usize,
}

pub fn add(catalog: &Catalog, args: &AddArgs) -> Result<ExitCode> {
    let opts = import_options(&args.hub)?;
    if opts.name.is_some() && args.specs.len() > 1 {
        return Err(BadInput("--name names one card: give one hf:ORG/NAME with it".into()).into());
    }
    let client = HubClient::new()?;
    let mut reports = Vec::new();
    for spec in &args.specs {
        let Some(parsed) = parse_spec(spec) else {
            return Err(BadInput(format!(
                "'{}' is not hf:ORG/NAME[@REVISION]",
                TerminalSafe::new(spec)
            ))
            .into());
        };
        let (repo, revision) = parsed?;
        let imported = import(&client, catalog, &repo, &revision, &opts, args.json)?;
        save_bases(&imported.bases)?;
        let card = &imported.card;
        let path = zoo_hub::save(&zoo_env::user_catalog_dir(), card, None)?;
        let report = AddReport {
            name: card.name.to_string(),
            repo: repo.to_string(),
            commit: card
                .hub
                .as_ref()
                .map(|h| h.commit.to_string())
                .unwrap_or_default(),
            card: path,
            license: card.license.id.clone(),
            openness: card.openness.class.to_string(),
            base_models: imported.bases.iter().map(|b| b.name.to_string()).collect(),
            files: card.files.len(),
        };
        if !args.json {
            eprintln!(
                "added {} (hf:{} at {})\n  card:     {}\n  license:  {}\n  openness: {}\n  files:    {} (pull with `zoo pull {}`)",
                report.name,
                report.repo,
                &report.commit[..12.min(report.commit.len())],
                report.card.display(),
                TerminalSafe::new(card.license.display_name()),
                report.openness,
                report.files,
                report.name
            );
            for b in &imported.bases {
                eprintln!("  base:     {} (card written too)", b.name);
            }
        }
        reports.push(report);
    }
    if args.json {
        super::print_json(&reports)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn search(catalog: &Catalog, args: &SearchArgs) -> Result<ExitCode> {
    if args.limit == 0 {
        return Err(BadInput("--limit must be at least 1".into()).into());
    }
    let client = HubClient::new()?;
    let query = SearchQuery {
        text: args.text.join(" "),
        task: args.task.clone(),
        license: args.license.clone(),
        limit: args.limit,
    };
    let hits = zoo_hub::search(&client, catalog, &query)?;
    if args.json {
        super::print_json(&hits)?;
        return Ok(ExitCode::SUCCESS);
    }
    if hits.is_empty() {
        eprintln!(
            "no model on {} matches",
            TerminalSafe::new(client.endpoint())
        );
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = hits
        .iter()
        .map(|h| {
            vec![
                format!("hf:{}", h.repo),
                h.pipeline_tag.clone().unwrap_or_else(|| "-".into()),
                h.license.clone(),
                h.license_class.to_owned(),
                if h.gated { "gated" } else { "-" }.to_owned(),
                h.downloads.to_string(),
                if h.runnable { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    let mut table = crate::table::Table::new(&[
        "MODEL",
        "TASK",
        "LICENSE",
        "CLASS",
        "GATED",
        "DOWNLOADS",
        "RUNNABLE",
    ]);
    for row in rows {
        table.row(
            row.into_iter()
                .map(|c| TerminalSafe::new(&c).to_string())
                .collect(),
        );
    }
    println!("{}", table.render());
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Serialize)]
struct Outdated {
    name: String,
    repo: String,
    revision: String,
    card_commit: String,
    hub_commit: String,
}

pub fn outdated(catalog: &Catalog, args: &JsonArgs) -> Result<ExitCode> {
    let client = HubClient::new()?;
    let mut moved = Vec::new();
    let mut failed = false;
    for entry in catalog.entries() {
        let Some(hub) = &entry.card.hub else { continue };
        match client.model_info(&hub.repo, &hub.revision) {
            Ok(info) if info.commit != hub.commit => moved.push(Outdated {
                name: entry.card.name.to_string(),
                repo: hub.repo.to_string(),
                revision: hub.revision.to_string(),
                card_commit: hub.commit.to_string(),
                hub_commit: info.commit.to_string(),
            }),
            Ok(_) => {}
            Err(e) => {
                failed = true;
                eprintln!(
                    "zoo: cannot check {} (hf:{}): {}",
                    entry.card.name,
                    hub.repo,
                    TerminalSafe::new(&e.to_string())
                );
            }
        }
    }
    if args.json {
        super::print_json(&moved)?;
    } else if moved.is_empty() {
        eprintln!("every model made from the hub is at its revision's current commit");
    } else {
        let rows: Vec<Vec<String>> = moved
            .iter()
            .map(|m| {
                vec![
                    m.name.clone(),
                    format!("hf:{}@{}", m.repo, m.revision),
                    m.card_commit[..12].to_owned(),
                    m.hub_commit[..12].to_owned(),
                ]
            })
            .collect();
        let mut table = crate::table::Table::new(&["MODEL", "REPOSITORY", "CARD", "HUB"]);
        for row in rows {
            table.row(row);
        }
        println!("{}", table.render());
        eprintln!("update with `zoo pull hf:ORG/NAME` (the card keeps the earlier commits)");
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
