#!/usr/bin/env python3
"""llama.cpp's side of `./dev bench`: the same prompt IDs, prefill then greedy decode, one thread.

Usage: bench_llama_cpp.py PROMPT_IDS_JSON DECODE_TOKENS RUNS THREADS  →  JSON on stdout
(times are medians over RUNS, like `tokenmeter bench`).
"""
import json
import os
import statistics
import sys
import time

import numpy as np
import llama_cpp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "data/models/SmolLM2-135M-Instruct.Q4_1.gguf")


def main():
    prompt = json.loads(sys.argv[1])
    decode_tokens, runs, threads = (int(a) for a in sys.argv[2:5])
    model = sys.argv[5] if len(sys.argv) > 5 else MODEL  # another weight format of the model
    llm = llama_cpp.Llama(
        model_path=model, n_ctx=512, n_batch=512, n_ubatch=512, n_threads=threads,
        n_threads_batch=threads, flash_attn=False, logits_all=False, verbose=False,
    )
    n_vocab = llm.n_vocab()

    def last_argmax():
        ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        return int(np.ctypeslib.as_array(ptr, shape=(n_vocab,)).argmax())

    prefill, decode, generated = [], [], []
    for _ in range(runs):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt)
        nxt = last_argmax()
        prefill.append((time.perf_counter() - t0) * 1e3)
        generated = []
        t1 = time.perf_counter()
        for _ in range(decode_tokens):
            generated.append(nxt)
            llm.eval([nxt])
            nxt = last_argmax()
        decode.append((time.perf_counter() - t1) * 1e3)
    prefill_ms, decode_ms = statistics.median(prefill), statistics.median(decode)
    json.dump({
        "backend": f"llama.cpp (llama-cpp-python {llama_cpp.__version__}), {threads} thread{'' if threads == 1 else 's'}",
        "threads": threads,
        "prefill_tokens_per_s": len(prompt) / (prefill_ms / 1e3),
        "decode_tokens_per_s": decode_tokens / (decode_ms / 1e3),
        "result": {"prompt_tokens": len(prompt), "decode_tokens": decode_tokens,
                   "prefill_ms": prefill_ms, "decode_ms": decode_ms, "generated": generated},
    }, sys.stdout)


if __name__ == "__main__":
    main()
