//! What Whisper's encoder and decoder blocks share: multi-head attention (Hugging Face tensor
//! names: `q_proj`, `k_proj` without bias, `v_proj`, `out_proj`) and the pre-LayerNorm GELU MLP
//! (`final_layer_norm`, `fc1`, `fc2`).

use super::proj::{Proj, Weights};
use crate::ml::fastmath;
use candle_core::{Module, Result, Tensor, D};
use candle_nn::{layer_norm, LayerNorm, VarBuilder};

pub(super) struct Attention {
    pub q: Proj,
    pub k: Proj,
    pub v: Proj,
    pub out: Proj,
    heads: usize,
}

impl Attention {
    /// Loads `n`-wide attention with `heads` heads, its projections kept as `weights` says.
    pub fn load(n: usize, heads: usize, vb: VarBuilder, weights: Weights) -> Result<Self> {
        Self::load_with(n, heads, vb, weights, weights)
    }

    /// Like [`Attention::load`], with the key and value projections kept as `keys` says.
    pub fn load_with(n: usize, heads: usize, vb: VarBuilder, weights: Weights, keys: Weights) -> Result<Self> {
        Ok(Attention {
            q: Proj::load(n, n, true, vb.pp("q_proj"), weights)?,
            k: Proj::load(n, n, false, vb.pp("k_proj"), keys)?,
            v: Proj::load(n, n, true, vb.pp("v_proj"), keys)?,
            out: Proj::load(n, n, true, vb.pp("out_proj"), weights)?,
            heads,
        })
    }

    /// (batch, seq, state) → (batch, heads, seq, head_dim)
    pub fn split(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, n) = x.dims3()?;
        x.reshape((b, t, self.heads, n / self.heads))?.transpose(1, 2)?.contiguous()
    }

    /// Scaled dot-product attention of `q` over `k`/`v` (batch, seq, state), with an additive
    /// mask, through the output projection.
    pub fn attend(&self, q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        self.attend_heads(q, &self.split(k)?, &self.split(v)?, mask)
    }

    /// Like [`Attention::attend`], with `k` and `v` already split into heads (a decoder's
    /// cached keys and values, split once instead of at every step).
    pub fn attend_heads(&self, q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        // The scale is applied to the queries (seq × head_dim), not to the weights (seq × seq).
        let scale = 1.0 / ((q.dim(D::Minus1)? as f64 / self.heads as f64).sqrt());
        let q = self.split(&(q * scale)?)?;
        if mask.is_none() && super::heads::applies(&q, k) {
            return self.out.forward(&super::heads::attend(&q, k, v)?);
        }
        if mask.is_none() && super::heads::one_query(&q) {
            return self.out.forward(&super::heads::attend_one(&q, k, v)?);
        }
        // The transposed keys as a view: the product reads them by stride, no copy.
        let mut w = q.matmul(&k.transpose(2, 3)?)?;
        if let Some(m) = mask {
            w = w.broadcast_add(m)?;
        }
        let w = fastmath::softmax_last_dim(&w)?;
        let (b, _, t, _) = w.dims4()?;
        let out = w.matmul(v)?.transpose(1, 2)?.reshape((b, t, ()))?;
        self.out.forward(&out)
    }
}

/// `fc2(gelu(fc1(layer_norm(x))))`, with the exact (erf) GELU.
pub(super) struct Mlp {
    ln: LayerNorm,
    fc1: Proj,
    fc2: Proj,
}

impl Mlp {
    /// Loads an `n`-wide MLP (4n inside) from a block's `vb`, kept as `weights` says.
    pub fn load(n: usize, vb: VarBuilder, weights: Weights) -> Result<Self> {
        Ok(Mlp {
            ln: layer_norm(n, 1e-5, vb.pp("final_layer_norm"))?,
            fc1: Proj::load(n, 4 * n, true, vb.pp("fc1"), weights)?,
            fc2: Proj::load(4 * n, n, true, vb.pp("fc2"), weights)?,
        })
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.fc2.forward(&fastmath::gelu_erf(&self.fc1.forward(&self.ln.forward(x)?)?)?)
    }
}
