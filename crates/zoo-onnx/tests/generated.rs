//! Guards against hand edits to, or a stale copy of, the committed prost code.

use sha2::{Digest, Sha256};

const PROTO: &str = include_str!("../proto/onnx.proto");
const GENERATED: &str = include_str!("../src/generated/onnx.rs");
const REGENERATE: &str = "run scripts/gen-onnx-proto.sh to regenerate src/generated/onnx.rs";

#[test]
fn generated_code_matches_proto() {
    let recorded = GENERATED
        .lines()
        .find_map(|line| line.strip_prefix("// proto-sha256: "))
        .unwrap_or_else(|| panic!("no proto-sha256 header in the generated code; {REGENERATE}"));
    // The generator hashes with LF endings too, so CRLF checkouts still match.
    let digest = Sha256::digest(PROTO.replace("\r\n", "\n").as_bytes());
    let actual: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(recorded, actual, "proto/onnx.proto changed; {REGENERATE}");

    // The code itself is what the generator wrote: its hash, recorded by the
    // generator in the header, covers every byte after the header.
    let recorded = GENERATED
        .lines()
        .find_map(|line| line.strip_prefix("// code-sha256: "))
        .unwrap_or_else(|| panic!("no code-sha256 header in the generated code; {REGENERATE}"));
    let generated = GENERATED.replace("\r\n", "\n");
    let (header, code) = generated
        .split_once("\n\n")
        .unwrap_or_else(|| panic!("no blank line after the header; {REGENERATE}"));
    assert!(header.lines().all(|l| l.starts_with("// ")), "{header}");
    let digest = Sha256::digest(code.as_bytes());
    let actual: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        recorded, actual,
        "src/generated/onnx.rs was edited by hand; {REGENERATE}"
    );

    let types = declared_types(PROTO);
    assert!(types.len() > 20, "suspiciously few types parsed: {types:?}");
    for (kind, name) in types {
        let item = match kind {
            "message" => format!("pub struct {name} {{"),
            _ => format!("pub enum {name} {{"),
        };
        assert!(
            GENERATED.contains(&item),
            "`{kind} {name}` has no `{item}`; {REGENERATE}"
        );
    }
}

#[test]
fn proto_is_the_proto2_onnx_package() {
    assert!(PROTO.contains("\nsyntax = \"proto2\";"));
    assert!(PROTO.contains("\npackage onnx;"));
}

/// `(kind, name)` for each `message X {` and `enum X {` declaration, nested ones included.
fn declared_types(proto: &str) -> Vec<(&str, &str)> {
    proto
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let kind = words.next().filter(|k| matches!(*k, "message" | "enum"))?;
            let name = words.next()?.trim_end_matches('{');
            Some((kind, name))
        })
        .collect()
}
