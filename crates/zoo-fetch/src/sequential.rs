//! A download front to back through one [`VerifyingWriter`], resuming with a
//! Range request whose answer must start exactly where the partial file ends.
//! The writer deletes the partial file on every early return; it survives only
//! as a prefix the next pull can resume after a network failure.

use std::path::Path;

use reqwest::StatusCode;

use crate::error::FetchError;
use crate::http::{
    Class, Fetched, Http, MAX_ATTEMPTS, MAX_RESTARTS, MAX_TOTAL_ATTEMPTS, Target,
    check_content_range, classify, describe_io, http_error_message, retry_after, too_slow,
};
use crate::progress::Progress;
use crate::verify::{CopyError, Expected, VerifyingWriter, copy};

pub(crate) fn download(
    http: &Http,
    target: &Target,
    expected: &Expected,
    partial: &Path,
    progress: &dyn Progress,
) -> Result<Fetched, FetchError> {
    // Dropped on any early return below, which deletes the partial file;
    // `keep()` is called only where the bytes are a prefix worth resuming.
    let mut writer = VerifyingWriter::resume_expecting(partial, expected)?;
    progress.file_start(&target.label, expected.size, writer.written());
    let mut failures = 0u32;
    let mut attempts = 0u32;
    let mut restarts = 0u32;
    let mut last_error = String::new();
    loop {
        let have = writer.written();
        if expected.size == Some(have) && have > 0 {
            break;
        }
        if failures >= MAX_ATTEMPTS || attempts >= MAX_TOTAL_ATTEMPTS {
            // Received bytes are a verified-so-far prefix: keep them for the
            // next pull. An empty file is worth nothing (dropping deletes it).
            let kept = if have > 0 {
                writer.keep();
                format!("; the {have} bytes received are kept and the next pull resumes from them")
            } else {
                drop(writer);
                String::new()
            };
            return Err(FetchError::Http {
                url: target.url.clone(),
                message: format!(
                    "giving up after {attempts} attempts ({failures} failed in a row); last: {last_error}{kept}"
                ),
            });
        }
        attempts += 1;
        if failures > 0 && have > 0 {
            progress.note(&format!("{}: resuming at byte {have}", target.label));
        }
        let range = (have > 0).then_some((have, None));
        let mut response = match http.get(target, range) {
            Ok(r) => r,
            Err(msg) => {
                failures += 1;
                last_error = msg;
                http.wait(failures, None, &last_error, progress);
                continue;
            }
        };
        let status = response.status();
        match classify(status) {
            Class::Body => {}
            Class::Retry => {
                failures += 1;
                last_error = format!("HTTP {status}");
                let after = retry_after(&response);
                http.wait(failures, after, &last_error, progress);
                continue;
            }
            Class::RangeNotSatisfiable => {
                // The partial file is longer than the resource, or the resource
                // changed: start over.
                restarts += 1;
                if restarts > MAX_RESTARTS {
                    return Err(wrong_range(target, "HTTP 416", restarts));
                }
                writer.restart()?;
                failures += 1;
                last_error = "HTTP 416 on resume; restarting".to_owned();
                continue;
            }
            Class::Fatal => {
                return Err(FetchError::Http {
                    url: target.url.clone(),
                    message: http_error_message(status, &response),
                });
            }
        }
        if have > 0 && status == StatusCode::OK {
            // The server ignored our Range header and sends everything again.
            writer.restart()?;
            progress.note(&format!(
                "{}: server does not resume; starting over",
                target.label
            ));
        } else if status == StatusCode::PARTIAL_CONTENT
            && let Err(answer) = check_content_range(&response, have, None, expected.size)
        {
            // Bytes from elsewhere in the file would be appended at `have`
            // and poison the partial file: start over from byte 0, a few
            // times, then give up.
            restarts += 1;
            if restarts > MAX_RESTARTS {
                return Err(wrong_range(target, &answer, restarts));
            }
            writer.restart()?;
            progress.note(&format!(
                "{}: asked for bytes from {have}, the server sent {answer}; starting over",
                target.label
            ));
            continue;
        }
        let have = writer.written();
        // Without a known size, an announcement past the cap is refused
        // before a byte is written. (With one, the writer stops at the
        // size, and a lying Content-Length is just a short body to resume.)
        if expected.size.is_none()
            && let Some(announced) = response.content_length()
            && have + announced > expected.limit
        {
            return Err(expected.too_long(have + announced));
        }
        let result = copy(&mut response, &mut writer, http.floor(), &mut |n| {
            progress.file_advance(&target.label, n)
        });
        let progressed = writer.written() > have;
        match result {
            Ok(_) if expected.size.is_none_or(|s| s == writer.written()) => break,
            Ok(_) => {
                failures = if progressed { 1 } else { failures + 1 };
                last_error = format!("connection ended at byte {}", writer.written());
            }
            Err(CopyError::Read(e)) => {
                failures = if progressed { 1 } else { failures + 1 };
                last_error = format!("connection failed: {}", describe_io(&e));
            }
            Err(CopyError::TooSlow { bytes, window }) => {
                // Progress does not forgive a trickle, or it would never end.
                failures += 1;
                last_error = too_slow(bytes, window, http.floor().min_rate);
            }
            Err(CopyError::Write(e)) => {
                return Err(FetchError::write_failed(&target.label, partial, e));
            }
            Err(CopyError::TooLong { at }) => return Err(expected.too_long(at)),
        }
        http.wait(failures, None, &last_error, progress);
    }
    writer.finish(expected)
}

fn wrong_range(target: &Target, answer: &str, restarts: u32) -> FetchError {
    FetchError::Http {
        url: target.url.clone(),
        message: format!(
            "the server answered resumed downloads with the wrong byte range ({answer}) {restarts} times; \
             giving up, the partial download was deleted"
        ),
    }
}
