//! The one rule for a test whose input is missing.
//!
//! Some tests need what a plain `cargo test` cannot bring: an ONNX Runtime
//! library, a real model, a Python package, pip. When one is missing the test
//! calls [`missing`], which
//! - under `ZOO_TEST_STRICT=1` (scripts/test.sh sets it) fails the test, naming
//!   the input and how to provide it: a green run then means every test ran;
//! - otherwise prints a `SKIP:` line, and the test returns.
//!
//! Either way the line is appended to the file `ZOO_TEST_SKIP_LOG` names, if
//! any, so a skip is never silent even though libtest captures the output of
//! passing tests: `.ci/run` fails when that file is not empty.
//!
//! The tests' Python is the one `ZOO_PYTHON` names (default `python3`), the
//! same interpreter scripts/test.sh installs the reference packages into.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `1`: a missing input fails the test instead of skipping it.
pub const STRICT_VAR: &str = "ZOO_TEST_STRICT";
/// A file every skip is appended to, one line each.
pub const SKIP_LOG_VAR: &str = "ZOO_TEST_SKIP_LOG";
/// The Python interpreter the tests run (and scripts/test.sh installs into).
pub const PYTHON_VAR: &str = "ZOO_PYTHON";

/// Whether a missing input is a failure (`ZOO_TEST_STRICT=1`).
pub fn strict() -> bool {
    std::env::var_os(STRICT_VAR).is_some_and(|v| v == "1")
}

/// The running test's name: libtest runs each test on a thread named after it.
fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_owned()
}

/// Report that the running test cannot run because `what` is missing; `how`
/// says how to provide it. Logs it to `ZOO_TEST_SKIP_LOG`; then panics under
/// `ZOO_TEST_STRICT=1`, otherwise prints a `SKIP:` line and the caller returns.
#[track_caller]
pub fn missing(what: &str, how: &str) {
    let line = format!("{}: missing {what}; provide it: {how}", test_name());
    // Logged in both modes, so a CI run lists every missing input at its end.
    if let Some(log) = std::env::var_os(SKIP_LOG_VAR).filter(|v| !v.is_empty()) {
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            // One write per line: O_APPEND keeps lines from parallel tests whole.
            .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
        if let Err(e) = written {
            panic!(
                "{SKIP_LOG_VAR}={}: cannot record the skip ({e}): {line}",
                Path::new(&log).display()
            );
        }
    }
    if strict() {
        panic!("{line} ({STRICT_VAR}=1: a missing input is a failure)");
    }
    eprintln!("SKIP: {line}");
}

/// `Some(value)` when `found` holds one, else [`missing`] and `None`.
#[track_caller]
pub fn require<T>(found: Option<T>, what: &str, how: &str) -> Option<T> {
    if found.is_none() {
        missing(what, how);
    }
    found
}

/// The file the environment variable `var` names. Unset or empty: [`missing`]
/// (with `how` saying where it comes from). Set to something that is not a
/// file: a failure in every mode, since that is a broken setup, not a missing
/// input.
#[track_caller]
pub fn env_file(var: &str, how: &str) -> Option<PathBuf> {
    env_path(var, how, Path::is_file, "file")
}

/// Like [`env_file`], for a variable naming a file or a directory.
#[track_caller]
pub fn env_path_exists(var: &str, how: &str) -> Option<PathBuf> {
    env_path(var, how, Path::exists, "path")
}

#[track_caller]
fn env_path(var: &str, how: &str, ok: fn(&Path) -> bool, kind: &str) -> Option<PathBuf> {
    match std::env::var_os(var).filter(|v| !v.is_empty()) {
        Some(p) if ok(Path::new(&p)) => Some(PathBuf::from(p)),
        Some(p) => panic!(
            "{var}={} is not an existing {kind}",
            Path::new(&p).display()
        ),
        None => {
            missing(&format!("{var} (not set)"), how);
            None
        }
    }
}

/// The tests' Python interpreter: `ZOO_PYTHON`, else `python3`.
pub fn python() -> OsString {
    std::env::var_os(PYTHON_VAR)
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "python3".into())
}

/// A command running the tests' Python.
pub fn python_command() -> Command {
    Command::new(python())
}

/// Run the tests' Python with `args`; its stdout when it succeeds.
pub fn python_output(args: &[&str]) -> Option<String> {
    let out = python_command().args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether the tests' Python imports every one of `modules`; [`missing`] if
/// not. `packages` are the pip names to install (scripts/requirements-test.txt
/// pins them).
#[track_caller]
pub fn python_has(modules: &[&str], packages: &[&str]) -> bool {
    let code = format!("import {}", modules.join(", "));
    let ok = python_output(&["-c", &code]).is_some();
    if !ok {
        missing(
            &format!(
                "Python modules {} in {} ({PYTHON_VAR})",
                modules.join(", "),
                python().to_string_lossy()
            ),
            &format!(
                "`{} -m pip install -r scripts/requirements-test.txt` ({}), or set {PYTHON_VAR}",
                python().to_string_lossy(),
                packages.join(" ")
            ),
        );
    }
    ok
}

/// Whether the tests' Python has pip; [`missing`] if not.
#[track_caller]
pub fn pip_available() -> bool {
    let ok = python_output(&["-m", "pip", "--version"]).is_some();
    if !ok {
        missing(
            &format!("pip for {} ({PYTHON_VAR})", python().to_string_lossy()),
            "install pip for that Python (`python3 -m ensurepip` or the distribution's python3-pip), or set ZOO_PYTHON to one that has it",
        );
    }
    ok
}
