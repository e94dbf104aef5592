// Shared by every kernel: the model's sizes and where this step is, written once per step.
// (Prepended to each kernel file by kernels.rs.)
struct Dims {
    seq: u32,        // tokens run in this step
    pos: u32,        // position of the first of them; the cache holds positions 0..pos before
    dim: u32,        // width of the residual stream
    q_dim: u32,      // n_head · head_dim
    kv_dim: u32,     // n_kv_head · head_dim
    ffn_dim: u32,    // hidden width of the feed-forward block
    n_head: u32,     // query heads
    n_kv_head: u32,  // key/value heads (each shared by n_head / n_kv_head query heads)
    head_dim: u32,
    vocab: u32,
    out_row0: u32,   // first step row whose logits are wanted
    out_rows: u32,   // how many
    cap: u32,        // positions the KV cache has room for (row stride of the score scratch)
    rms_eps: f32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;

// Workgroup width of every row-wise kernel (one workgroup per row or per head).
const WG: u32 = 64u;
