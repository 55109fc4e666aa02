//! `file:` sources: a local copy, bounded and hashed like a download.

use super::*;

/// A local file source: copied (never linked, the original may change), hashed
/// and bounded like a download. Only a regular file is read: a device such as
/// `/dev/zero` would never end and a FIFO would block.
pub(super) fn copy_local(
    src: &Path,
    partial: &Path,
    expected: &Expected,
    desc: &str,
    progress: &dyn Progress,
) -> Result<Fetched, FetchError> {
    let not_a_file = || FetchError::NotAFile {
        path: src.to_owned(),
        source_desc: desc.to_owned(),
    };
    let meta = std::fs::metadata(src).map_err(FetchError::io("cannot open", src))?;
    if !meta.is_file() {
        return Err(not_a_file());
    }
    let mut input = std::fs::File::open(src).map_err(FetchError::io("cannot open", src))?;
    // Checked again on the open file: the path may have been swapped meanwhile.
    let meta = input
        .metadata()
        .map_err(FetchError::io("cannot stat", src))?;
    if !meta.is_file() {
        return Err(not_a_file());
    }
    if meta.len() > expected.limit {
        return Err(expected.too_long(meta.len()));
    }
    let mut writer = VerifyingWriter::create(partial, expected.limit)?;
    progress.file_start(&expected.label, Some(meta.len()), 0);
    let copied = copy(&mut input, &mut writer, RateFloor::NONE, &mut |n| {
        progress.file_advance(&expected.label, n)
    });
    match copied {
        Ok(_) => writer.finish(expected),
        Err(crate::verify::CopyError::Read(e)) => Err(FetchError::io("cannot read", src)(e)),
        Err(crate::verify::CopyError::Write(e)) => {
            Err(FetchError::write_failed(&expected.label, partial, e))
        }
        Err(crate::verify::CopyError::TooLong { at }) => Err(expected.too_long(at)),
        Err(crate::verify::CopyError::TooSlow { .. }) => Err(FetchError::io("cannot read", src)(
            std::io::Error::other("too slow"),
        )),
    }
}
