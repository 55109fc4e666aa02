use crate::terminal::is_unsafe_char;
use crate::{InvalidValue, RelPath, string_type};

/// A catalog name or alias: 1 to 128 lower-case ASCII letters, digits, `-`, `_`
/// and `.`, starting with a letter or digit. It names a store folder, so `.`,
/// `..`, hidden names and names that look like command-line flags are refused.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModelName(String);
string_type!(ModelName);

impl ModelName {
    pub const MAX_LEN: usize = 128;

    pub fn parse(s: &str) -> Result<ModelName, InvalidValue> {
        let bad = |reason: &str| Err(InvalidValue::new("model name", s, reason));
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return bad(&format!(
                "it must be 1 to {} characters long",
                Self::MAX_LEN
            ));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        {
            return bad("it may use only lower-case letters, digits, '-', '_' and '.'");
        }
        if !s.as_bytes()[0].is_ascii_alphanumeric() {
            return bad("it must start with a lower-case letter or a digit");
        }
        Ok(ModelName(s.to_owned()))
    }
}

/// A Hugging Face repository id, `org/name` (or a legacy `name`): each part 1 to
/// 96 ASCII letters, digits, `-`, `_`, `.`, not starting or ending with `-` or
/// `.`, without `--` or `..` (the cache folder `models--org--name` must map back
/// to one repository).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepoId(String);
string_type!(RepoId);

impl RepoId {
    pub fn parse(s: &str) -> Result<RepoId, InvalidValue> {
        let bad = |reason: &str| Err(InvalidValue::new("repository id", s, reason));
        let parts: Vec<&str> = s.split('/').collect();
        if parts.len() > 2 {
            return bad("expected 'org/name'");
        }
        for part in &parts {
            if part.is_empty() || part.len() > 96 {
                return bad("each part must be 1 to 96 characters long");
            }
            if !part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            {
                return bad("it may use only letters, digits, '-', '_', '.' and one '/'");
            }
            if part.starts_with(['-', '.']) || part.ends_with(['-', '.']) {
                return bad("a part may not start or end with '-' or '.'");
            }
            if part.contains("--") || part.contains("..") {
                return bad("a part may not contain '--' or '..'");
            }
        }
        Ok(RepoId(s.to_owned()))
    }

    /// Whether the id has an owner part (`org/name`), as catalog cards require.
    pub fn has_owner(&self) -> bool {
        self.0.contains('/')
    }

    /// The Hugging Face cache folder name: `models--org--name`.
    pub fn cache_folder(&self) -> String {
        format!("models--{}", self.0.replace('/', "--"))
    }
}

/// A revision (branch, tag, `refs/pr/N` or commit id) as a name that is safe to
/// use as the file `refs/<revision>` in the Hugging Face cache and in a URL:
/// ASCII letters, digits, `-`, `_`, `.`, `/`, components as in [`RelPath`], none
/// starting with `.`, the whole not starting with `-`, at most 255 bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Revision(String);
string_type!(Revision);

impl Revision {
    pub fn parse(s: &str) -> Result<Revision, InvalidValue> {
        let bad = |reason: &str| Err(InvalidValue::new("revision", s, reason));
        if s.is_empty() || s.len() > 255 {
            return bad("it must be 1 to 255 characters long");
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
        {
            return bad("it may use only letters, digits, '-', '_', '.' and '/'");
        }
        if s.starts_with('-') {
            return bad("it may not start with '-'");
        }
        if RelPath::parse(s).is_err() || s.split('/').any(|c| c.starts_with('.')) {
            return bad("its '/'-separated parts must be non-empty and not start with '.'");
        }
        Ok(Revision(s.to_owned()))
    }

    /// The revision as a relative path under `refs/`.
    pub fn as_rel_path(&self) -> RelPath {
        RelPath::parse(&self.0).expect("a revision is a valid relative path")
    }
}

/// A class label from a data set (a folder name, a CSV cell): 1 to 200
/// characters, no control or bidirectional-override characters, no `/` or `\`,
/// not `.` or `..`, no leading or trailing white space. It becomes a line of
/// `labels.txt` and a column of reports, so a newline must never get in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClassName(String);
string_type!(ClassName);

impl ClassName {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(s: &str) -> Result<ClassName, InvalidValue> {
        let bad = |reason: &str| Err(InvalidValue::new("class name", s, reason));
        if s.is_empty() || s.chars().count() > Self::MAX_CHARS {
            return bad(&format!(
                "it must be 1 to {} characters long",
                Self::MAX_CHARS
            ));
        }
        if s.chars().any(is_unsafe_char) {
            return bad("it contains a control character (a newline, tab or escape)");
        }
        if s.contains(['/', '\\']) {
            return bad("it contains '/' or '\\'");
        }
        if s == "." || s == ".." {
            return bad("'.' and '..' are not class names");
        }
        if s.trim() != s {
            return bad("it starts or ends with white space");
        }
        Ok(ClassName(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn model_names() {
        for good in ["resnet50", "all-minilm-l6-v2", "gpt2.5", "a", "9x_y"] {
            assert!(ModelName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "", ".", "..", ".hidden", "-rf", "_x", "Upper", "a/b", "a b", "é", "a\n",
        ] {
            assert!(ModelName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ModelName::parse(&"a".repeat(129)).is_err());
    }

    #[test]
    fn repo_ids() {
        for good in ["org/name", "Qwen/Qwen2.5-0.5B", "gpt2", "a_b/c.d"] {
            assert!(RepoId::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/",
            "org/",
            "/name",
            "a/b/c",
            "../x",
            "org/..",
            "org/-x",
            "org/x.",
            "org--x/y",
            "org/a..b",
            "org/na me",
            "org/n\u{1b}",
        ] {
            assert!(RepoId::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            RepoId::parse("org/name").unwrap().cache_folder(),
            "models--org--name"
        );
    }

    #[test]
    fn revisions() {
        for good in [
            "main",
            "v1.0",
            "refs/pr/1",
            "0123456789abcdef0123456789abcdef01234567",
        ] {
            assert!(Revision::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "", "/abs", "../../x", "a/../b", "-d", ".hidden", "a/.git", "a b", "a\nb", "a//b",
        ] {
            assert!(Revision::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn class_names() {
        for good in ["cat", "t-shirt", "ankle boot", "café", "1"] {
            assert!(ClassName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a\\b",
            "two\nlines",
            "tab\t",
            " pad",
            "x\u{202e}",
        ] {
            assert!(ClassName::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn model_names_are_safe_folder_names(s in "[a-z0-9._/ -]{0,8}") {
            if let Ok(n) = ModelName::parse(&s) {
                prop_assert!(RelPath::parse(n.as_str()).is_ok());
                prop_assert!(!n.starts_with(['.', '-']));
                prop_assert!(!n.contains('/'));
            }
        }

        #[test]
        fn revisions_are_safe_ref_paths(s in "[a-z./\\\\-]{0,10}") {
            if let Ok(r) = Revision::parse(&s) {
                prop_assert!(RelPath::parse(r.as_str()).is_ok());
                prop_assert!(!r.split('/').any(|c| c.starts_with('.')));
            }
        }

        #[test]
        fn repo_ids_map_to_one_cache_folder(a in "[a-zA-Z0-9._-]{1,6}", b in "[a-zA-Z0-9._-]{1,6}") {
            if let Ok(id) = RepoId::parse(&format!("{a}/{b}")) {
                let folder = id.cache_folder();
                let back = folder.strip_prefix("models--").unwrap().replacen("--", "/", 1);
                prop_assert_eq!(back, id.as_str());
            }
        }

        #[test]
        fn class_names_fit_on_one_line(s in any::<String>()) {
            if let Ok(c) = ClassName::parse(&s) {
                prop_assert!(!c.contains(['\n', '\r', '/']));
            }
        }
    }
}
