// Rotary position embedding (Su et al. 2021): each (even, odd) pair of a head's dims turns by
// the angle p · θ^(−2i/head_dim), taken from the same f64-computed table as the CPU path.
// The keys are turned on their way into the layer's KV cache, beside the values; the entry
// point, one dispatch for both, is rope_qk.wgsl's.

@group(0) @binding(1) var<storage, read> rope: array<vec2<f32>>;         // (context, head_dim/2) of (cos, sin)
@group(0) @binding(2) var<storage, read_write> q: array<vec2<f32>>;      // (seq, q_dim) as pairs
@group(0) @binding(3) var<storage, read> k: array<vec2<f32>>;            // (seq, kv_dim) as pairs
@group(0) @binding(4) var<storage, read> v: array<vec2<f32>>;            // (seq, kv_dim) as pairs
@group(0) @binding(5) var<storage, read_write> k_cache: array<vec2<f32>>;// (cap, kv_dim) as pairs
@group(0) @binding(6) var<storage, read_write> v_cache: array<vec2<f32>>;// (cap, kv_dim) as pairs

fn rotate(pair: vec2<f32>, t: u32, i: u32) -> vec2<f32> {
    let half = dims.head_dim / 2u;
    let cs = rope[(dims.pos + t) * half + i % half];  // (cos, sin)
    return vec2<f32>(pair.x * cs.x - pair.y * cs.y, pair.x * cs.y + pair.y * cs.x);
}

// Pair i of the step's queries, turned in place.
fn rope_q(i: u32) {
    let pairs = dims.q_dim / 2u;
    q[i] = rotate(q[i], i / pairs, i % pairs);
}

// Pair i of the step's keys, turned into the cache, and the values beside them.
fn store_kv(i: u32) {
    let pairs = dims.kv_dim / 2u;
    let t = i / pairs;
    let at = (dims.pos + t) * pairs + i % pairs;  // row pos + t of the cache
    k_cache[at] = rotate(k[i], t, i % pairs);
    v_cache[at] = v[i];
}
