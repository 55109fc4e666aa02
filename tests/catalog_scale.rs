//! The catalog index (`$ZOO_HOME/cache/catalog-index/`): a `--registry`
//! directory of thousands of cards answers the same with no index, a fresh one
//! and a stale one; every change to the directory is seen; invalid cards fail
//! every time; a damaged index is survived and rebuilt; concurrent rebuilds
//! all succeed. Timings are in scripts/bench/catalog.sh, not here.

mod util;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use util::{Run, TestEnv, repo_root};

/// Cards in the generated catalog: enough for thousands of index records,
/// few enough for a debug build.
const CARDS: usize = 2000;

/// The built-in cards: file stem and text.
fn builtin_cards() -> Vec<(String, String)> {
    let mut cards: Vec<(String, String)> = std::fs::read_dir(repo_root().join("registry"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let stem = p.file_stem().unwrap().to_str().unwrap().to_owned();
            (stem, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    cards.sort();
    cards
}

/// A built-in card renamed `<name>-c<i>`, without its aliases (which must stay
/// unique in a catalog).
fn copy_card(name: &str, text: &str, i: usize) -> (String, String) {
    let new = format!("{name}-c{i}");
    let body: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with("aliases:"))
        .map(|l| {
            if l.starts_with("name: ") {
                format!("name: {new}")
            } else {
                l.to_owned()
            }
        })
        .collect();
    (new, body.join("\n") + "\n")
}

/// Set a file's modification time `secs_ago` seconds in the past: files
/// changed in the last seconds are never trusted to the index.
fn age(path: &Path, secs_ago: u64) {
    set_mtime(path, SystemTime::now() - Duration::from_secs(secs_ago));
}

fn set_mtime(path: &Path, t: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// The generated card that names the directory's own label file.
const PETS: usize = 20;

/// The name of the `i`th generated card.
fn nth(i: usize) -> String {
    let builtin = builtin_cards();
    format!("{}-c{i}", builtin[i % builtin.len()].0)
}

/// A `--registry` directory of `n` cards (copies of the built-in ones) and a
/// label file, all last modified an hour ago.
fn generate(env: &TestEnv, n: usize) -> PathBuf {
    let dir = env.path().join("big");
    std::fs::create_dir_all(dir.join("labels")).unwrap();
    let builtin = builtin_cards();
    for i in 0..n {
        let (name, text) = &builtin[i % builtin.len()];
        let (new, mut text) = copy_card(name, text, i);
        if i == PETS {
            assert!(text.contains("labels: imagenet-1k"), "{new}");
            text = text.replace("labels: imagenet-1k", "labels: pets");
        }
        let path = dir.join(format!("{new}.yaml"));
        std::fs::write(&path, text).unwrap();
        age(&path, 3600);
    }
    let labels = dir.join("labels/pets.txt");
    std::fs::write(&labels, "cat\ndog\nhamster\n").unwrap();
    age(&labels, 3600);
    dir
}

struct Big<'a> {
    env: &'a TestEnv,
    dir: PathBuf,
}

impl Big<'_> {
    fn run(&self, args: &[&str]) -> Run {
        let mut all = vec!["--registry", self.dir.to_str().unwrap()];
        all.extend_from_slice(args);
        self.env.run(&all)
    }

    /// What the commands under test answer: info of two cards (one with its
    /// own labels), the whole listing, and a search.
    fn answers(&self, info: &str) -> Vec<String> {
        vec![
            self.run(&["info", info, "--json"]).success().stdout,
            self.run(&["info", &nth(PETS)]).success().stdout,
            self.run(&["list", "--json"]).success().stdout,
            self.run(&["search", "resnet50", "imagenet"])
                .success()
                .stdout,
            self.run(&["search", "c1"]).success().stdout,
        ]
    }

    fn index_files(&self) -> Vec<PathBuf> {
        let dir = self.env.zoo_home().join("cache/catalog-index");
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| rd.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "idx"));
        files.sort();
        files
    }

    /// The one index file, which must exist.
    fn index(&self) -> PathBuf {
        let files = self.index_files();
        assert_eq!(files.len(), 1, "{files:?}");
        files[0].clone()
    }

    fn card(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.yaml"))
    }
}

fn rows(run: &Run) -> usize {
    run.json().as_array().unwrap().len()
}

#[test]
fn cold_and_warm_index_give_the_same_answers() {
    let env = TestEnv::new();
    let big = Big {
        dir: generate(&env, CARDS),
        env: &env,
    };
    assert!(big.index_files().is_empty());
    let cold = big.answers(&nth(26));
    let index = big.index();
    let written = std::fs::metadata(&index).unwrap().modified().unwrap();
    let warm = big.answers(&nth(26));
    assert_eq!(cold, warm);
    // Nothing changed, so the index was not rewritten.
    assert_eq!(
        std::fs::metadata(&index).unwrap().modified().unwrap(),
        written
    );
    let list = big.run(&["list", "--json"]).success();
    assert_eq!(rows(&list), CARDS + builtin_cards().len());
    let name = format!("\"name\": \"{}\"", nth(26));
    assert!(cold[0].contains(&name), "{}", cold[0]);
    assert!(cold[1].contains("pets (3 classes)"), "{}", cold[1]);
    assert!(cold[4].contains("-c1999"), "{}", cold[4]);
    // The built-in catalog alone answers as it always did.
    env.run(&["info", "resnet50"]).success();
}

#[test]
fn every_change_to_the_directory_is_seen() {
    let env = TestEnv::new();
    let big = Big {
        dir: generate(&env, CARDS),
        env: &env,
    };
    let name = &nth(4);
    let described = |run: Run| -> String {
        run.success().json()["card"]["description"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let before = described(big.run(&["info", name, "--json"]));
    big.index();

    // Same size and the same modification time (as `cp -p` or `rsync -t`
    // would leave it): the change time still differs.
    let text = std::fs::read_to_string(big.card(name)).unwrap();
    let mtime = std::fs::metadata(big.card(name))
        .unwrap()
        .modified()
        .unwrap();
    let kept = text.replacen("image classifier", "Image Classifier", 1);
    assert_eq!(kept.len(), text.len());
    std::fs::write(big.card(name), &kept).unwrap();
    set_mtime(&big.card(name), mtime);
    let after = described(big.run(&["info", name, "--json"]));
    assert!(after.contains("Image Classifier"), "{after}");

    // Same size, another (old) modification time.
    let same_size = text.replacen("image classifier", "IMAGE CLASSIFIER", 1);
    assert_eq!(same_size.len(), text.len());
    assert_ne!(same_size, text);
    std::fs::write(big.card(name), &same_size).unwrap();
    age(&big.card(name), 1800);
    let after = described(big.run(&["info", name, "--json"]));
    assert_ne!(after, before);
    assert!(after.contains("IMAGE CLASSIFIER"), "{after}");
    assert_eq!(described(big.run(&["info", name, "--json"])), after);

    // Another size, modified just now.
    let longer = same_size.replacen("IMAGE CLASSIFIER", "IMAGE CLASSIFIER (edited)", 1);
    std::fs::write(big.card(name), &longer).unwrap();
    for _ in 0..2 {
        let d = described(big.run(&["info", name, "--json"]));
        assert!(d.contains("IMAGE CLASSIFIER (edited)"), "{d}");
    }

    // A card removed, then one added.
    let gone = nth(25);
    std::fs::remove_file(big.card(&gone)).unwrap();
    big.run(&["info", &gone])
        .code(2)
        .stderr_has(&format!("no model named '{gone}'"));
    let all = CARDS + builtin_cards().len();
    assert_eq!(rows(&big.run(&["list", "--json"]).success()), all - 1);
    let (new, text) = copy_card("gpt-4o", &builtin_text("gpt-4o"), 99999);
    std::fs::write(big.card(&new), text).unwrap();
    age(&big.card(&new), 60);
    big.run(&["info", &new]).success().stdout_has(&new);
    assert_eq!(rows(&big.run(&["list", "--json"]).success()), all);

    // A label file changed.
    std::fs::write(big.dir.join("labels/pets.txt"), "cat\ndog\n").unwrap();
    big.run(&["info", &nth(PETS)])
        .success()
        .stdout_has("pets (2 classes)");
}

fn builtin_text(name: &str) -> String {
    std::fs::read_to_string(repo_root().join(format!("registry/{name}.yaml"))).unwrap()
}

#[test]
fn an_invalid_card_fails_every_time_with_file_and_line() {
    let env = TestEnv::new();
    let big = Big {
        dir: generate(&env, CARDS),
        env: &env,
    };
    let name = nth(11);
    let good = big.answers(&name);
    let bad = big.card("zz-bad");
    let (_, text) = copy_card("open-nsfw", &builtin_text("open-nsfw"), 424242);
    std::fs::write(&bad, text.replace("family: ", "color: blue\nfamily: ")).unwrap();
    age(&bad, 600);
    let mut errors = Vec::new();
    for args in [&["list"][..], &["info", &name], &["list"]] {
        let run = big.run(args).code(2);
        assert!(
            run.stderr.contains(&format!("{}:", bad.display())),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("unknown field `color`"),
            "{}",
            run.stderr
        );
        errors.push(run.stderr);
    }
    assert!(errors.iter().all(|e| *e == errors[0]), "{errors:?}");
    let line = errors[0]
        .split(&format!("{}:", bad.display()))
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .unwrap();
    assert!(line.parse::<usize>().is_ok_and(|l| l > 0), "{}", errors[0]);

    // A name used twice is reported as before too.
    std::fs::remove_file(&bad).unwrap();
    let twin = big.card("zz-twin");
    std::fs::copy(big.card(&name), &twin).unwrap();
    age(&twin, 600);
    for _ in 0..2 {
        big.run(&["list"])
            .code(2)
            .stderr_has(&format!("duplicate name or alias '{name}'"));
    }
    std::fs::remove_file(&twin).unwrap();
    assert_eq!(big.answers(&name), good);
}

/// One way of damaging the index file.
type Damage<'a> = Box<dyn Fn(&Path) + 'a>;

#[test]
fn a_damaged_index_is_survived_and_rebuilt() {
    let env = TestEnv::new();
    let big = Big {
        dir: generate(&env, CARDS),
        env: &env,
    };
    let name = nth(7);
    let good = big.answers(&name);
    let index = big.index();
    let intact = std::fs::read(&index).unwrap();
    let damage: Vec<(&str, Damage<'_>)> = vec![
        (
            "garbage",
            Box::new(|p| std::fs::write(p, b"not an index").unwrap()),
        ),
        (
            "truncated",
            Box::new(|p| std::fs::write(p, &intact[..intact.len() / 2]).unwrap()),
        ),
        (
            "a card's JSON changed",
            Box::new(|p| {
                let mut bytes = intact.clone();
                let needle = format!("\"name\":\"{name}\"");
                let at = find(&bytes, needle.as_bytes()).unwrap();
                // The card's own name, in its JSON: c7 becomes c8.
                bytes[at + needle.len() - 2] = b'8';
                std::fs::write(p, bytes).unwrap();
            }),
        ),
        (
            "its head changed",
            Box::new(|p| {
                let mut bytes = intact.clone();
                bytes[200] ^= 1;
                std::fs::write(p, bytes).unwrap();
            }),
        ),
        (
            "huge",
            Box::new(|p| {
                let f = std::fs::File::create(p).unwrap();
                f.set_len(1 << 30).unwrap();
            }),
        ),
        ("a directory", Box::new(|p| std::fs::create_dir(p).unwrap())),
    ];
    for (what, spoil) in damage {
        let _ = std::fs::remove_file(&index);
        spoil(&index);
        assert_eq!(big.answers(&name), good, "{what}");
        if index.is_dir() {
            // Not replaced (rename does not replace a directory), just ignored.
            std::fs::remove_dir(&index).unwrap();
            continue;
        }
        let after = big.answers(&name);
        assert_eq!(after, good, "{what}");
        let rebuilt = std::fs::read(big.index()).unwrap();
        assert_eq!(rebuilt, intact, "{what}: not rebuilt");
    }
    // A FIFO in its place must not hang zoo.
    let _ = std::fs::remove_file(&index);
    if std::process::Command::new("mkfifo")
        .arg(&index)
        .status()
        .is_ok_and(|s| s.success())
    {
        assert_eq!(big.answers(&name), good, "fifo");
        assert_eq!(std::fs::read(big.index()).unwrap(), intact, "fifo");
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn concurrent_cold_runs_all_succeed() {
    let env = TestEnv::new();
    let big = Big {
        dir: generate(&env, CARDS),
        env: &env,
    };
    let children: Vec<_> = (0..4)
        .map(|_| {
            env.zoo()
                .args(["--registry", big.dir.to_str().unwrap(), "list", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<Run> = children
        .into_iter()
        .map(|c| Run::from(c.wait_with_output().unwrap()).success())
        .collect();
    assert!(outputs.iter().all(|o| o.stdout == outputs[0].stdout));
    assert_eq!(rows(&outputs[0]), CARDS + builtin_cards().len());
    big.index();
    let warm = big.run(&["list", "--json"]).success();
    assert_eq!(warm.stdout, outputs[0].stdout);
    let leftovers: Vec<_> = std::fs::read_dir(env.zoo_home().join("cache/catalog-index"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn the_user_catalog_is_indexed_and_stays_lenient() {
    let env = TestEnv::new();
    let dir = env.zoo_home().join("catalog");
    std::fs::create_dir_all(&dir).unwrap();
    let builtin = builtin_cards();
    for i in 0..200 {
        let (name, text) = &builtin[i % builtin.len()];
        let (new, text) = copy_card(name, text, i);
        let path = dir.join(format!("{new}.yaml"));
        std::fs::write(&path, text).unwrap();
        age(&path, 3600);
    }
    let bad = dir.join("broken.yaml");
    std::fs::write(&bad, "schema: 1\nname: [oops\n").unwrap();
    age(&bad, 3600);
    let mut seen = Vec::new();
    for _ in 0..3 {
        let run = env.run(&["list", "--json"]).success();
        assert!(
            run.stderr
                .contains("warning: ignoring a card of your catalog:")
                && run.stderr.contains("broken.yaml"),
            "{}",
            run.stderr
        );
        assert_eq!(rows(&run), 200 + builtin.len());
        seen.push((run.stdout, run.stderr));
    }
    assert!(seen.iter().all(|s| *s == seen[0]));
    let index_dir = env.zoo_home().join("cache/catalog-index");
    assert_eq!(std::fs::read_dir(index_dir).unwrap().count(), 1);
    env.run(&["info", &nth(2)]).success();
}

#[test]
fn small_catalogs_are_parsed_whole_and_leave_no_index() {
    let env = TestEnv::new();
    let big = Big {
        dir: generate(&env, 30),
        env: &env,
    };
    let first = big.answers(&nth(3));
    assert_eq!(big.answers(&nth(3)), first);
    assert!(big.index_files().is_empty());
    assert!(!env.zoo_home().join("cache/catalog-index").exists());
}
