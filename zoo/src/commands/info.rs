//! `zoo info`: one card, for a human in one screen or as JSON.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use zoo_registry::card::{Card, OutputSpec, Preprocessing};
use zoo_registry::{Catalog, Entry, OpennessClass};

use crate::cli::InfoArgs;
use crate::table::{human_bytes, human_count};

pub fn info(catalog: &Catalog, args: &InfoArgs) -> Result<ExitCode> {
    let entry = catalog.resolve(&args.name)?;
    let signature = signature_status(&entry.card)?;
    if args.json {
        let card = &entry.card;
        let terms = card.license.terms();
        super::print_json(&serde_json::json!({
            "card": card,
            "origin": entry.origin.to_string(),
            "license_terms": terms,
            "obligations": terms.as_ref().map(|t| t.obligations()),
            "license_class": card.license.class(),
            "mof": zoo_audit::mof::evaluate(&card.openness),
            "local": local_manifest(card),
            "signature": signature,
            "conversion": conversion(card),
        }))?;
    } else {
        let mut text = render(catalog, entry);
        if let Some(status) = &signature {
            field(&mut text, "Signature", &status.to_string());
            if matches!(status, zoo_sign::SignatureStatus::Verified { .. }) {
                field(
                    &mut text,
                    "",
                    &format!(
                        "over the files as pulled; `zoo verify {} --signature` re-hashes them",
                        entry.card.name
                    ),
                );
            }
        }
        super::print_lines_safe(&text);
    }
    Ok(ExitCode::SUCCESS)
}

/// The pulled copy's signature, checked against the config's trust and the
/// digests recorded at pull (no file is re-hashed: `zoo verify` does that);
/// `None` when nothing is pulled.
fn signature_status(card: &Card) -> Result<Option<zoo_sign::SignatureStatus>> {
    let Some(manifest) = local_manifest(card) else {
        return Ok(None);
    };
    let trust = crate::signing::trust_from_config()?;
    let store = zoo_fetch::Store::open_default();
    Ok(Some(crate::signing::status(
        &store,
        &card.name,
        &manifest,
        &trust,
        crate::signing::FilesCheck::AsPulled,
    )))
}

fn render(catalog: &Catalog, entry: &Entry) -> String {
    let c = &entry.card;
    let mut out = String::new();
    let aliases = if c.aliases.is_empty() {
        String::new()
    } else {
        format!("  (aliases: {})", c.aliases.join(", "))
    };
    let _ = writeln!(out, "{} {}{}", c.name, c.version, aliases);
    let _ = writeln!(out, "  {}", c.description.trim());
    let _ = writeln!(out);
    let params = c
        .parameters
        .map(|p| format!(", {} parameters", human_count(p)))
        .unwrap_or_default();
    field(
        &mut out,
        "Task",
        &format!(
            "{} — {}{} (family {})",
            c.task, c.architecture, params, c.family
        ),
    );
    license_section(&mut out, c);
    openness_section(&mut out, c);
    provenance_section(&mut out, c);
    hub_section(&mut out, c);
    if let Some(api) = &c.api {
        field(
            &mut out,
            "API",
            &format!("{} — {}", api.provider, api.docs_url),
        );
    }
    for (i, s) in c.sources.iter().enumerate() {
        field(
            &mut out,
            if i == 0 { "Sources" } else { "" },
            &format!("{}. {}", i + 1, s.describe()),
        );
    }
    for (i, f) in c.files.iter().enumerate() {
        let size = f.size.map_or("size unknown".to_owned(), human_bytes);
        let sha = match (&f.sha256, &f.git_blob) {
            (Some(s), _) => format!("sha256 {}…", &s[..12.min(s.len())]),
            (None, Some(oid)) => format!("git blob {}…", &oid[..12]),
            (None, None) => "sha256 from hub on first pull".to_owned(),
        };
        let line = format!(
            "{}  {size}  {sha}  ({}, {})",
            f.path,
            word(&f.format),
            word(&f.role)
        );
        field(&mut out, if i == 0 { "Files" } else { "" }, &line);
    }
    if !c.files.is_empty() {
        field(
            &mut out,
            "",
            &format!("total {}", human_bytes(c.total_size())),
        );
    }
    io_section(&mut out, catalog, c);
    for (i, m) in c.metrics.iter().enumerate() {
        field(
            &mut out,
            if i == 0 { "Metrics" } else { "" },
            &format!(
                "{}: {} {} (source: {})",
                m.dataset, m.metric, m.value, m.source
            ),
        );
    }
    field(&mut out, "Card", &entry.origin.to_string());
    let local = match local_manifest(c) {
        Some(m) => format!(
            "pulled {} ({} files, {}) at {}",
            m.pulled_at,
            m.files.len(),
            human_bytes(m.total_size()),
            zoo_fetch::Store::open_default()
                .model_dir(&c.name)
                .display()
        ),
        None if c.openness.class == OpennessClass::Closed => {
            "closed model: nothing to pull".to_owned()
        }
        None => format!("not pulled — run `zoo pull {}`", c.name),
    };
    field(&mut out, "Local", &local);
    if zoo_convert::derived::is_convertible(c) {
        let how = match conversion(c) {
            Some(r) => format!(
                "converted to ONNX by builder {} (model.onnx sha256 {})",
                r.builder_version, r.onnx_sha256
            ),
            None => "a safetensors checkpoint: converted to ONNX on first use \
                     (`zoo convert`, docs/convert.md)"
                .to_owned(),
        };
        field(&mut out, "Runs", &how);
    }
    out
}

/// The store's record of the pulled checkpoint's conversion to ONNX, if made.
fn conversion(card: &Card) -> Option<zoo_convert::derived::ConversionRecord> {
    let dir = zoo_fetch::Store::open_default().model_dir(&card.name);
    zoo_convert::derived::find_record(card, &dir)
}

/// Where a card made from the hub came from, field by field, and what it lacks.
fn hub_section(out: &mut String, c: &Card) {
    let Some(hub) = &c.hub else { return };
    let gated = hub
        .gated
        .as_deref()
        .map(|g| format!(", gated ({g})"))
        .unwrap_or_default();
    field(
        out,
        "Hub",
        &format!(
            "hf:{} at {} (revision {}{gated}), card written {}",
            hub.repo, hub.commit, hub.revision, hub.imported_at
        ),
    );
    if !hub.previous_commits.is_empty() {
        let earlier: Vec<&str> = hub.previous_commits.iter().map(|c| c.as_str()).collect();
        field(out, "", &format!("earlier commits: {}", earlier.join(", ")));
    }
    for b in &hub.base_models {
        field(
            out,
            "",
            &format!("base model hf:{} ({})", b.repo, b.relation.as_str()),
        );
    }
    field(
        out,
        "",
        &match &hub.not_runnable_because {
            None if hub.runnable => "runnable: yes (predict / embed / finetune)".to_owned(),
            None => "runnable: no".to_owned(),
            Some(why) => format!("runnable: no: {why}"),
        },
    );
    let mut by_origin: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (name, origin) in &hub.fields {
        by_origin.entry(origin.describe()).or_default().push(name);
    }
    for (origin, names) in by_origin {
        field(out, "", &format!("from {origin}: {}", names.join(", ")));
    }
    if !hub.missing.is_empty() {
        field(
            out,
            "",
            &format!("not given by the repository: {}", hub.missing.join("; ")),
        );
    }
}

/// The manifest of a pulled copy; an unreadable manifest counts as not pulled here
/// (`zoo verify` reports it).
fn local_manifest(card: &Card) -> Option<zoo_fetch::Manifest> {
    zoo_fetch::Store::open_default()
        .manifest(&card.name)
        .ok()
        .flatten()
}

/// An enum value as the card spells it (its serde name), e.g. `NCHW` or `float32`.
fn word(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

fn field(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(out, "{label:<12} {value}");
}

fn license_section(out: &mut String, c: &Card) {
    let lic = &c.license;
    let mut head = lic.id.clone();
    if let Some(name) = &lic.name {
        head.push_str(&format!(" — {name}"));
    }
    if let Some(url) = &lic.url {
        head.push_str(&format!(" <{url}>"));
    }
    field(out, "License", &head);
    match lic.terms() {
        Some(t) => {
            let yes_no = |b: bool| if b { "yes" } else { "no" };
            field(
                out,
                "",
                &format!(
                    "commercial use: {}, redistribution: {}, attribution: {}, share-alike: {}, gated: {}",
                    yes_no(t.commercial_use),
                    yes_no(t.redistribution),
                    yes_no(t.attribution),
                    yes_no(t.share_alike),
                    yes_no(t.gated)
                ),
            );
            for o in t.obligations() {
                field(out, "", &format!("• {o}"));
            }
        }
        None => field(
            out,
            "",
            "• Terms unknown: read the license text before using this model.",
        ),
    }
}

fn openness_section(out: &mut String, c: &Card) {
    let what = match c.openness.class {
        OpennessClass::Open => "weights downloadable under an unrestricted license",
        OpennessClass::OpenWeightsRestricted => "weights downloadable, license restricts use",
        OpennessClass::Closed => "no weights; API access only",
    };
    let comps: Vec<&str> = c.openness.components.keys().map(|k| k.as_str()).collect();
    field(out, "Openness", &format!("{} ({what})", c.openness.class));
    if !comps.is_empty() {
        field(
            out,
            "",
            &format!(
                "public components ({}/17): {}",
                comps.len(),
                comps.join(", ")
            ),
        );
    }
    mof_line(out, c);
}

/// The Model Openness Framework class, and what would lift the model a class.
fn mof_line(out: &mut String, c: &Card) {
    let eval = zoo_audit::mof::evaluate(&c.openness);
    let class = eval
        .class
        .map_or("none".to_owned(), |c| c.label().to_owned());
    field(out, "MOF class", &class);
    if let Some(next) = eval.next {
        let gaps: Vec<String> = eval
            .missing
            .iter()
            .map(|g| format!("{} ({})", g.component.as_str(), g.reason))
            .collect();
        field(
            out,
            "",
            &format!("{} also needs: {}", next.label(), gaps.join(", ")),
        );
    }
}

fn provenance_section(out: &mut String, c: &Card) {
    let p = &c.provenance;
    let mut lines = Vec::new();
    let mut who = Vec::new();
    if let Some(org) = &p.organization {
        who.push(org.clone());
    }
    if !p.authors.is_empty() {
        who.push(p.authors.join(", "));
    }
    if !who.is_empty() {
        lines.push(who.join(" — "));
    }
    if let Some(paper) = &p.paper {
        lines.push(format!("paper: {} <{}>", paper.title, paper.url));
    }
    if let Some(base) = &p.base_model {
        lines.push(format!("base model: {base}"));
    }
    if let Some(from) = &p.converted_from {
        lines.push(format!("converted from: {from}"));
    }
    for d in &p.training_data {
        let commercial = match d.commercial_use {
            Some(false) => " — NOT for commercial use",
            Some(true) => "",
            None => " — terms unknown",
        };
        let license = d
            .license
            .as_deref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default();
        lines.push(format!("trained on: {}{license}{commercial}", d.name));
        if let Some(terms) = &d.terms {
            lines.push(format!("  terms: {}", terms.trim()));
        }
    }
    if let Some(up) = &p.upstream {
        lines.push(format!("upstream: {up}"));
    }
    if lines.is_empty() {
        lines.push("not recorded".to_owned());
    }
    for (i, line) in lines.iter().enumerate() {
        field(out, if i == 0 { "Provenance" } else { "" }, line);
    }
    lineage_section(out, c);
}

/// What `zoo finetune` recorded about how a local model was made.
fn lineage_section(out: &mut String, c: &Card) {
    let Some(l) = &c.lineage else { return };
    field(
        out,
        "Lineage",
        &format!(
            "fine-tuned from {} (sha256 {}, license {})",
            l.base_model,
            &l.base_sha256[..l.base_sha256.len().min(12)],
            l.base_license
        ),
    );
    let d = &l.dataset;
    field(
        out,
        "",
        &format!(
            "data: {} — {} items, {} classes, fingerprint {}",
            d.source,
            d.items,
            d.classes.len(),
            &d.fingerprint[..d.fingerprint.len().min(12)]
        ),
    );
    let h: Vec<String> = l
        .hyperparameters
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !h.is_empty() {
        field(out, "", &format!("settings: {}", h.join(", ")));
    }
    if let Some(signer) = &l.base_signer {
        field(out, "", &format!("base model signed by {signer}"));
    }
    field(
        out,
        "",
        &format!("made by zoo {} at {}", l.zoo_version, l.created_at),
    );
}

fn io_section(out: &mut String, catalog: &Catalog, c: &Card) {
    let Some(io) = &c.io else { return };
    for (i, t) in io.inputs.iter().enumerate() {
        let shape: Vec<String> = t.shape.iter().map(ToString::to_string).collect();
        let layout = t
            .layout
            .map(|l| format!(" {}", word(&l)))
            .unwrap_or_default();
        field(
            out,
            if i == 0 { "Inputs" } else { "" },
            &format!(
                "{} {} [{}]{layout}",
                t.name,
                word(&t.dtype),
                shape.join(", ")
            ),
        );
    }
    let describe = |o: &OutputSpec| {
        let dim = o.dim.map(|d| format!(" ({d})")).unwrap_or_default();
        format!("{} — {}{dim}", o.name, word(&o.kind))
    };
    for (i, o) in io.outputs.iter().enumerate() {
        field(out, if i == 0 { "Outputs" } else { "" }, &describe(o));
    }
    match &io.preprocessing {
        Some(Preprocessing::Image(p)) => field(
            out,
            "Preprocess",
            &format!(
                "{} {}, center crop {}, {} {}, scale {}, mean {:?}, std {:?}",
                match p.resize_mode {
                    zoo_registry::card::ResizeMode::ShorterSide => "resize shorter side",
                    zoo_registry::card::ResizeMode::Exact => "resize (stretch) to a square of",
                },
                p.resize,
                p.crop,
                word(&p.channel_order),
                word(&p.layout),
                p.scale,
                p.mean,
                p.std
            ),
        ),
        Some(Preprocessing::Text(t)) => field(
            out,
            "Preprocess",
            &format!(
                "tokenizer {}, max length {}, pooling {}, L2-normalize {}",
                t.tokenizer,
                t.max_length,
                t.pooling.as_ref().map_or("none".to_owned(), word),
                if t.normalize { "yes" } else { "no" }
            ),
        ),
        None => {}
    }
    if let Some(labels) = &io.labels {
        let n = catalog.labels(labels).map_or(0, |l| l.len());
        field(out, "Labels", &format!("{labels} ({n} classes)"));
    }
}
