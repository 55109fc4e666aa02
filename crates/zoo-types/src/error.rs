use crate::TerminalSafe;

/// A value that failed validation: what it was meant to be, the value (escaped
/// for the terminal, shortened) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} '{value}': {reason}")]
pub struct InvalidValue {
    pub kind: &'static str,
    pub value: String,
    pub reason: String,
}

impl InvalidValue {
    pub(crate) fn new(kind: &'static str, value: &str, reason: impl Into<String>) -> InvalidValue {
        InvalidValue {
            kind,
            value: TerminalSafe::shortened(value, 80).to_string(),
            reason: reason.into(),
        }
    }
}
