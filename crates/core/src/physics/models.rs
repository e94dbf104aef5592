//! The open models the physics panel can serve: their sizes from each model's published
//! `config.json` and model card (a test checks SmolLM2's against its GGUF), including the
//! mixture-of-experts shape where a model has one.

use serde::{Deserialize, Serialize};

/// A mixture-of-experts model's feed-forward layers: each token is routed to `active` of
/// `experts` routed experts per MoE layer (plus `shared` experts every token uses).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Moe {
    /// Routed experts per MoE layer (E).
    pub experts: u32,
    /// Routed experts each token uses (k).
    pub active: u32,
    /// Experts every token uses (counted in the dense part).
    pub shared: u32,
    /// Layers whose feed-forward block is a mixture of experts.
    pub layers: u32,
    /// Parameters of one routed expert: 3 · hidden · expert width (SwiGLU's three matrices).
    pub expert_params: f64,
}

impl Moe {
    /// Parameters of all routed experts together.
    pub fn routed_params(&self) -> f64 {
        f64::from(self.layers) * f64::from(self.experts) * self.expert_params
    }

    /// Expected distinct routed experts a decode step of `batch` tokens reads per layer, when
    /// each token picks `k` of `E` experts (uniformly, independently):
    /// `E · (1 − (1 − k/E)^B)` — `k` at batch 1, close to all `E` for large batches.
    pub fn experts_touched(&self, batch: u32) -> f64 {
        let e = f64::from(self.experts.max(1));
        let k = f64::from(self.active).min(e);
        e * (1.0 - libm::pow(1.0 - k / e, f64::from(batch.max(1))))
    }
}

/// What a model's size means for serving it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelShape {
    pub name: String,
    /// All parameters (what must sit in memory).
    pub params: f64,
    /// Parameters used per token (mixture-of-experts models use a fraction).
    pub active_params: f64,
    pub layers: u32,
    /// Key/value values cached per token per layer (2 · kv_heads · head_dim for standard
    /// attention; DeepSeek's MLA caches one compressed latent instead).
    pub kv_values_per_layer: u32,
    /// The mixture-of-experts shape, for models that have one.
    #[serde(default)]
    pub moe: Option<Moe>,
    /// The shipped tokenizer that counts this model's tokens.
    pub tokenizer: String,
    pub source: String,
}

impl ModelShape {
    /// A standard (grouped-query) attention model.
    pub fn gqa(
        name: &str,
        params: f64,
        layers: u32,
        kv_heads: u32,
        head_dim: u32,
        source: &str,
    ) -> Self {
        Self {
            name: name.into(),
            params,
            active_params: params,
            layers,
            kv_values_per_layer: 2 * kv_heads * head_dim,
            moe: None,
            tokenizer: String::new(),
            source: source.into(),
        }
    }

    fn counted_with(mut self, tokenizer: &str) -> Self {
        self.tokenizer = tokenizer.into();
        self
    }

    /// Parameters every token uses whatever the routing: all of a dense model; attention,
    /// embeddings, dense layers and shared experts of a mixture of experts.
    pub fn dense_params(&self) -> f64 {
        match &self.moe {
            Some(m) => self.params - m.routed_params(),
            None => self.params,
        }
    }

    /// Parameters a decode step of `batch` tokens reads: the dense part once, and each routed
    /// expert that at least one token of the batch uses.
    pub fn params_read(&self, batch: u32) -> f64 {
        match &self.moe {
            Some(m) => {
                self.dense_params()
                    + f64::from(m.layers) * m.experts_touched(batch) * m.expert_params
            }
            None => self.params,
        }
    }
}

/// SmolLM2-135M-Instruct, the model in the page (its GGUF's metadata and tensor sizes; a test
/// checks these against the file).
pub fn smollm2() -> ModelShape {
    ModelShape::gqa(
        "SmolLM2-135M-Instruct",
        134_515_008.0,
        30,
        3,
        64,
        "the GGUF's metadata",
    )
    .counted_with("smollm2")
}

/// Well-known open models, from their published `config.json` (layers, key/value heads, head
/// size, experts) and model cards (parameters); SmolLM2 first.
pub fn known_models() -> Vec<ModelShape> {
    let hf = |repo: &str| format!("huggingface.co/{repo} config.json and model card");
    // DeepSeek-V3: 61 layers, the first 3 dense (first_k_dense_replace); the other 58 route each
    // token to 8 of 256 experts plus 1 shared, each expert 3 · 7168 · 2048 (hidden_size,
    // moe_intermediate_size). 671B parameters, 37B active.
    let mut deepseek = ModelShape::gqa(
        "DeepSeek-V3 (671B, 37B active)",
        671e9,
        61,
        0,
        0,
        &hf("deepseek-ai/DeepSeek-V3"),
    )
    .counted_with("deepseek-v3");
    deepseek.active_params = 37e9;
    // Multi-head latent attention caches kv_lora_rank (512) + qk_rope_head_dim (64) per layer.
    deepseek.kv_values_per_layer = 512 + 64;
    deepseek.moe = Some(Moe {
        experts: 256,
        active: 8,
        shared: 1,
        layers: 58,
        expert_params: 3.0 * 7168.0 * 2048.0,
    });
    // Qwen3-235B-A22B: 94 layers, all mixtures of 128 experts of which 8 per token, no shared
    // expert, each expert 3 · 4096 · 1536; 4 key/value heads of 128. 235B parameters, 22B active.
    let mut qwen_moe = ModelShape::gqa(
        "Qwen3 235B-A22B (235B, 22B active)",
        235e9,
        94,
        4,
        128,
        &hf("Qwen/Qwen3-235B-A22B"),
    )
    .counted_with("qwen3");
    qwen_moe.active_params = 22e9;
    qwen_moe.moe = Some(Moe {
        experts: 128,
        active: 8,
        shared: 0,
        layers: 94,
        expert_params: 3.0 * 4096.0 * 1536.0,
    });
    vec![
        smollm2(),
        ModelShape::gqa(
            "Llama 3.1 8B",
            8.03e9,
            32,
            8,
            128,
            &hf("meta-llama/Llama-3.1-8B"),
        )
        .counted_with("llama3"),
        ModelShape::gqa(
            "Llama 3.1 70B",
            70.6e9,
            80,
            8,
            128,
            &hf("meta-llama/Llama-3.1-70B"),
        )
        .counted_with("llama3"),
        ModelShape::gqa(
            "Mistral Nemo 12B",
            12.2e9,
            40,
            8,
            128,
            &hf("mistralai/Mistral-Nemo-Base-2407"),
        )
        .counted_with("mistral-nemo"),
        ModelShape::gqa("Qwen3 32B", 32.8e9, 64, 8, 128, &hf("Qwen/Qwen3-32B"))
            .counted_with("qwen3"),
        ModelShape::gqa(
            "Gemma 3 27B",
            27.4e9,
            62,
            16,
            128,
            &hf("google/gemma-3-27b-pt"),
        )
        .counted_with("gemma3"),
        qwen_moe,
        deepseek,
    ]
}

/// A known model by name (or `smollm2`).
/// The known model called `name` (any case), or named by its short name — the part before a
/// parenthesis, e.g. "DeepSeek-V3" for "DeepSeek-V3 (671B, 37B active)" — or "smollm2".
pub fn known_model(name: &str) -> Option<ModelShape> {
    let name = name.trim();
    let short = |full: &str| full.split(" (").next().unwrap_or(full).trim().to_string();
    known_models().into_iter().find(|m| {
        m.name.eq_ignore_ascii_case(name)
            || (!name.is_empty() && short(&m.name).eq_ignore_ascii_case(name))
            || (name == "smollm2" && m.tokenizer == "smollm2")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_found_by_their_full_or_short_name() {
        let full = known_model("DeepSeek-V3 (671B, 37B active)").expect("full name");
        assert_eq!(
            known_model("deepseek-v3").expect("short name").name,
            full.name
        );
        assert_eq!(
            known_model("Llama 3.1 70B").expect("plain name").name,
            "Llama 3.1 70B"
        );
        assert!(known_model("").is_none() && known_model("Llama").is_none());
    }

    #[test]
    fn mixtures_of_experts_add_up_to_their_published_sizes() {
        // Active = dense part + k experts per MoE layer: 37B for DeepSeek-V3, 22B for Qwen3.
        for m in known_models().iter().filter(|m| m.moe.is_some()) {
            let moe = m.moe.unwrap();
            let active = m.dense_params()
                + f64::from(moe.layers) * f64::from(moe.active) * moe.expert_params;
            let rel = (active - m.active_params).abs() / m.active_params;
            assert!(
                rel < 0.03,
                "{}: {active:.3e} vs {:.3e}",
                m.name,
                m.active_params
            );
            assert!(m.dense_params() > 0.0);
            assert_eq!(
                m.params_read(1),
                active,
                "batch 1 reads the dense part and k experts"
            );
        }
    }

    #[test]
    fn experts_touched_grow_from_k_to_all() {
        let m = Moe {
            experts: 256,
            active: 8,
            shared: 1,
            layers: 58,
            expert_params: 1.0,
        };
        assert!((m.experts_touched(1) - 8.0).abs() < 1e-9);
        // Two tokens: 256 · (1 − (248/256)²) = 15.75 distinct experts on average.
        assert!((m.experts_touched(2) - 256.0 * (1.0 - (248.0f64 / 256.0).powi(2))).abs() < 1e-9);
        assert!(m.experts_touched(1024) > 255.9);
        let mut last = 0.0;
        for b in [1, 2, 4, 8, 16, 64, 256] {
            let t = m.experts_touched(b);
            assert!(t > last && t <= 256.0);
            last = t;
        }
    }
}
