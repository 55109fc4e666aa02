//! Files a pull finds without the network: zoo's blob store, a previous pull's
//! manifest, or the Hugging Face cache that Python shares.

use super::*;

impl Ctx<'_> {
    /// The file without the network: zoo's blob store, or the Hugging Face cache.
    pub(super) fn local_hit(&self, file: &FileEntry) -> Result<Option<Got>, FetchError> {
        let Some(sha) = &file.sha256 else {
            return self.hf_cache_hit_tofu(file);
        };
        if let Some(got) = self.previously_pulled(file, sha)? {
            return Ok(Some(got));
        }
        let blob = self.store.blob_path(sha);
        if blob.is_file()
            && file
                .size
                .is_none_or(|s| std::fs::metadata(&blob).is_ok_and(|m| m.len() == s))
        {
            let size = std::fs::metadata(&blob)
                .map_err(FetchError::io("cannot stat", &blob))?
                .len();
            return Ok(Some(self.got(
                file,
                sha.to_string(),
                size,
                "zoo store".to_owned(),
                blob,
                FileOutcome::Cached,
                Trust::Card,
            )));
        }
        for source in &self.sources {
            let Source::Hf(hf_src) = source else { continue };
            let Ok(remote) = source.remote_path(&file.path) else {
                continue;
            };
            let candidates = [
                hf::cached_file(
                    self.store.hf_cache(),
                    &hf_src.repo,
                    self.revision_of(hf_src),
                    &remote,
                ),
                Some(hf::blob_path(
                    self.store.hf_cache(),
                    &hf_src.repo,
                    &hf::BlobName::Lfs(sha.clone()),
                )),
            ];
            for candidate in candidates.into_iter().flatten() {
                if !candidate.is_file() {
                    continue;
                }
                // The Hugging Face cache is shared with other tools: trust nothing
                // in it without re-hashing.
                let (actual, size) = sha256_file(&candidate)?;
                if actual == sha.as_str() {
                    let blob = std::fs::canonicalize(&candidate)
                        .map_err(FetchError::io("cannot resolve", &candidate))?;
                    let desc = format!("hf cache {}", hf_src.repo);
                    return Ok(Some(self.got(
                        file,
                        actual,
                        size,
                        desc,
                        blob,
                        FileOutcome::ReusedHfCache,
                        Trust::Card,
                    )));
                }
                self.progress.note(&format!(
                    "{}: the Hugging Face cache copy at {} does not match the card's sha256; ignoring it",
                    file.path,
                    candidate.display()
                ));
            }
        }
        Ok(None)
    }

    /// The same file recorded by an earlier pull of this model, still in place.
    pub(super) fn previously_pulled(
        &self,
        file: &FileEntry,
        sha: &str,
    ) -> Result<Option<Got>, FetchError> {
        let Some(previous) = self.store.manifest(&self.card.name)? else {
            return Ok(None);
        };
        let Some(entry) = previous
            .files
            .iter()
            .find(|f| f.path == file.path && f.sha256 == sha)
        else {
            return Ok(None);
        };
        let intact =
            std::fs::metadata(&entry.blob).is_ok_and(|m| m.is_file() && m.len() == entry.size);
        Ok(intact.then(|| {
            self.got(
                file,
                entry.sha256.clone(),
                entry.size,
                entry.source.clone(),
                entry.blob.clone(),
                FileOutcome::Cached,
                Trust::Card,
            )
        }))
    }

    /// Without a card digest, an offline pull may still use a cached file, trusting
    /// the digest recorded by the earlier pull of this model.
    pub(super) fn hf_cache_hit_tofu(&self, file: &FileEntry) -> Result<Option<Got>, FetchError> {
        if !self.offline {
            return Ok(None);
        }
        let Some(previous) = self.store.manifest(&self.card.name)? else {
            return Ok(None);
        };
        let Some(entry) = previous.files.iter().find(|f| f.path == file.path) else {
            return Ok(None);
        };
        if !entry.blob.is_file() {
            return Ok(None);
        }
        let (actual, size) = sha256_file(&entry.blob)?;
        if actual != entry.sha256 {
            return Ok(None);
        }
        Ok(Some(self.got(
            file,
            actual,
            size,
            entry.source.clone(),
            entry.blob.clone(),
            FileOutcome::Cached,
            Trust::FirstUse,
        )))
    }
}
