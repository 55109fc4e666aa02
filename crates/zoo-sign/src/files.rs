//! A model folder as the reference serializes it (`method: files`,
//! `hash_type: sha256`, `allow_symlinks: false`): every file under the folder,
//! hidden ones included, by its `/`-separated path, with the sha256 of its
//! bytes; sorted by path components, as Python sorts `PurePosixPath`s.
//!
//! The reference refuses symbolic links. zoo's store keeps each pulled file as
//! a link to its content-addressed blob, so [`WalkOptions::links`] names the
//! links zoo made (path and exact target): those are read through, as the file
//! they stand for; any other link, and anything that is not a regular file or
//! a folder, is refused as the reference would refuse it.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use zoo_types::{RelPath, Sha256Hex};

use crate::error::SignError;

/// One file of a model and its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resource {
    pub name: RelPath,
    pub sha256: Sha256Hex,
}

/// How to walk a model folder.
#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    /// Paths left out, with everything under them (the signature, zoo's
    /// bookkeeping): a path matches itself and its descendants.
    pub ignore: Vec<RelPath>,
    /// Links zoo made and may follow: the path of the link and its exact target.
    pub links: BTreeMap<RelPath, PathBuf>,
}

impl WalkOptions {
    fn ignored(&self, rel: &RelPath) -> bool {
        self.ignore.iter().any(|i| is_under(rel, i))
    }
}

/// `path` is `prefix` or lies under it, component-wise.
pub fn is_under(path: &RelPath, prefix: &RelPath) -> bool {
    let mut p = path.components();
    prefix.components().all(|c| p.next() == Some(c))
}

/// The order of the reference's resources: by path components.
pub fn path_order(a: &RelPath, b: &RelPath) -> std::cmp::Ordering {
    a.components().cmp(b.components())
}

/// Every file under `dir` (see the module documentation), sorted.
pub fn hash_dir(dir: &Path, options: &WalkOptions) -> Result<Vec<Resource>, SignError> {
    let mut out = Vec::new();
    walk(dir, None, options, &mut out)?;
    out.sort_by(|a, b| path_order(&a.name, &b.name));
    Ok(out)
}

fn walk(
    dir: &Path,
    prefix: Option<&RelPath>,
    options: &WalkOptions,
    out: &mut Vec<Resource>,
) -> Result<(), SignError> {
    let here = prefix.map_or_else(|| dir.to_owned(), |p| p.join_to(dir));
    let entries = std::fs::read_dir(&here).map_err(SignError::io("read", &here))?;
    for entry in entries {
        let entry = entry.map_err(SignError::io("read", &here))?;
        let path = entry.path();
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(unreadable(&path, "its name is not UTF-8"));
        };
        let one = RelPath::parse(name).map_err(|e| unreadable(&path, &e.to_string()))?;
        let rel = match prefix {
            Some(p) => p
                .join(&one)
                .map_err(|e| unreadable(&path, &e.to_string()))?,
            None => one,
        };
        if options.ignored(&rel) {
            continue;
        }
        let meta = std::fs::symlink_metadata(&path).map_err(SignError::io("read", &path))?;
        let ft = meta.file_type();
        if ft.is_dir() {
            walk(dir, Some(&rel), options, out)?;
        } else if ft.is_file() {
            out.push(hash_file(&path, rel)?);
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&path).map_err(SignError::io("read", &path))?;
            match options.links.get(&rel) {
                Some(expected) if *expected == target => {
                    let meta = std::fs::metadata(&path).map_err(SignError::io("read", &path))?;
                    if !meta.is_file() {
                        return Err(unreadable(&path, "its blob is not a regular file"));
                    }
                    out.push(hash_file(&path, rel)?);
                }
                _ => {
                    return Err(unreadable(
                        &path,
                        "is a symbolic link zoo did not make; like model_signing (allow_symlinks: \
                         false), zoo does not follow it",
                    ));
                }
            }
        } else {
            return Err(unreadable(
                &path,
                "is not a regular file or a folder (a device, FIFO or socket)",
            ));
        }
    }
    Ok(())
}

fn unreadable(path: &Path, message: &str) -> SignError {
    SignError::Unreadable {
        path: path.to_owned(),
        message: message.to_owned(),
    }
}

fn hash_file(path: &Path, name: RelPath) -> Result<Resource, SignError> {
    let mut file = std::fs::File::open(path).map_err(SignError::io("read", path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(SignError::io("read", path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(Resource {
        name,
        sha256: Sha256Hex::from_bytes(&hasher.finalize().into()),
    })
}

/// The subject digest: sha256 over the resources' raw digests, in order.
pub fn root_digest(resources: &[Resource]) -> Sha256Hex {
    let mut h = Sha256::new();
    for r in resources {
        h.update(hex::decode(r.sha256.as_str()).expect("validated hex"));
    }
    Sha256Hex::from_bytes(&h.finalize().into())
}

/// How the files on disk differ from the files a signature lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileDiff {
    /// On disk with other bytes than signed.
    pub changed: Vec<String>,
    /// Signed, but not on disk.
    pub missing: Vec<String>,
    /// On disk, but not signed.
    pub extra: Vec<String>,
}

impl FileDiff {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.missing.is_empty() && self.extra.is_empty()
    }

    pub fn between(signed: &[Resource], actual: &[Resource]) -> FileDiff {
        let signed: BTreeMap<&RelPath, &Sha256Hex> =
            signed.iter().map(|r| (&r.name, &r.sha256)).collect();
        let actual: BTreeMap<&RelPath, &Sha256Hex> =
            actual.iter().map(|r| (&r.name, &r.sha256)).collect();
        let mut diff = FileDiff::default();
        for (name, digest) in &signed {
            match actual.get(name) {
                None => diff.missing.push(name.to_string()),
                Some(d) if d != digest => diff.changed.push(name.to_string()),
                Some(_) => {}
            }
        }
        for name in actual.keys() {
            if !signed.contains_key(name) {
                diff.extra.push(name.to_string());
            }
        }
        diff
    }
}

impl fmt::Display for FileDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        let list = |v: &[String]| {
            v.iter()
                .map(|s| zoo_types::TerminalSafe::new(s).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.changed.is_empty() {
            parts.push(format!("changed: {}", list(&self.changed)));
        }
        if !self.missing.is_empty() {
            parts.push(format!("missing: {}", list(&self.missing)));
        }
        if !self.extra.is_empty() {
            parts.push(format!("not signed: {}", list(&self.extra)));
        }
        f.write_str(&parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(s: &str) -> RelPath {
        RelPath::parse(s).unwrap()
    }

    #[test]
    fn order_is_by_components_as_python_sorts_paths() {
        // As a string "a-b/c" < "a/b" ('-' < '/'); as paths "a" < "a-b".
        let mut v = [rel("a-b/c"), rel("a/b"), rel("a.txt"), rel("B")];
        v.sort_by(path_order);
        let v: Vec<&str> = v.iter().map(|p| p.as_str()).collect();
        assert_eq!(v, ["B", "a/b", "a-b/c", "a.txt"]);
    }

    #[test]
    fn ignore_matches_a_path_and_what_is_under_it() {
        assert!(is_under(&rel(".git/config"), &rel(".git")));
        assert!(is_under(&rel("model.sig"), &rel("model.sig")));
        assert!(!is_under(&rel("model.sig2"), &rel("model.sig")));
    }

    #[test]
    fn walk_hashes_files_and_refuses_foreign_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b.bin"), "x\n").unwrap();
        std::fs::write(dir.path().join("a.txt"), "hello\n").unwrap();
        std::fs::write(dir.path().join("model.sig"), "{}").unwrap();
        let options = WalkOptions {
            ignore: vec![rel("model.sig")],
            ..WalkOptions::default()
        };
        let got = hash_dir(dir.path(), &options).unwrap();
        let names: Vec<&str> = got.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "sub/b.bin"]);
        // As model_signing computed them for the same bytes.
        assert_eq!(
            got[0].sha256.as_str(),
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        std::os::unix::fs::symlink(dir.path().join("a.txt"), dir.path().join("link")).unwrap();
        let err = hash_dir(dir.path(), &options).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        let mut allowed = options.clone();
        allowed.links.insert(rel("link"), dir.path().join("a.txt"));
        assert_eq!(hash_dir(dir.path(), &allowed).unwrap().len(), 3);
    }

    #[test]
    fn diff_names_each_file() {
        let r = |n: &str, c: char| Resource {
            name: rel(n),
            sha256: Sha256Hex::parse(&c.to_string().repeat(64)).unwrap(),
        };
        let d = FileDiff::between(&[r("a", 'a'), r("b", 'b')], &[r("a", 'c'), r("c", 'c')]);
        assert_eq!(d.changed, ["a"]);
        assert_eq!(d.missing, ["b"]);
        assert_eq!(d.extra, ["c"]);
        assert_eq!(d.to_string(), "changed: a; missing: b; not signed: c");
    }
}
