//! Every string in a card (descriptions, names, map keys, values of fields zoo
//! does not model) ends up on a terminal in `zoo info`, `list`, `search` or
//! `audit`. YAML's double-quoted escapes (`"\e[31m"`, `"\u202e"`) produce
//! control characters the raw bytes never showed, so the check walks the parsed
//! YAML, not the text.

use serde_yaml::Value;
use zoo_types::TerminalSafe;

/// One string of a card that holds a character unsafe on a terminal; the message
/// names its field as `'io.outputs[0].name'` (a bad map key ends with `(key)`).
pub(crate) struct UnsafeText {
    /// The 1-based line of the field's key, or 0 when it was not found.
    pub line: usize,
    pub message: String,
}

/// The strings of `text` (a YAML card) holding C0 controls other than newline
/// and tab, DEL, C1 controls or bidirectional/format characters. Text that does
/// not parse as YAML yields nothing here: the card parser reports it.
pub(crate) fn unsafe_strings(text: &str) -> Vec<UnsafeText> {
    let Ok(value) = serde_yaml::from_str::<Value>(text) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    walk(&value, &mut Vec::new(), &mut |path, is_key, s| {
        found.push(UnsafeText {
            line: line_of_path(text, path),
            message: format!(
                "{} holds a control or text-direction character: \"{}\"; card text may hold only \
                 printable characters, newlines and tabs (remove the escape)",
                render_path(path, is_key),
                excerpt(s)
            ),
        });
    });
    found
}

/// Whether `s` may be printed: newlines and tabs are allowed, so multi-line
/// descriptions stay valid; every other character unsafe on a terminal is not.
pub(crate) fn is_printable(s: &str) -> bool {
    s.split(['\n', '\t']).all(TerminalSafe::is_clean)
}

enum Segment {
    Key(String),
    Index(usize),
}

fn walk(value: &Value, path: &mut Vec<Segment>, bad: &mut dyn FnMut(&[Segment], bool, &str)) {
    match value {
        Value::String(s) if !is_printable(s) => bad(path, false, s),
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Segment::Index(i));
                walk(item, path, bad);
                path.pop();
            }
        }
        Value::Mapping(map) => {
            for (k, v) in map {
                let key = match k {
                    Value::String(s) => {
                        if !is_printable(s) {
                            path.push(Segment::Key(s.clone()));
                            bad(path, true, s);
                            path.pop();
                        }
                        s.clone()
                    }
                    other => {
                        walk(other, path, bad);
                        let shown = serde_yaml::to_string(other).unwrap_or_default();
                        shown.trim().to_owned()
                    }
                };
                path.push(Segment::Key(key));
                walk(v, path, bad);
                path.pop();
            }
        }
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            if !is_printable(&tag) {
                bad(path, false, &tag);
            }
            walk(&tagged.value, path, bad);
        }
        _ => {}
    }
}

fn render_path(path: &[Segment], is_key: bool) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&TerminalSafe::shortened(k, 40).to_string());
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() {
        out.push_str("the card");
    }
    if is_key {
        out.push_str(" (key)");
    }
    format!("'{out}'")
}

/// The line of the innermost key of `path` that can be found: each key is looked
/// for at or after the line of its parent's key.
fn line_of_path(text: &str, path: &[Segment]) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let mut at: Option<usize> = None;
    for seg in path {
        let from = at.map_or(0, |i| i + 1);
        let found = match seg {
            Segment::Key(k) => {
                let needle = format!("{k}:");
                let start = at.unwrap_or(0);
                lines[start..]
                    .iter()
                    .position(|l| l.contains(&needle))
                    .map(|i| start + i)
            }
            // The i-th block item (`- `) at the indentation of the first one.
            Segment::Index(i) => {
                let item = |l: &&str| l.trim_start().starts_with('-');
                let indent = |l: &str| l.len() - l.trim_start().len();
                lines[from..].iter().position(item).and_then(|first| {
                    let width = indent(lines[from + first]);
                    lines[from + first..]
                        .iter()
                        .enumerate()
                        .filter(|(_, l)| item(l) && indent(l) == width)
                        .nth(*i)
                        .map(|(j, _)| from + first + j)
                })
            }
        };
        match found {
            Some(i) => at = Some(i),
            None => break,
        }
    }
    at.map_or(0, |i| i + 1)
}

/// The value escaped, from a little before its first unsafe character.
fn excerpt(s: &str) -> String {
    let first = s
        .split(['\n', '\t'])
        .scan(0, |start, part| {
            let here = *start;
            *start += part.chars().count() + 1;
            Some((here, part))
        })
        .find_map(|(start, part)| {
            part.chars()
                .position(|c| !TerminalSafe::is_clean(c.encode_utf8(&mut [0; 4])))
                .map(|i| start + i)
        })
        .unwrap_or(0);
    let skip = first.saturating_sub(40);
    let rest: String = s.chars().skip(skip).collect();
    let shown = TerminalSafe::shortened(&rest, 120).to_string();
    if skip > 0 {
        format!("...{shown}")
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_in_double_quoted_strings_are_found_with_their_field_and_line() {
        let card = "name: x\ndescription: \"desc \\e]0;PWNED\\a\\e[31mRED\\e[0m\\u202e end\"\nio:\n  outputs:\n    - {name: ok}\n    - {name: \"b\\u2067\"}\n";
        let found = unsafe_strings(card);
        assert_eq!(found.len(), 2);
        assert!(found[0].message.starts_with("'description' holds"));
        assert_eq!(found[0].line, 2);
        assert!(
            found[0].message.contains("\\u{1b}]0;PWNED"),
            "{}",
            found[0].message
        );
        assert!(TerminalSafe::is_clean(&found[0].message));
        assert!(found[1].message.starts_with("'io.outputs[1].name' holds"));
        assert_eq!(found[1].line, 6);
    }

    #[test]
    fn keys_c1_del_and_tags_are_checked_but_newlines_and_tabs_pass() {
        let ok = "description: |\n  two\n  lines\twith a tab\nname: \"caf\\u00e9\"\n";
        assert!(unsafe_strings(ok).is_empty());
        for bad in [
            "\"k\\x9b\": v\n",
            "a: \"\\x7f\"\n",
            "a: \"\\u200f\"\n",
            "a: [x, \"\\r\"]\n",
            "a: !tag \"\\e\"\n",
        ] {
            assert_eq!(unsafe_strings(bad).len(), 1, "{bad}");
        }
    }
}
