//! `zoo sign` and `zoo verify --signature`: OpenSSF model signing (the format
//! of PyPI `model-signing`), see docs/signing.md. The work is in `zoo-sign`;
//! here the model's folder in the store is walked as the reference would walk
//! a plain folder: the links zoo made to its blobs are read as the files they
//! stand for, and zoo's own `zoo-manifest.json` and the signature are left out.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use serde::Serialize;
use zoo_fetch::{Manifest, Store};
use zoo_registry::Catalog;
use zoo_sign::bundle::Bundle;
use zoo_sign::cert::Cert;
use zoo_sign::{
    FileDiff, PrivateKey, PublicKey, SIGNATURE_FILE, SignError, Signer, SignerInfo, Trust,
};
use zoo_types::{ModelName, TerminalSafe};

use crate::cli::{SignArgs, VerifyArgs};
use crate::signing::{left_out, trust_from_config, walk_options, write_signature};

/// The stored name for a catalog name or alias, and its manifest.
fn pulled(catalog: &Catalog, store: &Store, name: &str) -> Result<(ModelName, Manifest)> {
    let name = match catalog.resolve(name) {
        Ok(e) => e.card.name.clone(),
        Err(_) => ModelName::parse(name).map_err(|e| crate::exit::BadInput(e.to_string()))?,
    };
    match store.manifest(&name)? {
        Some(m) => Ok((name, m)),
        None => anyhow::bail!("model '{name}' is not pulled: run `zoo pull {name}` first"),
    }
}

pub fn sign(catalog: &Catalog, args: &SignArgs) -> Result<ExitCode> {
    let store = Store::open_default();
    let signer = read_signer(&args.key, args.cert.as_deref(), &args.chain)?;
    let (name, _) = pulled(catalog, &store, &args.name)?;
    // A pull or gc of this model waits until the signature is written, and
    // the files are read as the last writer left them.
    let waiting = crate::progress::PullProgress::new(false, 0);
    let _guard = store.lock_model(name.as_str(), &waiting)?;
    let (name, manifest) = pulled(catalog, &store, name.as_str())?;
    let path = sign_pulled(&store, &name, &manifest, &signer)?;
    if args.json {
        super::print_json(&serde_json::json!({
            "name": name,
            "signature": path,
            "signer": signer.describe(),
            "files": manifest.files.len(),
        }))?;
    } else {
        println!(
            "signed {name} ({} files) with {}; wrote {}",
            manifest.files.len(),
            TerminalSafe::new(&signer.describe()),
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The signer `--key` (and `--cert` with `--chain`) name: `zoo sign`'s and
/// `zoo finetune --sign`'s.
pub fn read_signer(key: &Path, cert: Option<&Path>, chain: &[PathBuf]) -> Result<Signer> {
    let key = PrivateKey::read_pem(key)?;
    Ok(match cert {
        None => Signer::with_key(key),
        Some(cert_path) => {
            let leaf = Cert::read_pem_all(cert_path)?.remove(0);
            let mut rest = Vec::new();
            for p in chain {
                rest.extend(Cert::read_pem_all(p)?);
            }
            Signer::with_certificate(key, leaf, rest, std::time::SystemTime::now()).map_err(
                |m| SignError::Material {
                    path: cert_path.to_owned(),
                    message: m,
                },
            )?
        }
    })
}

/// Sign the pulled files of `name`, as they were pulled; the signature's path.
fn sign_pulled(
    store: &Store,
    name: &ModelName,
    manifest: &Manifest,
    signer: &Signer,
) -> Result<PathBuf> {
    if manifest.files.iter().any(|f| f.path == SIGNATURE_FILE) {
        return Err(crate::exit::BadInput(format!(
            "{SIGNATURE_FILE} of '{name}' came with the model (it is one of its card's files); \
             zoo sign will not replace it"
        ))
        .into());
    }
    let dir = store.model_dir(name);
    let resources = zoo_sign::hash_dir(&dir, &walk_options(manifest))?;
    // Sign only what was pulled, as it was pulled.
    let pulled: Vec<zoo_sign::Resource> = manifest
        .files
        .iter()
        .map(|f| zoo_sign::Resource {
            name: f.path.clone(),
            sha256: zoo_types::Sha256Hex::parse(&f.sha256)
                .unwrap_or_else(|_| zoo_types::Sha256Hex::from_bytes(&[0; 32])),
        })
        .collect();
    let diff = FileDiff::between(&pulled, &resources);
    if !diff.is_empty() {
        anyhow::bail!(
            "'{name}' is not as it was pulled ({diff}); `zoo verify {name}` names the damage, \
             `zoo pull {name}` repairs it"
        );
    }
    let ignore = left_out().iter().map(|p| p.to_string()).collect();
    let bundle = zoo_sign::sign(signer, name.as_str(), resources, ignore);
    let path = dir.join(SIGNATURE_FILE);
    write_signature(&path, &bundle)?;
    Ok(path)
}

/// Whom to trust: the key or CA certificates given on the command line, else
/// the config file's `trusted_keys` and `trusted_roots`.
/// With --trust-root, keyless signatures are checked against it too.
fn trust_from_args(args: &VerifyArgs) -> Result<Trust> {
    let mut trust = if let Some(key) = &args.key {
        Trust::new(vec![PublicKey::read_pem(key)?], vec![], vec![])
    } else if !args.cert_chain.is_empty() {
        let mut roots = Vec::new();
        for p in &args.cert_chain {
            roots.extend(Cert::read_pem_all(p)?);
        }
        Trust::new(vec![], vec![], roots)
    } else {
        trust_from_config()?
    };
    if let Some(path) = &args.trust_root {
        trust.keyless = Some(zoo_sign::KeylessTrust {
            root: zoo_sign::trust_root::TrustRoot::read(path)?,
            identity: args.identity.clone(),
            oidc_issuer: args.oidc_issuer.clone(),
        });
    }
    Ok(trust)
}

/// The outcome of checking one model's signature.
#[derive(Debug, Serialize)]
pub struct SignatureCheck {
    pub name: String,
    pub signature: PathBuf,
    pub verified: bool,
    /// The signer, when the signature verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<SignerInfo>,
    /// Files the signature covers, when it verified.
    pub files: usize,
    #[serde(skip_serializing_if = "FileDiff::is_empty")]
    pub diff: FileDiff,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why it failed, for the exit code: `unsigned`, `untrusted`, `invalid`, `files`, `keyless`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<&'static str>,
}

/// Check the signature beside a pulled model against `trust`.
pub fn check(
    store: &Store,
    name: &ModelName,
    manifest: &Manifest,
    trust: &Trust,
) -> SignatureCheck {
    let dir = store.model_dir(name);
    let path = dir.join(SIGNATURE_FILE);
    let mut out = SignatureCheck {
        name: name.to_string(),
        signature: path.clone(),
        verified: false,
        signer: None,
        files: 0,
        diff: FileDiff::default(),
        error: None,
        failure: None,
    };
    let result = (|| -> Result<zoo_sign::Verified, SignError> {
        if std::fs::symlink_metadata(&path).is_err() {
            return Err(SignError::Unsigned {
                model: name.to_string(),
                path: path.clone(),
            });
        }
        let bundle = Bundle::read(&path)?;
        let verified = zoo_sign::verify(&bundle, trust)?;
        let actual = zoo_sign::hash_dir(&dir, &walk_options(manifest))?;
        zoo_sign::verify_files(&verified, &actual)?;
        Ok(verified)
    })();
    match result {
        Ok(v) => {
            out.verified = true;
            out.files = v.statement.resources.len();
            out.signer = Some(v.signer);
        }
        Err(e) => {
            out.failure = Some(match &e {
                SignError::Unsigned { .. } => "unsigned",
                SignError::Untrusted(_) => "untrusted",
                SignError::NotVerifiableOffline { .. } => "keyless",
                SignError::Files(_) => "files",
                _ => "invalid",
            });
            if let SignError::Files(d) = &e {
                out.diff = d.clone();
            }
            out.error = Some(e.to_string());
        }
    }
    out
}

pub fn verify(catalog: &Catalog, args: &VerifyArgs) -> Result<ExitCode> {
    let store = Store::open_default();
    let models: Vec<(ModelName, Manifest)> = match &args.name {
        Some(n) => vec![pulled(catalog, &store, n)?],
        None => store
            .list()?
            .into_iter()
            .map(|m| (m.name.clone(), m))
            .collect(),
    };
    let trust = trust_from_args(args)?;
    let checks: Vec<SignatureCheck> = models
        .iter()
        .map(|(name, manifest)| check(&store, name, manifest, &trust))
        .collect();
    let clean = checks.iter().all(|c| c.verified);
    if args.json {
        super::print_json(&checks)?;
    } else {
        for c in &checks {
            print_check(c);
        }
        if checks.is_empty() {
            println!("no models pulled");
        }
    }
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::SIGNATURE)
    })
}

fn print_check(c: &SignatureCheck) {
    match (&c.signer, &c.error) {
        (Some(signer), _) => println!(
            "{}: signature OK ({} files), signed by {}",
            c.name,
            c.files,
            TerminalSafe::new(&signer.to_string())
        ),
        (None, error) => {
            let why = if c.diff.is_empty() {
                error.as_deref().unwrap_or("unknown error")
            } else {
                "the files are not the signed files"
            };
            println!("{}: SIGNATURE FAILED: {}", c.name, TerminalSafe::new(why));
            for p in &c.diff.changed {
                println!("  changed     {}", TerminalSafe::new(p));
            }
            for p in &c.diff.missing {
                println!("  missing     {}", TerminalSafe::new(p));
            }
            for p in &c.diff.extra {
                println!("  not signed  {}", TerminalSafe::new(p));
            }
        }
    }
}

/// `require_signature`: a pulled model is registered only when its files
/// include a signature (`model.sig`) by a trusted signer over exactly the
/// other files. Checked on the verified files before publishing.
#[derive(Debug)]
struct RequireSignature {
    trust: Trust,
}

impl zoo_fetch::PublishCheck for RequireSignature {
    fn check(&self, manifest: &Manifest) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        check_pulled(manifest, &self.trust)
            .map(|_| ())
            .map_err(|e| Box::new(e) as _)
    }
}

/// The check `zoo pull` runs before registering a model, when the config
/// sets `require_signature`.
pub fn pull_check(
    config: &crate::config::Config,
) -> Result<Option<Arc<dyn zoo_fetch::PublishCheck>>> {
    if !config.require_signature {
        return Ok(None);
    }
    let trust = trust_from_config()?;
    if trust.is_empty() {
        return Err(crate::exit::BadInput(format!(
            "require_signature is set in {} but no signer is trusted: add trusted_keys or \
             trusted_roots (docs/signing.md)",
            crate::config::path().display()
        ))
        .into());
    }
    Ok(Some(Arc::new(RequireSignature { trust })))
}

/// A model's signature checked from its manifest: the signature is one of its
/// files, and the other files' digests (verified by the pull) must be the
/// signed ones.
fn check_pulled(manifest: &Manifest, trust: &Trust) -> Result<zoo_sign::Verified, SignError> {
    let Some(sig) = manifest.files.iter().find(|f| f.path == SIGNATURE_FILE) else {
        return Err(SignError::Unsigned {
            model: manifest.name.to_string(),
            path: PathBuf::from(SIGNATURE_FILE),
        });
    };
    let bundle = Bundle::read(&sig.blob)?;
    let verified = zoo_sign::verify(&bundle, trust)?;
    zoo_sign::verify_files(&verified, &crate::signing::pulled_resources(manifest))?;
    Ok(verified)
}
