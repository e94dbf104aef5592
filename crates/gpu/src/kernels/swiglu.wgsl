// The gate of SwiGLU (Shazeer 2020): gate = silu(gate) ⊙ up, silu(g) = g · σ(g).
// One thread per value: (seq · ffn_dim) threads.

@group(0) @binding(1) var<storage, read_write> gate: array<f32>;  // (seq, ffn_dim)
@group(0) @binding(2) var<storage, read> up: array<f32>;          // (seq, ffn_dim)

@compute @workgroup_size(64)
fn swiglu(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= dims.seq * dims.ffn_dim) { return; }
    let g = gate[i];
    gate[i] = g / (1.0 + exp(-g)) * up[i];
}
