//! A nesting-depth pre-check for YAML (and JSON, which is YAML's flow style).
//!
//! Why before parsing: libyaml (under serde_yaml) re-examines every open flow
//! level for each token, so 200 KB of `[[[[…` costs time quadratic in the depth
//! (tens of seconds) before serde_yaml's own recursion limit is ever reached. This
//! scan is linear and counts conservatively: flow brackets outside quoted scalars
//! and comments, plus block levels by indentation (each `- ` of a compact nested
//! sequence is a level). Block scalars (`|`, `>`) are skipped.

/// Text nested deeper than allowed, with the 1-based line where the limit was passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NestingError {
    pub line: usize,
    pub max_depth: usize,
}

impl std::fmt::Display for NestingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "nested more than {} levels deep (at line {}); zoo refuses such files before parsing them",
            self.max_depth, self.line
        )
    }
}

impl std::error::Error for NestingError {}

/// Fails if collections in `text` nest deeper than `max_depth`.
pub fn check_nesting(text: &str, max_depth: usize) -> Result<(), NestingError> {
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    let mut quote: Option<char> = None;
    // Indentation of the line that opened a block scalar; deeper lines are text.
    let mut block_scalar: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let too_deep = Err(NestingError {
            line: i + 1,
            max_depth,
        });
        let indent = line.len() - line.trim_start_matches(' ').len();
        let content = &line[indent..];
        if let Some(opener) = block_scalar {
            if content.trim().is_empty() || indent > opener {
                continue;
            }
            block_scalar = None;
        }
        if quote.is_none() && flow == 0 {
            if content.trim().is_empty() || content.starts_with('#') {
                continue;
            }
            // Block levels: indentation, then each `- ` / `? ` of a compact sequence.
            let mut columns = vec![indent];
            let mut rest = content;
            let mut col = indent;
            while let Some(after) = rest.strip_prefix("- ").or_else(|| rest.strip_prefix("? ")) {
                let skipped = after.len() - after.trim_start_matches(' ').len();
                col += 2 + skipped;
                rest = &after[skipped..];
                columns.push(col);
            }
            for c in columns {
                while indents.last().is_some_and(|&top| top > c) {
                    indents.pop();
                }
                if indents.last().is_none_or(|&top| top < c) {
                    indents.push(c);
                }
            }
            if indents.len() > max_depth {
                return too_deep;
            }
        }
        let mut prev = ' ';
        let mut chars = content.chars().peekable();
        while let Some(c) = chars.next() {
            match quote {
                Some('\'') if c == '\'' => {
                    if chars.peek() == Some(&'\'') {
                        chars.next();
                    } else {
                        quote = None;
                    }
                }
                Some('"') if c == '\\' => {
                    chars.next();
                }
                Some('"') if c == '"' => quote = None,
                Some(_) => {}
                None => match c {
                    '#' if prev == ' ' || prev == '\t' => break,
                    '\'' | '"' if matches!(prev, ' ' | '\t' | '[' | '{' | ',' | ':' | '-') => {
                        quote = Some(c)
                    }
                    '[' | '{' => {
                        flow += 1;
                        if indents.len() + flow > max_depth {
                            return too_deep;
                        }
                    }
                    ']' | '}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            prev = c;
        }
        if quote.is_none() && flow == 0 {
            let trimmed = strip_comment(content).trim_end();
            let last = trimmed.rsplit(' ').next().unwrap_or("");
            if is_block_scalar_header(last) {
                block_scalar = Some(indent);
            }
        }
    }
    Ok(())
}

fn strip_comment(line: &str) -> &str {
    match line.find(" #") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// `|`, `>`, with optional chomping (`+`/`-`) and indentation digit.
fn is_block_scalar_header(token: &str) -> bool {
    let mut chars = token.chars();
    matches!(chars.next(), Some('|' | '>'))
        && chars.all(|c| c == '+' || c == '-' || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_cards_pass() {
        let card = "name: x\n\
                    files:\n  - path: a.onnx # the model\n    sha256: 'it''s [not'\n\
                    description: |\n  text [[[[[[ with\n      odd indentation {{{{\n\
                    tags: [a, b, {c: [d]}]\nquote: \"a \\\" [\"\n";
        assert_eq!(check_nesting(card, 4), Ok(()));
        // A flow document counts its line's block level too: one more, conservatively.
        assert_eq!(check_nesting("{\"a\": [1, {\"b\": []}]}", 5), Ok(()));
    }

    #[test]
    fn deep_flow_block_and_compact_nesting_are_refused() {
        let flow = "[".repeat(100_000);
        assert_eq!(
            check_nesting(&flow, 32),
            Err(NestingError {
                line: 1,
                max_depth: 32
            })
        );
        let mut block = String::new();
        for d in 0..40 {
            block.push_str(&format!("{}k{d}:\n", " ".repeat(d)));
        }
        assert_eq!(check_nesting(&block, 32).unwrap_err().line, 33);
        let compact = format!("{}x\n", "- ".repeat(40));
        assert!(check_nesting(&compact, 32).is_err());
        // Siblings at one level do not add up.
        let wide = "a:\n  b: 1\n  c: 2\nd:\n  e: 3\n".repeat(1000);
        assert_eq!(check_nesting(&wide, 2), Ok(()));
    }
}
