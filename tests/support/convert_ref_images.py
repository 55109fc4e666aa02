"""ResNet half of tests/convert.rs's reference (convert_ref.py dispatches to
it): random-weight ResNet checkpoints in the torchvision/timm and Transformers
layouts, and an independent numpy forward pass (convolutions, BatchNorm
applied as such, max pool, average pool, linear) reading them with
`safetensors`. The commands are documented in convert_ref.py.
"""
import json
import os

import numpy as np

RESNET_BLOCKS = {18: ([2, 2, 2, 2], False), 34: ([3, 4, 6, 3], False), 50: ([3, 4, 6, 3], True),
                 101: ([3, 4, 23, 3], True), 152: ([3, 8, 36, 3], True)}


def resnet_plan(depth):
    """(stage, index, [(in, out, kernel, stride)...], shortcut (in, out, stride) or None)."""
    blocks, bottleneck = RESNET_BLOCKS[depth]
    widths = [w * (4 if bottleneck else 1) for w in (64, 128, 256, 512)]
    channels, plan = 64, []
    for stage, count in enumerate(blocks):
        out = widths[stage]
        for index in range(count):
            stride = 2 if stage > 0 and index == 0 else 1
            if bottleneck:
                mid = out // 4
                convs = [(channels, mid, 1, 1), (mid, mid, 3, stride), (mid, out, 1, 1)]
            else:
                convs = [(channels, out, 3, stride), (out, out, 3, 1)]
            shortcut = (channels, out, stride) if channels != out or stride != 1 else None
            plan.append((stage, index, convs, shortcut))
            channels = out
    return plan, widths[-1]


def resnet_names(naming, stage, index, j):
    """(conv weight name, batchnorm prefix) of conv j of a block; j None: shortcut."""
    if naming == "tv":
        p = f"layer{stage + 1}.{index}."
        return (p + "downsample.0.weight", p + "downsample.1") if j is None else \
            (p + f"conv{j + 1}.weight", p + f"bn{j + 1}")
    p = f"resnet.encoder.stages.{stage}.layers.{index}."
    return (p + "shortcut.convolution.weight", p + "shortcut.normalization") if j is None else \
        (p + f"layer.{j}.convolution.weight", p + f"layer.{j}.normalization")


def resnet_stem(naming):
    if naming == "tv":
        return "conv1.weight", "bn1"
    return "resnet.embedder.embedder.convolution.weight", "resnet.embedder.embedder.normalization"


def resnet_head(naming):
    return ("fc.weight", "fc.bias") if naming == "tv" else ("classifier.1.weight", "classifier.1.bias")


def cmd_resnet(dir_, naming, depth, seed):
    from safetensors.numpy import save_file

    depth = int(depth)
    rng = np.random.default_rng(int(seed))
    plan, features = resnet_plan(depth)
    t = {}
    params = 0

    def conv_bn(conv, bn, cin, cout, k, last=False):
        nonlocal params
        t[conv] = (rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))).astype(np.float32)
        # Far from the identity, so folding them wrongly cannot pass.
        gamma = (0.3 if last else 1.0) * (1.0 + 0.2 * rng.standard_normal(cout))
        t[bn + ".weight"] = gamma.astype(np.float32)
        t[bn + ".bias"] = (0.2 * rng.standard_normal(cout)).astype(np.float32)
        t[bn + ".running_mean"] = (0.3 * rng.standard_normal(cout)).astype(np.float32)
        t[bn + ".running_var"] = rng.uniform(0.3, 3.0, cout).astype(np.float32)
        t[bn + ".num_batches_tracked"] = np.array(1000, dtype=np.int64)
        params += t[conv].size + 2 * cout

    conv_bn(*resnet_stem(naming), 3, 64, 7)
    for stage, index, convs, shortcut in plan:
        for j, (cin, cout, k, _) in enumerate(convs):
            conv_bn(*resnet_names(naming, stage, index, j), cin, cout, k, last=j == len(convs) - 1)
        if shortcut:
            conv_bn(*resnet_names(naming, stage, index, None), shortcut[0], shortcut[1], 1)
    weight, bias = resnet_head(naming)
    t[weight] = (rng.standard_normal((1000, features)) * 0.02).astype(np.float32)
    t[bias] = (0.1 * rng.standard_normal(1000)).astype(np.float32)
    params += t[weight].size + t[bias].size
    if naming == "tv":
        config = {"architecture": f"resnet{depth}", "num_classes": 1000, "num_features": features,
                  "pretrained_cfg": {"input_size": [3, 224, 224], "crop_pct": 0.875,
                                     "interpolation": "bilinear", "mean": [0.485, 0.456, 0.406],
                                     "std": [0.229, 0.224, 0.225]}}
    else:
        blocks, bottleneck = RESNET_BLOCKS[depth]
        config = {"model_type": "resnet", "architectures": ["ResNetForImageClassification"],
                  "depths": blocks, "embedding_size": 64,
                  "hidden_sizes": [w * (4 if bottleneck else 1) for w in (64, 128, 256, 512)],
                  "layer_type": "bottleneck" if bottleneck else "basic", "hidden_act": "relu",
                  "downsample_in_first_stage": False, "num_channels": 3,
                  "id2label": {str(i): f"LABEL_{i}" for i in range(1000)}}
    os.makedirs(dir_, exist_ok=True)
    with open(os.path.join(dir_, "config.json"), "w") as f:
        json.dump(config, f)
    save_file(t, os.path.join(dir_, "model.safetensors"))
    print(json.dumps({"parameters": int(params), "tensors": len(t)}))


def conv2d(x, w, stride, pad):
    from numpy.lib.stride_tricks import sliding_window_view

    k = w.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("nchwij,ocij->nohw", windows, w, optimize=True)


def batch_norm(x, t, bn):
    g, b = t[bn + ".weight"], t[bn + ".bias"]
    m, v = t[bn + ".running_mean"], t[bn + ".running_var"]
    shape = (1, -1, 1, 1)
    return (x - m.reshape(shape)) / np.sqrt(v.reshape(shape) + 1e-5) * g.reshape(shape) + b.reshape(shape)


def max_pool(x):
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    from numpy.lib.stride_tricks import sliding_window_view

    return sliding_window_view(xp, (3, 3), axis=(2, 3))[:, :, ::2, ::2].max(axis=(4, 5))


def resnet_forward(naming, depth, t, x):
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    conv, bn = resnet_stem(naming)
    x = max_pool(relu(batch_norm(conv2d(x, t[conv], 2, 3), t, bn)))
    plan, _ = resnet_plan(depth)
    for stage, index, convs, shortcut in plan:
        y = x
        for j, (_, _, k, stride) in enumerate(convs):
            conv, bn = resnet_names(naming, stage, index, j)
            y = batch_norm(conv2d(y, t[conv], stride, k // 2), t, bn)
            if j < len(convs) - 1:
                y = relu(y)
        if shortcut:
            conv, bn = resnet_names(naming, stage, index, None)
            x = batch_norm(conv2d(x, t[conv], shortcut[2], 0), t, bn)
        x = relu(y + x)
    features = x.mean(axis=(2, 3))
    weight, bias = resnet_head(naming)
    return features @ t[weight].T + t[bias], features


def cmd_images(onnx_path, dir_, seed):
    import onnxruntime as ort
    from safetensors.numpy import load_file

    with open(os.path.join(dir_, "config.json")) as f:
        config = json.load(f)
    naming = "hf" if config.get("model_type") == "resnet" else "tv"
    if naming == "tv":
        depth = int(config["architecture"].removeprefix("resnet"))
    else:
        depth = {(tuple(b), bn): d for d, (b, bn) in RESNET_BLOCKS.items()}[
            (tuple(config["depths"]), config["layer_type"] == "bottleneck")]
    t = {k: v.astype(np.float64) for k, v in load_file(os.path.join(dir_, "model.safetensors")).items()}
    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(int(seed))
    worst_logits = worst_features = largest = 0.0
    inputs = [rng.standard_normal(shape) for shape in ((2, 3, 64, 64), (1, 3, 72, 56))]
    photos = real_photos()
    inputs.append(photos)
    for x in inputs:
        logits, features = resnet_forward(naming, depth, t, x)
        got_logits, got_features = session.run(["logits", "features"], {"pixel_values": x.astype(np.float32)})
        worst_logits = max(worst_logits, float(np.abs(got_logits - logits).max()))
        worst_features = max(worst_features, float(np.abs(got_features - features).max()))
        largest = max(largest, float(np.abs(logits).max()), float(np.abs(features).max()))
    print(json.dumps({"logits_max_abs_diff": worst_logits, "features_max_abs_diff": worst_features,
                      "largest_value": largest, "depth": depth, "photos": int(photos.shape[0])}))


def real_photos():
    """The two real photographs scikit-learn ships (a temple in China, a
    flower), resized to 224x224 and normalised with ImageNet's mean and std
    as torchvision does: NCHW float64."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    mean = np.array([0.485, 0.456, 0.406]).reshape(3, 1, 1)
    std = np.array([0.229, 0.224, 0.225]).reshape(3, 1, 1)
    batch = []
    for pixels in load_sample_images().images:
        image = Image.fromarray(pixels).resize((224, 224), Image.BILINEAR)
        chw = np.asarray(image, dtype=np.float64).transpose(2, 0, 1) / 255.0
        batch.append((chw - mean) / std)
    return np.stack(batch)


def cmd_make_image(path, seed):
    from PIL import Image

    rng = np.random.default_rng(int(seed))
    pixels = rng.integers(0, 256, size=(256, 256, 3), dtype=np.uint8)
    Image.fromarray(pixels, "RGB").save(path)
    print(json.dumps({"path": path}))


def cmd_classify(onnx_path, image_path, k):
    import onnxruntime as ort
    from PIL import Image

    pixels = np.asarray(Image.open(image_path).convert("RGB"), dtype=np.float64)[16:240, 16:240]
    x = (pixels / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    x = x.transpose(2, 0, 1)[None].astype(np.float32)
    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    logits = session.run(["logits"], {"pixel_values": x})[0][0].astype(np.float64)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    top = np.argsort(-probs)[: int(k)]
    print(json.dumps({"index": [int(i) for i in top], "probability": [float(probs[i]) for i in top]}))
