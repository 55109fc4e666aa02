//! Models through OCI registries: `zoo push`, and the `oci://` side of
//! `zoo pull` (the artifact's card, then its files through zoo-fetch).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use zoo_fetch::Store;
use zoo_oci::{Artifact, PushFile, PushRequest, Registries};
use zoo_registry::card::FileFormat;
use zoo_registry::{Card, Catalog};
use zoo_types::{ClassName, ModelName, OciReference, OciRepository, TerminalSafe};

use crate::cli::{ExportArgs, ImportArgs, PushArgs};
use crate::exit::BadInput;
use crate::progress::PullProgress;
use crate::table::human_bytes;

/// A local model as the artifact `zoo push` and `zoo export` write: its files
/// with the digests the store verified, its card (with every file's sha256
/// and size), and its AI-BOM.
struct Prepared {
    card: Card,
    files: Vec<PushFile>,
    ai_bom: Vec<u8>,
    store: Store,
}

fn prepare(catalog: &Catalog, name: &str) -> Result<Prepared> {
    let (card, dir) = super::pulled_model(catalog, name)?;
    let store = Store::open_default();
    let manifest = store
        .manifest(&card.name)?
        .with_context(|| format!("'{}' has no manifest in the store", card.name))?;
    // A card made from the hub may pin small files by git blob id only.
    let mut sent = card.clone();
    let mut files = Vec::new();
    for f in &mut sent.files {
        let m = manifest
            .files
            .iter()
            .find(|m| m.path == f.path)
            .with_context(|| {
                format!(
                    "'{}' is missing from the store: run `zoo verify {}`",
                    f.path, card.name
                )
            })?;
        let sha = zoo_types::Sha256Hex::parse(&m.sha256)?;
        f.sha256 = Some(sha.clone());
        f.size = Some(m.size);
        files.push(PushFile {
            path: f.path.clone(),
            blob: f.path.join_to(&dir),
            sha256: sha,
            size: m.size,
            media_type: zoo_oci::modelpack::media_type_for(f.role, f.format),
        });
    }
    // A signature made by `zoo sign` sits beside the files: it travels as one
    // more file of the artifact, so a pull (or a `skopeo copy`) keeps it, and
    // `zoo verify --signature` works on the receiving machine. It signs the
    // other files only, so adding it changes none of their digests.
    let sig = dir.join(zoo_sign::SIGNATURE_FILE);
    let sig_path = zoo_types::RelPath::parse(zoo_sign::SIGNATURE_FILE)?;
    if sent.file(sig_path.as_str()).is_none() && sig.is_file() {
        let (sha, size) = zoo_fetch::sha256_file(&sig)?;
        let sha = zoo_types::Sha256Hex::parse(&sha)?;
        sent.files.push(zoo_registry::card::FileEntry {
            path: sig_path.clone(),
            sha256: Some(sha.clone()),
            git_blob: None,
            size: Some(size),
            format: FileFormat::Json,
            role: zoo_registry::card::FileRole::Documentation,
        });
        files.push(PushFile {
            path: sig_path,
            blob: sig,
            sha256: sha,
            size,
            media_type: zoo_oci::modelpack::DOC,
        });
    }
    let ai_bom = ai_bom(catalog, &store, &card)?;
    Ok(Prepared {
        card: sent,
        files,
        ai_bom,
        store,
    })
}

pub fn push(catalog: &Catalog, args: &PushArgs) -> Result<ExitCode> {
    let mut target = OciReference::parse(&args.target).map_err(|e| BadInput(e.to_string()))?;
    if target.digest.is_some() {
        return Err(BadInput("push to a tag (REGISTRY/REPO:TAG), not a digest".into()).into());
    }
    let mount_from = args
        .mount_from
        .as_deref()
        .map(OciRepository::parse)
        .transpose()
        .map_err(|e| BadInput(e.to_string()))?;
    let p = prepare(catalog, &args.name)?;
    if args
        .target
        .rsplit('/')
        .next()
        .is_some_and(|last| !last.contains(':'))
    {
        // No tag given: the model's version, when it is a valid tag.
        if let Ok(tag) = zoo_types::OciTag::parse(&p.card.version) {
            target.tag = Some(tag);
        }
    }
    let registries = Registries::new(args.insecure);
    let client = registries.client(&target.registry)?;
    let req = PushRequest {
        card: &p.card,
        files: p.files.clone(),
        ai_bom: Some(p.ai_bom.clone()),
        target: &target,
        mount_from,
        jobs: args.jobs,
        work_dir: p.store.root().join("oci"),
        created: zoo_types::rfc3339_utc(std::time::SystemTime::now()),
    };
    let total: u64 = req.files.iter().map(|f| f.size).sum();
    let progress = PullProgress::sending(args.quiet || args.json, total);
    let started = std::time::Instant::now();
    let result = zoo_oci::push(&client, &req, &progress).and_then(|mut report| {
        // The signature also goes up as an OCI 1.1 referrer of the manifest,
        // where signature-aware tools look; it stays a file of the artifact
        // too, since copies (skopeo copy) carry the manifest, not referrers.
        if let Some(sig) = p.files.iter().find(|f| f.path == zoo_sign::SIGNATURE_FILE) {
            let subject = zoo_types::Sha256Hex::parse_prefixed(&report.digest)
                .map_err(|e| zoo_oci::OciError::Invalid(e.to_string()))?;
            // The model is pushed, its signature with it as a file: a
            // registry that refuses the referrer is a warning, not a failure.
            let signature = zoo_oci::referrers::Attachment {
                model: p.card.name.as_str(),
                subject: &subject,
                subject_size: report.manifest_size,
                bundle: &sig.blob,
                digest: &sig.sha256,
                size: sig.size,
                work_dir: &req.work_dir,
                created: &req.created,
            };
            match zoo_oci::referrers::attach(&client, &target.repository, &signature, &progress) {
                Ok(attached) => report.signature = Some(attached),
                Err(e) => eprintln!(
                    "warning: the signature was pushed as model.sig but not attached as an OCI \
                     referrer: {e}"
                ),
            }
        }
        Ok(report)
    });
    progress.finish();
    let report = result?;
    if args.json {
        super::print_json(&report)?;
    } else if !args.quiet {
        eprintln!(
            "pushed {} to {}\n  {} layers, {} ({} sent in {:.1}s; the registry had the rest)",
            p.card.name,
            report.reference,
            report.layers.len(),
            human_bytes(report.total),
            human_bytes(report.sent),
            started.elapsed().as_secs_f64()
        );
        if let Some(sig) = &report.signature {
            eprintln!(
                "  signature attached as a referrer ({}, {})",
                sig.digest, sig.via
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn export(catalog: &Catalog, args: &ExportArgs) -> Result<ExitCode> {
    let layout_dir = match (&args.oci_layout, &args.single_file) {
        (Some(dir), _) => dir,
        (None, Some(out)) => {
            return super::single_file::export(catalog, &args.name, out, args.json);
        }
        (None, None) => {
            return Err(BadInput("give --oci-layout DIR or --single-file OUT.onnx".into()).into());
        }
    };
    let p = prepare(catalog, &args.name)?;
    // The layout needs a reference only for its tag.
    let tag = match &args.tag {
        Some(t) => t.clone(),
        None => zoo_types::OciTag::parse(&p.card.version).map_err(|e| {
            BadInput(format!(
                "the model's version is not a valid tag ({e}): give one with --tag"
            ))
        })?,
    };
    let target = OciReference::parse(&format!(
        "layout.invalid/{}:{tag}",
        p.card.name.replace('_', "-")
    ))
    .map_err(|e| BadInput(e.to_string()))?;
    let req = PushRequest {
        card: &p.card,
        files: p.files.clone(),
        ai_bom: Some(p.ai_bom.clone()),
        target: &target,
        mount_from: None,
        jobs: 1,
        work_dir: p.store.root().join("oci"),
        created: zoo_types::rfc3339_utc(std::time::SystemTime::now()),
    };
    let exported = zoo_oci::layout::export(&req, layout_dir)?;
    if args.json {
        super::print_json(&exported)?;
    } else {
        eprintln!(
            "exported {} to {} (tag {}, {}, manifest {})\n  push it with: skopeo copy oci:{}:{} docker://REGISTRY/REPO:{}",
            p.card.name,
            exported.dir.display(),
            exported.tag,
            human_bytes(exported.bytes),
            exported.digest,
            exported.dir.display(),
            exported.tag,
            exported.tag
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn import(args: &ImportArgs) -> Result<ExitCode> {
    let artifact = zoo_oci::layout::import(&args.dir, args.tag.as_ref(), args.name.as_ref())?;
    for note in &artifact.notes {
        eprintln!("note: {}", TerminalSafe::new(note));
    }
    let store = Store::open_default();
    let (config, config_path) = crate::config::load()?;
    let deny = config
        .deny_licenses
        .iter()
        .map(|pattern| zoo_fetch::DenyRule {
            pattern: pattern.clone(),
            origin: config_path.display().to_string(),
        })
        .collect();
    let opts = zoo_fetch::PullOptions {
        accept_license: args.accept_license,
        allow_pickle: args.allow_pickle,
        deny,
        jobs: 2,
        check: super::sign::pull_check(&config)?,
        ..Default::default()
    };
    let progress = PullProgress::new(args.json, artifact.card.total_size());
    let result = zoo_fetch::pull(&store, &artifact.card, &opts, &progress);
    progress.finish();
    let report = result?;
    let path = save_card(
        &artifact.card,
        &report.dir,
        "Imported by zoo from an OCI image layout",
    )?;
    if args.json {
        super::print_json(&report)?;
    } else {
        eprintln!(
            "imported {} ({} in {} files)\n  path:     {}\n  card:     {}\n  license:  {}",
            artifact.card.name,
            human_bytes(report.manifest.total_size()),
            report.files.len(),
            report.dir.display(),
            path.display(),
            TerminalSafe::new(artifact.card.license.display_name())
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The model's CycloneDX AI-BOM, as `zoo audit --format cyclonedx` writes it,
/// with its signature state (checked against the files as pulled and the
/// config's trusted signers).
fn ai_bom(catalog: &Catalog, store: &Store, card: &Card) -> Result<Vec<u8>> {
    let trust = crate::signing::trust_from_config()?;
    let check = |m: &zoo_fetch::Manifest| {
        crate::signing::status(
            store,
            &m.name,
            m,
            &trust,
            crate::signing::FilesCheck::AsPulled,
        )
    };
    // Not re-hashed here: the push hashes every byte it sends and refuses a
    // file that no longer matches its recorded digest.
    let report = zoo_audit::audit_with(
        catalog,
        store,
        &zoo_audit::Policy::default(),
        &zoo_audit::Selection::Names(vec![card.name.to_string()]),
        zoo_audit::Checks {
            signatures: Some(&check),
            files: zoo_audit::FileCheck::Recorded,
        },
    )?;
    let bom = zoo_audit::bom::cyclonedx(&report, std::time::SystemTime::now());
    Ok(serde_json::to_vec_pretty(&bom)?)
}

/// `oci://...` of `zoo pull`: the registry clients, and the artifact's card.
pub fn resolve(
    spec: &str,
    name: Option<&ModelName>,
    insecure: bool,
    quiet: bool,
) -> Result<(Arc<Registries>, Artifact)> {
    let reference = OciReference::parse(spec).map_err(|e| BadInput(e.to_string()))?;
    let registries = Arc::new(Registries::new(insecure));
    let client = registries.client(&reference.registry)?;
    let mut artifact = zoo_oci::resolve(&client, &reference, name)
        .with_context(|| format!("cannot read the model at {reference}"))?;
    let (config, _) = crate::config::load()?;
    zoo_oci::referrers::add_referred_signature(
        &client,
        &reference.repository,
        &mut artifact,
        config.require_signature,
    );
    if !quiet {
        for note in &artifact.notes {
            eprintln!("note: {}", TerminalSafe::new(note));
        }
    }
    Ok((registries, artifact))
}

/// After a pull from a registry: the card goes into the user catalog, with
/// the class names of its labels file when it has one.
pub fn save_card(card: &Card, dir: &Path, header: &str) -> Result<std::path::PathBuf> {
    let labels = match (
        &card.io,
        card.files.iter().find(|f| f.format == FileFormat::Labels),
    ) {
        (Some(io), Some(f)) if io.labels.is_some() => {
            let text =
                zoo_fs::read_to_string_bounded(&f.path.join_to(dir), zoo_fs::limits::LABELS_BYTES)
                    .with_context(|| format!("cannot read the labels of {}", card.name))?;
            let names: Vec<ClassName> = text
                .lines()
                .filter(|l| !l.is_empty())
                .map(ClassName::parse)
                .collect::<Result<_, _>>()?;
            Some(names)
        }
        _ => None,
    };
    let mut card = card.clone();
    if labels.is_some()
        && let Some(io) = card.io.as_mut()
    {
        io.labels = Some(card.name.to_string());
    }
    Ok(zoo_registry::save_card(
        &zoo_env::user_catalog_dir(),
        &card,
        labels.as_deref(),
        header,
    )?)
}
