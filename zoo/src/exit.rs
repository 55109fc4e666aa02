//! Exit codes, decided in one place so scripts can rely on them:
//! 0 success, 1 failure (or findings), 2 bad input or usage.

use std::process::ExitCode;

pub const FAILURE: u8 = 1;
pub const BAD_INPUT: u8 = 2;

/// Map an error to its exit code by the library error it carries.
pub fn code_for(err: &anyhow::Error) -> ExitCode {
    for cause in err.chain() {
        if cause.downcast_ref::<zoo_registry::RegistryError>().is_some() {
            return ExitCode::from(BAD_INPUT);
        }
    }
    ExitCode::from(FAILURE)
}
