//! The in-toto Statement v1 a model signature carries (predicate
//! `https://model_signing/signature/v1.0`), built and read back.

use std::collections::BTreeSet;

use serde::Deserialize;
use zoo_types::{RelPath, Sha256Hex};

use crate::files::{Resource, root_digest};

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";
/// The pre-1.0 predicate of model_signing 0.2, which zoo does not verify.
const PREDICATE_TYPE_V02: &str = "https://model_signing/Digests/v0.1";

/// What a model signature states: the model's name (its folder's, only
/// informative), every file with its digest, and how the files were
/// serialized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelStatement {
    pub model_name: String,
    pub resources: Vec<Resource>,
    /// Paths the signer left out (recorded, as the reference records them).
    pub ignore_paths: Vec<String>,
    pub allow_symlinks: bool,
}

impl ModelStatement {
    /// The payload bytes: the statement as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let resources: Vec<serde_json::Value> = self
            .resources
            .iter()
            .map(|r| {
                serde_json::json!({
                    "name": r.name.as_str(),
                    "algorithm": "sha256",
                    "digest": r.sha256.as_str(),
                })
            })
            .collect();
        let statement = serde_json::json!({
            "_type": STATEMENT_TYPE,
            "subject": [{
                "name": self.model_name,
                "digest": { "sha256": root_digest(&self.resources).as_str() },
            }],
            "predicateType": PREDICATE_TYPE,
            "predicate": {
                "serialization": {
                    "method": "files",
                    "hash_type": "sha256",
                    "allow_symlinks": self.allow_symlinks,
                    "ignore_paths": self.ignore_paths,
                },
                "resources": resources,
            },
        });
        serde_json::to_vec_pretty(&statement).expect("a statement serializes")
    }

    /// Read a payload: every check the reference makes, and names that must
    /// be relative paths inside the model, digests that must be sha256 hex,
    /// no name twice.
    pub fn from_json(payload: &[u8]) -> Result<ModelStatement, String> {
        let raw: RawStatement = serde_json::from_slice(payload)
            .map_err(|e| format!("its statement is not an in-toto statement ({e})"))?;
        if raw.type_ != STATEMENT_TYPE {
            return Err(format!(
                "its statement is of type {:?}, not {STATEMENT_TYPE}",
                raw.type_
            ));
        }
        if raw.predicate_type == PREDICATE_TYPE_V02 {
            return Err(
                "it is a pre-1.0 model_signing signature (predicate Digests/v0.1); re-sign it with \
                 model_signing 1.x or zoo"
                    .into(),
            );
        }
        if raw.predicate_type != PREDICATE_TYPE {
            return Err(format!(
                "its predicate is {:?}, not a model signature ({PREDICATE_TYPE})",
                raw.predicate_type
            ));
        }
        let [subject] = raw.subject.as_slice() else {
            return Err(format!(
                "its statement has {} subjects; a model signature has one",
                raw.subject.len()
            ));
        };
        let predicate = raw
            .predicate
            .ok_or_else(|| "its statement has no predicate".to_owned())?;
        let s = &predicate.serialization;
        if s.method != "files" {
            return Err(format!(
                "it serializes the model by {:?}; zoo verifies `method: files` signatures",
                s.method
            ));
        }
        if s.hash_type != "sha256" {
            return Err(format!(
                "it hashes files with {:?}; zoo verifies sha256",
                s.hash_type
            ));
        }
        let mut resources = Vec::with_capacity(predicate.resources.len());
        let mut seen = BTreeSet::new();
        for r in predicate.resources {
            let name = RelPath::parse(&r.name)
                .map_err(|e| format!("it lists a file that is not a path inside the model: {e}"))?;
            if r.algorithm != "sha256" {
                return Err(format!(
                    "it lists {name} with algorithm {:?}; zoo verifies sha256",
                    r.algorithm
                ));
            }
            let sha256 = Sha256Hex::parse(&r.digest)
                .map_err(|e| format!("it lists {name} with a bad digest: {e}"))?;
            if !seen.insert(name.clone()) {
                return Err(format!("it lists {name} twice"));
            }
            resources.push(Resource { name, sha256 });
        }
        let claimed = Sha256Hex::parse(&subject.digest.sha256)
            .map_err(|e| format!("its subject digest is bad: {e}"))?;
        let computed = root_digest(&resources);
        if claimed != computed {
            return Err(format!(
                "it is inconsistent: the subject digest is {claimed}, the files listed hash to {computed}"
            ));
        }
        Ok(ModelStatement {
            model_name: subject.name.clone(),
            resources,
            ignore_paths: s.ignore_paths.clone(),
            allow_symlinks: s.allow_symlinks,
        })
    }
}

#[derive(Deserialize)]
struct RawStatement {
    #[serde(rename = "_type")]
    type_: String,
    subject: Vec<RawSubject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    predicate: Option<RawPredicate>,
}

#[derive(Deserialize)]
struct RawSubject {
    #[serde(default)]
    name: String,
    digest: RawDigest,
}

#[derive(Deserialize)]
struct RawDigest {
    sha256: String,
}

/// v1.0 verifiers ignore predicate fields they do not know.
#[derive(Deserialize)]
struct RawPredicate {
    serialization: RawSerialization,
    resources: Vec<RawResource>,
}

#[derive(Deserialize)]
struct RawSerialization {
    method: String,
    hash_type: String,
    allow_symlinks: bool,
    #[serde(default)]
    ignore_paths: Vec<String>,
}

#[derive(Deserialize)]
struct RawResource {
    name: String,
    algorithm: String,
    digest: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement() -> ModelStatement {
        ModelStatement {
            model_name: "m".into(),
            resources: vec![Resource {
                name: RelPath::parse("a.txt").unwrap(),
                sha256: Sha256Hex::parse(
                    "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
                )
                .unwrap(),
            }],
            ignore_paths: vec!["model.sig".into()],
            allow_symlinks: false,
        }
    }

    #[test]
    fn round_trips() {
        let s = statement();
        assert_eq!(ModelStatement::from_json(&s.to_json()).unwrap(), s);
    }

    #[test]
    fn refuses_hostile_names_and_inconsistent_digests() {
        let json = String::from_utf8(statement().to_json()).unwrap();
        let bad = json.replace("\"a.txt\"", "\"../etc/passwd\"");
        assert!(
            ModelStatement::from_json(bad.as_bytes())
                .unwrap_err()
                .contains("not a path inside")
        );
        let bad = json.replace("5891b5", "5891b6");
        assert!(
            ModelStatement::from_json(bad.as_bytes())
                .unwrap_err()
                .contains("inconsistent")
        );
        assert!(ModelStatement::from_json(b"[]").is_err());
    }
}
