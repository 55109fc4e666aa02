//! Exit codes, decided in one place so scripts can rely on them (docs/cli.md):
//! 0 success, 1 failure (or findings), 2 bad input or usage, 3 closed model,
//! 4 license gate, 5 refused as unsafe, 6 signature check failed.

use std::process::ExitCode;

use zoo_fetch::FetchError;

pub const FAILURE: u8 = 1;
pub const BAD_INPUT: u8 = 2;
pub const CLOSED_MODEL: u8 = 3;
pub const LICENSE_GATE: u8 = 4;
pub const UNSAFE: u8 = 5;
/// A model is unsigned, its signature does not verify, its signer is not
/// trusted, or its files are not the signed ones (`zoo verify --signature`,
/// `require_signature`).
pub const SIGNATURE: u8 = 6;

/// An error in what the user gave us (a file, an argument), as opposed to a failure.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Map an error to its exit code by the library error it carries.
pub fn code_for(err: &anyhow::Error) -> ExitCode {
    for cause in err.chain() {
        if cause
            .downcast_ref::<zoo_registry::RegistryError>()
            .is_some()
            || cause.downcast_ref::<BadInput>().is_some()
        {
            return ExitCode::from(BAD_INPUT);
        }
        if let Some(
            zoo_finetune::FinetuneError::Data { .. }
            | zoo_finetune::FinetuneError::Config(_)
            | zoo_finetune::FinetuneError::Backbone { .. },
        ) = cause.downcast_ref::<zoo_finetune::FinetuneError>()
        {
            return ExitCode::from(BAD_INPUT);
        }
        // A checkpoint or config zoo cannot convert is bad input; failing to
        // read or write files is a failure.
        if let Some(convert) = cause.downcast_ref::<zoo_convert::ConvertError>() {
            return ExitCode::from(if convert.is_bad_input() {
                BAD_INPUT
            } else {
                FAILURE
            });
        }
        if let Some(hub) = cause.downcast_ref::<zoo_hub::HubError>() {
            match hub {
                // The fetch error it wraps comes next in the chain.
                zoo_hub::HubError::Fetch(_) => continue,
                zoo_hub::HubError::NotFound { .. } | zoo_hub::HubError::Invalid(_) => {
                    return ExitCode::from(BAD_INPUT);
                }
                zoo_hub::HubError::Untrusted { .. } => return ExitCode::from(UNSAFE),
                _ => return ExitCode::from(FAILURE),
            }
        }
        if let Some(oci) = cause.downcast_ref::<zoo_oci::OciError>() {
            match oci {
                zoo_oci::OciError::Fetch(_) => continue,
                zoo_oci::OciError::NotFound { .. } | zoo_oci::OciError::Invalid(_) => {
                    return ExitCode::from(BAD_INPUT);
                }
                // Refused as unsafe, as a pickle or an escaping path is; a
                // digest that does not match is a failed verification (1), as
                // for files.
                zoo_oci::OciError::BadArtifact(_) | zoo_oci::OciError::TooLarge { .. } => {
                    return ExitCode::from(UNSAFE);
                }
                _ => return ExitCode::from(FAILURE),
            }
        }
        if let Some(sign) = cause.downcast_ref::<zoo_sign::SignError>() {
            return ExitCode::from(match sign {
                zoo_sign::SignError::Material { .. } => BAD_INPUT,
                zoo_sign::SignError::Io { .. } => FAILURE,
                _ => SIGNATURE,
            });
        }
        // A refused pull: the reason (a signature error) comes next in the chain.
        if let Some(FetchError::Refused { .. }) = cause.downcast_ref::<FetchError>() {
            continue;
        }
        if let Some(fetch) = cause.downcast_ref::<FetchError>() {
            return ExitCode::from(match fetch {
                FetchError::ClosedModel { .. } => CLOSED_MODEL,
                FetchError::LicenseNotAccepted { .. } | FetchError::LicenseDenied { .. } => {
                    LICENSE_GATE
                }
                FetchError::PickleRefused { .. }
                | FetchError::UnsafePath { .. }
                | FetchError::NotAFile { .. }
                | FetchError::UntrustedAnswer { .. } => UNSAFE,
                FetchError::Setting(_) => BAD_INPUT,
                _ => FAILURE,
            });
        }
    }
    ExitCode::from(FAILURE)
}
