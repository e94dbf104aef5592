#!/usr/bin/env bash
# The whole GPU benchmark in one go, for a machine that has a GPU and nothing else: no network,
# no model file, no Rust toolchain, a small upload limit. It runs SmolLM2-135M's exact shapes and
# formats with seeded weights (`tokenmeter bench --synthetic`: the same work per token as the real
# model) on our WGSL kernels through Vulkan, and on the CPU path beside them, and prints
# prefill / decode tok/s, the cost of the "Inside the model" panel, and where the GPU's time goes
# kernel by kernel (`bench --profile`: timestamps between dispatches).
#
#   scripts/gpu_bench.sh --pack   here: build the release CLI and copy the Vulkan loader into
#                                 .tools/vulkan/ (prints what to carry, about 25 MB)
#   scripts/gpu_bench.sh          there: run it all (P, D, R, LONG override the sizes)
#
# What travels (e.g. the `device` tool's `carry`): target/release/tokenmeter,
# data/tokenizers/smollm2.json, .tools/vulkan (the Vulkan loader and glvnd's Debian packages,
# about 1 MB). The GPU machine brings its own driver (its Vulkan ICD, e.g.
# /usr/share/vulkan/icd.d/nvidia_icd.json); without one, wgpu finds no adapter, and the run says
# so (with the loader's own account in vulkan-loader.log) instead of timing the CPU as if it
# were the GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/tokenmeter

if [ "${1:-}" = "--pack" ]; then
  cargo build --release -p tokenmeter-cli
  loader=$(ldconfig -p | awk '/libvulkan\.so\.1 /{print $NF; exit}')
  [ -n "$loader" ] || { echo "no libvulkan.so.1 here (apt install libvulkan1)" >&2; exit 1; }
  mkdir -p .tools/vulkan/debs
  cp -L "$loader" .tools/vulkan/libvulkan.so.1
  # NVIDIA's Vulkan driver is its GLX library, which needs glvnd's libraries beside it; a
  # container given only the driver lacks them. Debian's packages, unpacked there (below).
  (cd .tools/vulkan/debs && apt-get download libglvnd0 libgl1 libglx0 libegl1 libgles2 libopengl0) ||
    { echo "apt-get download failed (apt-get update first?)" >&2; exit 1; }
  du -ch "$bin" data/tokenizers/smollm2.json .tools/vulkan
  echo 'carry: ["target/release/tokenmeter", "data/tokenizers/smollm2.json", ".tools/vulkan"]'
  exit 0
fi

for f in "$bin" data/tokenizers/smollm2.json; do
  [ -e "$f" ] || { echo "missing $f: run scripts/gpu_bench.sh --pack where the repository is built" >&2; exit 1; }
done
export LD_LIBRARY_PATH="$PWD/.tools/vulkan${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# glvnd's libraries (--pack), unpacked beside the loader rather than into the system.
if ls .tools/vulkan/debs/*.deb >/dev/null 2>&1; then
  for f in .tools/vulkan/debs/*.deb; do dpkg -x "$f" .tools/vulkan/root; done
  export LD_LIBRARY_PATH="$PWD/.tools/vulkan/root/usr/lib/x86_64-linux-gnu:$LD_LIBRARY_PATH"
fi
# A driver mounted outside the loader's search path (as on containers given an NVIDIA GPU):
# name its manifest, and put its libraries on the path.
nv=/usr/local/nvidia
if ! ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json >/dev/null 2>&1 &&
  [ -e "$nv/share/vulkan/icd.d/nvidia_icd.json" ]; then
  export VK_DRIVER_FILES="$nv/share/vulkan/icd.d/nvidia_icd.json"
  export VK_ICD_FILENAMES="$VK_DRIVER_FILES"
  export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$nv/lib64:$nv/lib"
fi
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
export TOKENMETER_DATA="$PWD/data"
P=${P:-64}; D=${D:-32}; R=${R:-3}; LONG=${LONG:-512}
out=${OUT:-target/gpu-bench}
mkdir -p "$out"

echo "GPU: $P-token prompt, $D decode steps, $R runs…" >&2
"$bin" bench --synthetic --backend webgpu --prompt-tokens "$P" --decode-tokens "$D" --runs "$R" >"$out/gpu.json"
if ! grep -q '"kind":"webgpu"' "$out/gpu.json"; then
  echo "no GPU adapter: the Vulkan loader's account of its search is in $out/vulkan-loader.log" >&2
  VK_LOADER_DEBUG=error,warn,info "$bin" bench --synthetic --backend webgpu --blocks 1 \
    --prompt-tokens 1 --decode-tokens 1 --runs 1 >/dev/null 2>"$out/vulkan-loader.log" || true
fi
echo "GPU: every dispatch of a ${P}-token prefill step and a decode step timed…" >&2
"$bin" bench --synthetic --backend webgpu --prompt-tokens "$P" --decode-tokens 1 --runs "$R" \
  --profile >"$out/gpu-profile.json" || echo "(no profile)" >&2
echo "GPU: a $LONG-token prompt…" >&2
"$bin" bench --synthetic --backend webgpu --prompt-tokens "$LONG" --decode-tokens "$D" --runs "$R" >"$out/gpu-long.json"
echo "CPU path, 1 thread, the same sizes…" >&2
"$bin" bench --synthetic --backend cpu --threads 1 --prompt-tokens "$P" --decode-tokens "$D" --runs "$R" >"$out/cpu.json"
cores=$(nproc)
echo "CPU path, $cores threads…" >&2
"$bin" bench --synthetic --backend cpu --threads "$cores" --prompt-tokens "$P" --decode-tokens "$D" --runs "$R" >"$out/cpu-all.json"

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
row "$out/cpu-all.json" "CPU path ($cores threads), $P-token prompt"
# Where the GPU's time goes (bench --profile), if there is a python to read the JSON with.
if command -v python3 >/dev/null && [ -s "$out/gpu-profile.json" ]; then
  python3 - "$out/gpu-profile.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["gpu_profile"]
for step in ("prefill", "decode"):
    s = p[step]
    print(f"\n{step}: {s['tokens']} tokens at position {s['position']}, {s['dispatches']} dispatches: "
          f"GPU {s['gpu_ms']:.3f} ms, host {s['wall_ms']:.3f} ms")
    for k in s["kernels"]:
        print(f"  {k['name']:<18} {k['dispatches']:>4} × {k['us'] / k['dispatches']:9.2f} µs = {k['us']:10.1f} µs")
PY
fi
echo "raw JSON: $out/" >&2
