//! `cost` and `gpu-cost`: arguments → the core's request → JSON.

use std::path::PathBuf;

use tokenmeter_core::physics::Assumptions;
use tokenmeter_core::service::cost::{self, CostRequest, CostSettings};
use tokenmeter_core::service::gpu_cost::{self, CustomShape, GpuCostRequest};
use tokenmeter_core::Msg;

use crate::data::{self, Vocabularies};
use crate::{text_or_stdin, to_json};

#[derive(clap::Args)]
pub struct CostArgs {
    /// The text; read from standard input when absent.
    #[arg(long)]
    text: Option<String>,
    /// Price table keys (repeatable; default: the popular models of the page).
    #[arg(long = "model")]
    models: Vec<String>,
    /// Output tokens per request (default: as many as each model's input tokens).
    #[arg(long)]
    output_tokens: Option<u64>,
    /// Share of the input read from the prompt cache, 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    cached_share: f64,
    /// Use batch prices where the model has them.
    #[arg(long)]
    batch: bool,
    /// Requests per day, for the monthly figure (30 days).
    #[arg(long, default_value_t = 1000)]
    requests_per_day: u64,
    /// Also estimate serving the text with this open model (a `gpu-cost --model` name).
    #[arg(long, default_value = "")]
    physics_model: String,
    #[command(flatten)]
    assumptions: AssumptionArgs,
}

pub fn cost(a: CostArgs, model: Option<PathBuf>) -> Result<String, Msg> {
    let req = CostRequest {
        text: text_or_stdin(a.text)?,
        models: a.models,
        settings: CostSettings {
            search: String::new(),
            output_tokens: a.output_tokens,
            cached_share: a.cached_share,
            batch: a.batch,
            requests_per_day: a.requests_per_day,
            physics_model: a.physics_model,
            assumptions: a.assumptions.assumptions(),
        },
        device: None,
        languages_for: Vec::new(),
        own_model: None,
    };
    req.settings.check()?;
    // `--physics-model "your model"`: the model file itself (its tokenizer is `smollm2` here, the
    // one the CLI reads from that file).
    let mut req = req;
    if req.settings.physics_model == tokenmeter_core::service::cost::OWN_MODEL {
        let m = data::open_model(&data::model_path(model.clone()))?;
        req.own_model = Some(Box::new(m.shape("smollm2")));
    }
    let table = data::price_table()?;
    let mut vocabs = Vocabularies::new(data::model_path(model));
    let mut count = |id: &str, text: &str| -> Result<Option<u64>, Msg> {
        Ok(Some(vocabs.get(id)?.encode(text)?.len() as u64))
    };
    to_json(&cost::cost(&req, &table, &mut count)?)
}

/// The assumptions behind a physics estimate (defaults: `Assumptions::default`).
#[derive(clap::Args)]
pub struct AssumptionArgs {
    /// h100, h200, a100, l4 or rtx4090.
    #[arg(long, default_value = "h100")]
    gpu: String,
    /// Rent per GPU-hour (default: the GPU's typical on-demand price).
    #[arg(long)]
    usd_per_gpu_hour: Option<f64>,
    #[arg(long)]
    mfu: Option<f64>,
    #[arg(long)]
    batch_size: Option<u32>,
    #[arg(long)]
    pue: Option<f64>,
    #[arg(long)]
    usd_per_kwh: Option<f64>,
    /// Bytes per weight: 2 (BF16), 1 (8-bit), 0.5 (4-bit).
    #[arg(long)]
    bytes_per_param: Option<f64>,
}

impl AssumptionArgs {
    fn assumptions(&self) -> Assumptions {
        let d = Assumptions::default();
        Assumptions {
            gpu: self.gpu.clone(),
            usd_per_gpu_hour: self.usd_per_gpu_hour,
            mfu: self.mfu.unwrap_or(d.mfu),
            batch: self.batch_size.unwrap_or(d.batch),
            pue: self.pue.unwrap_or(d.pue),
            usd_per_kwh: self.usd_per_kwh.unwrap_or(d.usd_per_kwh),
            bytes_per_param: self.bytes_per_param.unwrap_or(d.bytes_per_param),
            kv_bytes: d.kv_bytes,
        }
    }
}

#[derive(clap::Args)]
pub struct GpuCostArgs {
    /// A known model (`smollm2`, or a name from the page's table such as "Llama 3.1 70B").
    #[arg(long)]
    model: Option<String>,
    /// Parameters, when no --model is given (e.g. 7e9).
    #[arg(long)]
    params: Option<f64>,
    #[arg(long)]
    layers: Option<u32>,
    #[arg(long)]
    kv_heads: Option<u32>,
    #[arg(long)]
    head_dim: Option<u32>,
    /// Prompt tokens.
    #[arg(long, default_value_t = 1000)]
    tokens: u64,
    #[arg(long, default_value_t = 0)]
    output_tokens: u64,
    /// Sequences decoded together (they share each read of the weights).
    #[arg(long)]
    batch: Option<u32>,
    #[command(flatten)]
    assumptions: AssumptionArgs,
}

pub fn gpu_cost(a: GpuCostArgs) -> Result<String, Msg> {
    let mut assumptions = a.assumptions.assumptions();
    if let Some(b) = a.batch {
        assumptions.batch = b;
    }
    let req = GpuCostRequest {
        model: a.model,
        custom: a.params.map(|params| CustomShape {
            params,
            layers: a.layers.unwrap_or(0),
            kv_heads: a.kv_heads.unwrap_or(0),
            head_dim: a.head_dim.unwrap_or(0),
        }),
        tokens: a.tokens,
        output_tokens: a.output_tokens,
        assumptions,
    };
    to_json(&gpu_cost::gpu_cost(&req)?)
}
