// Causal grouped-query attention over the KV cache, one workgroup per (query head h, token t):
//
//   s_j = q·k_j / sqrt(head_dim)   for every visible position j ≤ pos + t
//   w   = softmax(s)
//   out = Σ_j w_j · v_j
//
// Query head h reads key/value head h / (n_head / n_kv_head). The scores go to a scratch buffer
// (seq, n_head, cap); the threads share the max and the sum through workgroup memory.

@group(0) @binding(1) var<storage, read> q: array<f32>;              // (seq, q_dim)
@group(0) @binding(2) var<storage, read> k_cache: array<f32>;        // (cap, kv_dim)
@group(0) @binding(3) var<storage, read> v_cache: array<f32>;        // (cap, kv_dim)
@group(0) @binding(4) var<storage, read_write> att: array<f32>;      // (seq, n_head, cap)
@group(0) @binding(5) var<storage, read_write> out: array<f32>;      // (seq, q_dim)

var<workgroup> shared_: array<f32, WG>;

fn reduce_max(v: f32, lid: u32) -> f32 {
    shared_[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
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
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) { shared_[lid] += shared_[lid + s]; }
        workgroupBarrier();
    }
    let r = shared_[0];
    workgroupBarrier();
    return r;
}

@compute @workgroup_size(64)
fn attention(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let h = wg.x;
    let t = wg.y;
    let hd = dims.head_dim;
    let visible = dims.pos + t + 1u;
    let kv_off = (h / (dims.n_head / dims.n_kv_head)) * hd;
    let q_off = t * dims.q_dim + h * hd;
    let a_off = (t * dims.n_head + h) * dims.cap;
    let scale = inverseSqrt(f32(hd));

    // Scores, and their maximum (subtracted before exp for stability).
    var m = -3.0e38;
    for (var j = lid; j < visible; j += WG) {
        var s = 0.0;
        for (var i = 0u; i < hd; i++) {
            s += q[q_off + i] * k_cache[j * dims.kv_dim + kv_off + i];
        }
        s *= scale;
        att[a_off + j] = s;
        m = max(m, s);
    }
    m = reduce_max(m, lid);

    var sum = 0.0;
    for (var j = lid; j < visible; j += WG) {
        let e = exp(att[a_off + j] - m);
        att[a_off + j] = e;
        sum += e;
    }
    sum = reduce_sum(sum, lid);
    storageBarrier();  // every thread reads every weight below

    // Weighted sum of the values, one output dimension per thread.
    for (var d = lid; d < hd; d += WG) {
        var o = 0.0;
        for (var j = 0u; j < visible; j++) {
            o += att[a_off + j] * v_cache[j * dims.kv_dim + kv_off + d];
        }
        out[q_off + d] = o / sum;
    }
}
