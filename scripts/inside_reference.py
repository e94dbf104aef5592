#!/usr/bin/env python3
"""An independent look inside SmolLM2: the logit lens and attention weights from NumPy.

Run by `./dev reference` (PyPI `gguf` and `numpy` in .tools/pyref). Writes
tests/fixtures/smollm2_inside.json, which crates/core/tests/inside.rs compares tokenmeter against.

Nothing here comes from tokenmeter: the GGUF's tensors are dequantized by the `gguf` package
(the format's own Python reader, from llama.cpp's repository) and the forward pass is written out
in float64 from the Llama architecture:

    x = E[tokens]
    for each block:  x += W_o · Attention(RoPE(W_q·h), RoPE(W_k·h), W_v·h),  h = RMSNorm(x)
                     x += W_down · (silu(W_gate·h) * (W_up·h)),               h = RMSNorm(x)
    lens_l = RMSNorm(x_l; output_norm) · Eᵀ        after each block l (the logit lens)

The token IDs are llama.cpp's, taken from tests/fixtures/smollm2_logits.json (the reference
encoder's output, which tokenmeter's tokenizer is tested to equal). The computation is exact up
to float64 rounding; tokenmeter quantizes each matrix input to 8 bits, so the comparison allows
that noise (see the test).
"""
import hashlib
import importlib.metadata
import json
import os

import numpy as np
import gguf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "data/models/SmolLM2-135M-Instruct.Q4_1.gguf")
FIXTURES = os.path.join(ROOT, "tests/fixtures")
TOP = 10  # lens entries kept per block
CASES = ["english", "spanish", "code"]


def field(reader, key):
    f = reader.fields[key]
    value = f.parts[f.data[0]]
    return value.tobytes().decode() if f.types[0] == gguf.GGUFValueType.STRING else value[0]


def load(path):
    reader = gguf.GGUFReader(path)
    arch = field(reader, "general.architecture")
    cfg = {
        "dim": int(field(reader, f"{arch}.embedding_length")),
        "n_layer": int(field(reader, f"{arch}.block_count")),
        "n_head": int(field(reader, f"{arch}.attention.head_count")),
        "n_kv_head": int(field(reader, f"{arch}.attention.head_count_kv")),
        "eps": float(field(reader, f"{arch}.attention.layer_norm_rms_epsilon")),
        "theta": float(field(reader, f"{arch}.rope.freq_base")),
    }
    weights = {}
    for t in reader.tensors:
        w = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float64)
        # gguf lists shapes innermost first; NumPy wants (rows, cols).
        weights[t.name] = w.reshape([int(n) for n in reversed(t.shape)])
    return cfg, weights


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope(x, theta):
    """x: (seq, heads, head_dim); rotate each (2i, 2i+1) pair by position · θ^(−2i/head_dim)."""
    seq, _, hd = x.shape
    freqs = theta ** (-np.arange(0, hd, 2) / hd)  # (hd/2,)
    ang = np.arange(seq)[:, None] * freqs[None, :]  # (seq, hd/2)
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


def forward(cfg, w, ids):
    """Returns the residual after each block (n_layer, seq, dim) and attention (n_layer, n_head, seq, seq)."""
    dim, nh, nkv = cfg["dim"], cfg["n_head"], cfg["n_kv_head"]
    hd = dim // nh
    seq = len(ids)
    x = w["token_embd.weight"][ids]  # (seq, dim)
    mask = np.triu(np.full((seq, seq), -np.inf), k=1)
    residuals, attentions = [], []
    for l in range(cfg["n_layer"]):
        p = f"blk.{l}."
        h = rms_norm(x, w[p + "attn_norm.weight"], cfg["eps"])
        q = rope((h @ w[p + "attn_q.weight"].T).reshape(seq, nh, hd), cfg["theta"])
        k = rope((h @ w[p + "attn_k.weight"].T).reshape(seq, nkv, hd), cfg["theta"])
        v = (h @ w[p + "attn_v.weight"].T).reshape(seq, nkv, hd)
        group = nh // nkv
        k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)  # head h reads kv h // group
        scores = np.einsum("shd,thd->hst", q, k) / np.sqrt(hd) + mask  # (heads, seq, seq)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        a = scores / scores.sum(axis=-1, keepdims=True)
        attentions.append(a)
        out = np.einsum("hst,thd->shd", a, v).reshape(seq, dim)
        x = x + out @ w[p + "attn_output.weight"].T
        h = rms_norm(x, w[p + "ffn_norm.weight"], cfg["eps"])
        g = h @ w[p + "ffn_gate.weight"].T
        u = h @ w[p + "ffn_up.weight"].T
        x = x + (g / (1 + np.exp(-g)) * u) @ w[p + "ffn_down.weight"].T
        residuals.append(x.copy())
    return np.stack(residuals), np.stack(attentions)


def main():
    with open(MODEL, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    cfg, w = load(MODEL)
    head = w.get("output.weight", w["token_embd.weight"])
    logits_fx = json.load(open(os.path.join(FIXTURES, "smollm2_logits.json")))
    cases = []
    for case in logits_fx["cases"]:
        if case["name"] not in CASES:
            continue
        ids = case["ids"]
        residuals, attention = forward(cfg, w, ids)
        # The lens at the last position: (n_layer, vocab).
        z = rms_norm(residuals[:, -1], w["output_norm.weight"], cfg["eps"]) @ head.T
        final_top = [int(i) for i in np.argsort(-z[-1], kind="stable")[:TOP]]
        layers = []
        for zl in z:
            top = np.argsort(-zl, kind="stable")[:TOP]
            layers.append({
                "top": [{"id": int(i), "logit": float(zl[i])} for i in top],
                "log_sum_exp": float(np.log(np.sum(np.exp(zl - zl.max()))) + zl.max()),
                # This block's logits of the final top-10: how the answer forms.
                "final_top_logits": [float(zl[i]) for i in final_top],
            })
        cases.append({
            "name": case["name"],
            "prompt": case["prompt"],
            "ids": ids,
            "final_top": final_top,
            "layers": layers,
            # The last position's attention rows: (n_layer, n_head, seq).
            "attention": np.round(attention[:, :, -1, :], 7).tolist(),
        })
    out = {
        "generator": "scripts/inside_reference.py (NumPy float64 forward pass from gguf-py's dequantized weights)",
        "gguf_py": importlib.metadata.version("gguf"),
        "numpy": np.__version__,
        "model_sha256": sha,
        "cases": cases,
    }
    path = os.path.join(FIXTURES, "smollm2_inside.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {path}: {len(cases)} cases")


if __name__ == "__main__":
    main()
