// Embedding lookup: x[t, c] = E[tokens[t], c], dequantizing E's blocks on the fly.
// One thread per value of x: (seq · dim) threads.

@group(0) @binding(1) var<storage, read> tokens: array<u32>;     // (seq,)
@group(0) @binding(2) var<storage, read> table: array<u32>;      // E in GPU block layout
@group(0) @binding(3) var<storage, read_write> x: array<f32>;    // (seq, dim)

@compute @workgroup_size(64)
fn embed_q8_0(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= dims.seq * dims.dim) { return; }
    let t = i / dims.dim;
    let c = i % dims.dim;
    // Q8_0 block, 9 words: [d, 8 words of four i8 each]. Value j sits in byte j % 4 of word j / 4.
    let block = (tokens[t] * dims.dim + c) / 32u;
    let j = c % 32u;
    let d = bitcast<f32>(table[block * 9u]);
    let word = table[block * 9u + 1u + j / 4u];
    let q = bitcast<i32>(word << (24u - 8u * (j % 4u))) >> 24u;  // sign-extend the byte
    x[i] = d * f32(q);
}

@compute @workgroup_size(64)
fn embed_q4_1(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= dims.seq * dims.dim) { return; }
    let t = i / dims.dim;
    let c = i % dims.dim;
    // Q4_1 block, 6 words: [d, m, 4 words of nibbles]. Value j < 16 is the low nibble of byte j,
    // value j ≥ 16 the high nibble of byte j − 16.
    let block = (tokens[t] * dims.dim + c) / 32u;
    let j = c % 32u;
    let byte = j % 16u;
    let word = table[block * 6u + 2u + byte / 4u];
    let q = (word >> (8u * (byte % 4u) + 4u * (j / 16u))) & 15u;
    x[i] = bitcast<f32>(table[block * 6u]) * f32(q) + bitcast<f32>(table[block * 6u + 1u]);
}

@compute @workgroup_size(64)
fn embed_q8x2(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= dims.seq * dims.dim) { return; }
    let t = i / dims.dim;
    let c = i % dims.dim;
    // Q8x2 block, 11 words: [d0, d1, m, 8 words of four i8 each]; d0 scales values 0..16.
    let block = (tokens[t] * dims.dim + c) / 32u;
    let j = c % 32u;
    let word = table[block * 11u + 3u + j / 4u];
    let q = bitcast<i32>(word << (24u - 8u * (j % 4u))) >> 24u;
    x[i] = bitcast<f32>(table[block * 11u + j / 16u]) * f32(q) + bitcast<f32>(table[block * 11u + 2u]);
}

@compute @workgroup_size(64)
fn embed_f32(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= dims.seq * dims.dim) { return; }
    let t = i / dims.dim;
    x[i] = bitcast<f32>(table[tokens[t] * dims.dim + i % dims.dim]);
}
