//! Embeds `registry/*.yaml` and `registry/labels/*.txt` so `zoo list` works from any
//! directory without a checkout.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let registry = manifest_dir.join("../../registry");
    println!("cargo:rerun-if-changed={}", registry.display());
    println!(
        "cargo:rerun-if-changed={}",
        registry.join("labels").display()
    );

    let mut out = String::new();
    write_table(&mut out, "EMBEDDED_CARDS", &registry, "yaml");
    write_table(&mut out, "EMBEDDED_LABELS", &registry.join("labels"), "txt");
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded.rs");
    std::fs::write(dest, out).unwrap();
}

fn write_table(out: &mut String, name: &str, dir: &Path, ext: &str) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == ext));
    files.sort();
    writeln!(out, "pub static {name}: &[(&str, &str)] = &[").unwrap();
    for path in files {
        println!("cargo:rerun-if-changed={}", path.display());
        let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
        let abs = path.canonicalize().unwrap();
        writeln!(
            out,
            "    ({file_name:?}, include_str!({:?})),",
            abs.display().to_string()
        )
        .unwrap();
    }
    writeln!(out, "];").unwrap();
}
