// Quantized matrix product: y[t, r] = Σ_c W[r, c] · x[t, c], or y += … (residual connections).
//
// One workgroup per output row r and tile of up to TILE tokens, so each weight is read from
// memory once per tile: at batch 1 (decode) this is a matrix-vector product whose speed is the
// memory bandwidth — the whole point of the cost panel. The 64 threads stride over the row's
// 32-value blocks one u32 word at a time, dequantize it, multiply with every token of the tile,
// then add their partial sums in a tree. (Four rows per workgroup, sharing the tree and the
// sums of squares, measured twice as slow on an H200: BENCHMARKS.md, 2026-12-04.)
//
// Two fusions save dispatches (on a big GPU a decode step is mostly the gaps between them):
//  - Parts: matrices that read the same input (Wq, Wk, Wv; W_gate, W_up) are uploaded as one
//    matrix, their rows stacked, and run as one product; rows 0..part1 go to y, part1..part2 to
//    y2, the rest to y3, each (tokens, its rows).
//  - RMSNorm folded in (the pipelines made with NORM = true; one-token steps only, see
//    model/plan.rs): the product reads the residual
//    stream x itself and computes y = (W · (g ⊙ x)) / sqrt(mean(x²) + ε). The norm's scale is one
//    number per token, so it comes out of the sum: the threads add up x² beside their products,
//    and the scale is applied once at the end; g (binding 7) multiplies the weights as they are
//    dequantized.
//
// GPU block layouts (u32 words; scales widened to f32 at upload):
//   Q4_1: [d, m, q0..q3]  w = d·q + m, word k holds values 4k..4k+3 (low nibbles) and
//                         16+4k..16+4k+3 (high nibbles)
//   Q8_0: [d, q0..q7]     w = d·q, word k holds values 4k..4k+3 as signed bytes
//   Q8x2: [d0, d1, m, q0..q7]  w = d_h·q + m, h = 0 for values 0..16, 1 for 16..32
//                         (Q5_1, Q5_K: d0 = d1; Q6_K: m = 0)
//   F32:  one word per value (F16 and BF16 widened at upload)

// `Mat` (rows, cols, accumulate, head, part1, part2) and `TILE` come from the prelude.
@group(0) @binding(1) var<uniform> mat: Mat;
@group(0) @binding(2) var<storage, read> w: array<u32>;            // (rows, cols) in blocks
@group(0) @binding(3) var<storage, read> x: array<vec4<f32>>;      // (tokens, cols)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;      // (tokens, part1)
@group(0) @binding(5) var<storage, read_write> y2: array<f32>;     // (tokens, part2 − part1)
@group(0) @binding(6) var<storage, read_write> y3: array<f32>;     // (tokens, rows − part2)
@group(0) @binding(7) var<storage, read> g: array<vec4<f32>>;      // (cols,) the norm's weight

// RMSNorm folded in: set per pipeline (kernels.rs), so the plain products carry none of it.
override NORM: bool = false;

alias Tile = array<f32, TILE>;  // per thread: a partial sum (or Σ x²) per token

var<workgroup> partial: array<Tile, WG>;
var<workgroup> partial_sq: array<Tile, WG>;

fn n_tokens() -> u32 {
    return select(dims.seq, dims.out_rows, mat.head != 0u);
}

// The norm's weights for the four values at vec4 index c4 of a row (ones without a norm).
fn norm_weight(c4: u32) -> vec4<f32> {
    if (NORM) { return g[c4]; }
    return vec4<f32>(1.0);
}

// acc[t] += wv · x[t0 + t, c4..c4+4], and with the norm sq[t] += |x[t0 + t, c4..c4+4]|², for
// the tile's n tokens.
fn mac(acc: ptr<function, Tile>, sq: ptr<function, Tile>, wv: vec4<f32>, c4: u32, t0: u32,
       n: u32) {
    let row4 = mat.cols / 4u;  // x row length in vec4s
    for (var t = 0u; t < n; t++) {
        let v = x[(t0 + t) * row4 + c4];
        (*acc)[t] += dot(wv, v);
        if (NORM) { (*sq)[t] += dot(v, v); }
    }
}

// The same for two vec4s of weights at once (a Q4_1 word's low and high nibbles): one pass over
// the tokens (measured faster on an H200 than two).
fn mac2(acc: ptr<function, Tile>, sq: ptr<function, Tile>, wa: vec4<f32>, ca: u32,
        wb: vec4<f32>, cb: u32, t0: u32, n: u32) {
    let row4 = mat.cols / 4u;
    for (var t = 0u; t < n; t++) {
        let va = x[(t0 + t) * row4 + ca];
        let vb = x[(t0 + t) * row4 + cb];
        (*acc)[t] += dot(wa, va) + dot(wb, vb);
        if (NORM) { (*sq)[t] += dot(va, va) + dot(vb, vb); }
    }
}

// Writes y[t, r] of the stacked product into its part.
fn store(t: u32, r: u32, v: f32) {
    if (r < mat.part1) {
        let i = t * mat.part1 + r;
        y[i] = select(v, y[i] + v, mat.accumulate != 0u);
    } else if (r < mat.part2) {
        y2[t * (mat.part2 - mat.part1) + r - mat.part1] = v;
    } else {
        y3[t * (mat.rows - mat.part2) + r - mat.part2] = v;
    }
}

// Adds the row's 64 partial sums per token (and sums of squares, with the norm) and writes y.
fn finish(acc: ptr<function, Tile>, sq: ptr<function, Tile>, r: u32, t0: u32, n: u32, lid: u32) {
    for (var t = 0u; t < n; t++) {
        partial[lid][t] = (*acc)[t];
        if (NORM) { partial_sq[lid][t] = (*sq)[t]; }
    }
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            for (var t = 0u; t < n; t++) {
                partial[lid][t] += partial[lid + s][t];
                if (NORM) { partial_sq[lid][t] += partial_sq[lid + s][t]; }
            }
        }
        workgroupBarrier();
    }
    if (lid < n) {
        var sum = partial[0][lid];
        if (NORM) { sum *= inverseSqrt(partial_sq[0][lid] / f32(mat.cols) + dims.rms_eps); }
        store(t0 + lid, r, sum);
    }
}

@compute @workgroup_size(64)
fn matmul_q4_1(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = wg.x;
    let t0 = wg.y * TILE;
    let n = min(TILE, n_tokens() - t0);
    let nb = mat.cols / 32u;
    var acc: Tile;
    var sq: Tile;
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
        mac2(&acc, &sq, lo * norm_weight(c4), c4, hi * norm_weight(c4 + 4u), c4 + 4u, t0, n);
    }
    finish(&acc, &sq, r, t0, n, lid);
}

@compute @workgroup_size(64)
fn matmul_q8_0(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = wg.x;
    let t0 = wg.y * TILE;
    let n = min(TILE, n_tokens() - t0);
    let nb = mat.cols / 32u;
    var acc: Tile;
    var sq: Tile;
    for (var item = lid; item < nb * 8u; item += WG) {
        let b = item / 8u;
        let k = item % 8u;
        let base = (r * nb + b) * 9u;
        let d = bitcast<f32>(w[base]);
        let q = bitcast<vec4<i32>>(vec4<u32>(w[base + 1u + k]) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u);
        let c4 = b * 8u + k;
        mac(&acc, &sq, vec4<f32>(q) * d * norm_weight(c4), c4, t0, n);
    }
    finish(&acc, &sq, r, t0, n, lid);
}

// Q8x2 blocks, 11 words: word k of the 8 holds values 4k..4k+3, scaled by d0 (k < 4) or d1.
@compute @workgroup_size(64)
fn matmul_q8x2(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = wg.x;
    let t0 = wg.y * TILE;
    let n = min(TILE, n_tokens() - t0);
    let nb = mat.cols / 32u;
    var acc: Tile;
    var sq: Tile;
    for (var item = lid; item < nb * 8u; item += WG) {
        let b = item / 8u;
        let k = item % 8u;
        let base = (r * nb + b) * 11u;
        let d = bitcast<f32>(w[base + k / 4u]);
        let m = bitcast<f32>(w[base + 2u]);
        let q = bitcast<vec4<i32>>(vec4<u32>(w[base + 3u + k]) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u);
        let c4 = b * 8u + k;
        mac(&acc, &sq, (vec4<f32>(q) * d + m) * norm_weight(c4), c4, t0, n);
    }
    finish(&acc, &sq, r, t0, n, lid);
}

// Float weights, four values (one vec4) per item.
@compute @workgroup_size(64)
fn matmul_f32(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let r = wg.x;
    let t0 = wg.y * TILE;
    let n = min(TILE, n_tokens() - t0);
    let row4 = mat.cols / 4u;
    var acc: Tile;
    var sq: Tile;
    for (var c4 = lid; c4 < row4; c4 += WG) {
        let base = (r * row4 + c4) * 4u;
        let wv = bitcast<vec4<f32>>(vec4<u32>(w[base], w[base + 1u], w[base + 2u], w[base + 3u]));
        mac(&acc, &sq, wv * norm_weight(c4), c4, t0, n);
    }
    finish(&acc, &sq, r, t0, n, lid);
}
