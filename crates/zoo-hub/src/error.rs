use zoo_fetch::FetchError;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("{what} '{id}' was not found on {endpoint}{hint}")]
    NotFound {
        what: &'static str,
        id: String,
        endpoint: String,
        hint: &'static str,
    },

    #[error("{endpoint} refused access to '{id}' (HTTP {status}{code}): {hint}")]
    Denied {
        id: String,
        endpoint: String,
        status: u16,
        code: String,
        hint: &'static str,
    },

    #[error("unexpected answer from {from}: {message}")]
    BadAnswer { from: String, message: String },

    /// A value the hub sent that would be unsafe to use (a malformed commit id
    /// or digest): the import stops before anything is written.
    #[error("refusing the answer from {from}: {message}")]
    Untrusted { from: String, message: String },

    #[error("{0}")]
    Fetch(#[from] FetchError),

    #[error("cannot write {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{0}")]
    Invalid(String),
}
