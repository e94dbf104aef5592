//! Single kernels against candle's CPU result on real SmolLM2 tensors (natively, on Vulkan):
//! the quantized matrix products for both block formats the file holds, read by candle's GGUF
//! reader, dequantized by candle, multiplied in f32 by candle.
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use tokenmeter_core::model::quant::{Format, QMatrix};
use tokenmeter_gpu::kernels::{le_bytes, mat_bytes, pack_blocks, Dims, Kernels, TILE};
use tokenmeter_gpu::{block_on, request_adapter};
use wgpu::util::DeviceExt;

fn model_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// (rows, cols) weights as our QMatrix and as candle's dequantized f32 tensor.
fn tensor(name: &str) -> (QMatrix, Tensor) {
    tensor_in(&model_path(), name)
}

/// (rows, cols) weights of the GGUF at `path`.
fn tensor_in(path: &std::path::Path, name: &str) -> (QMatrix, Tensor) {
    let mut file = std::fs::File::open(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; ./dev setup and ./dev test make it",
            path.display()
        )
    });
    let content = gguf_file::Content::read(&mut file).expect("GGUF");
    let q = content
        .tensor(&mut file, name, &Device::Cpu)
        .expect("tensor");
    let (rows, cols) = q.shape().dims2().expect("2-D");
    let format = Format::from_ggml(q.dtype()).expect("a format tokenmeter reads");
    let m = QMatrix::from_bytes(format, rows, cols, &q.data().expect("bytes")).expect("QMatrix");
    (m, q.dequantize(&Device::Cpu).expect("dequantize"))
}

/// Runs matmul.wgsl's entry for `m` on `x` `(tokens, cols)`; returns `(tokens, rows)`.
fn gpu_matmul(m: &QMatrix, x: &[f32], tokens: usize) -> Vec<f32> {
    block_on(async {
        let (adapter, _) = request_adapter()
            .await
            .expect("a Vulkan adapter (./dev setup)");
        let (device, queue) = adapter
            .request_device(&Default::default())
            .await
            .expect("device");
        let kernels = Kernels::new(&device);
        let (words, layout) = pack_blocks(m).expect("a layout the GPU reads");
        let init = |bytes: &[u8], usage| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: None,
                contents: bytes,
                usage,
            })
        };
        let storage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
        let dims = Dims {
            seq: tokens as u32,
            ..Default::default()
        };
        let dims = init(&dims.bytes(), wgpu::BufferUsages::UNIFORM);
        let mat = init(
            &mat_bytes(&[m.rows()], m.cols(), false, false),
            wgpu::BufferUsages::UNIFORM,
        );
        let w = init(&le_bytes(&words), storage);
        let xb = init(&le_bytes(x), storage);
        let y = init(&vec![0u8; tokens * m.rows() * 4], storage);
        let read = device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: (tokens * m.rows() * 4) as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let pipeline = kernels.matmul(layout, false);
        // A plain product: no second or third part, no norm (their bindings unread).
        let (y2, y3, g) = (
            init(&[0; 4], storage),
            init(&[0; 4], storage),
            init(&[0; 16], storage),
        );
        let entries: Vec<_> = [
            (0, &dims),
            (1, &mat),
            (2, &w),
            (3, &xb),
            (4, &y),
            (5, &y2),
            (6, &y3),
            (7, &g),
        ]
        .into_iter()
        .map(|(binding, b)| wgpu::BindGroupEntry {
            binding,
            resource: b.as_entire_binding(),
        })
        .collect();
        let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut enc = device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(m.rows() as u32, (tokens as u32).div_ceil(TILE), 1);
        }
        enc.copy_buffer_to_buffer(&y, 0, &read, 0, None);
        queue.submit([enc.finish()]);
        read.slice(..)
            .map_async(wgpu::MapMode::Read, |r| r.expect("map"));
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .expect("poll");
        let view = read.slice(..).get_mapped_range().expect("mapped");
        view.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    })
}

fn check(name: &str, tokens: usize) {
    check_matrix(name, tensor(name), tokens);
}

fn check_matrix(name: &str, (m, w): (QMatrix, Tensor), tokens: usize) {
    // Activations of a realistic size: a smooth pattern with both signs.
    let x: Vec<f32> = (0..tokens * m.cols())
        .map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * 0.8)
        .collect();
    let xt = Tensor::from_slice(&x, (tokens, m.cols()), &Device::Cpu).expect("x");
    let want: Vec<f32> = xt
        .matmul(&w.t().expect("transpose"))
        .expect("matmul")
        .flatten_all()
        .expect("flatten")
        .to_vec1()
        .expect("vec");
    let got = gpu_matmul(&m, &x, tokens);
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0.0f32, |a, v| a.max(v.abs()));
    let diff = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    eprintln!("{name} × {tokens} tokens: max |Δ| {diff:e} of max |y| {scale}");
    assert!(diff <= 1e-4 * scale.max(1.0), "{name}: differs by {diff}");
}

#[test]
fn q4_1_matmul_matches_candle_on_every_block_shape() {
    // (1536, 576): gate; (576, 1536): down, 48 blocks a row; one token (decode), a partial tile
    // and more than one tile (prefill).
    check("blk.0.ffn_gate.weight", 1);
    check("blk.0.ffn_down.weight", 3);
    check("blk.0.attn_k.weight", TILE as usize + 5);
}

#[test]
fn q8_0_matmul_matches_candle_on_the_output_projection() {
    // The tied embedding, (49152, 576): the vocabulary-wide scoring of every token.
    check("token_embd.weight", 2);
}

/// Every weight format the core reads has a WGSL layout, and its product is candle's (ggml's
/// dequantization) within f32 rounding: matrices of the own-model test files (`./dev test`).
#[test]
fn every_format_multiplies_on_the_gpu_as_its_blocks_define() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/test/models");
    for (file, name, format) in [
        ("smollm2-Q4_0.gguf", "blk.0.attn_q.weight", Format::Q4_0),
        ("qwen2-Q5_0.gguf", "blk.0.ffn_up.weight", Format::Q5_0),
        ("smollm2-Q5_1.gguf", "blk.0.ffn_gate.weight", Format::Q5_1),
        ("smollm2-Q8_0.gguf", "blk.0.attn_v.weight", Format::Q8_0),
        ("qwen3-Q4_K_M.gguf", "blk.0.attn_q.weight", Format::Q4_K),
        ("qwen2-Q5_K_M.gguf", "blk.0.ffn_gate.weight", Format::Q5_K),
        ("llama-Q6_K.gguf", "blk.0.ffn_down.weight", Format::Q6_K),
        ("llama-F32.gguf", "blk.0.attn_k.weight", Format::F32),
        ("qwen2-F16.gguf", "blk.1.ffn_up.weight", Format::F16),
        ("llama-BF16.gguf", "blk.0.attn_output.weight", Format::BF16),
    ] {
        assert_eq!(
            tensor_in(&dir.join(file), name).0.format(),
            format,
            "{file} {name}"
        );
        for tokens in [1, TILE as usize + 3] {
            check_matrix(
                &format!("{file} {name}"),
                tensor_in(&dir.join(file), name),
                tokens,
            );
        }
    }
}
