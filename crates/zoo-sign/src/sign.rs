//! Signing: a statement over the model's files, in a DSSE envelope, in a
//! Sigstore bundle, as `model_signing sign key` and `sign certificate` write it.

use std::time::SystemTime;

use crate::bundle::{Bundle, Material};
use crate::cert::Cert;
use crate::dsse::{IN_TOTO_PAYLOAD_TYPE, pae};
use crate::files::Resource;
use crate::keys::PrivateKey;
use crate::statement::ModelStatement;

/// Who signs: a key, and for the certificate method its certificate and the
/// rest of its chain.
#[derive(Debug)]
pub struct Signer {
    key: PrivateKey,
    /// The leaf first.
    chain: Option<Vec<Cert>>,
}

impl Signer {
    pub fn with_key(key: PrivateKey) -> Signer {
        Signer { key, chain: None }
    }

    /// The certificate method. The certificate must hold the key's public
    /// half, be valid now and be fit for code signing: a signature that no
    /// verifier would accept is refused before it is written.
    pub fn with_certificate(
        key: PrivateKey,
        leaf: Cert,
        chain: Vec<Cert>,
        now: SystemTime,
    ) -> Result<Signer, String> {
        if leaf.public_key()? != key.public_key() {
            return Err(
                "the certificate is not for this key (its public key is another one)".into(),
            );
        }
        leaf.check_validity(now)?;
        leaf.check_purpose()?;
        let mut all = vec![leaf];
        all.extend(chain);
        Ok(Signer {
            key,
            chain: Some(all),
        })
    }

    /// What a verifier will report: the key's fingerprint, or the certificate's subject.
    pub fn describe(&self) -> String {
        match &self.chain {
            Some(chain) => format!(
                "certificate {} (issued by {})",
                chain[0].subject(),
                chain[0].issuer()
            ),
            None => format!("key {}", self.key.public_key().fingerprint()),
        }
    }
}

/// The bundle for `resources` (sorted, as [`crate::hash_dir`] returns them),
/// named `model_name`, recording `ignore_paths` as left out.
pub fn sign(
    signer: &Signer,
    model_name: &str,
    resources: Vec<Resource>,
    ignore_paths: Vec<String>,
) -> Vec<u8> {
    let statement = ModelStatement {
        model_name: model_name.to_owned(),
        resources,
        ignore_paths,
        allow_symlinks: false,
    };
    let payload = statement.to_json();
    let signature = signer.key.sign(&pae(IN_TOTO_PAYLOAD_TYPE, &payload));
    let material = match &signer.chain {
        Some(chain) => Material::Chain(chain.iter().map(|c| c.der().to_vec()).collect()),
        None => Material::PublicKey {
            hint: Some(signer.key.public_key().fingerprint().as_hex().to_owned()),
        },
    };
    Bundle {
        material,
        tlog_entries: Vec::new(),
        payload_type: IN_TOTO_PAYLOAD_TYPE.into(),
        payload,
        signature,
    }
    .to_json()
}
