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
    Lines,
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
        if quiet {
            return PullProgress::Quiet;
        }
        if !std::io::stderr().is_terminal() {
            return PullProgress::Lines;
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
            PullProgress::Lines => {
                let size = total.map_or("unknown size".to_owned(), human_bytes);
                if resumed > 0 {
                    eprintln!("{path}: resuming at {} of {size}", human_bytes(resumed));
                } else {
                    eprintln!("{path}: fetching {size}");
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
            PullProgress::Lines => eprintln!("{path}: {outcome}"),
            PullProgress::Quiet => {}
        }
    }

    fn note(&self, message: &str) {
        match self {
            PullProgress::Bars(b) => {
                let _ = b.multi.println(format!("  note: {message}"));
            }
            PullProgress::Lines => eprintln!("note: {message}"),
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
