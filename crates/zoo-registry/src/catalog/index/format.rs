//! The bytes of a catalog index file, and nothing else: how records are laid
//! out, the checksums, and a decoder that treats the file as hostile.
//!
//! ```text
//! magic "ZOOCATIX" | u32 version | u64 head length | u64 head hash | head | blobs
//! head:  str build | str directory
//!        u32 count, labels: stamp | u32 count, str class names
//!        u32 count, cards:  stamp | summary | u64 blob offset | u32 blob length | u64 blob hash
//! blobs: each card as JSON, concatenated (offsets are relative to the section)
//! stamp: str file name | u64 size | i64 mtime | i64 ctime (ns since 1970) | u64 inode
//! str:   u32 length | UTF-8 bytes;  option: u8 0 or 1, then the value
//! ```
//!
//! Integers are little-endian. The head is checked as a whole when the file is
//! read; each card's JSON only when the card is used (its own hash, then its
//! fields against its summary), so answering `zoo info NAME` never hashes or
//! parses the other 9,999 cards.

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::str::FromStr;
use std::sync::OnceLock;

use zoo_types::{ClassName, ModelName};

use crate::card::Task;
use crate::catalog::summary::{Field, Summary};

const MAGIC: &[u8; 8] = b"ZOOCATIX";
/// Bumped whenever the layout above changes.
const VERSION: u32 = 1;
const FIXED: usize = 8 + 4 + 8 + 8;

/// A file of a catalog directory as it was when it was parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// The file name; `labels/<name>` for label files.
    pub name: String,
    pub seen: Seen,
}

/// What a look at a file says of its contents: any write changes the
/// modification time and the change time, a replacement the inode too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seen {
    pub size: u64,
    /// Nanoseconds since 1970.
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub inode: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct CardRecord {
    pub stamp: Stamp,
    /// Taken by the catalog when the card is used; [`CardRecord::raw`] stays.
    pub summary: Option<Summary>,
    /// The summary's bytes in [`IndexFile::head`], copied into the next index.
    pub raw: Range<usize>,
    /// The card as JSON: its place in the blob section.
    pub blob: Range<usize>,
    pub hash: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct LabelRecord {
    pub stamp: Stamp,
    pub names: Vec<String>,
}

/// A read index file: the records of its head, decoded; the card JSON left
/// in the file until a card is used.
#[derive(Debug)]
pub(crate) struct IndexFile {
    pub labels: Vec<LabelRecord>,
    pub cards: Vec<CardRecord>,
    pub head: Vec<u8>,
    pub blobs: Blobs,
}

/// The blob section of an open index file, read card by card or all at once.
#[derive(Debug)]
pub(crate) struct Blobs {
    file: File,
    at: u64,
    len: u64,
    all: OnceLock<Option<Vec<u8>>>,
}

impl Blobs {
    /// The bytes at `range` of the section (ranges were checked against its
    /// length when the head was read).
    pub fn get(&self, range: Range<usize>) -> Option<Cow<'_, [u8]>> {
        if let Some(Some(all)) = self.all.get() {
            return all.get(range).map(Cow::Borrowed);
        }
        let mut buf = vec![0; range.len()];
        self.file
            .read_exact_at(&mut buf, self.at + range.start as u64)
            .ok()?;
        Some(Cow::Owned(buf))
    }

    /// Read the whole section in one go, for commands that use most cards.
    pub fn read_all(&self) {
        self.all.get_or_init(|| {
            let mut buf = vec![0; usize::try_from(self.len).ok()?];
            self.file.read_exact_at(&mut buf, self.at).ok()?;
            Some(buf)
        });
    }
}

/// Read the index file at `path`, or `None` when it is not one this build
/// wrote for `dir`: larger than `bound`, not a regular file, wrong magic,
/// version, build or directory, a head whose hash does not match, or any
/// record that runs past its section. Only the head is read.
pub(crate) fn read(path: &Path, bound: u64, build: &str, dir: &str) -> Option<IndexFile> {
    let mut file = zoo_fs::open_bounded(path, bound).ok()?.into_inner();
    let len = file.metadata().ok()?.len();
    let mut fixed = [0u8; FIXED];
    file.read_exact(&mut fixed).ok()?;
    let mut r = Reader { buf: &fixed };
    if r.take(8)? != MAGIC || r.u32()? != VERSION {
        return None;
    }
    let head_len = r.u64()?;
    let head_hash = r.u64()?;
    let blobs_len = len.checked_sub(FIXED as u64)?.checked_sub(head_len)?;
    let mut head = vec![0; usize::try_from(head_len).ok()?];
    file.read_exact(&mut head).ok()?;
    if hash64(&head) != head_hash {
        return None;
    }
    let (labels, cards) = decode_head(&head, build, dir, blobs_len)?;
    Some(IndexFile {
        labels,
        cards,
        head,
        blobs: Blobs {
            file,
            at: FIXED as u64 + head_len,
            len: blobs_len,
            all: OnceLock::new(),
        },
    })
}

fn decode_head(
    head: &[u8],
    build: &str,
    dir: &str,
    blobs_len: u64,
) -> Option<(Vec<LabelRecord>, Vec<CardRecord>)> {
    let mut r = Reader { buf: head };
    if r.str()? != build || r.str()? != dir {
        return None;
    }
    let mut labels = Vec::new();
    for _ in 0..r.count(40)? {
        let stamp = r.stamp()?;
        // Validated as the labels file was: names reach the terminal.
        let names = (0..r.count(4)?)
            .map(|_| ClassName::parse(r.str()?).ok().map(String::from))
            .collect::<Option<Vec<_>>>()?;
        labels.push(LabelRecord { stamp, names });
    }
    let mut cards = Vec::new();
    for _ in 0..r.count(64)? {
        let stamp = r.stamp()?;
        let start = head.len() - r.buf.len();
        let summary = r.summary()?;
        let raw = start..head.len() - r.buf.len();
        let offset = r.u64()?;
        let len = u64::from(r.u32()?);
        let hash = r.u64()?;
        let end = offset.checked_add(len)?;
        if end > blobs_len {
            return None;
        }
        cards.push(CardRecord {
            stamp,
            summary: Some(summary),
            raw,
            blob: usize::try_from(offset).ok()?..usize::try_from(end).ok()?,
            hash,
        });
    }
    r.buf.is_empty().then_some((labels, cards))
}

/// Builds the bytes of an index file.
#[derive(Debug, Default)]
pub(crate) struct Encoder {
    labels: Vec<u8>,
    label_count: u32,
    cards: Vec<u8>,
    card_count: u32,
    blobs: Vec<u8>,
}

impl Encoder {
    pub fn label(&mut self, stamp: &Stamp, names: &[String]) {
        let w = &mut self.labels;
        put_stamp(w, stamp);
        put_u32(w, names.len() as u32);
        for n in names {
            put_str(w, n);
        }
        self.label_count += 1;
    }

    /// A card, given as its JSON (whose hash the caller knows).
    pub fn card(&mut self, stamp: &Stamp, summary: &Summary, json: &[u8], hash: u64) {
        self.card_with(stamp, |w| put_summary(w, summary), json, hash);
    }

    /// A card of an earlier index, its summary as that index encoded it.
    pub fn card_raw(&mut self, stamp: &Stamp, summary: &[u8], json: &[u8], hash: u64) {
        self.card_with(stamp, |w| w.extend_from_slice(summary), json, hash);
    }

    fn card_with(
        &mut self,
        stamp: &Stamp,
        summary: impl FnOnce(&mut Vec<u8>),
        json: &[u8],
        hash: u64,
    ) {
        let w = &mut self.cards;
        put_stamp(w, stamp);
        summary(w);
        put_u64(w, self.blobs.len() as u64);
        put_u32(w, json.len() as u32);
        put_u64(w, hash);
        self.blobs.extend_from_slice(json);
        self.card_count += 1;
    }

    pub fn finish(self, build: &str, dir: &str) -> Vec<u8> {
        let mut head = Vec::with_capacity(self.labels.len() + self.cards.len() + 64);
        put_str(&mut head, build);
        put_str(&mut head, dir);
        put_u32(&mut head, self.label_count);
        head.extend_from_slice(&self.labels);
        put_u32(&mut head, self.card_count);
        head.extend_from_slice(&self.cards);
        let mut out = Vec::with_capacity(FIXED + head.len() + self.blobs.len());
        out.extend_from_slice(MAGIC);
        put_u32(&mut out, VERSION);
        put_u64(&mut out, head.len() as u64);
        put_u64(&mut out, hash64(&head));
        out.extend_from_slice(&head);
        out.extend_from_slice(&self.blobs);
        out
    }
}

/// A fast 64-bit hash for telling a damaged file from a good one (not an
/// adversary: whoever can write zoo's cache can write its catalog too). Each
/// step is a bijection of the state, so any change to one 8-byte word changes
/// the result.
pub(crate) fn hash64(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = K ^ bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        h = (h.rotate_left(23) ^ w).wrapping_mul(K);
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    h = (h.rotate_left(23) ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    // splitmix64's finalizer, so that nearby inputs spread over all bits.
    h ^= h >> 30;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}

fn put_u32(w: &mut Vec<u8>, v: u32) {
    w.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(w: &mut Vec<u8>, v: u64) {
    w.extend_from_slice(&v.to_le_bytes());
}

fn put_str(w: &mut Vec<u8>, s: &str) {
    put_u32(w, s.len() as u32);
    w.extend_from_slice(s.as_bytes());
}

fn put_opt(w: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => w.push(0),
        Some(s) => {
            w.push(1);
            put_str(w, s);
        }
    }
}

fn put_stamp(w: &mut Vec<u8>, s: &Stamp) {
    put_str(w, &s.name);
    put_u64(w, s.seen.size);
    w.extend_from_slice(&s.seen.mtime_ns.to_le_bytes());
    w.extend_from_slice(&s.seen.ctime_ns.to_le_bytes());
    put_u64(w, s.seen.inode);
}

fn put_summary(w: &mut Vec<u8>, s: &Summary) {
    put_str(w, s.name());
    let aliases: Vec<&str> = s.aliases().collect();
    put_u32(w, aliases.len() as u32);
    for a in aliases {
        put_str(w, a);
    }
    put_str(w, s.task.as_str());
    put_str(w, s.field(Field::Family));
    put_str(w, s.field(Field::Architecture));
    put_str(w, s.field(Field::LicenseId));
    put_str(w, s.field(Field::Description));
    put_opt(w, s.get(Field::Organization));
    put_opt(w, s.get(Field::HubRepo));
    put_opt(w, s.get(Field::Labels));
}

/// Reads from a byte slice; every read is bounds-checked and `None` past the end.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Option<u64> {
        let b = self.take(8)?;
        Some(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }

    /// A record count, refused when even records of `min` bytes each could not
    /// fit in what is left: a hostile count never drives an allocation.
    fn count(&mut self, min: usize) -> Option<usize> {
        let n = self.u32()? as usize;
        (n <= self.buf.len() / min).then_some(n)
    }

    fn str(&mut self) -> Option<&'a str> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).ok()
    }

    fn model_name(&mut self) -> Option<&'a str> {
        self.str().filter(|s| ModelName::parse(s).is_ok())
    }

    fn string(&mut self) -> Option<String> {
        self.str().map(str::to_owned)
    }

    fn stamp(&mut self) -> Option<Stamp> {
        Some(Stamp {
            name: self.string()?,
            seen: Seen {
                size: self.u64()?,
                mtime_ns: self.u64()? as i64,
                ctime_ns: self.u64()? as i64,
                inode: self.u64()?,
            },
        })
    }

    fn opt(&mut self) -> Option<Option<&'a str>> {
        match self.take(1)?[0] {
            0 => Some(None),
            1 => self.str().map(Some),
            _ => None,
        }
    }

    fn summary(&mut self) -> Option<Summary> {
        // Names and aliases are printed ("did you mean ...") before any card
        // is parsed: validated as the card's were.
        let name = self.model_name()?;
        let mut aliases = Vec::new();
        for _ in 0..self.count(4)? {
            aliases.push(self.model_name()?);
        }
        let task = Task::from_str(self.str()?).ok()?;
        let fields = [
            Some(name),
            Some(self.str()?),
            Some(self.str()?),
            Some(self.str()?),
            Some(self.str()?),
            self.opt()?,
            self.opt()?,
            self.opt()?,
        ];
        let len = fields.iter().flatten().chain(&aliases).map(|s| s.len());
        if len.sum::<usize>() > MAX_SUMMARY {
            return None;
        }
        Some(Summary::new(task, fields, aliases.into_iter()))
    }
}

/// Far more than the text of any card's summary (a card is at most 1 MiB).
const MAX_SUMMARY: usize = 64 << 20;

#[cfg(test)]
mod tests;
