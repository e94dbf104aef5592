#!/usr/bin/env python3
"""Reference outputs from llama.cpp (through llama-cpp-python), committed as test fixtures.

Run by `./dev reference` (which builds llama-cpp-python from PyPI's source archive into
.tools/pyref). Writes:

  tests/fixtures/smollm2_tokens.json  llama.cpp's token IDs for a corpus of texts
  tests/fixtures/smollm2_logits.json  llama.cpp's next-token logits for a few prompts

The tokenizer is called the way tokenmeter calls its own: special tokens in the text are
recognised (parse_special), nothing is added (no BOS). Logits come from one evaluation of the
whole prompt on one thread, float32 output, read for the last position only.
"""
import hashlib
import json
import math
import os
import sys

import numpy as np
import llama_cpp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "data/models/SmolLM2-135M-Instruct.Q4_1.gguf")
FIXTURES = os.path.join(ROOT, "tests/fixtures")

# Texts chosen to exercise the pre-tokenizer (digits split one by one, GPT-2 regex, whitespace
# runs), multi-byte UTF-8 (Chinese, emoji with ZWJ and skin tones, flags, combining marks) and
# special tokens written in the text.
TOKEN_TEXTS = [
    "",
    " ",
    "  ",
    "\t",
    "\n",
    "\n\n\n",
    "Hello world",
    " Hello world",
    "Hello, world!",
    "The capital of France is",
    "Un token es la unidad mínima de texto que procesa un modelo.",
    "¿Dónde está la biblioteca? ¡Aquí!",
    "El niño comió pingüino en el año 2024.",
    "一个词元是模型处理的最小文本单位。",
    "你好，世界！",
    "日本語のテキストも試します。",
    "Привет, мир!",
    "مرحبا بالعالم",
    "नमस्ते दुनिया",
    "안녕하세요 세계",
    "emoji 👋🏽 family 👨‍👩‍👧‍👦 flag 🇪🇸🇨🇳 heart ❤️",
    "café vs cafe\u0301 (combining acute)",
    "zero\u200bwidth\u200djoiner\ufeffbom",
    "1234567890",
    "3.14159 2,000,000 1e-9 0x1F",
    "Phone: +34 600 123 456",
    "  leading spaces",
    "trailing spaces   ",
    "many     inner      spaces",
    "tabs\tand\t\ttabs",
    "line1\nline2\r\nline3",
    "def f(x):\n    return x ** 2\n\n\nclass A:\n\tpass\n",
    "fn main() {\n        println!(\"{}\", 1 + 2);\n}",
    "    deeply\n        indented\n            code\n",
    "<|im_start|>user\nHola<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>hi <|endoftext|> x",
    "text<|im_end|>more",
    "<|im_start",
    "I'm sure you'll see they've done it, 'twas he'd",
    "HELLO'S WORLD'LL",
    "supercalifragilisticexpialidocious" * 3,
    "a" * 200,
    " " * 50 + "x",
    "\n" * 30,
    "!!!???...,,,;;;",
    "email@example.com https://example.org/path?q=1&r=2#frag",
    "∑∫∂√∞≈≠≤≥ αβγδ",
    "\u00a0non\u00a0breaking\u2003em\u3000ideographic",
    "mixed中文and English混合text",
    "Ünïcödé façade naïve coöperate",
]

LOGIT_PROMPTS = [
    ("english", "The capital of France is"),
    ("spanish", "La capital de España es"),
    ("chat", "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"),
    ("code", "def fibonacci(n):\n    if n < 2:\n        return n\n    return"),
]

TOP = 40
STRIDE_IDS = list(range(17, 49152, 1229))  # 40 fixed IDs spread over the vocabulary


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tokenize(llm, text):
    return llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)


def main():
    model_sha = sha256(MODEL)
    meta = {
        "generator": "scripts/reference.py",
        "llama_cpp_python": llama_cpp.__version__,
        "model": os.path.basename(MODEL),
        "model_sha256": model_sha,
    }
    vocab = llama_cpp.Llama(model_path=MODEL, vocab_only=True, verbose=False)
    tokens = [{"text": t, "ids": tokenize(vocab, t)} for t in TOKEN_TEXTS]
    with open(os.path.join(FIXTURES, "smollm2_tokens.json"), "w", encoding="utf-8") as f:
        json.dump({**meta, "cases": tokens}, f, ensure_ascii=False, indent=1)
    del vocab

    llm = llama_cpp.Llama(
        model_path=MODEL, n_ctx=512, n_batch=512, n_ubatch=512, n_threads=1, n_threads_batch=1,
        flash_attn=False, logits_all=False, verbose=False,
    )
    cases = []
    for name, prompt in LOGIT_PROMPTS:
        ids = tokenize(llm, prompt)
        llm.reset()
        llm.eval(ids)
        ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        logits = np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).astype(np.float64).copy()
        m = logits.max()
        lse = m + math.log(np.exp(logits - m).sum())
        p = np.exp(logits - lse)
        entropy = float(-(p * (logits - lse)).sum())
        order = sorted(range(len(logits)), key=lambda i: (-logits[i], i))[:TOP]
        cases.append({
            "name": name,
            "prompt": prompt,
            "ids": ids,
            "top": [{"id": i, "logit": float(logits[i])} for i in order],
            "sampled": [{"id": i, "logit": float(logits[i])} for i in STRIDE_IDS],
            "log_sum_exp": lse,
            "entropy_nats": entropy,
        })
    with open(os.path.join(FIXTURES, "smollm2_logits.json"), "w", encoding="utf-8") as f:
        json.dump({**meta, "threads": 1, "cases": cases}, f, ensure_ascii=False, indent=1)
    print(f"wrote {len(tokens)} token cases and {len(cases)} logit cases", file=sys.stderr)


if __name__ == "__main__":
    main()
