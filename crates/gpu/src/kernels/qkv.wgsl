// What some architectures do to the query, key and value projections before RoPE:
//   add_bias   (Qwen2)  y[t, c] += b[c]                      one thread per value
//   head_norm  (Qwen3)  each head of y RMS-normalised by w:  one workgroup per (token, head)
//                       y_h = y_h / sqrt(mean(y_h²) + ε) ⊙ w   (w of head_dim values)

@group(0) @binding(1) var<storage, read_write> y: array<f32>;   // (seq, heads · head_dim)
@group(0) @binding(2) var<storage, read> b: array<f32>;         // bias (heads · head_dim,) or norm weight (head_dim,)

@compute @workgroup_size(64)
fn add_bias(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = arrayLength(&b);
    if (gid.x >= dims.seq * n) { return; }
    y[gid.x] += b[gid.x % n];
}

var<workgroup> partial: array<f32, WG>;

// Workgroup x: head (of groups.x per token); y: token.
@compute @workgroup_size(64)
fn head_norm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let n = dims.head_dim;
    let start = (wg.y * groups.x + wg.x) * n;
    var sum_sq = 0.0;
    for (var c = lid; c < n; c += WG) {
        let v = y[start + c];
        sum_sq += v * v;
    }
    partial[lid] = sum_sq;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) { partial[lid] += partial[lid + s]; }
        workgroupBarrier();
    }
    let scale = inverseSqrt(partial[0] / f32(n) + dims.rms_eps);
    for (var c = lid; c < n; c += WG) {
        y[start + c] = y[start + c] * scale * b[c];
    }
}
