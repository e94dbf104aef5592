// The entry point of rope.wgsl and rope_halves.wgsl (compiled after either, which defines
// rope_q and store_kv for its pairing): one dispatch for both, a thread per pair of q, then per
// pair of k (and v): (seq · (q_dim + kv_dim) / 2) threads.

@compute @workgroup_size(64)
fn rope_qk(@builtin(global_invocation_id) gid: vec3<u32>) {
    let nq = dims.seq * dims.q_dim / 2u;
    let i = gid.x;
    if (i < nq) {
        rope_q(i);
    } else if (i - nq < dims.seq * dims.kv_dim / 2u) {
        store_kv(i - nq);
    }
}
