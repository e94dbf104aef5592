#!/usr/bin/env bash
# The whole GPU benchmark in one go, for a machine that has a GPU and nothing else: no network,
# no model file, no Rust toolchain, a small upload limit. It runs SmolLM2-135M's exact shapes and
# formats with seeded weights (`tokenmeter bench --synthetic`: the same work per token as the real
# model) on our WGSL kernels through Vulkan, and on the CPU path beside them, and prints
# prefill / decode tok/s and the cost of the "Inside the model" panel.
#
#   scripts/gpu_bench.sh --pack   here: build the release CLI and copy the Vulkan loader into
#                                 .tools/vulkan/ (prints what to carry, about 25 MB)
#   scripts/gpu_bench.sh          there: run it all (P, D, R, LONG override the sizes)
#
# What travels (e.g. the `device` tool's `carry`): target/release/tokenmeter,
# data/tokenizers/smollm2.json, .tools/vulkan. The GPU machine brings its own driver (its Vulkan
# ICD, e.g. /usr/share/vulkan/icd.d/nvidia_icd.json); without one, wgpu finds no adapter and the
# run says so instead of timing the CPU as if it were the GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/tokenmeter

if [ "${1:-}" = "--pack" ]; then
  cargo build --release -p tokenmeter-cli
  loader=$(ldconfig -p | awk '/libvulkan\.so\.1 /{print $NF; exit}')
  [ -n "$loader" ] || { echo "no libvulkan.so.1 here (apt install libvulkan1)" >&2; exit 1; }
  mkdir -p .tools/vulkan
  cp -L "$loader" .tools/vulkan/libvulkan.so.1
  du -ch "$bin" data/tokenizers/smollm2.json .tools/vulkan/libvulkan.so.1
  echo 'carry: ["target/release/tokenmeter", "data/tokenizers/smollm2.json", ".tools/vulkan"]'
  exit 0
fi

for f in "$bin" data/tokenizers/smollm2.json; do
  [ -e "$f" ] || { echo "missing $f: run scripts/gpu_bench.sh --pack where the repository is built" >&2; exit 1; }
done
export LD_LIBRARY_PATH="$PWD/.tools/vulkan${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
export TOKENMETER_DATA="$PWD/data"
P=${P:-64}; D=${D:-32}; R=${R:-3}; LONG=${LONG:-512}
out=${OUT:-target/gpu-bench}
mkdir -p "$out"

echo "GPU: $P-token prompt, $D decode steps, $R runs…" >&2
"$bin" bench --synthetic --backend webgpu --prompt-tokens "$P" --decode-tokens "$D" --runs "$R" >"$out/gpu.json"
echo "GPU: a $LONG-token prompt…" >&2
"$bin" bench --synthetic --backend webgpu --prompt-tokens "$LONG" --decode-tokens "$D" --runs "$R" >"$out/gpu-long.json"
echo "CPU path, 1 thread, the same sizes…" >&2
"$bin" bench --synthetic --backend cpu --threads 1 --prompt-tokens "$P" --decode-tokens "$D" --runs "$R" >"$out/cpu.json"

# A small report without python or jq: the numbers are plain JSON fields.
field() { grep -oE "\"$2\":(\"[^\"]*\"|[^,}]*)" "$1" | head -1 | cut -d: -f2- | tr -d '"'; }
row() {
  printf '%-52s %10.1f %10.1f %12.1f\n' "$2" "$(field "$1" prefill_tokens_per_s)" \
    "$(field "$1" decode_tokens_per_s)" "$(field "$1" inside_ms)"
}
echo
echo "adapter: $(field "$out/gpu.json" name) ($(field "$out/gpu.json" api)); engine: $(field "$out/gpu.json" kind)"
if [ "$(field "$out/gpu.json" kind)" != "webgpu" ]; then
  echo "NO GPU ADAPTER WAS USED: $(field "$out/gpu.json" reason)" >&2
fi
printf '%-52s %10s %10s %12s\n' "synthetic SmolLM2-135M shapes" "prefill/s" "decode/s" "inside ms"
row "$out/gpu.json" "WGSL kernels, $P-token prompt"
row "$out/gpu-long.json" "WGSL kernels, $LONG-token prompt"
row "$out/cpu.json" "CPU path (1 thread), $P-token prompt"
echo "raw JSON: $out/" >&2
