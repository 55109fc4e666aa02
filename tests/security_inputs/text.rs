//! Hostile text (escape sequences in cards and labels, paths out of a data set,
//! FIFOs and huge files among local models) is refused or escaped, never sent
//! to the terminal raw, and never hangs a command.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::util::Run;
use super::{Setup, classifier_card, runtime, write_png};

/// A description with an OSC title change, a bell, SGR colours and a
/// right-to-left override, written as YAML double-quoted escapes: the file's
/// bytes are plain ASCII.
const EVIL_DESCRIPTION: &str = r#""desc \e]0;PWNED\a\e[31mRED\e[0m\u202e end""#;

/// Characters a terminal must never get raw (newlines and tabs are fine).
fn is_raw_control(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

fn assert_no_raw_controls(run: &Run) {
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(
            !text.chars().any(is_raw_control),
            "raw control character on {name}: {text:?}"
        );
    }
}

fn evil_card(name: &str) -> String {
    format!(
        "schema: 1\nname: {name}\ntask: image-classification\nversion: '1'\nfamily: test\narchitecture: test\ndescription: {EVIL_DESCRIPTION}\nlicense:\n  id: MIT\nopenness:\n  class: closed\nprovenance: {{}}\napi: {{provider: x, docs_url: 'https://example.com'}}\n"
    )
}

#[test]
fn escapes_in_card_strings_are_refused_everywhere_a_card_is_read() {
    let s = Setup::new();
    let card = s.catalog.join("evil.yaml");
    std::fs::write(&card, evil_card("evil")).unwrap();
    let bytes = std::fs::read(&card).unwrap();
    assert!(bytes.is_ascii() && !bytes.iter().any(|b| *b < 0x20 && *b != b'\n'));

    let check = s
        .env
        .run(&["registry", "check", s.catalog.to_str().unwrap()])
        .code(2)
        .stderr_has("evil.yaml:7")
        .stderr_has("'description'")
        .stderr_has("control or text-direction character")
        .stderr_has("\\u{1b}]0;PWNED\\u{7}\\u{1b}[31mRED");
    assert_no_raw_controls(&check);
    for args in [
        vec!["list"],
        vec!["info", "evil"],
        vec!["search", "desc"],
        vec!["audit", "--catalog"],
    ] {
        let run = s.zoo(&args).code(2).stderr_has("evil.yaml:7");
        assert_no_raw_controls(&run);
    }
    // A bad map key and a bad value in a field zoo does not model are found too.
    std::fs::write(
        &card,
        evil_card("evil").replace(
            &format!("description: {EVIL_DESCRIPTION}"),
            "description: fine\nextra:\n  \"k\\x9b2J\": v\n",
        ),
    )
    .unwrap();
    let run = s
        .env
        .run(&["registry", "check", s.catalog.to_str().unwrap()])
        .code(2)
        .stderr_has("(key)")
        .stderr_has("\\u{9b}2J");
    assert_no_raw_controls(&run);
    std::fs::remove_file(&card).unwrap();

    // A local model's card: a warning naming it, and every other model stays.
    let local = s.models().join("evil");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("card.yaml"), evil_card("evil")).unwrap();
    let run = s
        .zoo(&["list"])
        .success()
        .stderr_has("warning: ignoring the local model")
        .stderr_has("card.yaml:7")
        .stdout_has("tiny-classifier");
    assert!(!run.stdout.contains("evil"), "{}", run.stdout);
    assert_no_raw_controls(&run);
    // Multi-line descriptions with tabs are still cards.
    std::fs::remove_dir_all(&local).unwrap();
    std::fs::write(
        s.catalog.join("multi.yaml"),
        evil_card("multi").replace(
            &format!("description: {EVIL_DESCRIPTION}"),
            "description: |\n  two\n  lines\twith a tab",
        ),
    )
    .unwrap();
    s.zoo(&["info", "multi"]).success().stdout_has("two");
    s.assert_catalog_usable();
}

#[test]
fn labels_lines_must_be_class_names() {
    let s = Setup::new();
    let labels = s.catalog.join("labels/tiny.txt");
    // Windows line ends and padding are fine.
    std::fs::write(&labels, "zero\r\n one \r\ntwo\r\nthree\r\n").unwrap();
    s.assert_catalog_usable();

    std::fs::write(&labels, "zero\none\n\u{1b}]0;PWNED\u{7}two\nthree\n").unwrap();
    for run in [
        s.env
            .run(&["registry", "check", s.catalog.to_str().unwrap()]),
        s.zoo(&["list"]),
    ] {
        let run = run
            .code(2)
            .stderr_has("tiny.txt:3")
            .stderr_has("control character")
            .stderr_has("one class name per line");
        assert_no_raw_controls(&run);
    }
    std::fs::write(&labels, "zero\none\ntwo\nthree\n").unwrap();

    // A local model's labels.txt: the model is skipped with a warning.
    let local = s.models().join("local-tiny");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(
        local.join("card.yaml"),
        classifier_card("local-tiny", 10, 8).replace("labels: tiny", "labels: local-tiny"),
    )
    .unwrap();
    std::fs::write(local.join("labels.txt"), "a\nb/c\n").unwrap();
    let run = s
        .zoo(&["list"])
        .success()
        .stderr_has("labels.txt:2")
        .stderr_has("contains '/'")
        .stdout_has("tiny-classifier");
    assert!(!run.stdout.contains("local-tiny"), "{}", run.stdout);
    assert_no_raw_controls(&run);
    std::fs::write(local.join("labels.txt"), "a\nb\nc\nd\n").unwrap();
    s.zoo(&["list"]).success().stdout_has("local-tiny");
}

/// Runs `cmd`, killing it if it takes longer than `limit`.
fn run_within(mut cmd: Command, limit: Duration) -> Run {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after {limit:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Run::from(child.wait_with_output().unwrap())
}

#[test]
fn a_fifo_or_huge_file_among_local_models_is_a_warning_not_a_hang() {
    let s = Setup::new();
    let fifo_model = s.models().join("fifo-labels");
    std::fs::create_dir_all(&fifo_model).unwrap();
    std::fs::write(
        fifo_model.join("card.yaml"),
        classifier_card("fifo-labels", 10, 8),
    )
    .unwrap();
    let fifo = fifo_model.join("labels.txt");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let big_model = s.models().join("big-card");
    std::fs::create_dir_all(&big_model).unwrap();
    let mut big = classifier_card("big-card", 10, 8);
    big.push_str(&format!("# {}\n", "x".repeat(3 << 20)));
    std::fs::write(big_model.join("card.yaml"), big).unwrap();

    let mut cmd = s.env.zoo();
    cmd.arg("--registry").arg(&s.catalog).arg("list");
    let run = run_within(cmd, Duration::from_secs(20))
        .success()
        .stderr_has(&format!("{}", fifo.display()))
        .stderr_has("not a regular file")
        .stderr_has(&format!("{}", big_model.join("card.yaml").display()))
        .stderr_has("larger than the 1 MiB")
        .stdout_has("tiny-classifier");
    assert!(!run.stdout.contains("fifo-labels"), "{}", run.stdout);
    assert!(!run.stdout.contains("big-card"), "{}", run.stdout);
    assert_no_raw_controls(&run);
    // Both are still there, untouched.
    assert!(Path::new(&fifo).exists());
    assert!(big_model.join("card.yaml").is_file());
}

#[test]
fn data_list_paths_must_stay_inside_the_lists_folder() {
    let s = Setup::new();
    s.zoo(&["pull", "tiny-classifier"]).success();
    let outside = s.env.path().join("secret.png");
    write_png(&outside, [9, 9, 9]);
    let data = s.env.path().join("data");
    write_png(&data.join("b1.png"), [1, 2, 3]);
    write_png(&data.join("b2.png"), [3, 2, 1]);
    // Class `a` has only paths outside the folder: both skipped, unread.
    std::fs::write(
        data.join("list.csv"),
        format!(
            "path,label\n../secret.png,a\n{},a\nb1.png,b\nb2.png,b\n",
            outside.display()
        ),
    )
    .unwrap();
    let run = s
        .zoo(&[
            "finetune",
            "tiny-classifier",
            "--data",
            &s.path("data/list.csv"),
            "--out",
            "victim",
        ])
        .code(2)
        .stderr_has("found only the class 'b'")
        .stderr_has("2 item(s) were skipped");
    assert_no_raw_controls(&run);
    assert!(!s.models().join("victim").exists());
    s.assert_catalog_usable();
}

/// With ONNX Runtime: the skipped items' reasons and predict's per-input errors
/// are printed with control characters escaped.
#[test]
fn skipped_items_and_predict_errors_are_printed_escaped() {
    let test = "skipped_items_and_predict_errors_are_printed_escaped";
    let Some(ort) = runtime(test) else { return };
    let s = Setup::new();
    let with_ort = |mut cmd: Command| {
        if let Some(lib) = &ort {
            cmd.env("ORT_DYLIB_PATH", lib);
        }
        Run::from(cmd.output().unwrap())
    };
    with_ort(s.command(&["pull", "tiny-classifier"])).success();
    let data = s.env.path().join("data");
    for (i, rgb) in [[250, 0, 0], [240, 10, 0], [0, 0, 250], [0, 10, 240]]
        .into_iter()
        .enumerate()
    {
        write_png(&data.join(format!("{i}.png")), rgb);
    }
    std::fs::write(
        data.join("list.csv"),
        "path,label\n0.png,zero\n1.png,zero\n2.png,one\n3.png,one\n\"../x\u{1b}[2J.png\",one\n",
    )
    .unwrap();
    let run = with_ort(s.command(&[
        "eval",
        "tiny-classifier",
        "--data",
        &s.path("data/list.csv"),
        "--device",
        "cpu",
    ]))
    .success()
    .stdout_has("4 items")
    .stderr_has("skipped: ")
    .stderr_has("is not a relative path inside the data set's folder")
    .stderr_has("'../x\\u{1b}[2J.png'");
    assert_no_raw_controls(&run);

    let imgs = s.env.path().join("imgs");
    write_png(&imgs.join("good.png"), [255, 0, 0]);
    std::fs::write(imgs.join("bad\u{1b}]0;PWNED\u{7}.png"), b"not a png").unwrap();
    let run = with_ort(s.command(&[
        "predict",
        "tiny-classifier",
        imgs.to_str().unwrap(),
        "--device",
        "cpu",
    ]))
    .code(1)
    .stderr_has("bad\\u{1b}]0;PWNED\\u{7}.png")
    .stdout_has("good.png");
    assert_no_raw_controls(&run);
}
