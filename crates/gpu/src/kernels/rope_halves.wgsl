// Rotary position embedding with GPT-NeoX's pairing (Qwen): dims i and i + head_dim/2 of each
// head turn together by the angle of pair i, from the same table as rope.wgsl. Otherwise the
// same as rope.wgsl: rotate the queries; rotate the keys into the KV cache with the values
// (the entry point is rope_qk.wgsl's).

@group(0) @binding(1) var<storage, read> rope: array<vec2<f32>>;         // (context, head_dim/2) of (cos, sin)
@group(0) @binding(2) var<storage, read_write> q: array<f32>;            // (seq, q_dim)
@group(0) @binding(3) var<storage, read> k: array<f32>;                  // (seq, kv_dim)
@group(0) @binding(4) var<storage, read> v: array<f32>;                  // (seq, kv_dim)
@group(0) @binding(5) var<storage, read_write> k_cache: array<f32>;      // (cap, kv_dim)
@group(0) @binding(6) var<storage, read_write> v_cache: array<f32>;      // (cap, kv_dim)

// Pair i of the head starting at `head` of row t: where its two values sit, and (cos, sin).
fn pair_at(i: u32, width: u32) -> vec3<u32> {
    let half = dims.head_dim / 2u;
    let pairs = width / 2u;
    let t = i / pairs;
    let p = i % pairs;                     // pair within the row
    let first = t * width + (p / half) * dims.head_dim + p % half;
    return vec3<u32>(t, first, p % half);
}

fn angle(t: u32, j: u32) -> vec2<f32> {
    return rope[(dims.pos + t) * (dims.head_dim / 2u) + j];
}

// Pair i of the step's queries, turned in place.
fn rope_q(i: u32) {
    let at = pair_at(i, dims.q_dim);
    let cs = angle(at.x, at.z);
    let a = q[at.y];
    let b = q[at.y + dims.head_dim / 2u];
    q[at.y] = a * cs.x - b * cs.y;
    q[at.y + dims.head_dim / 2u] = a * cs.y + b * cs.x;
}

// Pair i of the step's keys, turned into the cache, and the values beside them.
fn store_kv(i: u32) {
    let at = pair_at(i, dims.kv_dim);
    let cs = angle(at.x, at.z);
    let second = at.y + dims.head_dim / 2u;
    let a = k[at.y];
    let b = k[second];
    let row = dims.pos * dims.kv_dim;  // the step's rows start at row pos of the cache
    k_cache[row + at.y] = a * cs.x - b * cs.y;
    k_cache[row + second] = a * cs.y + b * cs.x;
    v_cache[row + at.y] = v[at.y];
    v_cache[row + second] = v[second];
}
