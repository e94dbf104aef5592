#!/usr/bin/env bash
# The body of `./dev bench` (which sets up and builds dist/ first): the same prompt through
#   1. tokenmeter natively (candle on the CPU, 1 thread),
#   2. tokenmeter's worker wasm in headless Chromium (wasm SIMD, 1 thread): the build with relaxed
#      SIMD and the plain one; and the threaded build on all cores (what a cross-origin isolated
#      Chromium page gets),
#   3. llama.cpp through llama-cpp-python (1 thread, and all cores),
#   4. wllama (llama.cpp in wasm; npm @wllama/wllama) in the same Chromium (1 thread, all cores),
#   5. each weight format of the same model (native, llama.cpp, wasm; 1 thread),
# in one run, and prints their ratios. Raw results land in target/bench/*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
P=${BENCH_PROMPT_TOKENS:-64}
D=${BENCH_DECODE_TOKENS:-32}
R=${BENCH_RUNS:-3}
out=target/bench
mkdir -p "$out"

cargo build --quiet --release -p tokenmeter-cli
echo "native candle…" >&2
target/release/tokenmeter bench --backend cpu --threads 1 --prompt-tokens "$P" --decode-tokens "$D" --runs "$R" >"$out/native.json"
target/release/tokenmeter bench --backend cpu --threads "$(nproc)" --prompt-tokens "$P" --decode-tokens "$D" --runs "$R" >"$out/native-threads.json"
ids=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["prompt_ids"]))' "$out/native.json")
echo "llama.cpp…" >&2
.tools/pyref/bin/python scripts/bench_llama_cpp.py "$ids" "$D" "$R" 1 >"$out/llama_cpp.json"
N=$(nproc)
.tools/pyref/bin/python scripts/bench_llama_cpp.py "$ids" "$D" "$R" "$N" >"$out/llama_cpp-threads.json"
echo "wllama in Chromium…" >&2
# The same prompt as text (wllama tokenizes it itself; its prompt_n is reported beside ours).
target/release/tokenmeter decode --tokenizer smollm2 --ids "$ids" \
  | python3 -c 'import json,sys; sys.stdout.write(json.load(sys.stdin)["text"])' >"$out/prompt.txt"
(cd tests/e2e && node bench-wllama.mjs "$ROOT/$out/prompt.txt" "$D" "$R" 1) >"$out/wllama.json"
(cd tests/e2e && node bench-wllama.mjs "$ROOT/$out/prompt.txt" "$D" "$R" "$N") >"$out/wllama-threads.json"
echo "wasm in Chromium…" >&2
(cd tests/e2e && node bench.mjs "$P" "$D" "$R") >"$out/wasm.json"
(cd tests/e2e && node bench.mjs "$P" "$D" "$R" cpu plain) >"$out/wasm-plain.json"
(cd tests/e2e && node bench.mjs "$P" "$D" "$R" cpu "threads=$N") >"$out/wasm-threads.json"
# The GPU kernels, natively (Vulkan) and in Chromium (WebGPU). Without a GPU these run on software
# adapters (llvmpipe, SwiftShader), which take about a second per token: fewer tokens, one run.
GP=${BENCH_GPU_PROMPT_TOKENS:-32}
GD=${BENCH_GPU_DECODE_TOKENS:-4}
echo "GPU kernels natively (Vulkan)…" >&2
XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp} target/release/tokenmeter bench --backend webgpu --prompt-tokens "$GP" --decode-tokens "$GD" --runs 1 >"$out/gpu-native.json"
echo "GPU kernels in Chromium (WebGPU)…" >&2
(cd tests/e2e && node bench.mjs "$GP" "$GD" 1 webgpu) >"$out/gpu-wasm.json"
(cd tests/e2e && node bench.mjs "$GP" "$GD" 1 cpu) >"$out/gpu-wasm-cpu.json"
echo "embedded widget first paint…" >&2
(cd tests/e2e && node bench-embed.mjs) >"$out/embed.json"
echo "tokenizers…" >&2
# 1 MB of the parity corpus (mixed languages, code, emoji, whitespace), the same bytes everywhere.
python3 - "$out/mixed-1mb.txt" <<'PY'
import json, sys
corpus = json.load(open("data/parity/corpus.json", encoding="utf-8"))
out, size, i = [], 0, 0
while size < 1_000_000:
    s = corpus[i % len(corpus)]
    out.append(s)
    size += len(s.encode()) + 1
    i += 1
open(sys.argv[1], "w", encoding="utf-8").write("\n".join(out))
PY
target/release/tokenmeter bench-tokenizers --text-file "$out/mixed-1mb.txt" >"$out/tokenizers-native.json"
(cd tests/e2e && node bench-tokenizers.mjs) >"$out/tokenizers-wasm.json"
echo "weight formats (the shipped model requantized by llama.cpp, ./dev test's files)…" >&2
# Each format of the same model, 1 thread: tokenmeter natively, llama.cpp, and tokenmeter's wasm
# reading the file as "Use your own model" does.
for f in data/models/SmolLM2-135M-Instruct.Q4_1.gguf data/test/models/smollm2-{Q4_0,Q5_1,Q8_0,Q4_K_M}.gguf; do
  [ -f "$f" ] || { echo "missing $f: ./dev test makes it" >&2; exit 1; }
  name=$(basename "$f" .gguf)
  target/release/tokenmeter bench --model "$f" --backend cpu --threads 1 --prompt-tokens "$P" --decode-tokens "$D" --runs "$R" >"$out/format-$name-native.json"
  .tools/pyref/bin/python scripts/bench_llama_cpp.py "$ids" "$D" "$R" 1 "$ROOT/$f" >"$out/format-$name-llama.json"
  (cd tests/e2e && node bench-file.mjs "$ROOT/$f" "$P" "$D" "$R") >"$out/format-$name-wasm.json"
done
python3 scripts/bench_report.py "$out"
