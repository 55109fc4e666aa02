//! Hugging Face sources: one snapshot of the repository per pull, then each file
//! through the verified transfer into the shared cache.

use super::*;

impl Ctx<'_> {
    pub(super) fn snapshot(
        &self,
        repo: &RepoId,
        revision: &Revision,
        http: &Http,
    ) -> Result<RepoSnapshot, FetchError> {
        // The lock is held across the API call, so concurrent file threads make
        // one call per repository and revision, not one each.
        let key = (repo.clone(), revision.clone());
        let mut snapshots = self.snapshots.lock().expect("lock");
        if let Some(s) = snapshots.get(&key) {
            return Ok(s.clone());
        }
        let snap = hf::repo_snapshot(repo, revision, http.token())?;
        snapshots.insert(key, snap.clone());
        Ok(snap)
    }

    pub(super) fn fetch_hf(
        &self,
        http: &Http,
        file: &FileEntry,
        src: &hf_source::HfSource,
        remote: &RelPath,
    ) -> Result<Got, FetchError> {
        let revision = self.revision_of(src);
        let snap = self.snapshot(&src.repo, revision, http)?;
        if let Some(why) = snap.refused_names.get(remote) {
            return Err(FetchError::UntrustedAnswer {
                from: format!("the hub for '{}' at {}", src.repo, snap.commit),
                message: why.clone(),
            });
        }
        let Some(meta) = snap.files.get(remote) else {
            return Err(FetchError::Hub {
                repo: src.repo.to_string(),
                message: snap.missing(remote, revision),
            });
        };
        let desc = format!("hf {}@{}", src.repo, snap.commit);
        // The hub's own digest must agree with the card before any byte is fetched.
        if let (Some(card_sha), Some(lfs)) = (&file.sha256, &meta.lfs_sha256)
            && card_sha != lfs
        {
            return Err(FetchError::HashMismatch {
                path: file.path.to_string(),
                source_desc: format!("{desc} (LFS pointer)"),
                expected: card_sha.to_string(),
                actual: lfs.to_string(),
            });
        }
        // A small file pinned by its git blob id: the listing must name the
        // same blob, and the bytes are checked against it as they stream.
        if let (Some(card_oid), Some(hf::BlobName::Git(listed))) = (&file.git_blob, &meta.etag)
            && card_oid.as_str() != listed.as_str()
        {
            return Err(FetchError::GitBlobMismatch {
                path: file.path.to_string(),
                source_desc: format!("{desc} (file listing)"),
                expected: card_oid.to_string(),
                actual: listed.to_string(),
            });
        }
        let expected = file.sha256.clone().or(meta.lfs_sha256.clone());
        let trust = if file.sha256.is_some() || file.git_blob.is_some() {
            Trust::Card
        } else {
            Trust::FirstUse
        };
        if trust == Trust::FirstUse {
            let how = match &meta.lfs_sha256 {
                Some(sha) => format!("the hub's LFS sha256 {sha}"),
                None => "the sha256 of the bytes received".to_owned(),
            };
            self.progress.note(&format!(
                "{}: the card has no sha256; trusting {how} on first use and recording it",
                file.path
            ));
        }
        let Some(etag) = &meta.etag else {
            return Err(FetchError::Hub {
                repo: src.repo.to_string(),
                message: format!("listed '{remote}' without an LFS sha256 or a git blob id"),
            });
        };
        let cache = self.store.hf_cache();
        let blob = hf::blob_path(cache, &src.repo, etag);
        let _lock = self.store.lock(&format!("blob-{}", etag.as_str()))?;
        let reusable = blob.is_file()
            && match (&expected, &file.git_blob) {
                (Some(sha), _) => sha256_file(&blob).is_ok_and(|(a, _)| a == sha.as_str()),
                (None, Some(oid)) => crate::hash::git_blob_of_file(&blob).is_ok_and(|a| a == *oid),
                (None, None) => false,
            };
        let outcome = if reusable {
            FileOutcome::ReusedHfCache
        } else {
            let partial = blob.with_file_name(format!("{}{}", etag.as_str(), hf::PARTIAL_SUFFIX));
            let target = Target {
                url: hf::resolve_url(&src.repo, &snap.commit, remote),
                label: file.path.to_string(),
                size: file.size,
                server_size: meta.size,
                sha256: expected.as_ref().map(ToString::to_string),
                git_blob: file.git_blob.clone(),
                authenticated: true,
                authorization: None,
            };
            let fetched = http.download(&target, &partial, self.progress)?;
            if let Err(e) = std::fs::rename(&partial, &blob) {
                let _ = std::fs::remove_file(&partial);
                return Err(FetchError::io("cannot store", &blob)(e));
            }
            FileOutcome::Downloaded {
                transferred: fetched.transferred,
                // Bytes already on disk from an earlier run (ranged downloads preallocate
                // the file, so its length says nothing).
                resumed: fetched.size - fetched.transferred,
            }
        };
        hf::link_snapshot(cache, &src.repo, revision, &snap.commit, remote, etag)?;
        let (sha, size) = match (&expected, outcome) {
            // Verified while it streamed, or re-hashed just above.
            (Some(sha), _) => (
                sha.to_string(),
                std::fs::metadata(&blob)
                    .map_err(FetchError::io("cannot stat", &blob))?
                    .len(),
            ),
            (None, _) => sha256_file(&blob)?,
        };
        Ok(self.got(file, sha, size, desc, blob, outcome, trust))
    }
}
