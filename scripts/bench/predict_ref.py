#!/usr/bin/env python3
"""Python side of scripts/bench/predict.sh: the data, the pipelines zoo is compared
with, and the parity checks.

  make-images OUTDIR N        N JPEGs cut from scikit-image's bundled photos
  image-stats DIR             size, grayscale and progressive counts of DIR's JPEGs
  make-text CSV OUT [N]       one review per line from the Rotten Tomatoes CSV (first N)
  images-py MODEL DIR B T [ZOO_JSONL]
                              Pillow + numpy + onnxruntime over DIR; with ZOO_JSONL
                              (zoo predict --json output) also prints the parity
  images-ort MODEL DIR B T R  onnxruntime alone on already-prepared batches, R passes
  text-py MODEL_DIR FILE B T [ZOO_OUT]
                              tokenizers + onnxruntime, mean pooling + L2 norm, batches
                              in file order; with ZOO_OUT (zoo embed --out) the parity
  text-py-sorted MODEL_DIR FILE B T [ZOO_OUT]
                              the same with texts grouped by token count (as zoo does)
  load MODEL T [optimized]    onnxruntime session creation time; `optimized` opens an
                              already-optimized model with the optimizers off (what zoo
                              does with its session cache)
  versions                    versions of the Python packages in use

The pipelines print `seconds count` on stdout: time in process, after the imports
(the shell script times whole processes itself); parity lines go to stderr.
"""
import os
import sys
import time

# open-nsfw card (registry/open-nsfw.yaml): resize both sides to 256 (exact, no
# aspect ratio), center-crop 224, BGR, minus the Caffe means, scale 1, NHWC float32.
RESIZE, CROP = 256, 224
MEAN_BGR = (104.0, 117.0, 123.0)
# all-minilm-l6-v2-int8 card: tokenizer.json, max_length 256, mean pooling, L2.
MAX_LENGTH = 256


# ---------------------------------------------------------------------------
# Data

# scikit-image's sample images that ship inside the wheel (others need pooch and
# the network) and are photographs: people, animals, objects, textures, the sky,
# microscopy. Synthetic ones (colorwheel, logo, checkerboard) and tiny ones are left
# out. Grayscale photos stay grayscale JPEGs, as in real folders.
PHOTOS = ["astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field",
          "immunohistochemistry", "retina", "stereo_motorcycle", "camera", "moon",
          "coins", "clock", "cell", "grass", "gravel", "brick"]


def make_images(outdir, n):
    import numpy as np
    from PIL import Image
    import skimage.data as data

    photos = []
    for name in PHOTOS:
        try:
            a = getattr(data, name)()
        except Exception as e:  # not shipped in this wheel (would need a download)
            print(f"skip {name}: {type(e).__name__}", file=sys.stderr)
            continue
        if isinstance(a, tuple):  # stereo_motorcycle: (left, right, disparity)
            a = a[0]
        img = Image.fromarray(a)
        img = img.convert("L" if img.mode in ("L", "I", "I;16", "F") else "RGB")
        if min(img.size) >= 256:
            photos.append((name, img))
    if not photos:
        sys.exit("no scikit-image sample photos available")

    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(20261122)  # fixed: the same files every time
    for i in range(n):
        name, img = photos[i % len(photos)]
        # A random crop (50-100 % of each side), rescaled so the long side is
        # 400-800 px, sometimes mirrored: varied sizes and aspect ratios.
        w, h = img.size
        fw, fh = rng.uniform(0.5, 1.0, size=2)
        cw, ch = max(64, int(w * fw)), max(64, int(h * fh))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        crop = img.crop((x, y, x + cw, y + ch))
        s = int(rng.integers(400, 801)) / max(cw, ch)
        crop = crop.resize((max(1, round(cw * s)), max(1, round(ch * s))), Image.BICUBIC)
        if rng.random() < 0.5:
            crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
        # Encoder settings vary as in real photo folders: quality 75-95, some
        # progressive, some without chroma subsampling.
        opts = {"quality": int(rng.integers(75, 96))}
        if rng.random() < 0.15:
            opts["progressive"] = True
        if crop.mode == "RGB" and rng.random() < 0.25:
            opts["subsampling"] = 0
        crop.save(os.path.join(outdir, f"{i:04d}-{name}.jpg"), **opts)
    print(f"{n} JPEGs from {len(photos)} photos: {', '.join(p[0] for p in photos)}",
          file=sys.stderr)


def image_stats(d):
    """One line describing the generated images (headers only)."""
    from PIL import Image
    paths = list_images(d)
    mp, gray, prog = 0.0, 0, 0
    for p in paths:
        with Image.open(p) as im:
            mp += im.width * im.height / 1e6
            gray += im.mode == "L"
            prog += bool(im.info.get("progressive"))
    print(f"{len(paths)} JPEGs, {mp / len(paths):.2f} MP on average, {gray} grayscale, "
          f"{prog} progressive")


def make_text(csv_path, out, limit=0):
    import csv
    n = 0
    with open(csv_path, newline="", encoding="utf-8") as f, \
            open(out + ".tmp", "w", encoding="utf-8") as o:
        for row in csv.DictReader(f):
            t = " ".join(row["text"].split())  # one line each, no stray whitespace
            if t:
                o.write(t + "\n")
                n += 1
                if limit and n == limit:
                    break
    os.replace(out + ".tmp", out)
    print(f"{n} lines", file=sys.stderr)


# ---------------------------------------------------------------------------
# Pipelines

def session(model, threads, optimized=False):
    """A CPU session with `threads` intra-op threads, otherwise ONNX Runtime's
    defaults (what a user writes). `optimized`: the model was already optimized, so
    open it with the optimizers off."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    if optimized:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def prep(path, mean):
    """One image as the card says: Pillow decode, exact bilinear resize to 256x256
    (Pillow's antialiased filter, which zoo reproduces), center crop 224, RGB->BGR,
    minus the means. HWC float32."""
    import numpy as np
    from PIL import Image
    img = Image.open(path).convert("RGB").resize((RESIZE, RESIZE), Image.BILINEAR)
    o = (RESIZE - CROP) // 2
    a = np.asarray(img, dtype=np.float32)[o:o + CROP, o:o + CROP, ::-1]
    return a - mean


def list_images(d):
    # zoo takes .jpg/.jpeg/.png/.webp from a directory; the bench writes only .jpg.
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".jpg"))


def images_py(model, d, batch, threads, compare=None):
    import numpy as np
    t0 = time.perf_counter()
    mean = np.array(MEAN_BGR, dtype=np.float32)
    sess = session(model, threads)
    name = sess.get_inputs()[0].name
    paths = list_images(d)
    probs = []
    for i in range(0, len(paths), batch):
        x = np.stack([prep(p, mean) for p in paths[i:i + batch]])
        probs.append(sess.run(["outputs"], {name: x})[0])
    probs = np.concatenate(probs)
    print(f"{time.perf_counter() - t0:.4f} {len(paths)}")
    if compare:
        images_parity(paths, probs, compare)


def images_parity(paths, probs, zoo_jsonl):
    """zoo's --json lines against Python's probabilities: top-1 agreement and the
    largest probability difference (not timed)."""
    import json
    import numpy as np
    zoo = {}
    with open(zoo_jsonl, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            p = np.zeros(probs.shape[1])
            for pred in r["predictions"]:  # all classes (top-k 5 >= 2 classes)
                p[pred["index"]] = pred["probability"]
            zoo[os.path.basename(r["path"])] = (p, r["predictions"][0]["index"])
    missing = [p for p in paths if os.path.basename(p) not in zoo]
    if missing:
        sys.exit(f"parity: zoo gave no result for {len(missing)} images, e.g. {missing[0]}")
    z = np.stack([zoo[os.path.basename(p)][0] for p in paths])
    z_top = np.array([zoo[os.path.basename(p)][1] for p in paths])
    agree = int((z_top == probs.argmax(1)).sum())
    diff = np.abs(z - probs).max(1)
    worst = int(diff.argmax())
    print(f"parity images: top-1 agreement {agree}/{len(paths)}; |prob zoo - Python| "
          f"max {diff.max():.2e} ({os.path.basename(paths[worst])}), "
          f"mean {diff.mean():.2e}, over 1e-3 on {int((diff > 1e-3).sum())} images",
          file=sys.stderr)


def images_ort(model, d, batch, threads, rounds):
    """The ceiling: onnxruntime alone, every batch decoded and prepared beforehand;
    one untimed warm-up run, then `rounds` timed passes over all batches."""
    import numpy as np
    mean = np.array(MEAN_BGR, dtype=np.float32)
    sess = session(model, threads)
    name = sess.get_inputs()[0].name
    paths = list_images(d)
    batches = [np.stack([prep(p, mean) for p in paths[i:i + batch]])
               for i in range(0, len(paths), batch)]
    sess.run(["outputs"], {name: batches[0]})
    for _ in range(rounds):
        t0 = time.perf_counter()
        for x in batches:
            sess.run(["outputs"], {name: x})
        print(f"{time.perf_counter() - t0:.3f} {len(paths)}", flush=True)


def text_py(model_dir, path, batch, threads, compare=None, by_length=False):
    import numpy as np
    from tokenizers import Tokenizer
    t0 = time.perf_counter()
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.enable_truncation(MAX_LENGTH)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest in the batch
    sess = session(os.path.join(model_dir, "model.onnx"), threads)
    with open(path, encoding="utf-8") as f:
        texts = [l.rstrip("\n") for l in f if l.strip()]  # zoo skips empty lines too
    if by_length:
        # As zoo does: tokenize everything once, sort by token count, and pad each
        # batch only to its own longest text.
        tok.no_padding()
        encs = tok.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda j: len(encs[j].ids))
        batches = []
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            seq = max(len(encs[j].ids) for j in idx)
            ids = np.zeros((len(idx), seq), dtype=np.int64)
            mask = np.zeros((len(idx), seq), dtype=np.int64)
            for r, j in enumerate(idx):
                ids[r, :len(encs[j].ids)] = encs[j].ids
                mask[r, :len(encs[j].ids)] = 1
            batches.append((idx, ids, mask))
    else:
        # What a user writes first: batches in file order, padded by the tokenizer.
        def file_order():
            for i in range(0, len(texts), batch):
                enc = tok.encode_batch(texts[i:i + batch])
                yield (list(range(i, i + len(enc))),
                       np.array([e.ids for e in enc], dtype=np.int64),
                       np.array([e.attention_mask for e in enc], dtype=np.int64))
        batches = file_order()
    emb = None
    for idx, ids, mask in batches:
        h = sess.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask,
                                              "token_type_ids": np.zeros_like(ids)})[0]
        m = mask[:, :, None].astype(np.float32)
        e = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        if emb is None:
            emb = np.empty((len(texts), e.shape[1]), dtype=np.float32)
        emb[idx] = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    print(f"{time.perf_counter() - t0:.4f} {len(texts)}")
    if compare:
        text_parity(emb, compare, "by length" if by_length else "file order")


def text_parity(emb, zoo_out, label):
    """zoo's safetensors (tensor `embeddings`, [texts, dim] float32, input order)
    against Python's embeddings: cosine per text (not timed)."""
    import json
    import numpy as np
    with open(zoo_out, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        meta = json.loads(f.read(n))["embeddings"]
        assert meta["dtype"] == "F32", meta
        a, b = meta["data_offsets"]
        f.seek(8 + n + a)
        z = np.frombuffer(f.read(b - a), dtype=np.float32).reshape(meta["shape"])
    if z.shape != emb.shape:
        sys.exit(f"parity: zoo wrote {z.shape}, Python has {emb.shape}")
    cos = (z * emb).sum(1) / (np.linalg.norm(z, axis=1) * np.linalg.norm(emb, axis=1))
    print(f"parity text ({label}): cosine zoo vs Python min {cos.min():.7f}, mean {cos.mean():.7f} "
          f"over {len(cos)} texts; zoo norms {np.linalg.norm(z, axis=1).min():.6f} "
          f"to {np.linalg.norm(z, axis=1).max():.6f}", file=sys.stderr)


def load(model, threads, optimized=False):
    import onnxruntime  # noqa: F401  (the import is not the model's load)
    t0 = time.perf_counter()
    session(model, threads, optimized)
    print(f"{time.perf_counter() - t0:.3f} 1")


def versions():
    from importlib.metadata import version
    print(", ".join(f"{p} {version(p)}" for p in
                    ["onnxruntime", "numpy", "pillow", "tokenizers", "scikit-image"]))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "make-images":
        make_images(args[0], int(args[1]))
    elif cmd == "image-stats":
        image_stats(args[0])
    elif cmd == "make-text":
        make_text(args[0], args[1], int(args[2]) if len(args) > 2 else 0)
    elif cmd == "images-py":
        images_py(args[0], args[1], int(args[2]), int(args[3]), *args[4:5])
    elif cmd == "images-ort":
        images_ort(args[0], args[1], int(args[2]), int(args[3]), int(args[4]))
    elif cmd == "text-py":
        text_py(args[0], args[1], int(args[2]), int(args[3]), *args[4:5])
    elif cmd == "text-py-sorted":
        text_py(args[0], args[1], int(args[2]), int(args[3]), *args[4:5], by_length=True)
    elif cmd == "load":
        load(args[0], int(args[1]), args[2:3] == ["optimized"])
    elif cmd == "versions":
        versions()
    else:
        sys.exit(f"unknown command {cmd}")
