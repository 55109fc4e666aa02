//! The catalog shipped in the binary must always load and pass the full check.

use std::path::Path;

use zoo_registry::Catalog;

#[test]
fn embedded_catalog_loads() {
    let catalog = Catalog::embedded().unwrap_or_else(|e| panic!("{e}"));
    assert!(!catalog.entries().is_empty());
}

#[test]
fn registry_dir_passes_full_check() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../registry");
    let count = zoo_registry::check_dir(&dir, &|_| false).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(count, Catalog::embedded().unwrap().entries().len());
}

#[test]
fn resnet50_resolves_to_an_onnx_model_zoo_card() {
    let catalog = Catalog::embedded().unwrap();
    let entry = catalog.resolve("resnet50").unwrap();
    assert!(entry.card.name.starts_with("resnet50"));
    assert_eq!(
        entry.card.files[0].sha256.as_deref().map(str::len),
        Some(64)
    );
}
