//! Labels files (`labels/*.txt`, a local model's `labels.txt`): one class name
//! per line, in the model's output order. `zoo predict` and `eval` print them, so
//! each line is parsed as a [`ClassName`] when the file is loaded.

use zoo_types::ClassName;

use crate::error::Diagnostic;

/// The class names of a labels file. A trailing `\r` (Windows line ends) and
/// white space around a name are dropped; any other bad line (empty, a control
/// character, a slash) is a diagnostic naming `file:line`, since skipping it
/// would shift every later class onto the wrong output.
pub(crate) fn parse_labels(file: &str, text: &str) -> Result<Vec<String>, Diagnostic> {
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            ClassName::parse(line.trim())
                .map(String::from)
                .map_err(|e| Diagnostic {
                    file: file.to_owned(),
                    line: i + 1,
                    // InvalidValue shows the value escaped already.
                    message: format!("{e}; a labels file holds one class name per line"),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use zoo_types::TerminalSafe;

    #[test]
    fn lines_are_class_names() {
        let ok = parse_labels("l.txt", "tench, Tinca tinca\r\n  padded \nb\n").unwrap();
        assert_eq!(ok, ["tench, Tinca tinca", "padded", "b"]);
        for (bad, line) in [
            ("a\n\u{1b}[31mred\n", 2),
            ("a\nb\n\nc\n", 3),
            ("x/y\n", 1),
            ("a\u{202e}b\n", 1),
        ] {
            let d = parse_labels("l.txt", bad).unwrap_err();
            assert_eq!(d.line, line, "{bad:?}: {d}");
            assert!(TerminalSafe::is_clean(&d.to_string()), "{d}");
        }
    }

    #[test]
    fn built_in_labels_are_class_names() {
        for (file, text) in crate::catalog::embedded_labels() {
            let names = parse_labels(file, text).unwrap_or_else(|d| panic!("{d}"));
            assert_eq!(names.len(), text.lines().count(), "{file}");
        }
    }
}
