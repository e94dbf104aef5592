#!/usr/bin/env python3
"""Prints the table and ratios of one `./dev bench` run from target/bench/*.json."""
import datetime
import json
import os
import platform
import sys

out = sys.argv[1]
load = lambda name: json.load(open(os.path.join(out, f"{name}.json")))
native, wasm, llama = load("native"), load("wasm"), load("llama_cpp")
plain = load("wasm-plain")
wllama, wllama_n, llama_n = load("wllama"), load("wllama-threads"), load("llama_cpp-threads")
native_n, wasm_n = load("native-threads"), load("wasm-threads")
r = native["result"]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())

print(f"tokenmeter bench · {datetime.date.today()} · {cpu} · SmolLM2-135M-Instruct Q4_1")
print(f"prompt {r['prompt_tokens']} tokens, then {r['decode_tokens']} greedy decode steps; medians of runs; 1 thread each\n")
print(f"{'backend':<58} {'prefill tok/s':>13} {'decode tok/s':>13} {'ms/token':>9}")
for b in (llama, native, wasm, plain, wllama):
    print(f"{b['backend']:<58} {b['prefill_tokens_per_s']:>13.1f} {b['decode_tokens_per_s']:>13.1f} "
          f"{1000 / b['decode_tokens_per_s']:>9.1f}")

ratio = lambda a, b, k: a[f"{k}_tokens_per_s"] / b[f"{k}_tokens_per_s"]
print("\nratios (tokens/s ÷ tokens/s, same run):")
for label, a, b in (("wasm ÷ native", wasm, native), ("native ÷ llama.cpp", native, llama),
                    ("wasm ÷ llama.cpp", wasm, llama), ("relaxed ÷ plain wasm", wasm, plain),
                    ("wasm ÷ wllama", wasm, wllama)):
    print(f"  {label:<20} decode {ratio(a, b, 'decode'):.3f}   prefill {ratio(a, b, 'prefill'):.3f}")
print(f"  (wllama tokenized the same text into {wllama['prompt_tokens']} tokens; ours {r['prompt_tokens']})")


def agree(a, b):
    """How many greedy steps two backends take before their first different token."""
    pairs = list(zip(a["result"]["generated"], b["result"]["generated"]))
    return next((i for i, (x, y) in enumerate(pairs) if x != y), len(pairs))
n = r["decode_tokens"]
print(f"\ngreedy decode identical for the first … of {n} steps: native vs llama.cpp {agree(native, llama)}, "
      f"wasm vs llama.cpp {agree(wasm, llama)}, native vs wasm {agree(native, wasm)}, "
      f"relaxed vs plain wasm {agree(wasm, plain)}")
print(f"\nall {llama_n['threads']} cores (same prompt):")
for b in (llama_n, native_n, wasm_n, wllama_n):
    label = f"{b['backend']}, {b['threads']} threads" if b is wasm_n else b["backend"]
    print(f"{label:<58} {b['prefill_tokens_per_s']:>13.1f} {b['decode_tokens_per_s']:>13.1f} "
          f"{1000 / b['decode_tokens_per_s']:>9.1f}")
for label, a, b in (("native threads ÷ llama.cpp", native_n, llama_n), ("native threads ÷ 1 thread", native_n, native),
                    ("wasm threads ÷ 1 thread", wasm_n, wasm), ("wasm threads ÷ native threads", wasm_n, native_n),
                    ("wasm threads ÷ wllama threads", wasm_n, wllama_n)):
    print(f"  {label:<30} decode {ratio(a, b, 'decode'):.3f}   prefill {ratio(a, b, 'prefill'):.3f}")
print(f"  greedy decode identical, wasm 1 thread vs {wasm_n['threads']}: {agree(wasm, wasm_n)} of {r['decode_tokens']} steps")
print(f"  greedy decode identical, native 1 thread vs {native_n['threads']}: {agree(native, native_n)} of {r['decode_tokens']} steps")
print()
w = wasm["wasm"]
kb = lambda s: f"{s['raw'] / 1024:.0f} KiB raw, {s['gzip'] / 1024:.0f} KiB gzip"
print(f".wasm size (after wasm-opt): page {kb(w['page'])}; light tokens worker {kb(w['tokens'])}; "
      f"model worker {kb(w['worker'])}, with relaxed SIMD {kb(w['worker_relaxed'])}, threaded {kb(w['worker_threads'])}")
print(f"wasm: model download + load in the worker {wasm['result']['download_and_load_ms']:.0f} ms (localhost); "
      f"warm start (model in Cache Storage) to first scores {wasm['result']['warm_start_to_first_scores_ms']:.0f} ms")
print(f"whole-vocabulary scoring per step (softmax, entropy, top-10, filters + draw, curve): "
      f"native {native['result']['scoring_ms']:.2f} ms, wasm {wasm['result']['scoring_ms']:.2f} ms")
decode_step = lambda b: b["result"]["decode_ms"] / b["result"]["decode_tokens"]
print(f"inside the model (logit lens + attention at the last token) per step, panel open: "
      f"native {native['result'].get('inside_ms', 0):.1f} ms (a decode step: {decode_step(native):.1f} ms), "
      f"wasm {wasm['result'].get('inside_ms', 0):.1f} ms (a decode step: {decode_step(wasm):.1f} ms)")

gn, gw, gc = load("gpu-native"), load("gpu-wasm"), load("gpu-wasm-cpu")
print(f"\nGPU kernels (prompt {gn['result']['prompt_tokens']} tokens, {gn['result']['decode_tokens']} decode steps, 1 run):")
print(f"{'backend':<80} {'prefill tok/s':>13} {'decode tok/s':>13}")
for b in (gn, gw, gc):
    name = b["backend"] + (f" · {b['engine']['adapter']['name']}" if b.get("engine", {}).get("adapter") and "WGSL kernels (wgpu)" in b["backend"] else "")
    print(f"{name[:80]:<80} {b['prefill_tokens_per_s']:>13.1f} {b['decode_tokens_per_s']:>13.1f}")
print(f"  WebGPU ÷ wasm SIMD in Chromium, same sizes: decode {ratio(gw, gc, 'decode'):.3f}   prefill {ratio(gw, gc, 'prefill'):.3f}")
print(f"  inside the model with the GPU engine (the CPU reads the whole text again): native {gn['result'].get('inside_ms', 0):.0f} ms, "
      f"WebGPU page {gw['result'].get('inside_ms', 0):.0f} ms")
soft = [b for b in (gn, gw) if "fallback" in json.dumps(b.get("engine") or b["result"].get("engine") or {})]
if soft:
    print("  (software adapters: these time a CPU emulating a GPU, not a GPU)")

em = load("embed")["median"]
print(f"\nembedded widget (?embed=tokens, fresh browser context, localhost): first token on screen after "
      f"{em['first_token_ms']:.0f} ms (median of 5), {em['bytes'] / 1e6:.1f} MB downloaded (uncompressed; no model)")

tn, tw = load("tokenizers-native"), load("tokenizers-wasm")
print(f"\ntokenizers: load the vocabulary, then encode {tn['bytes'] / 1e6:.2f} MB of mixed text (parity corpus); "
      "wasm: the page's light tokens worker")
print(f"{'tokenizer':<16} {'load native':>11} {'load wasm':>10} {'encode native':>14} {'encode wasm':>12} {'wasm÷native':>12} {'tokens':>8}")
for n, w in zip(tn["results"], tw["wasm"]):
    print(f"{n['tokenizer']:<16} {n['load_ms']:>9.0f}ms {w['load_ms']:>8.0f}ms {n['encode_ms']:>12.0f}ms "
          f"{w['encode_ms']:>10.0f}ms {n['encode_ms'] / w['encode_ms']:>12.2f} {w['tokens']:>8}")
o = next(w for w in tw["wasm"] if w["tokenizer"] == "o200k_base")
js = tw["js"]
print(f"o200k_base, same page: tokenmeter wasm {o['encode_ms']:.0f} ms vs gpt-tokenizer {js['encode_ms']:.0f} ms "
      f"(speed ratio {js['encode_ms'] / o['encode_ms']:.2f}; gpt-tokenizer counts {js['tokens']} tokens, tiktoken and "
      f"tokenmeter {o['tokens']})")

formats = sorted({f[len("format-"):-len("-native.json")] for f in os.listdir(out)
                  if f.startswith("format-") and f.endswith("-native.json")})
if formats:
    print("\nweight formats, the same model (SmolLM2-135M) requantized by llama.cpp; 1 thread each, tok/s:")
    print(f"{'file':<34} {'formats':<26} {'llama.cpp':>17} {'native':>17} {'wasm':>17} "
          f"{'native÷llama.cpp':>18} {'wasm÷native':>13}")
    for name in formats:
        n, l, w = (load(f"format-{name}-{k}") for k in ("native", "llama", "wasm"))
        pd = lambda b: f"{b['prefill_tokens_per_s']:.0f}/{b['decode_tokens_per_s']:.1f}"
        print(f"{name:<34} {w['formats']:<26} {pd(l):>17} {pd(n):>17} {pd(w):>17} "
              f"{ratio(n, l, 'prefill'):>8.2f}/{ratio(n, l, 'decode'):.2f} "
              f"{ratio(w, n, 'prefill'):>6.2f}/{ratio(w, n, 'decode'):.2f}")
    print("  (prefill/decode; ratios prefill/decode)")
