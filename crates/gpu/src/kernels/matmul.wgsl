// Quantized matrix product: y[t, r] = Σ_c W[r, c] · x[t, c], or y += … (residual connections).
//
// One workgroup per output row r and tile of up to TILE tokens, so each weight is read from
// memory once per tile: at batch 1 (decode) this is a matrix-vector product whose speed is the
// memory bandwidth — the whole point of the cost panel. The 64 threads stride over the row's
// 32-value blocks one u32 word at a time, dequantize it, multiply with every token of the tile,
// then add their partial sums in a tree.
//
// GPU block layouts (u32 words; scales widened to f32 at upload):
//   Q4_1: [d, m, q0..q3]  w = d·q + m, word k holds values 4k..4k+3 (low nibbles) and
//                         16+4k..16+4k+3 (high nibbles)
//   Q8_0: [d, q0..q7]     w = d·q, word k holds values 4k..4k+3 as signed bytes
//   Q8x2: [d0, d1, m, q0..q7]  w = d_h·q + m, h = 0 for values 0..16, 1 for 16..32
//                         (Q5_1, Q5_K: d0 = d1; Q6_K: m = 0)
//   F32:  one word per value (F16 and BF16 widened at upload)

// `Mat` (rows, cols, accumulate, head) and `TILE` come from the prelude (kernels.rs).
@group(0) @binding(1) var<uniform> mat: Mat;
@group(0) @binding(2) var<storage, read> w: array<u32>;            // (rows, cols) in blocks
@group(0) @binding(3) var<storage, read> x: array<vec4<f32>>;      // (tokens, cols)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;      // (tokens, rows)

var<workgroup> partial: array<array<f32, TILE>, WG>;

fn n_tokens() -> u32 {
    return select(dims.seq, dims.out_rows, mat.head != 0u);
}

// Adds the row's 64 partial sums per token and writes y.
fn finish(acc: array<f32, TILE>, r: u32, t0: u32, n: u32, lid: u32) {
    for (var t = 0u; t < TILE; t++) { partial[lid][t] = acc[t]; }
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            for (var t = 0u; t < TILE; t++) { partial[lid][t] += partial[lid + s][t]; }
        }
        workgroupBarrier();
    }
    if (lid < n) {
        let i = (t0 + lid) * mat.rows + r;
        let sum = partial[0][lid];
        y[i] = select(sum, y[i] + sum, mat.accumulate != 0u);
    }
}

@compute @workgroup_size(64)
fn matmul_q4_1(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = wg.x;
    let t0 = wg.y * TILE;
    let n = min(TILE, n_tokens() - t0);
    let nb = mat.cols / 32u;
    let row4 = mat.cols / 4u;  // x row length in vec4s
    var acc: array<f32, TILE>;
    for (var item = lid; item < nb * 4u; item += WG) {
        let b = item / 4u;
        let k = item % 4u;
        let base = (r * nb + b) * 6u;
        let d = bitcast<f32>(w[base]);
        let m = bitcast<f32>(w[base + 1u]);
        let q = w[base + 2u + k];
        let lo = vec4<f32>(vec4<u32>(q, q >> 8u, q >> 16u, q >> 24u) & vec4<u32>(15u)) * d + m;
        let hi = vec4<f32>(vec4<u32>(q >> 4u, q >> 12u, q >> 20u, q >> 28u) & vec4<u32>(15u)) * d + m;
        let c4 = b * 8u + k;  // vec4 index of value 32b + 4k within a row
        for (var t = 0u; t < n; t++) {
            let xr = (t0 + t) * row4;
            acc[t] += dot(lo, x[xr + c4]) + dot(hi, x[xr + c4 + 4u]);
        }
    }
    finish(acc, r, t0, n, lid);
}

@compute @workgroup_size(64)
fn matmul_q8_0(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = wg.x;
    let t0 = wg.y * TILE;
    let n = min(TILE, n_tokens() - t0);
    let nb = mat.cols / 32u;
    let row4 = mat.cols / 4u;
    var acc: array<f32, TILE>;
    for (var item = lid; item < nb * 8u; item += WG) {
        let b = item / 8u;
        let k = item % 8u;
        let base = (r * nb + b) * 9u;
        let d = bitcast<f32>(w[base]);
        let q = bitcast<vec4<i32>>(vec4<u32>(w[base + 1u + k]) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u);
        let wv = vec4<f32>(q) * d;
        let c4 = b * 8u + k;
        for (var t = 0u; t < n; t++) {
            acc[t] += dot(wv, x[(t0 + t) * row4 + c4]);
        }
    }
    finish(acc, r, t0, n, lid);
}

// Q8x2 blocks, 11 words: word k of the 8 holds values 4k..4k+3, scaled by d0 (k < 4) or d1.
@compute @workgroup_size(64)
fn matmul_q8x2(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = wg.x;
    let t0 = wg.y * TILE;
    let n = min(TILE, n_tokens() - t0);
    let nb = mat.cols / 32u;
    let row4 = mat.cols / 4u;
    var acc: array<f32, TILE>;
    for (var item = lid; item < nb * 8u; item += WG) {
        let b = item / 8u;
        let k = item % 8u;
        let base = (r * nb + b) * 11u;
        let d = bitcast<f32>(w[base + k / 4u]);
        let m = bitcast<f32>(w[base + 2u]);
        let q = bitcast<vec4<i32>>(vec4<u32>(w[base + 3u + k]) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u);
        let wv = vec4<f32>(q) * d + m;
        let c4 = b * 8u + k;
        for (var t = 0u; t < n; t++) {
            acc[t] += dot(wv, x[(t0 + t) * row4 + c4]);
        }
    }
    finish(acc, r, t0, n, lid);
}

// Float weights, four values (one vec4) per item.
@compute @workgroup_size(64)
fn matmul_f32(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = wg.x;
    let t0 = wg.y * TILE;
    let n = min(TILE, n_tokens() - t0);
    let row4 = mat.cols / 4u;
    var acc: array<f32, TILE>;
    for (var c4 = lid; c4 < row4; c4 += WG) {
        let base = (r * row4 + c4) * 4u;
        let wv = bitcast<vec4<f32>>(vec4<u32>(w[base], w[base + 1u], w[base + 2u], w[base + 3u]));
        for (var t = 0u; t < n; t++) {
            acc[t] += dot(wv, x[(t0 + t) * row4 + c4]);
        }
    }
    finish(acc, r, t0, n, lid);
}
