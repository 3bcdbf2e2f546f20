//! Whisper's multi-head attention (Hugging Face tensor names: `q_proj`, `k_proj` without bias,
//! `v_proj`, `out_proj`), shared by the encoder and the decoder.

use candle_core::{Module, Result, Tensor, D};
use candle_nn::{linear, linear_no_bias, Linear, VarBuilder};

pub(super) struct Attention {
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub out: Linear,
    heads: usize,
}

impl Attention {
    pub fn load(n: usize, heads: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Attention {
            q: linear(n, n, vb.pp("q_proj"))?,
            k: linear_no_bias(n, n, vb.pp("k_proj"))?,
            v: linear(n, n, vb.pp("v_proj"))?,
            out: linear(n, n, vb.pp("out_proj"))?,
            heads,
        })
    }

    /// (batch, seq, state) → (batch, heads, seq, head_dim)
    fn split(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, n) = x.dims3()?;
        x.reshape((b, t, self.heads, n / self.heads))?.transpose(1, 2)?.contiguous()
    }

    /// Scaled dot-product attention of `q` over `k`/`v` (batch, seq, state), with an additive
    /// mask, through the output projection.
    pub fn attend(&self, q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let (q, k, v) = (self.split(q)?, self.split(k)?, self.split(v)?);
        let scale = 1.0 / ((q.dim(D::Minus1)? as f64).sqrt());
        let mut w = (q.matmul(&k.transpose(2, 3)?.contiguous()?)? * scale)?;
        if let Some(m) = mask {
            w = w.broadcast_add(m)?;
        }
        let w = candle_nn::ops::softmax_last_dim(&w)?;
        let (b, _, t, _) = w.dims4()?;
        let out = w.matmul(&v)?.transpose(1, 2)?.reshape((b, t, ()))?;
        self.out.forward(&out)
    }
}
