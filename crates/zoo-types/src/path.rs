use std::path::{Path, PathBuf};

use crate::{InvalidValue, string_type};

/// Longest relative path accepted, in bytes (Linux's PATH_MAX is 4096).
const MAX_PATH_BYTES: usize = 1024;
/// Longest single component, in bytes (NAME_MAX on Linux file systems).
const MAX_COMPONENT_BYTES: usize = 255;

/// A relative path that stays inside the directory it is joined to: `/`-separated
/// components, none empty, `.` or `..`, no leading `/`, no `\`, no NUL or other
/// control character. Joining one onto a directory can never leave it (symbolic
/// links inside the directory are the caller's to avoid: zoo's stores hold none
/// that point outside).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelPath(String);
string_type!(RelPath);

impl RelPath {
    pub fn parse(s: &str) -> Result<RelPath, InvalidValue> {
        let bad = |reason: &str| Err(InvalidValue::new("relative path", s, reason));
        if s.is_empty() {
            return bad("it is empty");
        }
        if s.len() > MAX_PATH_BYTES {
            return bad(&format!("it is longer than {MAX_PATH_BYTES} bytes"));
        }
        if s.starts_with('/') {
            return bad("it is absolute; paths must be relative to their directory");
        }
        if s.contains('\\') {
            return bad("it contains '\\'; use '/' between folders");
        }
        if s.chars().any(crate::terminal::is_unsafe_char) {
            return bad("it contains a control character");
        }
        for part in s.split('/') {
            match part {
                "" => return bad("it has an empty component ('//' or a trailing '/')"),
                "." | ".." => {
                    return bad(
                        "it has a '.' or '..' component; paths must be relative and stay inside their folder",
                    );
                }
                p if p.len() > MAX_COMPONENT_BYTES => {
                    return bad(&format!(
                        "a component is longer than {MAX_COMPONENT_BYTES} bytes"
                    ));
                }
                _ => {}
            }
        }
        Ok(RelPath(s.to_owned()))
    }

    /// `base/self`: the one way a relative path from outside becomes a file path.
    pub fn join_to(&self, base: &Path) -> PathBuf {
        base.join(&self.0)
    }

    /// The components, in order.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The last component.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// How many components: a link from this path's folder back to the root of
    /// its tree climbs `depth() - 1` levels.
    pub fn depth(&self) -> usize {
        self.components().count()
    }

    /// `self/other`, itself a valid relative path when within the length limit.
    pub fn join(&self, other: &RelPath) -> Result<RelPath, InvalidValue> {
        RelPath::parse(&format!("{}/{}", self.0, other.0))
    }
}

/// A validated relative path joins like [`RelPath::join_to`]: it cannot leave
/// the directory it is joined to.
impl AsRef<Path> for RelPath {
    fn as_ref(&self) -> &Path {
        Path::new(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_ordinary_paths() {
        for good in [
            "model.onnx",
            "onnx/model.onnx",
            ".gitattributes",
            "1_Pooling/config.json",
            "a b/c",
        ] {
            assert_eq!(RelPath::parse(good).unwrap().as_str(), good);
        }
        assert_eq!(RelPath::parse("a/b/c.txt").unwrap().file_name(), "c.txt");
        assert_eq!(RelPath::parse("a/b/c.txt").unwrap().depth(), 3);
    }

    #[test]
    fn refuses_escapes() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            ".",
            "..",
            "a//b",
            "a/",
            "a\\..\\b",
            "a\0b",
            "a\nb",
            "\u{1b}[31mred",
        ] {
            assert!(RelPath::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(RelPath::parse(&"a".repeat(256)).is_err());
        assert!(RelPath::parse(&"a/".repeat(600)).is_err());
    }

    proptest! {
        #[test]
        fn a_parsed_path_never_leaves_its_base(s in "[a./\\\\\u{0}\n-]{0,12}(\\.\\.)?[/a.]{0,6}") {
            if let Ok(p) = RelPath::parse(&s) {
                let base = Path::new("/base/dir");
                let joined = p.join_to(base);
                prop_assert!(joined.starts_with(base));
                prop_assert!(joined
                    .components()
                    .skip(base.components().count())
                    .all(|c| matches!(c, std::path::Component::Normal(_))));
                prop_assert!(!s.chars().any(char::is_control));
            }
        }

        #[test]
        fn any_string_either_parses_or_names_the_problem(s in any::<String>()) {
            match RelPath::parse(&s) {
                Ok(p) => prop_assert_eq!(p.as_str(), s.as_str()),
                Err(e) => prop_assert!(!e.reason.is_empty() && !e.value.chars().any(char::is_control)),
            }
        }
    }
}
