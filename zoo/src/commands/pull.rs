//! `zoo pull`.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Result;
use zoo_fetch::{DenyRule, PullOptions, Store};
use zoo_registry::{Card, Catalog};

use crate::cli::PullArgs;
use crate::exit::BadInput;
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
    let hub_specs = args.names.iter().filter(|n| n.starts_with("hf:")).count();
    let oci_specs = args
        .names
        .iter()
        .filter(|n| n.starts_with("oci://"))
        .count();
    if args.hub.card_name.is_some() && (hub_specs + oci_specs != 1 || args.names.len() != 1) {
        return Err(BadInput(
            "--name names one card: give one hf:ORG/NAME or oci://REF with it".into(),
        )
        .into());
    }
    if hub_specs == 0 && (!args.hub.include.is_empty() || !args.hub.exclude.is_empty()) {
        return Err(BadInput(
            "--include and --exclude choose the files of an hf:ORG/NAME card; a catalog card lists its own"
                .into(),
        )
        .into());
    }
    if hub_specs > 0 && args.revision.is_some() {
        return Err(BadInput(
            "--revision overrides catalog cards' hf sources; for a hub repository write hf:ORG/NAME@REVISION"
                .into(),
        )
        .into());
    }
    let hub_opts = super::hub::import_options(&args.hub)?;
    let client = if hub_specs > 0 {
        Some(zoo_hub::HubClient::new()?)
    } else {
        None
    };
    let mut reports = Vec::new();
    for spec in &args.names {
        let from_hub = match super::hub::parse_spec(spec) {
            Some(parsed) => {
                let (repo, revision) = parsed?;
                let client = client.as_ref().expect("made for hf: specs");
                Some(super::hub::import(
                    client,
                    catalog,
                    &repo,
                    &revision,
                    &hub_opts,
                    args.quiet || args.json,
                )?)
            }
            None => None,
        };
        let from_registry = if spec.starts_with("oci://") {
            Some(super::oci::resolve(
                spec,
                args.hub.card_name.as_ref(),
                args.insecure,
                args.quiet || args.json,
            )?)
        } else {
            None
        };
        let card = match (&from_hub, &from_registry) {
            (_, Some((_, artifact))) => artifact.card.clone(),
            (Some(imported), _) => {
                // The base models' cards carry no files to fetch: write them
                // now, so the audit can walk the lineage whatever happens next.
                super::hub::save_bases(&imported.bases)?;
                super::hub::gate_inherited(imported, catalog, args.accept_license, &deny)?;
                imported.card.clone()
            }
            (None, None) => resolve_versioned(catalog, spec)?,
        };
        let accept = args.accept_license || ask_acceptance(&card, args, &deny)?;
        // A gated repository answers 401 to every file without a token: say so
        // once, before any request, rather than once per file (after the
        // license gate, whose answer comes first).
        if accept
            && card.hub.as_ref().is_some_and(|h| h.gated.is_some())
            && zoo_env::hf_token().is_none()
            && !args.offline
        {
            anyhow::bail!(
                "'{}' is gated on the hub: set HF_TOKEN to a token of an account that accepted its terms there",
                card.name
            );
        }
        let opts = PullOptions {
            revision: args.revision.clone(),
            source: args.source.clone(),
            offline: args.offline,
            accept_license: accept,
            allow_pickle: args.allow_pickle,
            deny: deny.clone(),
            jobs: args.jobs,
            // Cards with oci sources (pulled from a registry before, or named
            // here) reach their registry with the Docker config's credentials.
            registry: Some(match &from_registry {
                Some((registries, _)) => registries.clone(),
                None => std::sync::Arc::new(zoo_oci::Registries::new(args.insecure)),
            }),
            check: super::sign::pull_check(&config)?,
        };
        let progress = PullProgress::new(args.quiet || args.json, card.total_size());
        let started = std::time::Instant::now();
        let result = zoo_fetch::pull(&store, &card, &opts, &progress);
        progress.finish();
        let report = result?;
        let secs = started.elapsed().as_secs_f64();
        // A card made from the hub is completed from the pulled files (the
        // small files' sha256, how to run it) and written only now, so the
        // catalog never pins a commit whose files are not in the store.
        let hub_card = if from_registry.is_some() {
            let header = format!("Pulled by zoo from an OCI registry: {spec}");
            Some((
                super::oci::save_card(&card, &report.dir, &header)?,
                card.clone(),
            ))
        } else if from_hub.is_some() || card.hub.is_some() {
            Some(super::hub::complete_and_save(&card, &report)?)
        } else {
            None
        };
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
            if let Some((path, completed)) = &hub_card {
                eprintln!("  card:     {}", path.display());
                match completed.hub.as_ref().map(|h| &h.not_runnable_because) {
                    Some(None) => eprintln!("  runnable: yes ({})", completed.task),
                    Some(Some(why)) => {
                        eprintln!("  runnable: no: {}", zoo_types::TerminalSafe::new(why))
                    }
                    None => {}
                }
            }
        }
        report_signature(&store, &card, &report, args.quiet || args.json)?;
        reports.push(report);
    }
    if args.json {
        super::print_json(&reports)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A pulled model that carries a signature (its own `model.sig`, or one a
/// registry holds as a referrer) has it checked now, whatever the policy:
/// against the files as the pull verified them, and the config's trusted
/// signers. A signature that does not verify is a warning (`require_signature`
/// is what refuses a model); its state is printed with the pull's summary.
fn report_signature(
    store: &zoo_fetch::Store,
    card: &Card,
    report: &zoo_fetch::PullReport,
    quiet: bool,
) -> Result<()> {
    let signed = (report.manifest.files.iter()).any(|f| f.path == zoo_fetch::SIGNATURE_FILE);
    if !signed {
        return Ok(());
    }
    let trust = crate::signing::trust_from_config()?;
    let status = crate::signing::status(
        store,
        &card.name,
        &report.manifest,
        &trust,
        crate::signing::FilesCheck::AsPulled,
    );
    let shown = zoo_types::TerminalSafe::new(&status.to_string()).to_string();
    let unknown_key = matches!(
        status,
        zoo_sign::SignatureStatus::Failed {
            failure: "untrusted",
            ..
        }
    );
    match status.state() {
        _ if unknown_key && quiet => {}
        _ if unknown_key => eprintln!(
            "  signature: by a key zoo does not hold, not checked (list its public key \
             under trusted_keys, or run `zoo verify {} --signature --key PUB.pem`)",
            card.name
        ),
        "failed" => eprintln!(
            "warning: the signature of {} does not verify: {shown}\n  \
             (`zoo verify {} --signature` says more; `require_signature` in the config refuses such models)",
            card.name, card.name
        ),
        _ if !quiet => eprintln!("  signature: {shown}"),
        _ => {}
    }
    Ok(())
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
