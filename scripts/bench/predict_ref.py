#!/usr/bin/env python3
"""Python side of scripts/bench/predict.sh.

  make-images OUTDIR N        N JPEGs (random crops/rescales of scikit-image's photos)
  make-text CSV OUT           one review per line from the Rotten Tomatoes CSV
  images-py MODEL DIR B T [ZOO_JSONL]  Pillow + numpy + onnxruntime pipeline over DIR
  images-ort MODEL DIR B T    onnxruntime alone on already-prepared batches
  text-py MODEL_DIR FILE B T [ZOO_OUT]  tokenizers + onnxruntime, mean pooling + L2 norm
  load MODEL T                onnxruntime session creation time

The timed modes print `seconds count` on stdout (in-process time, after imports).
"""
import os
import sys
import time


def make_images(outdir, n):
    import numpy as np
    from PIL import Image
    import skimage.data as data

    os.makedirs(outdir, exist_ok=True)
    names = ["astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field",
             "immunohistochemistry", "camera", "moon", "coins", "grass",
             "gravel", "brick", "colorwheel", "page"]
    photos = []
    for name in names:
        try:
            a = getattr(data, name)()
        except Exception as e:  # not shipped in the wheel (would need a download)
            print(f"skip {name}: {e}", file=sys.stderr)
            continue
        img = Image.fromarray(a).convert("RGB")
        if min(img.size) >= 256:
            photos.append((name, img))
    rng = np.random.default_rng(20261122)
    for i in range(n):
        name, img = photos[i % len(photos)]
        w, h = img.size
        fw, fh = rng.uniform(0.5, 1.0, size=2)
        cw, ch = max(64, int(w * fw)), max(64, int(h * fh))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        crop = img.crop((x, y, x + cw, y + ch))
        long_side = int(rng.integers(400, 801))
        s = long_side / max(cw, ch)
        crop = crop.resize((max(1, round(cw * s)), max(1, round(ch * s))), Image.BICUBIC)
        if rng.random() < 0.5:
            crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
        crop.save(os.path.join(outdir, f"{i:04d}-{name}.jpg"), quality=int(rng.integers(80, 96)))
    print(f"{n} images from {len(photos)} photos: {[p[0] for p in photos]}", file=sys.stderr)


def make_text(csv_path, out):
    import csv
    with open(csv_path, newline="", encoding="utf-8") as f, open(out + ".tmp", "w", encoding="utf-8") as o:
        n = 0
        for row in csv.DictReader(f):
            t = " ".join(row["text"].split())
            if t:
                o.write(t + "\n")
                n += 1
    os.replace(out + ".tmp", out)
    print(f"{n} lines", file=sys.stderr)


def session(model, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


MEAN = None


def prep(path):
    """open-nsfw card: exact resize to 256x256 (Pillow bilinear), center-crop 224,
    BGR, minus Caffe means, NHWC float32."""
    import numpy as np
    from PIL import Image
    global MEAN
    if MEAN is None:
        MEAN = np.array([104.0, 117.0, 123.0], dtype=np.float32)
    img = Image.open(path).convert("RGB").resize((256, 256), Image.BILINEAR)
    a = np.asarray(img, dtype=np.float32)[16:240, 16:240, ::-1]
    return a - MEAN


def list_images(d):
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".jpg"))


def images_py(model, d, batch, threads, compare=None):
    import numpy as np
    t0 = time.perf_counter()
    sess = session(model, threads)
    name = sess.get_inputs()[0].name
    paths = list_images(d)
    n, nsfw = 0, []
    for i in range(0, len(paths), batch):
        x = np.stack([prep(p) for p in paths[i:i + batch]])
        probs = sess.run(["outputs"], {name: x})[0]
        n += probs.shape[0]
        nsfw.extend(probs[:, 1].tolist())
    print(f"{time.perf_counter() - t0:.4f} {n}")
    if compare:  # parity with zoo's --json lines (not timed)
        import json
        z = {}
        for line in open(compare):
            r = json.loads(line)
            z[os.path.basename(r["path"])] = next(p["probability"] for p in r["predictions"] if p["label"] == "nsfw")
        diff = max(abs(z[os.path.basename(p)] - q) for p, q in zip(paths, nsfw))
        print(f"parity: max |nsfw prob zoo - Python| {diff:.2e} over {len(z)} images", file=sys.stderr)


def images_ort(model, d, batch, threads, rounds=3):
    import numpy as np
    sess = session(model, threads)
    name = sess.get_inputs()[0].name
    paths = list_images(d)
    batches = [np.stack([prep(p) for p in paths[i:i + batch]]) for i in range(0, len(paths), batch)]
    sess.run(["outputs"], {name: batches[0]})  # warm-up
    for _ in range(rounds):
        t0 = time.perf_counter()
        for x in batches:
            sess.run(["outputs"], {name: x})
        print(f"{time.perf_counter() - t0:.4f} {len(paths)}")


def text_py(model_dir, path, batch, threads, compare=None):
    import numpy as np
    from tokenizers import Tokenizer
    t0 = time.perf_counter()
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.enable_truncation(256)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    sess = session(os.path.join(model_dir, "model.onnx"), threads)
    with open(path, encoding="utf-8") as f:
        texts = [l.rstrip("\n") for l in f if l.strip()]
    out = []
    for i in range(0, len(texts), batch):
        enc = tok.encode_batch(texts[i:i + batch])
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        h = sess.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask,
                                              "token_type_ids": np.zeros_like(ids)})[0]
        m = mask[:, :, None].astype(np.float32)
        e = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        out.append(e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12))
    emb = np.concatenate(out)
    print(f"{time.perf_counter() - t0:.4f} {emb.shape[0]}")
    if compare:  # parity with zoo's --out file (not timed)
        import json
        with open(compare, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            meta = json.loads(f.read(n))["embeddings"]
            a, b = meta["data_offsets"]
            f.seek(8 + n + a)
            z = np.frombuffer(f.read(b - a), dtype=np.float32).reshape(meta["shape"])
        cos = (z * emb).sum(1) / (np.linalg.norm(z, axis=1) * np.linalg.norm(emb, axis=1))
        print(f"parity: min cosine zoo vs Python {cos.min():.7f} over {len(cos)} texts", file=sys.stderr)


def load(model, threads):
    import onnxruntime  # noqa: F401  (import not timed)
    t0 = time.perf_counter()
    session(model, threads)
    print(f"{time.perf_counter() - t0:.4f} 1")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "make-images":
        make_images(args[0], int(args[1]))
    elif cmd == "make-text":
        make_text(args[0], args[1])
    elif cmd == "images-py":
        images_py(args[0], args[1], int(args[2]), int(args[3]), *args[4:5])
    elif cmd == "images-ort":
        images_ort(args[0], args[1], int(args[2]), int(args[3]))
    elif cmd == "text-py":
        text_py(args[0], args[1], int(args[2]), int(args[3]), *args[4:5])
    elif cmd == "load":
        load(args[0], int(args[1]))
    else:
        sys.exit(f"unknown command {cmd}")
