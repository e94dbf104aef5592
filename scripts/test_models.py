#!/usr/bin/env python3
"""Test models for "your own model", and llama.cpp's outputs on them.

Run by `./dev test` (after building llama-cpp-python from PyPI's source archive into
.tools/pyref). Nothing it writes is committed; it writes into data/test/models/:

  smollm2-<FORMAT>.gguf   the shipped SmolLM2 GGUF requantized by llama.cpp's own quantizer
                          (llama_model_quantize, allow_requantize) into other formats;
  <arch>-<FORMAT>.gguf    small models of each architecture difference, written with PyPI
                          `gguf` from seeded NumPy weights (F32), then quantized the same way:
                          llama with an untied output, Llama 3 RoPE factors, linear RoPE scaling
                          and the llama-bpe pre-tokenizer; qwen2 (Q/K/V biases, qwen2
                          pre-tokenizer); qwen3 (per-head Q/K norm, heads wider than dim/n_head);
  reference.json          for each file: llama.cpp's token IDs of the corpus (for each
                          pre-tokenizer), next-token logits for three prompts, and 32 greedy steps
                          with the margin between llama.cpp's first and second choice at each;
                          and llama.cpp's token IDs of the corpus with its own vocabulary test
                          files (data/vendor/llama.cpp-vocab: Llama 2's SentencePiece, Llama 3's
                          and Qwen2's BPE, from the llama-cpp-python sdist; `./dev` fetches them).

Everything is deterministic (seeded weights, llama.cpp's quantizer, one thread); the file is
rewritten only when this script or the shipped model changes (a stamp of both is kept).
"""
import base64
import hashlib
import json
import os
import sys

import numpy as np
import gguf
import llama_cpp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import TOKEN_TEXTS, sha256  # noqa: E402  (the corpus the shipped tokenizer is held to)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = os.path.join(ROOT, "data/models/SmolLM2-135M-Instruct.Q4_1.gguf")
OUT = os.path.join(ROOT, "data/test/models")

F = llama_cpp
# The shipped model in other formats (its 576-wide rows are not whole K-quant super-blocks, so in
# the K formats llama.cpp falls back to Q5_0/Q5_1/Q8_0 for most tensors: a mixed-format file).
SMOLLM2_FORMATS = [
    ("Q4_0", F.LLAMA_FTYPE_MOSTLY_Q4_0),
    ("Q5_1", F.LLAMA_FTYPE_MOSTLY_Q5_1),
    ("Q8_0", F.LLAMA_FTYPE_MOSTLY_Q8_0),
    ("Q4_K_M", F.LLAMA_FTYPE_MOSTLY_Q4_K_M),
]
# The small models in formats whose rows are whole super-blocks (every width a multiple of 256).
SYNTHETIC_FORMATS = {
    "llama": [("F32", None), ("Q4_K_M", F.LLAMA_FTYPE_MOSTLY_Q4_K_M), ("Q6_K", F.LLAMA_FTYPE_MOSTLY_Q6_K),
              ("BF16", F.LLAMA_FTYPE_MOSTLY_BF16)],
    "qwen2": [("F32", None), ("Q5_K_M", F.LLAMA_FTYPE_MOSTLY_Q5_K_M), ("Q5_0", F.LLAMA_FTYPE_MOSTLY_Q5_0),
              ("F16", F.LLAMA_FTYPE_MOSTLY_F16)],
    "qwen3": [("F32", None), ("Q4_K_M", F.LLAMA_FTYPE_MOSTLY_Q4_K_M), ("Q4_1", F.LLAMA_FTYPE_MOSTLY_Q4_1)],
}

VOCABS = os.path.join(ROOT, "data/vendor/llama.cpp-vocab")
VOCAB_FILES = ["ggml-vocab-llama-spm.gguf", "ggml-vocab-llama-bpe.gguf", "ggml-vocab-qwen2.gguf"]
# SentencePiece's corners: the space it prefixes to a text and after each special token, runs of
# spaces, characters missing from the vocabulary (byte fallback), special tokens in the text.
SPM_TEXTS = [
    "Hello", " Hello", "  Hello", "Hello  world", "\n\nHello\n", "<s>Hello</s>", "a<s>b", "<s> <s>",
    "ﬁ ligature and 𝓯𝓪𝓷𝓬𝔂 letters", "tab\tand\u00a0nbsp", "▁ already a metaspace", "<unk>",
]

PROMPTS = [
    "The capital of France is",
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return",
]
GREEDY_STEPS = 32


def stamp():
    h = hashlib.sha256()
    with open(os.path.abspath(__file__), "rb") as f:
        h.update(f.read())
    h.update(sha256(SHIPPED).encode())
    h.update(llama_cpp.__version__.encode())
    for name in VOCAB_FILES:
        h.update(sha256(os.path.join(VOCABS, name)).encode())
    return h.hexdigest()


def quantize(src, dst, ftype):
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.allow_requantize = True
    params.nthread = 1
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), params)
    if rc != 0:
        raise SystemExit(f"llama_model_quantize {dst}: {rc}")


def shipped_tokenizer():
    """SmolLM2's vocabulary, types and merges, for the small models (with another `pre`)."""
    r = gguf.GGUFReader(SHIPPED)
    f = r.fields
    tokens = [bytes(f["tokenizer.ggml.tokens"].parts[i]).decode("utf-8") for i in f["tokenizer.ggml.tokens"].data]
    types = [int(f["tokenizer.ggml.token_type"].parts[i][0]) for i in f["tokenizer.ggml.token_type"].data]
    merges = [bytes(f["tokenizer.ggml.merges"].parts[i]).decode("utf-8") for i in f["tokenizer.ggml.merges"].data]
    return tokens, types, merges


def write_synthetic(arch, path, vocab, seed, declared=None):
    """A two-block model of `arch` with seeded weights: widths 256, FFN 768, 4 query heads of 64
    (qwen3: 8 heads of 64, so q_dim = 512 > dim), 2 key/value heads."""
    tokens, types, merges = vocab
    rng = np.random.default_rng(seed)
    dim, ffn, n_layer, n_kv = 256, 768, 2, 2
    n_head, head_dim = (8, 64) if arch == "qwen3" else (4, 64)
    q_dim, kv_dim, n_vocab = n_head * head_dim, n_kv * head_dim, len(tokens)

    def normal(*shape, scale):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w = gguf.GGUFWriter(path, declared or arch)
    w.add_name(f"tokenmeter test {arch}")
    w.add_block_count(n_layer)
    w.add_context_length(4096)
    w.add_embedding_length(dim)
    w.add_feed_forward_length(ffn)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    if arch == "qwen3":
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    if arch == "llama":
        w.add_rope_dimension_count(head_dim)
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(2.0)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("llama-bpe" if arch == "llama" else "qwen2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(False)

    # Logits ≈ |RMSNorm(x)|·|row| ≈ 16 × scale: rows of 0.3 give peaked but not one-hot
    # distributions (entropies of 1–4 nats), so greedy steps have real runners-up.
    w.add_tensor("token_embd.weight", normal(n_vocab, dim, scale=1.0 if arch == "llama" else 0.3))
    w.add_tensor("output_norm.weight", (1.0 + normal(dim, scale=0.1)))
    if arch == "llama":
        # An untied output projection and Llama 3's per-frequency RoPE divisors.
        w.add_tensor("output.weight", normal(n_vocab, dim, scale=0.4))
        w.add_tensor("rope_freqs.weight", np.linspace(1.0, 8.0, head_dim // 2, dtype=np.float32))
    for i in range(n_layer):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", 1.0 + normal(dim, scale=0.1))
        w.add_tensor(p + "attn_q.weight", normal(q_dim, dim, scale=dim ** -0.5))
        w.add_tensor(p + "attn_k.weight", normal(kv_dim, dim, scale=dim ** -0.5))
        w.add_tensor(p + "attn_v.weight", normal(kv_dim, dim, scale=dim ** -0.5))
        w.add_tensor(p + "attn_output.weight", normal(dim, q_dim, scale=q_dim ** -0.5))
        w.add_tensor(p + "ffn_norm.weight", 1.0 + normal(dim, scale=0.1))
        w.add_tensor(p + "ffn_gate.weight", normal(ffn, dim, scale=dim ** -0.5))
        w.add_tensor(p + "ffn_up.weight", normal(ffn, dim, scale=dim ** -0.5))
        w.add_tensor(p + "ffn_down.weight", normal(dim, ffn, scale=ffn ** -0.5))
        if arch == "qwen2":
            w.add_tensor(p + "attn_q.bias", normal(q_dim, scale=0.5))
            w.add_tensor(p + "attn_k.bias", normal(kv_dim, scale=0.5))
            w.add_tensor(p + "attn_v.bias", normal(kv_dim, scale=0.5))
        if arch == "qwen3":
            w.add_tensor(p + "attn_q_norm.weight", 1.0 + normal(head_dim, scale=0.2))
            w.add_tensor(p + "attn_k_norm.weight", 1.0 + normal(head_dim, scale=0.2))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def tokenize(llm, text):
    return llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)


def last_logits(llm):
    ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).astype(np.float32).copy()


def reference(path, with_tokens):
    entry = {"file": os.path.basename(path), "sha256": sha256(path)}
    if with_tokens:
        vocab = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        entry["tokens"] = [{"text": t, "ids": tokenize(vocab, t)} for t in TOKEN_TEXTS]
        del vocab
    llm = llama_cpp.Llama(
        model_path=path, n_ctx=256, n_batch=256, n_ubatch=256, n_threads=1, n_threads_batch=1,
        flash_attn=False, logits_all=False, verbose=False,
    )
    prompts = []
    for prompt in PROMPTS:
        ids = tokenize(llm, prompt)
        llm.reset()
        llm.eval(ids)
        logits = last_logits(llm)
        greedy = []
        step = logits
        for _ in range(GREEDY_STEPS):
            order = np.argsort(-step, kind="stable")
            greedy.append({"id": int(order[0]), "margin": float(step[order[0]] - step[order[1]])})
            llm.eval([int(order[0])])
            step = last_logits(llm)
        prompts.append({
            "prompt": prompt,
            "ids": ids,
            "logits_f32_le": base64.b64encode(logits.astype("<f4").tobytes()).decode(),
            "greedy": greedy,
        })
    del llm
    entry["prompts"] = prompts
    return entry


def main():
    os.makedirs(OUT, exist_ok=True)
    out_json = os.path.join(OUT, "reference.json")
    want = stamp()
    try:
        with open(out_json, encoding="utf-8") as f:
            if json.load(f).get("stamp") == want:
                print("test models: up to date", file=sys.stderr)
                return
    except (OSError, ValueError):
        pass

    entries = []
    for name, ftype in SMOLLM2_FORMATS:
        path = os.path.join(OUT, f"smollm2-{name}.gguf")
        quantize(SHIPPED, path, ftype)
        entries.append(reference(path, with_tokens=False))
        print(f"test models: {os.path.basename(path)}", file=sys.stderr)
    vocab = shipped_tokenizer()
    for seed, (arch, formats) in enumerate(SYNTHETIC_FORMATS.items()):
        base = os.path.join(OUT, f"{arch}-F32.gguf")
        write_synthetic(arch, base, vocab, seed=1000 + seed)
        for name, ftype in formats:
            path = os.path.join(OUT, f"{arch}-{name}.gguf")
            if ftype is not None:
                quantize(base, path, ftype)
            # The tokenizer is the same in every format of one architecture: once is enough.
            entries.append(reference(path, with_tokens=name == "F32"))
            print(f"test models: {os.path.basename(path)}", file=sys.stderr)
    # Files tokenmeter must refuse, with a message naming why: a format it does not read (Q2_K,
    # Q3_K) and an architecture it does not run (Gemma keys on a Llama body).
    quantize(os.path.join(OUT, "llama-F32.gguf"), os.path.join(OUT, "refused-Q2_K.gguf"),
             F.LLAMA_FTYPE_MOSTLY_Q2_K)
    write_synthetic("llama", os.path.join(OUT, "refused-gemma.gguf"), vocab, seed=7, declared="gemma")
    vocabularies = []
    for name in VOCAB_FILES:
        vocab = llama_cpp.Llama(model_path=os.path.join(VOCABS, name), vocab_only=True, verbose=False)
        texts = TOKEN_TEXTS + SPM_TEXTS
        vocabularies.append({"file": name, "tokens": [{"text": t, "ids": tokenize(vocab, t)} for t in texts]})
        del vocab
        print(f"test models: the token IDs of {name}", file=sys.stderr)
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump({
            "generator": "scripts/test_models.py",
            "llama_cpp_python": llama_cpp.__version__,
            "stamp": want,
            "models": entries,
            "vocabularies": vocabularies,
        }, f, ensure_ascii=False)
    print(f"test models: wrote {len(entries)} models and their references", file=sys.stderr)


if __name__ == "__main__":
    main()
