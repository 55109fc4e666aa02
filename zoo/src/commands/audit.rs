//! `zoo audit`: the report of zoo-audit as a table, JSON, or an AI-BOM, and an
//! exit code CI can gate on (0 clean, 1 findings at or above `--fail-on`, 6 a
//! signature that fails or that the policy's `require_signature` refuses).

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use zoo_audit::{AuditError, AuditReport, ModelAudit, Policy, Selection, Severity};
use zoo_fetch::Store;
use zoo_registry::{Catalog, LicenseClass, OpennessClass};

use crate::cli::{AuditArgs, AuditFormat};
use crate::exit::BadInput;
use crate::signing::FilesCheck;
use crate::table::Table;

pub fn audit(catalog: &Catalog, args: &AuditArgs) -> Result<ExitCode> {
    // --json: stdout is JSON (the report unless --format names an AI-BOM).
    let format = match (args.format, args.json) {
        (None, false) => AuditFormat::Table,
        (None, true) => AuditFormat::Json,
        (Some(AuditFormat::Table), true) => {
            return Err(BadInput(
                "--json prints JSON; --format table is for people (drop one of them)".to_owned(),
            )
            .into());
        }
        (Some(f), _) => f,
    };
    let policy = match &args.policy {
        // A policy that cannot be read or parsed is bad input (`file:line: ...`).
        Some(path) => Policy::load(path).map_err(|e: AuditError| BadInput(e.to_string()))?,
        None => Policy::default(),
    };
    let store = Store::open_default();
    let selection = if args.names.is_empty() {
        Selection::All {
            catalog: args.catalog,
        }
    } else {
        for name in &args.names {
            // An unknown name is bad input, with the catalog's "did you mean".
            if !zoo_types::ModelName::parse(name).is_ok_and(|n| store.model_dir(&n).is_dir()) {
                catalog.resolve(name)?;
            }
        }
        Selection::Names(args.names.clone())
    };
    let trust = audit_trust(&policy, args.policy.as_deref())?;
    let check = |m: &zoo_fetch::Manifest| {
        crate::signing::status(&store, &m.name, m, &trust, FilesCheck::Rehash)
    };
    let report = zoo_audit::audit_with(
        catalog,
        &store,
        &policy,
        &selection,
        zoo_audit::Checks {
            signatures: Some(&check),
            files: zoo_audit::FileCheck::Rehash,
        },
    )
    .map_err(|e| BadInput(e.to_string()))?;
    let now = std::time::SystemTime::now();
    let text = match format {
        AuditFormat::Table => render(&report, args.fail_on),
        AuditFormat::Json => super::json_pretty(&report)? + "\n",
        AuditFormat::Cyclonedx => {
            super::json_pretty(&zoo_audit::bom::cyclonedx(&report, now))? + "\n"
        }
        AuditFormat::Spdx => super::json_pretty(&zoo_audit::bom::spdx(&report, now))? + "\n",
    };
    let summary = summary(&report, args.fail_on);
    match &args.out {
        Some(path) => {
            std::fs::write(path, &text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            if args.json {
                eprintln!("zoo audit: wrote {}: {summary}", path.display());
                super::print_json(&serde_json::json!({
                    "out": path,
                    "format": format_name(format),
                    "models": report.models.len(),
                    "errors": report.count(Severity::Error),
                    "warnings": report.count(Severity::Warning),
                    "info": report.count(Severity::Info),
                    "fail_on": args.fail_on.as_str(),
                    "fails": report.fails(args.fail_on),
                }))?;
            } else {
                println!("wrote {}: {summary}", path.display());
            }
        }
        None => {
            if format == AuditFormat::Table {
                super::print_lines_safe(&text);
            } else {
                print!("{text}");
            }
            // Machine formats keep stdout clean; the verdict goes to stderr for CI logs.
            if format != AuditFormat::Table {
                eprintln!("zoo audit: {summary}");
            }
        }
    }
    let refused = signature_errors(&report);
    for (name, finding) in &refused {
        eprintln!(
            "zoo audit: {name}: {}",
            zoo_types::TerminalSafe::new(&finding.message)
        );
    }
    Ok(if !refused.is_empty() {
        ExitCode::from(crate::exit::SIGNATURE)
    } else if report.fails(args.fail_on) {
        ExitCode::from(crate::exit::FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}

/// Whom the audit trusts to sign: the policy's `trusted_keys` and
/// `trusted_roots` when it lists any, else the config file's.
fn audit_trust(policy: &Policy, policy_path: Option<&Path>) -> Result<zoo_sign::Trust> {
    let trust = match policy_path {
        Some(path) if !policy.trusted_keys.is_empty() || !policy.trusted_roots.is_empty() => {
            crate::signing::trust_from_lists(&policy.trusted_keys, &policy.trusted_roots, path)?
        }
        _ => crate::signing::trust_from_config()?,
    };
    if policy.require_signature && trust.is_empty() {
        return Err(BadInput(format!(
            "the policy {} sets require_signature but no signer is trusted: add trusted_keys or \
             trusted_roots to it or to the config file (docs/signing.md)",
            policy_path.map_or_else(String::new, |p| p.display().to_string())
        ))
        .into());
    }
    Ok(trust)
}

/// Signature findings at error severity (a failed signature, or one the
/// policy's `require_signature` refuses): `zoo audit` then exits 6.
fn signature_errors(report: &AuditReport) -> Vec<(&str, &zoo_audit::Finding)> {
    use zoo_audit::FindingKind::*;
    report
        .models
        .iter()
        .flat_map(|m| m.findings.iter().map(move |f| (m.name.as_str(), f)))
        .filter(|(_, f)| {
            f.severity == Severity::Error
                && matches!(
                    f.kind,
                    SignatureMissing
                        | SignatureUntrusted
                        | SignatureInvalid
                        | SignatureUnverifiable
                )
        })
        .collect()
}

/// The `--format` value naming this format.
fn format_name(format: AuditFormat) -> String {
    clap::ValueEnum::to_possible_value(&format)
        .map_or_else(String::new, |v| v.get_name().to_owned())
}

fn summary(report: &AuditReport, fail_on: Severity) -> String {
    let verdict = if report.fails(fail_on) {
        format!("findings at or above {fail_on}: exit 1")
    } else {
        format!("nothing at or above {fail_on}")
    };
    format!(
        "{} model(s) audited, {} error(s), {} warning(s), {} info; {verdict}",
        report.models.len(),
        report.count(Severity::Error),
        report.count(Severity::Warning),
        report.count(Severity::Info)
    )
}

fn render(report: &AuditReport, fail_on: Severity) -> String {
    let mut out = String::new();
    if report.models.is_empty() {
        out.push_str(
            "no pulled or fine-tuned models; `zoo audit --catalog` audits the catalog's cards\n",
        );
    }
    for m in &report.models {
        model_block(&mut out, m);
        out.push('\n');
    }
    if report.models.len() > 1 {
        let mut t = Table::new(&[
            "NAME", "SCOPE", "LICENSE", "OPENNESS", "MOF", "ERRORS", "WARNINGS",
        ]);
        for m in &report.models {
            let count = |s| {
                m.findings
                    .iter()
                    .filter(|f| f.severity == s)
                    .count()
                    .to_string()
            };
            t.row(vec![
                m.name.clone(),
                m.scope.as_str().to_owned(),
                m.license.id.clone(),
                m.openness.map_or("-".to_owned(), |o| o.as_str().to_owned()),
                mof_class(m),
                count(Severity::Error),
                count(Severity::Warning),
            ]);
        }
        out.push_str(&t.render());
    }
    let _ = writeln!(out, "{}", summary(report, fail_on));
    out
}

fn mof_class(m: &ModelAudit) -> String {
    m.mof
        .as_ref()
        .and_then(|e| e.class)
        .map_or("none".to_owned(), |c| c.roman().to_owned())
}

fn field(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(out, "  {label:<11} {value}");
}

fn model_block(out: &mut String, m: &ModelAudit) {
    let version = m
        .version
        .as_deref()
        .map(|v| format!(" {v}"))
        .unwrap_or_default();
    let _ = writeln!(out, "{}{version} ({})", m.name, m.scope.as_str());
    let lic = &m.license;
    let class = match (lic.class, &lic.terms) {
        (LicenseClass::OpenSource, _) => "open source",
        (LicenseClass::OpenContent, _) => "open content",
        (LicenseClass::Restrictive, _) => "restrictive",
        (LicenseClass::Unknown, Some(_)) => "custom terms",
        (LicenseClass::Unknown, None) => "terms unknown",
    };
    field(out, "License", &format!("{} ({class})", lic.id));
    for o in &lic.obligations {
        field(out, "", &format!("• {o}"));
    }
    for (i, o) in lic.inherited.iter().enumerate() {
        field(
            out,
            if i == 0 { "Inherited" } else { "" },
            &format!("• {o}"),
        );
    }
    let acceptance = match (lic.needs_acceptance, lic.accepted, &lic.accepted_at) {
        _ if m.openness == Some(OpennessClass::Closed) => "not applicable (API only)".to_owned(),
        (_, Some(true), Some(at)) => format!("accepted at pull ({at})"),
        (_, Some(true), None) => "accepted at pull".to_owned(),
        (true, Some(false), _) => "required but NOT recorded at pull".to_owned(),
        (true, None, _) => "required at pull (not pulled)".to_owned(),
        (false, _, _) => "not required".to_owned(),
    };
    field(out, "Acceptance", &acceptance);
    if let Some(o) = m.openness {
        field(out, "Openness", o.as_str());
    }
    if let Some(eval) = &m.mof {
        let class = eval
            .class
            .map_or("none".to_owned(), |c| c.label().to_owned());
        let next = match eval.next {
            Some(n) => {
                let gaps: Vec<String> = eval
                    .missing
                    .iter()
                    .map(|g| format!("{} ({})", g.component.as_str(), g.reason))
                    .collect();
                format!("; {} needs: {}", n.label(), gaps.join(", "))
            }
            None => String::new(),
        };
        field(out, "MOF", &format!("{class}{next}"));
    }
    for (i, a) in m.lineage.iter().enumerate() {
        let license = a.license.as_deref().unwrap_or("license unknown");
        let line = format!("{} ({license})", a.subject(&m.name));
        field(out, if i == 0 { "Lineage" } else { "" }, &line);
    }
    if let Some(signer) = &m.base_signer {
        field(out, "", &format!("base model signed by {signer}"));
    }
    if let Some(status) = &m.signature {
        field(out, "Signature", &status.to_string());
    }
    if let Some(c) = &m.conversion {
        field(out, "Converted", &zoo_convert::derived::describe(c));
        field(
            out,
            "",
            &format!("ONNX {} sha256 {}", c.onnx, c.onnx_sha256),
        );
    }
    if !m.files.is_empty() {
        let mut counts: Vec<(String, usize)> = Vec::new();
        for f in &m.files {
            let state = serde_json::to_value(f.state).ok();
            let state = state
                .as_ref()
                .and_then(|v| v.as_str())
                .unwrap_or("?")
                .to_owned();
            match counts.iter_mut().find(|(s, _)| *s == state) {
                Some((_, n)) => *n += 1,
                None => counts.push((state, 1)),
            }
        }
        let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
        field(out, "Files", &parts.join(", "));
    }
    if m.findings.is_empty() {
        field(out, "Findings", "none");
    }
    for (i, f) in m.findings.iter().enumerate() {
        let line = format!(
            "{:<7} {} — {}: {}",
            f.severity.as_str(),
            f.kind,
            f.subject,
            f.message
        );
        field(out, if i == 0 { "Findings" } else { "" }, &line);
    }
}
