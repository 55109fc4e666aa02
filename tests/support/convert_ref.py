"""Python references for tests/convert.rs: an independent forward pass of the
Hugging Face text encoders in numpy (float64), written from the Transformers
modelling code (BertModel, RobertaModel, DistilBertModel), reading the
checkpoint with `safetensors` and tokenising with `tokenizers`. It never looks
at the graph zoo builds: zoo's ONNX is only run, by onnxruntime.

Commands (each prints one JSON object on stdout):

  tiny DIR FAMILY SEED [DTYPE]
      Write a random-weight checkpoint in the real layout of FAMILY (bert,
      roberta, xlm-roberta, distilbert, mpnet): config.json and model.safetensors, with
      the model prefix and a task head as Transformers saves them; weights in
      DTYPE (float32, or float16).
  random ONNX DIR SEED
      Random token ids (with padding) through zoo's ONNX (onnxruntime) and the
      numpy reference of the checkpoint in DIR: max abs diff on real tokens.
  sentences OUT.json COUNT SEED
      Write COUNT varied sentences: empty, short, past 256 word pieces,
      Latin, Cyrillic, Greek, CJK, Arabic, Devanagari, emoji.
  texts ONNX DIR TOKENIZER MAX_LEN SENTENCES.json [INT8_ONNX]
      The sentences tokenised (truncation at MAX_LEN), run through zoo's ONNX
      and the numpy reference: max abs diff of last_hidden_state on real
      tokens; the mean-pooled, L2-normalised embeddings (written to
      SENTENCES.json.ref.npy); with INT8_ONNX, the lowest cosine between the
      converted model's embeddings and the int8 model's.
  broken DIR KIND
      Damage the tiny checkpoint in DIR: missing-tensor, wrong-shape,
      truncated, header-overclaims, unknown-model-type, not-yet
      (deberta-v2, an architecture zoo does not build yet).
  check ONNX
      onnx.checker.check_model (full check) on the file.
  resnet DIR NAMING DEPTH SEED
      Write a random-weight ResNet-DEPTH checkpoint (1000 classes) in the
      torchvision/timm layout (NAMING tv) or Transformers'
      ResNetForImageClassification layout (NAMING hf), BatchNorm statistics
      far from the identity; print its parameter count.
  images ONNX DIR SEED
      Random images (two sizes) through zoo's ONNX (onnxruntime) and the
      numpy reference (convolutions, unfolded BatchNorm, max pool, average
      pool, linear): max abs diff of logits and features.
  make-image PATH SEED
      A random 256x256 RGB PNG: the classifier preprocessing (shorter side to
      256, center crop 224) is then exact, with no resampling.
  classify ONNX IMAGE K
      The center 224 crop of IMAGE scaled to 0..1, ImageNet mean/std, NCHW,
      through onnxruntime: the top K softmax probabilities and their indices.
"""
import json
import os
import struct
import sys

import numpy as np

FAMILY_PREFIX = {"bert": "bert.", "roberta": "roberta.", "distilbert": "distilbert.",
                 "mpnet": "mpnet."}


# ---------------------------------------------------------------- reference


def erf(x):
    from scipy.special import erf as scipy_erf

    return scipy_erf(x)


def activation(name, x):
    if name == "gelu":
        return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))
    if name == "relu":
        return np.maximum(x, 0)
    raise SystemExit(f"reference: activation {name} not written")


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def load(dir_):
    from safetensors.numpy import load_file

    with open(os.path.join(dir_, "config.json")) as f:
        config = json.load(f)
    raw = load_file(os.path.join(dir_, "model.safetensors"))
    family = "roberta" if config["model_type"] in ("roberta", "xlm-roberta") else config["model_type"]
    prefix = FAMILY_PREFIX[family]
    has_prefix = any(k.startswith(prefix) for k in raw)
    weights = {}
    for k, v in raw.items():
        if has_prefix and not k.startswith(prefix):
            continue
        name = k[len(prefix):] if has_prefix else k
        weights[name] = v.astype(np.float64)
    return family, config, weights


def forward(family, config, w, ids, mask, types):
    """last_hidden_state as Transformers computes it (eager attention)."""
    def linear(x, name):
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    batch, seq = ids.shape
    if family == "distilbert":
        hidden, heads, layers = config["dim"], config["n_heads"], config["n_layers"]
        act, eps = config.get("activation", "gelu"), 1e-12
    else:
        hidden, heads, layers = config["hidden_size"], config["num_attention_heads"], config["num_hidden_layers"]
        act, eps = config.get("hidden_act", "gelu"), config.get("layer_norm_eps", 1e-12)
    dh = hidden // heads

    x = w["embeddings.word_embeddings.weight"][ids]
    if family in ("roberta", "mpnet"):
        pad = config.get("pad_token_id", 1)
        not_pad = (ids != pad).astype(np.int64)
        positions = np.cumsum(not_pad, axis=1) * not_pad + pad
    else:
        positions = np.broadcast_to(np.arange(seq), ids.shape)
    x = x + w["embeddings.position_embeddings.weight"][positions]
    if family in ("bert", "roberta"):
        x = x + w["embeddings.token_type_embeddings.weight"][types]
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)

    bias = (1.0 - mask[:, None, None, :].astype(np.float64)) * np.finfo(np.float32).min
    if family == "mpnet":
        # MPNetEncoder.compute_position_bias: bucket of (key - query), shared by all layers.
        relative = np.arange(seq)[None, :] - np.arange(seq)[:, None]
        buckets = mpnet_bucket(relative, config.get("relative_attention_num_buckets", 32))
        values = w["encoder.relative_attention_bias.weight"][buckets]  # [q, k, heads]
        bias = bias + values.transpose(2, 0, 1)[None]
    for i in range(layers):
        if family == "mpnet":
            p = f"encoder.layer.{i}."
            names = ("attention.attn.q", "attention.attn.k", "attention.attn.v", "attention.attn.o",
                     "attention.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm")
        elif family == "distilbert":
            p = f"transformer.layer.{i}."
            names = ("attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin",
                     "sa_layer_norm", "ffn.lin1", "ffn.lin2", "output_layer_norm")
        else:
            p = f"encoder.layer.{i}."
            names = ("attention.self.query", "attention.self.key", "attention.self.value",
                     "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense",
                     "output.dense", "output.LayerNorm")
        q, k, v, o, ln1, f1, f2, ln2 = (p + n for n in names)

        def split(t):
            return t.reshape(batch, seq, heads, dh).transpose(0, 2, 1, 3)

        scores = split(linear(x, q)) @ split(linear(x, k)).transpose(0, 1, 3, 2) / np.sqrt(dh)
        scores = scores + bias
        scores = scores - scores.max(-1, keepdims=True)
        probs = np.exp(scores)
        probs = probs / probs.sum(-1, keepdims=True)
        context = (probs @ split(linear(x, v))).transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
        x = layer_norm(linear(context, o) + x, w[ln1 + ".weight"], w[ln1 + ".bias"], eps)
        inner = activation(act, linear(x, f1))
        x = layer_norm(linear(inner, f2) + x, w[ln2 + ".weight"], w[ln2 + ".bias"], eps)
    return x


SESSIONS = {}


def mpnet_bucket(relative, num_buckets=32, max_distance=128):
    """MPNetEncoder.relative_position_bucket, in numpy with PyTorch's float32."""
    ret = 0
    n = -relative
    num_buckets //= 2
    ret += (n < 0).astype(np.int64) * num_buckets
    n = np.abs(n)
    max_exact = num_buckets // 2
    is_small = n < max_exact
    with np.errstate(divide="ignore"):
        scaled = (np.log(n.astype(np.float32) / np.float32(max_exact))
                  / np.float32(np.log(max_distance / max_exact)) * np.float32(num_buckets - max_exact))
    large = np.minimum(max_exact + np.where(is_small, 0, scaled).astype(np.int64), num_buckets - 1)
    return ret + np.where(is_small, n, large)


def run_onnx(path, ids, mask, types):
    import onnxruntime as ort

    if path not in SESSIONS:
        SESSIONS[path] = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    session = SESSIONS[path]
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    names = [i.name for i in session.get_inputs()]
    out = session.run(["last_hidden_state"], {n: feeds[n] for n in names})[0]
    return out, names


def max_diff_on_tokens(a, b, mask):
    real = mask.astype(bool)
    return float(np.abs(a[real] - b[real]).max())


# ---------------------------------------------------------------- commands


def cmd_tiny(dir_, family, seed, dtype="float32"):
    from safetensors.numpy import save_file

    model_type = family
    if family == "xlm-roberta":
        family = "roberta"

    rng = np.random.default_rng(int(seed))
    vocab, hidden, heads, layers, inner = 100, 32, 4, 2, 64
    os.makedirs(dir_, exist_ok=True)
    t = {}

    def rand(*shape, scale=0.2):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def norm(name):
        t[name + ".weight"] = (1.0 + rand(hidden, scale=0.1)).astype(np.float32)
        t[name + ".bias"] = rand(hidden, scale=0.1)

    def lin(name, out, in_):
        t[name + ".weight"] = rand(out, in_)
        t[name + ".bias"] = rand(out, scale=0.1)

    if family == "distilbert":
        config = {"model_type": "distilbert", "architectures": ["DistilBertForMaskedLM"],
                  "vocab_size": vocab, "dim": hidden, "n_heads": heads, "n_layers": layers,
                  "hidden_dim": inner, "activation": "gelu", "max_position_embeddings": 40,
                  "pad_token_id": 0, "sinusoidal_pos_embds": False, "dropout": 0.1}
        p = "distilbert."
        t[p + "embeddings.word_embeddings.weight"] = rand(vocab, hidden)
        t[p + "embeddings.position_embeddings.weight"] = rand(40, hidden)
        norm(p + "embeddings.LayerNorm")
        for i in range(layers):
            q = f"{p}transformer.layer.{i}."
            for n in ("q_lin", "k_lin", "v_lin", "out_lin"):
                lin(q + "attention." + n, hidden, hidden)
            norm(q + "sa_layer_norm")
            lin(q + "ffn.lin1", inner, hidden)
            lin(q + "ffn.lin2", hidden, inner)
            norm(q + "output_layer_norm")
        # The masked-LM head Transformers saves beside the encoder.
        lin("vocab_transform", hidden, hidden)
        norm("vocab_layer_norm")
        lin("vocab_projector", vocab, hidden)
    elif family == "mpnet":
        positions, buckets = 42, 32
        config = {"model_type": "mpnet", "vocab_size": vocab, "hidden_size": hidden,
                  "num_attention_heads": heads, "num_hidden_layers": layers,
                  "intermediate_size": inner, "hidden_act": "gelu", "layer_norm_eps": 1e-5,
                  "max_position_embeddings": positions, "pad_token_id": 1,
                  "relative_attention_num_buckets": buckets}
        p = "mpnet."
        t[p + "embeddings.word_embeddings.weight"] = rand(vocab, hidden)
        t[p + "embeddings.position_embeddings.weight"] = rand(positions, hidden)
        norm(p + "embeddings.LayerNorm")
        # Large enough to move the attention: a wrong bucket cannot pass.
        t[p + "encoder.relative_attention_bias.weight"] = rand(buckets, heads, scale=1.0)
        for i in range(layers):
            q = f"{p}encoder.layer.{i}."
            for n in ("q", "k", "v", "o"):
                lin(q + "attention.attn." + n, hidden, hidden)
            norm(q + "attention.LayerNorm")
            lin(q + "intermediate.dense", inner, hidden)
            lin(q + "output.dense", hidden, inner)
            norm(q + "output.LayerNorm")
        lin(p + "pooler.dense", hidden, hidden)
    else:
        roberta = family == "roberta"
        positions = 42 if roberta else 40
        config = {"model_type": model_type, "vocab_size": vocab, "hidden_size": hidden,
                  "num_attention_heads": heads, "num_hidden_layers": layers,
                  "intermediate_size": inner,
                  "hidden_act": "gelu" if roberta else "gelu_new",
                  "layer_norm_eps": 1e-5 if roberta else 1e-12,
                  "max_position_embeddings": positions,
                  "type_vocab_size": 1 if roberta else 2,
                  "pad_token_id": 1 if roberta else 0,
                  "position_embedding_type": "absolute"}
        p = FAMILY_PREFIX[family]
        t[p + "embeddings.word_embeddings.weight"] = rand(vocab, hidden)
        t[p + "embeddings.position_embeddings.weight"] = rand(positions, hidden)
        t[p + "embeddings.token_type_embeddings.weight"] = rand(config["type_vocab_size"], hidden)
        norm(p + "embeddings.LayerNorm")
        for i in range(layers):
            q = f"{p}encoder.layer.{i}."
            for n in ("query", "key", "value"):
                lin(q + "attention.self." + n, hidden, hidden)
            lin(q + "attention.output.dense", hidden, hidden)
            norm(q + "attention.output.LayerNorm")
            lin(q + "intermediate.dense", inner, hidden)
            lin(q + "output.dense", hidden, inner)
            norm(q + "output.LayerNorm")
        lin(p + "pooler.dense", hidden, hidden)
        if roberta:
            lin("lm_head.dense", hidden, hidden)
            norm("lm_head.layer_norm")
    with open(os.path.join(dir_, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    # Half-precision checkpoints: the reference reads the same rounded values.
    t = {k: v.astype(dtype) if v.dtype == np.float32 else v for k, v in t.items()}
    save_file(t, os.path.join(dir_, "model.safetensors"), metadata={"format": "pt"})
    heads = ("pooler.", "lm_head.", "vocab_")
    encoder = sum(v.size for k, v in t.items()
                  if not any(k.startswith(h) or k.startswith(FAMILY_PREFIX[family] + h) for h in heads))
    print(json.dumps({"tensors": len(t), "encoder_parameters": int(encoder), "config": config}))


def cmd_random(onnx_path, dir_, seed):
    family, config, w = load(dir_)
    rng = np.random.default_rng(int(seed))
    batch, seq = 6, 24
    pad = config.get("pad_token_id", 1 if family in ("roberta", "mpnet") else 0)
    vocab = config["vocab_size"]
    ids = rng.integers(0, vocab, size=(batch, seq)).astype(np.int64)
    ids[ids == pad] = (pad + 1) % vocab
    lengths = rng.integers(1, seq + 1, size=batch)
    lengths[0] = seq
    mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64)
    ids[mask == 0] = pad
    types = (rng.integers(0, 2, size=(batch, seq)) * mask).astype(np.int64)
    if family != "bert":
        types[:] = 0
    ref = forward(family, config, w, ids, mask, types)
    out, inputs = run_onnx(onnx_path, ids, mask, types)
    print(json.dumps({"max_abs_diff": max_diff_on_tokens(out, ref, mask), "inputs": inputs,
                      "shape": list(out.shape), "tokens": int(mask.sum())}))


WORDS = {
    "latin": "the a movie was surprisingly good and bad quick brown fox jumps over lazy dog "
             "science data model river mountain coffee city night rain tomorrow yesterday".split(),
    "french": "le film était étonnamment bon café élève garçon où déjà".split(),
    "cyrillic": "привет мир это очень хороший фильм сегодня погода".split(),
    "greek": "γεια σου κόσμε αυτή είναι μια καλή ταινία".split(),
    "cjk": ["今天", "天气", "很好", "我们", "电影", "東京", "日本語", "こんにちは", "세계", "안녕하세요"],
    "arabic": "مرحبا بالعالم هذا فيلم جيد جدا".split(),
    "devanagari": "नमस्ते दुनिया यह बहुत अच्छी फिल्म है".split(),
    "symbols": ["🙂", "🚀", "3.14", "100%", "#tag", "@user", "e-mail", "(x)", "naïve", "Ω"],
}


def cmd_sentences(out, count, seed):
    rng = np.random.default_rng(int(seed))
    scripts = list(WORDS)
    sentences = ["", "a", "Hello, world!"]
    # Past 256 word pieces in several scripts: truncated by the tokenizer.
    for script in ("latin", "cyrillic", "cjk", "arabic", "devanagari", "symbols"):
        sentences.append(" ".join(str(w) for w in rng.choice(WORDS[script], size=300)))
    while len(sentences) < int(count):
        length = int(rng.choice([1, 3, 6, 10, 20, 40]))
        mixed = [scripts[i] for i in rng.choice(len(scripts), size=2, replace=False)]
        words = [str(rng.choice(WORDS[mixed[int(rng.integers(0, 2))]])) for _ in range(length)]
        sentence = " ".join(words)
        if rng.random() < 0.3:
            sentence = sentence.capitalize() + "."
        sentences.append(sentence)
    with open(out, "w") as f:
        json.dump(sentences, f, ensure_ascii=False)
    print(json.dumps({"count": len(sentences)}))


def tokenize(tokenizer_path, max_len, texts):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tokenizer_path)
    tok.no_padding()
    tok.enable_truncation(max_length=int(max_len))
    return tok.encode_batch(texts)


def batch_of(encodings):
    seq = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), seq), dtype=np.int64)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for i, e in enumerate(encodings):
        n = len(e.ids)
        ids[i, :n], mask[i, :n], types[i, :n] = e.ids, e.attention_mask, e.type_ids
    return ids, mask, types


def pooled(hidden, mask):
    m = mask[:, :, None].astype(np.float64)
    mean = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return mean / np.linalg.norm(mean, axis=1, keepdims=True)


def cmd_texts(onnx_path, dir_, tokenizer_path, max_len, sentences_path, int8_path=None):
    family, config, w = load(dir_)
    with open(sentences_path) as f:
        sentences = json.load(f)
    encodings = tokenize(tokenizer_path, max_len, sentences)
    worst, tokens, longest, truncated = 0.0, 0, 0, 0
    ours, int8, reference = [], [], []
    order = sorted(range(len(sentences)), key=lambda i: len(encodings[i].ids))
    for start in range(0, len(order), 16):
        idx = order[start:start + 16]
        ids, mask, types = batch_of([encodings[i] for i in idx])
        ref = forward(family, config, w, ids, mask, types)
        out, _ = run_onnx(onnx_path, ids, mask, types)
        worst = max(worst, max_diff_on_tokens(out, ref, mask))
        tokens += int(mask.sum())
        longest = max(longest, ids.shape[1])
        truncated += sum(len(encodings[i].overflowing) > 0 for i in idx)
        ours.append((idx, pooled(out.astype(np.float64), mask)))
        reference.append((idx, pooled(ref, mask)))
        if int8_path:
            out8, _ = run_onnx(int8_path, ids, mask, types)
            int8.append((idx, pooled(out8.astype(np.float64), mask)))

    def in_order(parts):
        rows = np.zeros((len(sentences), parts[0][1].shape[1]))
        for idx, values in parts:
            rows[idx] = values
        return rows

    result = {"max_abs_diff": worst, "sentences": len(sentences), "tokens": tokens,
              "longest": longest, "truncated": truncated}
    ref_rows = in_order(reference)
    with open(sentences_path + ".ref.json", "w") as f:
        json.dump(ref_rows.tolist(), f)
    result["pooled_max_abs_diff"] = float(np.abs(in_order(ours) - ref_rows).max())
    if int8_path:
        cosine = (in_order(ours) * in_order(int8)).sum(1)
        result["min_cosine_int8"] = float(cosine.min())
        result["mean_cosine_int8"] = float(cosine.mean())
    print(json.dumps(result))


def cmd_check(onnx_path):
    import onnx

    onnx.checker.check_model(onnx_path, full_check=True)
    model = onnx.load(onnx_path, load_external_data=False)
    opset = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    ops = sorted({n.op_type for n in model.graph.node})
    print(json.dumps({"ok": True, "opset": opset, "ops": ops,
                      "inputs": [i.name for i in model.graph.input],
                      "outputs": [o.name for o in model.graph.output]}))


def cmd_broken(dir_, kind):
    from safetensors.numpy import load_file, save_file

    path = os.path.join(dir_, "model.safetensors")
    config_path = os.path.join(dir_, "config.json")
    if kind in ("missing-tensor", "wrong-shape"):
        t = load_file(path)
        name = next(k for k in sorted(t) if "layer.1" in k and k.endswith("key.weight")
                    or "layer.1" in k and k.endswith("k_lin.weight"))
        if kind == "missing-tensor":
            del t[name]
        else:
            t[name] = np.ascontiguousarray(t[name][:, :-1])
        save_file(t, path)
    elif kind == "truncated":
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.truncate(size - 100)
        name = None
    elif kind == "header-overclaims":
        with open(path, "rb") as f:
            data = f.read()
        size = os.path.getsize(path)
        data = struct.pack("<Q", size * 2) + data[8:]
        with open(path, "wb") as f:
            f.write(data)
        name = None
    elif kind in ("unknown-model-type", "not-yet"):
        with open(config_path) as f:
            config = json.load(f)
        config["model_type"] = "frobnicator" if kind == "unknown-model-type" else "deberta-v2"
        with open(config_path, "w") as f:
            json.dump(config, f)
        name = None
    else:
        raise SystemExit(f"unknown damage {kind}")
    print(json.dumps({"tensor": name}))


# ResNet and images: convert_ref_images.py (this directory).
from convert_ref_images import cmd_classify, cmd_images, cmd_make_image, cmd_resnet  # noqa: E402

COMMANDS = {"make-image": cmd_make_image, "classify": cmd_classify, "resnet": cmd_resnet,
            "images": cmd_images, "tiny": cmd_tiny, "random": cmd_random, "sentences": cmd_sentences,
            "texts": cmd_texts, "broken": cmd_broken, "check": cmd_check}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
