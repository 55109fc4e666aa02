//! Image inputs and the decode pipeline.
//!
//! Worker threads decode and preprocess images while the calling thread runs
//! inference. A fixed pool of buffers circulates between them: a worker must
//! take a free buffer before it claims the next image, so memory stays bounded
//! however far decoding runs ahead, and buffers are reused rather than
//! reallocated. Results are handed over in input order.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_channel::{bounded, unbounded};

use crate::budget::DecodeBudget;
use crate::image::{ImageSpec, Scratch, decode_within, preprocess};

/// File extensions taken from directories (files named explicitly are sniffed
/// whatever their name).
const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp"];

/// An input that named nothing usable, kept to report in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub input: String,
    pub message: String,
}

/// Expand command-line inputs into image files: files as given, directories
/// recursively (image extensions only, sorted), glob patterns, and `-` for a list
/// of paths on `stdin`, one per line.
pub fn expand_inputs(args: &[String], stdin: &mut dyn BufRead) -> (Vec<PathBuf>, Vec<InputError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for arg in args {
        if arg == "-" {
            let mut line = String::new();
            loop {
                line.clear();
                match stdin.read_line(&mut line) {
                    Ok(0) => break,
                    Ok(_) => {
                        let p = line.trim_end_matches(['\n', '\r']);
                        if !p.trim().is_empty() {
                            expand_one(p, false, &mut files, &mut errors);
                        }
                    }
                    Err(e) => {
                        errors.push(InputError {
                            input: "-".to_owned(),
                            message: format!("reading stdin: {e}"),
                        });
                        break;
                    }
                }
            }
        } else {
            expand_one(arg, true, &mut files, &mut errors);
        }
    }
    (files, errors)
}

fn expand_one(arg: &str, globs: bool, files: &mut Vec<PathBuf>, errors: &mut Vec<InputError>) {
    let path = Path::new(arg);
    if path.is_dir() {
        walk(path, files);
    } else if path.is_file() {
        files.push(path.to_owned());
    } else if path.exists() {
        // A device or FIFO: reading it would never end (or block).
        errors.push(InputError {
            input: arg.to_owned(),
            message: "not a regular file (a device, FIFO or socket); zoo reads only regular files"
                .to_owned(),
        });
    } else if globs && arg.contains(['*', '?', '[']) {
        let mut matched = Vec::new();
        match glob::glob(arg) {
            Ok(paths) => {
                for p in paths.flatten() {
                    if p.is_dir() {
                        walk(&p, &mut matched);
                    } else if p.is_file() {
                        matched.push(p);
                    }
                }
            }
            Err(e) => {
                errors.push(InputError {
                    input: arg.to_owned(),
                    message: format!("bad glob pattern: {e}"),
                });
                return;
            }
        }
        if matched.is_empty() {
            errors.push(InputError {
                input: arg.to_owned(),
                message: "no files match".to_owned(),
            });
        }
        files.extend(matched);
    } else {
        errors.push(InputError {
            input: arg.to_owned(),
            message: "no such file or directory".to_owned(),
        });
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    walk_once(dir, out, &mut std::collections::HashSet::new());
}

/// Each directory is entered once, by its canonical path: a symbolic link back
/// up the tree would otherwise recurse without end.
fn walk_once(dir: &Path, out: &mut Vec<PathBuf>, seen: &mut std::collections::HashSet<PathBuf>) {
    if !seen.insert(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())) {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk_once(&p, out, seen);
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
        {
            out.push(p);
        }
    }
}

/// What the pipeline hands the consumer, in input order.
#[derive(Debug)]
pub enum Event<'a> {
    /// Image `index` could not be decoded.
    Failed { index: usize, error: String },
    /// Consecutive decoded images: their indices and the batch tensor data
    /// (`indices.len() * spec.len()` floats).
    Batch {
        indices: &'a [usize],
        data: &'a [f32],
    },
}

#[derive(Debug, Clone, Copy)]
pub struct PipelineOptions {
    pub batch: usize,
    /// Decoding threads.
    pub workers: usize,
}

/// Decode and preprocess `paths` on worker threads, calling `consume` on this
/// thread with each failure and each full (or final) batch. An error from
/// `consume` stops the workers and is returned.
pub fn run<E>(
    paths: &[PathBuf],
    spec: &ImageSpec,
    options: PipelineOptions,
    mut consume: impl FnMut(Event<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let n = paths.len();
    let batch = options.batch.max(1);
    let workers = options.workers.clamp(1, n.max(1));
    // Enough buffers to fill the next batch while the current one runs.
    let window = 2 * batch + workers;
    let (pool_tx, pool_rx) = bounded::<Vec<f32>>(window);
    for _ in 0..window {
        let _ = pool_tx.send(Vec::new());
    }
    let (done_tx, done_rx) = unbounded::<(usize, Result<(), String>, Vec<f32>)>();
    let next = AtomicUsize::new(0);
    // One memory budget for all the decoders: an image too large for it fails on
    // its own, and the others wait rather than decode past it together.
    let budget = DecodeBudget::default();

    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (pool_rx, done_tx, next) = (pool_rx.clone(), done_tx.clone(), &next);
            let budget = &budget;
            scope.spawn(move || {
                let mut scratch = Scratch::default();
                while let Ok(mut buf) = pool_rx.recv() {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    buf.resize(spec.len(), 0.0);
                    let result = decode_within(&paths[i], budget)
                        .map(|img| preprocess(&img.image, spec, &mut scratch, &mut buf));
                    if done_tx.send((i, result, buf)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        drop(pool_rx);
        // The channels move into the consumer so that they close when it returns,
        // whether it finished or failed, which lets every worker exit.
        consume_in_order(n, batch, spec.len(), pool_tx, done_rx, &mut consume)
    })
}

fn consume_in_order<E>(
    n: usize,
    batch: usize,
    len: usize,
    pool_tx: crossbeam_channel::Sender<Vec<f32>>,
    done_rx: crossbeam_channel::Receiver<(usize, Result<(), String>, Vec<f32>)>,
    consume: &mut impl FnMut(Event<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let mut pending: BTreeMap<usize, (Result<(), String>, Vec<f32>)> = BTreeMap::new();
    let mut indices: Vec<usize> = Vec::with_capacity(batch);
    let mut data: Vec<f32> = Vec::with_capacity(batch * len);
    for want in 0..n {
        let (result, buf) = loop {
            if let Some(item) = pending.remove(&want) {
                break item;
            }
            match done_rx.recv() {
                Ok((i, r, b)) => {
                    pending.insert(i, (r, b));
                }
                // Workers only stop early when this side has gone, so this
                // cannot happen while images remain; end quietly if it does.
                Err(_) => return Ok(()),
            }
        };
        match result {
            Ok(()) => {
                data.extend_from_slice(&buf);
                indices.push(want);
            }
            Err(error) => consume(Event::Failed { index: want, error })?,
        }
        let _ = pool_tx.send(buf);
        if indices.len() == batch {
            consume(Event::Batch {
                indices: &indices,
                data: &data,
            })?;
            indices.clear();
            data.clear();
        }
    }
    if !indices.is_empty() {
        consume(Event::Batch {
            indices: &indices,
            data: &data,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_files_dirs_globs_and_stdin() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::create_dir_all(d.join("sub/deeper")).unwrap();
        for f in [
            "a.jpg",
            "b.PNG",
            "notes.txt",
            "sub/c.webp",
            "sub/deeper/d.jpeg",
        ] {
            std::fs::write(d.join(f), b"x").unwrap();
        }
        let s = |p: &str| d.join(p).display().to_string();
        let mut stdin = std::io::Cursor::new(format!("{}\n\n{}\n", s("a.jpg"), s("missing.jpg")));
        let args = vec![
            s("sub"),
            s("*.jpg"),
            s("notes.txt"),
            "-".to_owned(),
            s("nope/*.png"),
        ];
        let (files, errors) = expand_inputs(&args, &mut stdin);
        let rel: Vec<String> = files
            .iter()
            .map(|p| p.strip_prefix(d).unwrap().display().to_string())
            .collect();
        assert_eq!(
            rel,
            [
                "sub/c.webp",
                "sub/deeper/d.jpeg",
                "a.jpg",
                "notes.txt",
                "a.jpg"
            ]
        );
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].message, "no such file or directory");
        assert_eq!(errors[1].message, "no files match");
        #[cfg(unix)]
        {
            let (files, errors) = expand_inputs(&["/dev/zero".to_owned()], &mut std::io::empty());
            assert!(files.is_empty());
            assert!(
                errors[0].message.starts_with("not a regular file"),
                "{errors:?}"
            );
        }
    }
}
