//! Pull progress: indicatif bars (per file and total, rate, ETA) on a terminal,
//! plain lines otherwise, nothing with --quiet.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::table::human_bytes;

#[derive(Debug)]
pub enum PullProgress {
    Bars(Bars),
    /// Plain lines; the verb says which way the bytes go (`fetching`, `sending`).
    Lines(&'static str),
    Quiet,
}

#[derive(Debug)]
pub struct Bars {
    multi: MultiProgress,
    total: ProgressBar,
    files: Mutex<HashMap<String, ProgressBar>>,
}

impl PullProgress {
    pub fn new(quiet: bool, total_bytes: u64) -> PullProgress {
        Self::with_verb(quiet, total_bytes, "fetching")
    }

    /// For uploads (`zoo push`).
    pub fn sending(quiet: bool, total_bytes: u64) -> PullProgress {
        Self::with_verb(quiet, total_bytes, "sending")
    }

    fn with_verb(quiet: bool, total_bytes: u64, verb: &'static str) -> PullProgress {
        if quiet {
            return PullProgress::Quiet;
        }
        if !std::io::stderr().is_terminal() {
            return PullProgress::Lines(verb);
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let total = multi.add(ProgressBar::new(total_bytes));
        total.set_style(
            ProgressStyle::with_template(
                "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        total.set_prefix("total");
        PullProgress::Bars(Bars {
            multi,
            total,
            files: Mutex::new(HashMap::new()),
        })
    }

    pub fn finish(&self) {
        if let PullProgress::Bars(b) = self {
            b.total.finish_and_clear();
            let _ = b.multi.clear();
        }
    }
}

impl zoo_fetch::Progress for PullProgress {
    fn file_start(&self, path: &str, total: Option<u64>, resumed: u64) {
        match self {
            PullProgress::Bars(b) => {
                let bar = b
                    .multi
                    .insert_before(&b.total, ProgressBar::new(total.unwrap_or(0)));
                bar.set_style(
                    ProgressStyle::with_template("{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}")
                        .expect("valid template")
                        .progress_chars("=> "),
                );
                bar.set_prefix(short(path));
                bar.set_position(resumed);
                b.total.inc(resumed);
                b.files.lock().expect("lock").insert(path.to_owned(), bar);
            }
            PullProgress::Lines(verb) => {
                let size = total.map_or("unknown size".to_owned(), human_bytes);
                if resumed > 0 {
                    eprintln!("{path}: resuming at {} of {size}", human_bytes(resumed));
                } else {
                    eprintln!("{path}: {verb} {size}");
                }
            }
            PullProgress::Quiet => {}
        }
    }

    fn file_advance(&self, path: &str, bytes: u64) {
        if let PullProgress::Bars(b) = self {
            if let Some(bar) = b.files.lock().expect("lock").get(path) {
                bar.inc(bytes);
            }
            b.total.inc(bytes);
        }
    }

    fn file_done(&self, path: &str, outcome: &str) {
        match self {
            PullProgress::Bars(b) => {
                if let Some(bar) = b.files.lock().expect("lock").remove(path) {
                    bar.finish_and_clear();
                }
                let _ = b.multi.println(format!("  ✓ {path}: {outcome}"));
            }
            PullProgress::Lines(_) => eprintln!("{path}: {outcome}"),
            PullProgress::Quiet => {}
        }
    }

    fn note(&self, message: &str) {
        match self {
            PullProgress::Bars(b) => {
                let _ = b.multi.println(format!("  note: {message}"));
            }
            PullProgress::Lines(_) => eprintln!("note: {message}"),
            PullProgress::Quiet => {}
        }
    }
}

fn short(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.chars().count() > 12 {
        let tail: String = name
            .chars()
            .rev()
            .take(11)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("…{tail}")
    } else {
        name.to_owned()
    }
}

/// Feature extraction and training progress for `finetune`, `features` and
/// `eval`: a bar with rate and ETA on a terminal, a line every 10% otherwise,
/// per-epoch lines on stderr, nothing with --quiet.
#[derive(Debug)]
pub struct WorkProgress {
    mode: Mode,
    what: &'static str,
    bar: Mutex<Option<ProgressBar>>,
    /// Items to process and the last tenth reported, for plain lines.
    plain: Mutex<(usize, usize)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Bar,
    Lines,
    Quiet,
}

impl WorkProgress {
    /// `what` names the work ("extracting features", "scoring").
    pub fn new(quiet: bool, what: &'static str) -> WorkProgress {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bar
        } else {
            Mode::Lines
        };
        WorkProgress {
            mode,
            what,
            bar: Mutex::new(None),
            plain: Mutex::new((0, 0)),
        }
    }

    fn say(&self, line: &str) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Bar => match self.bar.lock().expect("lock").as_ref() {
                Some(bar) => bar.println(line),
                None => eprintln!("{line}"),
            },
            Mode::Lines => eprintln!("{line}"),
        }
    }
}

impl zoo_finetune::extract::ExtractProgress for WorkProgress {
    fn start(&self, total: usize, cached: usize) {
        if cached > 0 {
            self.say(&format!(
                "zoo: {cached} item(s) found in the feature cache, {total} to compute"
            ));
        }
        match self.mode {
            Mode::Quiet => {}
            Mode::Lines => {
                eprintln!("zoo: {} for {total} item(s)", self.what);
                *self.plain.lock().expect("lock") = (total, 0);
            }
            Mode::Bar => {
                let bar =
                    ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{msg} [{bar:30}] {pos}/{len} {per_sec} ETA {eta}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                bar.set_message(self.what);
                *self.bar.lock().expect("lock") = Some(bar);
            }
        }
    }

    fn advance(&self, done: usize) {
        match self.mode {
            Mode::Bar => {
                if let Some(bar) = self.bar.lock().expect("lock").as_ref() {
                    bar.set_position(done as u64);
                }
            }
            Mode::Lines => {
                let mut p = self.plain.lock().expect("lock");
                let (total, last) = *p;
                let tenth = (done * 10).checked_div(total).unwrap_or(10);
                if tenth > last && tenth < 10 {
                    p.1 = tenth;
                    eprintln!("zoo: {} {done}/{total}", self.what);
                }
            }
            Mode::Quiet => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().expect("lock").take() {
            bar.finish_and_clear();
        }
    }
}

impl zoo_finetune::Reporter for WorkProgress {
    fn epoch(&self, s: &zoo_finetune::train::EpochStats) {
        let val = match (s.val_loss, s.val_accuracy) {
            (Some(l), Some(a)) => format!("  val loss {l:.4}  val acc {:6.2}%", a * 100.0),
            _ => String::new(),
        };
        self.say(&format!(
            "epoch {:>3}  train loss {:.4}{val}  lr {:.2e}{}",
            s.epoch,
            s.train_loss,
            s.lr,
            if s.best { "  *" } else { "" }
        ));
    }

    fn note(&self, message: &str) {
        self.say(&format!("zoo: {message}"));
    }
}
