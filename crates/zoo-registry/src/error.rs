use std::fmt;
use std::path::PathBuf;

/// One problem in one catalog file, printed as `file:line: message`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based; 0 when the problem is about the file as a whole.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{}", render_all(.0))]
    Invalid(Vec<Diagnostic>),

    #[error("cannot read catalog directory {}: {source}", path.display())]
    ReadDir {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot write the card {path}: {message}")]
    Write {
        path: std::path::PathBuf,
        message: String,
    },

    #[error("{}", unknown_model_message(name, suggestions))]
    UnknownModel {
        name: String,
        suggestions: Vec<String>,
    },
}

fn render_all(diags: &[Diagnostic]) -> String {
    let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

fn unknown_model_message(name: &str, suggestions: &[String]) -> String {
    let mut msg = format!("no model named '{name}' in the catalog");
    if !suggestions.is_empty() {
        msg.push_str(&format!("; did you mean {}?", suggestions.join(", ")));
    }
    msg.push_str(" (see `zoo list` or `zoo search TEXT`)");
    msg
}
