//! The index file format against good, damaged and hostile files.

use super::*;

fn summary(name: &str) -> Summary {
    Summary::new(
        Task::Chat,
        [
            Some(name),
            Some("f"),
            Some("arch"),
            Some("MIT"),
            Some("d é"),
            Some("org"),
            None,
            Some("l"),
        ],
        ["a1", "a2"].into_iter(),
    )
}

fn sample() -> Vec<u8> {
    let mut e = Encoder::default();
    let stamp = |name: &str| Stamp {
        name: name.to_owned(),
        seen: Seen {
            size: 12,
            mtime_ns: -5,
            ctime_ns: 7,
            inode: 99,
        },
    };
    e.label(&stamp("labels/l.txt"), &["x".to_owned(), "y".to_owned()]);
    e.card(&stamp("a.yaml"), &summary("a"), b"{\"a\":1}", 7);
    e.card(&stamp("b.yaml"), &summary("b"), b"[]", 8);
    e.finish("build", "/dir")
}

fn read_bytes(bytes: &[u8], build: &str, dir: &str) -> Option<IndexFile> {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("i.idx");
    std::fs::write(&path, bytes).unwrap();
    read(&path, 1 << 20, build, dir)
}

#[test]
fn round_trips() {
    let f = read_bytes(&sample(), "build", "/dir").unwrap();
    assert_eq!(f.labels[0].names, ["x", "y"]);
    assert_eq!(f.labels[0].stamp.seen.mtime_ns, -5);
    assert_eq!(f.labels[0].stamp.seen.ctime_ns, 7);
    assert_eq!(f.cards[0].stamp.seen.inode, 99);
    assert_eq!(f.cards.len(), 2);
    assert_eq!(f.cards[1].summary, Some(summary("b")));
    let mut again = Encoder::default();
    let c = &f.cards[1];
    let blob = f.blobs.get(c.blob.clone()).unwrap();
    again.card_raw(&c.stamp, &f.head[c.raw.clone()], &blob, c.hash);
    let again = read_bytes(&again.finish("build", "/dir"), "build", "/dir").unwrap();
    assert_eq!(again.cards[0].summary, Some(summary("b")));
    assert_eq!(f.cards[1].hash, 8);
    let blob = |i: usize| f.blobs.get(f.cards[i].blob.clone()).unwrap().into_owned();
    assert_eq!(blob(0), b"{\"a\":1}");
    assert_eq!(blob(1), b"[]");
    f.blobs.read_all();
    assert_eq!(blob(0), b"{\"a\":1}");
    assert_eq!(blob(1), b"[]");
}

#[test]
fn foreign_or_damaged_files_are_refused() {
    let good = sample();
    assert!(read_bytes(&good, "other build", "/dir").is_none());
    assert!(read_bytes(&good, "build", "/other").is_none());
    for len in 0..good.len() {
        // A cut in the blob section leaves records pointing past the end.
        assert!(
            read_bytes(&good[..len], "build", "/dir").is_none(),
            "cut at {len}"
        );
    }
    for i in 0..good.len() - 9 {
        // (Damage inside the last 9 bytes, the blobs, is found when the
        // card is used, by its own hash.)
        let mut bad = good.clone();
        bad[i] ^= 0x40;
        assert!(read_bytes(&bad, "build", "/dir").is_none(), "flip at {i}");
    }
    let mut longer = good.clone();
    longer.push(0);
    assert!(read_bytes(&longer, "build", "/dir").is_some());
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("i.idx");
    std::fs::write(&path, &good).unwrap();
    assert!(read(&path, good.len() as u64 - 1, "build", "/dir").is_none());
    assert!(read(tmp.path(), 1 << 20, "build", "/dir").is_none());
}

#[test]
fn names_that_could_not_come_from_a_card_are_refused() {
    let stamp = Stamp {
        name: "a.yaml".to_owned(),
        seen: Seen {
            size: 1,
            mtime_ns: 1,
            ctime_ns: 1,
            inode: 1,
        },
    };
    let mut e = Encoder::default();
    e.card(&stamp, &summary("evil\u{1b}[2J"), b"{}", 0);
    assert!(read_bytes(&e.finish("b", "d"), "b", "d").is_none());
    let mut e = Encoder::default();
    e.label(&stamp, &["cat".to_owned(), "\u{202e}dog".to_owned()]);
    assert!(read_bytes(&e.finish("b", "d"), "b", "d").is_none());
}

#[test]
fn hostile_counts_do_not_allocate() {
    let mut head = Vec::new();
    put_str(&mut head, "b");
    put_str(&mut head, "d");
    put_u32(&mut head, u32::MAX);
    let mut f = MAGIC.to_vec();
    put_u32(&mut f, VERSION);
    put_u64(&mut f, head.len() as u64);
    put_u64(&mut f, hash64(&head));
    f.extend_from_slice(&head);
    assert!(read_bytes(&f, "b", "d").is_none());
    // A head length past the end of the file.
    let mut f = MAGIC.to_vec();
    put_u32(&mut f, VERSION);
    put_u64(&mut f, u64::MAX);
    put_u64(&mut f, 0);
    assert!(read_bytes(&f, "b", "d").is_none());
}

#[test]
fn hash_sees_every_word() {
    let base = vec![0u8; 100];
    let h = hash64(&base);
    for i in 0..base.len() {
        let mut b = base.clone();
        b[i] = 1;
        assert_ne!(hash64(&b), h, "byte {i}");
    }
    assert_ne!(hash64(&base[..99]), h);
}
