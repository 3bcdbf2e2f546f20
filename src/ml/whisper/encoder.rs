//! Whisper's audio encoder, written here so it follows OpenAI's and transformers' networks to
//! the letter: two convolutions and every MLP use the exact (erf) GELU, where candle-transformers'
//! encoder uses the tanh approximation (up to 1.9 apart on the output of real tiny.en weights).
//! Loads the Hugging Face tensor names (`model.encoder.*`).

use super::attention::{Attention, Mlp};
use super::proj::Weights;
use crate::ml::fastmath;
use candle_core::{Module, Result, Tensor};
use candle_nn::{conv1d, layer_norm, Conv1d, Conv1dConfig, LayerNorm, VarBuilder};

struct Block {
    attn: Attention,
    attn_ln: LayerNorm,
    mlp: Mlp,
}

/// The encoder's weights.
pub struct Encoder {
    conv1: Conv1d,
    conv2: Conv1d,
    positions: Tensor,
    blocks: Vec<Block>,
    ln_post: LayerNorm,
}

impl Encoder {
    /// Loads `model.encoder.*`: `mels` input channels, `n_state` wide, `heads` heads, `layers`
    /// blocks, `n_ctx` positions (1500 for 30 s); with `int8`, the blocks' linear layers in 8
    /// bits where the CPU runs VNNI (`Weights::Int8Rows`).
    pub fn load(
        vb: VarBuilder,
        mels: usize,
        n_state: usize,
        (heads, layers): (usize, usize),
        n_ctx: usize,
        int8: bool,
    ) -> Result<Self> {
        let weights = if int8 { Weights::Int8Rows } else { Weights::F32 };
        let same = Conv1dConfig { padding: 1, stride: 1, ..Default::default() };
        let halve = Conv1dConfig { padding: 1, stride: 2, ..Default::default() };
        let blocks = (0..layers)
            .map(|i| {
                let vb = vb.pp(format!("layers.{i}"));
                Ok(Block {
                    attn: Attention::load(n_state, heads, vb.pp("self_attn"), weights)?,
                    attn_ln: layer_norm(n_state, 1e-5, vb.pp("self_attn_layer_norm"))?,
                    mlp: Mlp::load(n_state, vb.clone(), weights)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Encoder {
            conv1: conv1d(mels, n_state, 3, same, vb.pp("conv1"))?,
            conv2: conv1d(n_state, n_state, 3, halve, vb.pp("conv2"))?,
            positions: vb.get((n_ctx, n_state), "embed_positions.weight")?,
            blocks,
            ln_post: layer_norm(n_state, 1e-5, vb.pp("layer_norm"))?,
        })
    }

    /// Log-mel features (batch, mels, frames) → audio states (batch, frames / 2, state).
    pub fn forward(&self, mel: &Tensor) -> Result<Tensor> {
        let x = fastmath::gelu_erf(&self.conv1.forward(mel)?)?;
        let x = fastmath::gelu_erf(&self.conv2.forward(&x)?)?.transpose(1, 2)?;
        let frames = x.dim(1)?;
        let mut x = x.broadcast_add(&self.positions.narrow(0, 0, frames)?)?;
        for b in &self.blocks {
            let h = b.attn_ln.forward(&x)?;
            let (q, k, v) = (b.attn.q.forward(&h)?, b.attn.k.forward(&h)?, b.attn.v.forward(&h)?);
            x = (&x + b.attn.attend(&q, &k, &v, None)?)?;
            x = (&x + b.mlp.forward(&x)?)?;
        }
        self.ln_post.forward(&x)
    }
}
