//! Model signatures as the commands share them: how a model's folder is
//! walked for its signature, whom zoo trusts (the config file's lists, or an
//! audit policy's, read by one function), a model's signature state for
//! `zoo info` and `zoo audit`, and signing a fine-tuned model while it is
//! staged. The formats and the cryptography are zoo-sign's.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use zoo_fetch::{MANIFEST_FILE, Manifest, Store};
use zoo_registry::card::{BaseSigner, SignerKind};
use zoo_sign::bundle::Bundle;
use zoo_sign::{
    SIGNATURE_FILE, SignError, SignatureStatus, Signer, SignerInfo, Trust, WalkOptions,
};
use zoo_types::{ModelName, RelPath};

/// What zoo leaves out of a model's signature: its bookkeeping and the
/// signature itself (recorded in the statement's `ignore_paths`, so that
/// `model_signing verify` leaves them out too).
pub fn left_out() -> Vec<RelPath> {
    [SIGNATURE_FILE, MANIFEST_FILE]
        .iter()
        .map(|p| RelPath::parse(p).expect("constant paths are valid"))
        .collect()
}

/// A pulled model's folder and how to walk it: only the links the manifest
/// records (each to its blob) are followed.
pub fn walk_options(manifest: &Manifest) -> WalkOptions {
    WalkOptions {
        ignore: left_out(),
        links: manifest
            .files
            .iter()
            .map(|f| (f.path.clone(), f.blob.clone()))
            .collect(),
    }
}

/// The config file's `trusted_keys` (PEM files, or `sha256:` fingerprints)
/// and `trusted_roots` (PEM files of CA certificates).
pub fn trust_from_config() -> Result<Trust> {
    let (config, config_path) = crate::config::load()?;
    trust_from_lists(&config.trusted_keys, &config.trusted_roots, &config_path)
}

/// Trust as a file at `listed_in` (the config, an audit policy) lists it;
/// relative paths are relative to that file's folder.
pub fn trust_from_lists(keys: &[String], roots: &[String], listed_in: &Path) -> Result<Trust> {
    let base = listed_in.parent().map(Path::to_owned).unwrap_or_default();
    // A listed file that cannot be read is the list's fault: bad input (2).
    Trust::from_entries(keys, roots, &base).map_err(|e| {
        crate::exit::BadInput(format!(
            "trusted_keys or trusted_roots in {}: {e}; fix the entry, or remove it",
            listed_in.display()
        ))
        .into()
    })
}

/// Which files a signature is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilesCheck {
    /// The files on disk, re-hashed (`zoo audit`, which re-hashes anyway).
    Rehash,
    /// The digests the manifest recorded at pull, verified then: no file is
    /// read, so `zoo info` stays quick on large models.
    AsPulled,
}

/// The signature state of a pulled (or registered fine-tuned) model: whether
/// its signature verifies over exactly its files, and whether `trust` trusts
/// its signer.
pub fn status(
    store: &Store,
    name: &ModelName,
    manifest: &Manifest,
    trust: &Trust,
    files: FilesCheck,
) -> SignatureStatus {
    let dir = store.model_dir(name);
    let path = dir.join(SIGNATURE_FILE);
    SignatureStatus::from_check((|| {
        if std::fs::symlink_metadata(&path).is_err() {
            return Err(SignError::Unsigned {
                model: name.to_string(),
                path: path.clone(),
            });
        }
        let bundle = Bundle::read(&path)?;
        let (verified, untrusted) = zoo_sign::inspect(&bundle, trust)?;
        let actual = match files {
            FilesCheck::Rehash => zoo_sign::hash_dir(&dir, &walk_options(manifest))?,
            FilesCheck::AsPulled => pulled_resources(manifest),
        };
        zoo_sign::verify_files(&verified, &actual)?;
        Ok((verified, untrusted))
    })())
}

/// The model's files as the manifest recorded them at pull, without zoo's
/// bookkeeping and the signature.
pub fn pulled_resources(manifest: &Manifest) -> Vec<zoo_sign::Resource> {
    manifest
        .files
        .iter()
        .filter(|f| f.path != SIGNATURE_FILE && f.path != MANIFEST_FILE)
        .filter_map(|f| {
            Some(zoo_sign::Resource {
                name: f.path.clone(),
                sha256: zoo_types::Sha256Hex::parse(&f.sha256).ok()?,
            })
        })
        .collect()
}

/// What a fine-tune's lineage records of its base's signer: only a signature
/// that verified over the base's files.
pub fn base_signer(status: &SignatureStatus) -> Option<BaseSigner> {
    let SignatureStatus::Verified {
        signer, trusted, ..
    } = status
    else {
        return None;
    };
    let key = match signer {
        SignerInfo::Key { fingerprint, .. } | SignerInfo::Certificate { fingerprint, .. } => {
            zoo_types::Sha256Hex::parse(fingerprint.trim_start_matches("sha256:")).ok()?
        }
        // Keyless signatures are checked only by `zoo verify --trust-root`.
        SignerInfo::Keyless { .. } => return None,
    };
    Some(match signer {
        SignerInfo::Key { .. } => BaseSigner {
            kind: SignerKind::Key,
            key_sha256: key,
            subject: None,
            issuer: None,
            trusted: *trusted,
        },
        SignerInfo::Certificate {
            subject, issuer, ..
        } => BaseSigner {
            kind: SignerKind::Certificate,
            key_sha256: key,
            subject: Some(subject.clone()),
            issuer: Some(issuer.clone()),
            trusted: *trusted,
        },
        SignerInfo::Keyless { .. } => return None,
    })
}

/// Temp file beside `path`, synced, renamed over it.
pub fn write_signature(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let tmp = path.with_file_name(format!(".{SIGNATURE_FILE}.tmp-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// `zoo finetune --sign`: signs the staged folder of the new model over the
/// files its card lists (not the card itself, which the store does not hold,
/// so the signature verifies in the store as in the folder).
#[derive(Debug)]
pub struct StagedSigner {
    pub signer: Signer,
}

impl zoo_finetune::ModelSigner for StagedSigner {
    fn sign_staged(&self, dir: &Path, card: &zoo_registry::Card) -> zoo_finetune::Result<()> {
        let fail = |e: String| zoo_finetune::FinetuneError::Output(format!("signing: {e}"));
        // The card sits beside the files in the local folder only (the store
        // holds no copy), so the signature leaves it out; its lineage is also
        // in model.onnx's metadata, which is signed.
        let mut ignore = left_out();
        ignore.push(RelPath::parse(zoo_finetune::export::CARD_FILE).expect("a valid path"));
        let options = WalkOptions {
            ignore: ignore.clone(),
            links: Default::default(),
        };
        let resources = zoo_sign::hash_dir(dir, &options).map_err(|e| fail(e.to_string()))?;
        let listed: Vec<String> = card.files.iter().map(|f| f.path.to_string()).collect();
        let unlisted: Vec<String> = resources
            .iter()
            .map(|r| r.name.to_string())
            .filter(|n| !listed.contains(n))
            .collect();
        if !unlisted.is_empty() || resources.len() != listed.len() {
            return Err(fail(format!(
                "the staged folder holds {} files but the card lists {} (not listed: {})",
                resources.len(),
                listed.len(),
                unlisted.join(", ")
            )));
        }
        let ignore = ignore.iter().map(ToString::to_string).collect();
        let bundle = zoo_sign::sign(&self.signer, card.name.as_str(), resources, ignore);
        write_signature(&dir.join(SIGNATURE_FILE), &bundle).map_err(|e| fail(format!("{e:#}")))
    }
}

/// After `zoo finetune --sign` registered the model: its signature, signed
/// in the local folder, goes beside the files in the store too, under the
/// model's lock.
pub fn copy_into_store(store: &Store, name: &ModelName, local_dir: &Path) -> Result<PathBuf> {
    let _guard = store.lock_model(name.as_str(), &zoo_fetch::Silent)?;
    let bytes = std::fs::read(local_dir.join(SIGNATURE_FILE))
        .with_context(|| format!("cannot read {}", local_dir.join(SIGNATURE_FILE).display()))?;
    let to = store.model_dir(name).join(SIGNATURE_FILE);
    write_signature(&to, &bytes)?;
    Ok(to)
}
