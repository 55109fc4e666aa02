"""Writes the first PER_CLASS images of each Fashion-MNIST class as PNGs.

Usage: fashion_mnist.py IMAGES.gz LABELS.gz PER_CLASS OUT_DIR

Run once on the training files and once on the test (t10k) files, so that the
test folder holds images no model was trained on.

"First in file order" makes the selection deterministic without a random seed.
"""
import gzip
import os
import struct
import sys

from PIL import Image

# Class names in label order, from the Fashion-MNIST README.
CLASSES = [
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle-boot",
]


def read_idx(path, magic):
    with gzip.open(path, "rb") as f:
        data = f.read()
    (found,) = struct.unpack(">I", data[:4])
    if found != magic:
        sys.exit(f"{path}: not an IDX file (magic {found:#x})")
    return data


def main():
    images_path, labels_path, per_class, out = sys.argv[1:5]
    per_class = int(per_class)
    images = read_idx(images_path, 0x803)
    labels = read_idx(labels_path, 0x801)
    count, rows, cols = struct.unpack(">III", images[4:16])
    if struct.unpack(">I", labels[4:8])[0] != count:
        sys.exit("image and label counts differ")
    taken = [0] * len(CLASSES)
    for name in CLASSES:
        os.makedirs(os.path.join(out, name), exist_ok=True)
    size = rows * cols
    for i in range(count):
        label = labels[8 + i]
        if taken[label] >= per_class:
            continue
        pixels = images[16 + i * size: 16 + (i + 1) * size]
        img = Image.frombytes("L", (cols, rows), pixels)
        img.save(os.path.join(out, CLASSES[label], f"{i:05d}.png"), optimize=False)
        taken[label] += 1
        if min(taken) >= per_class:
            break
    print(f"wrote {sum(taken)} images in {len(CLASSES)} classes to {out}")


if __name__ == "__main__":
    main()
