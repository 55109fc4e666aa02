//! The skip rule itself (zoo_test_support::skip), run in child processes of
//! this test binary so each case gets its own environment: under
//! ZOO_TEST_STRICT=1 a missing input fails the test, naming the input and the
//! fix; otherwise the test prints `SKIP:` and returns; in both modes the line
//! goes to ZOO_TEST_SKIP_LOG.

use std::path::Path;
use std::process::{Command, Output};

use zoo_test_support::skip;

/// Which case [`child`] runs; only set by the parent tests below.
const CASE_VAR: &str = "ZOO_SKIP_SELFTEST_CASE";

#[test]
#[ignore = "run as a child process by the tests below"]
fn child() {
    match std::env::var(CASE_VAR).as_deref() {
        Ok("missing") => skip::missing("the frobnicator", "install frob"),
        Ok("python") => {
            let found = skip::python_has(&["json"], &["json"]);
            println!("FOUND={found}");
        }
        Ok("env_file") => {
            let found = skip::env_file("ZOO_SKIP_SELFTEST_FILE", "set it");
            println!("FOUND={found:?}");
        }
        other => panic!("{CASE_VAR}={other:?}"),
    }
    println!("RETURNED");
}

fn run_child(case: &str, strict: bool, log: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    // One thread: the helper must still find the test's name.
    cmd.args([
        "--exact",
        "child",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CASE_VAR, case)
    .env("ZOO_TEST_STRICT", if strict { "1" } else { "0" })
    .env("ZOO_TEST_SKIP_LOG", log)
    .env_remove("ZOO_SKIP_SELFTEST_FILE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const LINE: &str = "child: missing the frobnicator; provide it: install frob";

#[test]
fn strict_mode_fails_naming_the_input_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("skips.log");
    let out = run_child("missing", true, &log, &[]);
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(all.contains(&format!("{LINE} (ZOO_TEST_STRICT=1")), "{all}");
    assert!(!all.contains("RETURNED"), "{all}");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), format!("{LINE}\n"));
}

#[test]
fn otherwise_a_skip_is_loud_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("skips.log");
    for _ in 0..2 {
        let out = run_child("missing", false, &log, &[]);
        let all = text(&out);
        assert!(out.status.success(), "{all}");
        assert!(all.contains(&format!("SKIP: {LINE}")), "{all}");
        assert!(all.contains("RETURNED"), "{all}");
    }
    // Appended, never overwritten.
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!("{LINE}\n{LINE}\n")
    );
}

#[test]
fn the_tests_python_is_zoo_python() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("skips.log");
    let bogus = dir.path().join("no-such-python");
    let bogus = bogus.to_str().unwrap();
    let out = run_child("python", false, &log, &[("ZOO_PYTHON", bogus)]);
    let all = text(&out);
    assert!(all.contains("FOUND=false"), "{all}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.starts_with(&format!(
            "child: missing Python modules json in {bogus} (ZOO_PYTHON)"
        )),
        "{logged}"
    );
    // Strict: the same is a failure.
    let out = run_child("python", true, &log, &[("ZOO_PYTHON", bogus)]);
    assert!(!out.status.success(), "{}", text(&out));
}

#[test]
fn a_variable_naming_nothing_fails_in_every_mode() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("skips.log");
    // Unset: a missing input, skipped when not strict.
    let out = run_child("env_file", false, &log, &[]);
    assert!(text(&out).contains("FOUND=None"), "{}", text(&out));
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .starts_with("child: missing ZOO_SKIP_SELFTEST_FILE (not set); provide it: set it")
    );
    // Set to a path that does not exist: a broken setup, a failure even when not strict.
    let gone = dir.path().join("gone.onnx");
    let out = run_child(
        "env_file",
        false,
        &log,
        &[("ZOO_SKIP_SELFTEST_FILE", gone.to_str().unwrap())],
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "ZOO_SKIP_SELFTEST_FILE={} is not an existing file",
            gone.display()
        )),
        "{}",
        text(&out)
    );
    // Set to a real file: found, nothing logged.
    let real = dir.path().join("real.onnx");
    std::fs::write(&real, b"x").unwrap();
    let log2 = dir.path().join("skips2.log");
    let out = run_child(
        "env_file",
        true,
        &log2,
        &[("ZOO_SKIP_SELFTEST_FILE", real.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(!log2.exists());
}
