// RMSNorm (Zhang & Sennrich 2019), one workgroup per row: y = x / sqrt(mean(x²) + ε) ⊙ w.
// (In a one-token step the blocks' norms are folded into the products after them instead:
// matmul.wgsl.)

@group(0) @binding(1) var<storage, read> x: array<f32>;         // (seq, dim)
@group(0) @binding(2) var<storage, read> weight: array<f32>;    // (dim,)
@group(0) @binding(3) var<storage, read_write> y: array<f32>;   // (rows, dim)

var<workgroup> partial: array<f32, WG>;

fn norm_row(src: u32, dst: u32, lid: u32) {
    let n = dims.dim;
    var sum_sq = 0.0;
    for (var c = lid; c < n; c += WG) {
        let v = x[src * n + c];
        sum_sq += v * v;
    }
    // Tree reduction of the 64 partial sums.
    partial[lid] = sum_sq;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) { partial[lid] += partial[lid + s]; }
        workgroupBarrier();
    }
    let scale = inverseSqrt(partial[0] / f32(n) + dims.rms_eps);
    for (var c = lid; c < n; c += WG) {
        y[dst * n + c] = x[src * n + c] * scale * weight[c];
    }
}

// Every row of the step: (seq) workgroups.
@compute @workgroup_size(64)
fn rms_norm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    norm_row(wg.x, wg.x, lid);
}

// The final norm, only for the rows whose logits are wanted: (out_rows) workgroups.
@compute @workgroup_size(64)
fn final_norm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    norm_row(dims.out_row0 + wg.x, wg.x, lid);
}
