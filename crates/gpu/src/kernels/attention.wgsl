// Causal grouped-query attention over the KV cache, one workgroup per (query head h, token t):
//
//   s_j = q·k_j / sqrt(head_dim)   for every visible position j ≤ pos + t
//   w   = softmax(s)
//   out = Σ_j w_j · v_j
//
// Query head h reads key/value head h / (n_head / n_kv_head). The scores go to a scratch buffer
// (seq, n_head, cap), as exp(s_j − max) (the panel inside the model reads them); the threads
// share the max and the sum through workgroup memory.
//
// At decode there are only n_head workgroups (9 for SmolLM2), so each has AWG threads, and both
// loops over positions run in parallel: scores one position per thread, the weighted sum in
// `groups` interleaved sets of positions, each thread one vec4 of the head, added up at the end.
// (On an H200, a decode step's attention at position 32: 28.4 → 14.7 µs; BENCHMARKS.md.)

const AWG: u32 = 256u;  // threads per workgroup (WebGPU guarantees 256)
const MAX_HEAD4: u32 = 64u;  // head_dim ≤ 256, a multiple of 4 (checked when the model loads)

@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;        // (seq, q_dim) in vec4s
@group(0) @binding(2) var<storage, read> k_cache: array<vec4<f32>>;  // (cap, kv_dim) in vec4s
@group(0) @binding(3) var<storage, read> v_cache: array<vec4<f32>>;  // (cap, kv_dim) in vec4s
@group(0) @binding(4) var<storage, read_write> att: array<f32>;      // (seq, n_head, cap)
@group(0) @binding(5) var<storage, read_write> out: array<vec4<f32>>; // (seq, q_dim) in vec4s

var<workgroup> shared_: array<f32, AWG>;
var<workgroup> partial: array<vec4<f32>, AWG>;
var<workgroup> q_row: array<vec4<f32>, MAX_HEAD4>;

fn reduce_max(v: f32, lid: u32) -> f32 {
    shared_[lid] = v;
    workgroupBarrier();
    for (var s = AWG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) { shared_[lid] = max(shared_[lid], shared_[lid + s]); }
        workgroupBarrier();
    }
    let r = shared_[0];
    workgroupBarrier();
    return r;
}

fn reduce_sum(v: f32, lid: u32) -> f32 {
    shared_[lid] = v;
    workgroupBarrier();
    for (var s = AWG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) { shared_[lid] += shared_[lid + s]; }
        workgroupBarrier();
    }
    let r = shared_[0];
    workgroupBarrier();
    return r;
}

@compute @workgroup_size(256)
fn attention(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let h = wg.x;
    let t = wg.y;
    let hd4 = dims.head_dim / 4u;
    let row4 = dims.kv_dim / 4u;  // a cache row in vec4s
    let visible = dims.pos + t + 1u;
    let kv4 = (h / (dims.n_head / dims.n_kv_head)) * hd4;
    let q4 = (t * dims.q_dim + h * dims.head_dim) / 4u;
    let a_off = (t * dims.n_head + h) * dims.cap;
    let scale = inverseSqrt(f32(dims.head_dim));

    // The head's query, read once into workgroup memory.
    for (var i = lid; i < hd4; i += AWG) { q_row[i] = q[q4 + i]; }
    workgroupBarrier();

    // Scores, one position per thread, and their maximum (subtracted before exp for stability).
    var m = -3.0e38;
    for (var j = lid; j < visible; j += AWG) {
        let k4 = j * row4 + kv4;
        var s = 0.0;
        for (var i = 0u; i < hd4; i++) { s += dot(q_row[i], k_cache[k4 + i]); }
        s *= scale;
        att[a_off + j] = s;
        m = max(m, s);
    }
    m = reduce_max(m, lid);

    var sum = 0.0;
    for (var j = lid; j < visible; j += AWG) {
        let e = exp(att[a_off + j] - m);
        att[a_off + j] = e;
        sum += e;
    }
    sum = reduce_sum(sum, lid);
    storageBarrier();  // every thread reads every weight below

    // Weighted sum of the values: thread (g, lane) adds positions g, g + groups, … of vec4 `lane`.
    let groups = AWG / hd4;
    let lane = lid % hd4;
    let g = lid / hd4;
    var o = vec4<f32>(0.0);
    if (g < groups) {
        for (var j = g; j < visible; j += groups) {
            o += att[a_off + j] * v_cache[j * row4 + kv4 + lane];
        }
    }
    partial[lid] = o;
    workgroupBarrier();
    if (lid < hd4) {
        var total = vec4<f32>(0.0);
        for (var i = 0u; i < groups; i++) { total += partial[i * hd4 + lid]; }
        out[q4 + lid] = total / sum;
    }
}
