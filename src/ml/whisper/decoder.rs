//! Whisper's text decoder with a key-value cache for self-attention as well as cross-attention,
//! so each decoding step runs only the newest token. Loads the Hugging Face tensor names.

use super::attention::{Attention, Mlp};
use super::proj::{Proj, Weights};
use candle_core::{Module, Result, Tensor};
use candle_nn::{embedding, layer_norm, Embedding, LayerNorm, VarBuilder};

struct Block {
    self_attn: Attention,
    self_ln: LayerNorm,
    cross_attn: Attention,
    cross_ln: LayerNorm,
    mlp: Mlp,
}

/// The decoder's weights.
pub struct Decoder {
    embed: Embedding,
    positions: Tensor,
    blocks: Vec<Block>,
    ln: LayerNorm,
    /// The output projection (the token embeddings, transposed) in 8 bits, when int8.
    logits: Option<Proj>,
}

/// Per-sequence cache: self-attention keys/values so far and the cross-attention ones, each
/// split into heads (batch, heads, seq, head_dim).
pub struct Cache {
    selfs: Vec<Option<(Tensor, Tensor)>>,
    cross: Vec<(Tensor, Tensor)>,
    /// Tokens already run.
    pub len: usize,
}

impl Cache {
    /// A cache for another decoding of the same audio: the cross-attention keys and values
    /// shared (they depend on the audio alone), no tokens run yet.
    pub fn fresh(&self) -> Cache {
        Cache { selfs: vec![None; self.selfs.len()], cross: self.cross.clone(), len: 0 }
    }
}

impl Decoder {
    /// Loads `model.decoder.*` from a Hugging Face Whisper checkpoint; with `int8`, the weights
    /// of every product a step runs (attention, MLP, output projection) are quantised to 8 bits.
    /// The cross-attention keys and values stay f32: they run once per window over its 1,500
    /// audio positions, a whole matrix product (8-bit one-row products took a tenth of a
    /// transcription there).
    pub fn load(
        vb: VarBuilder,
        vocab: usize,
        n_state: usize,
        heads: usize,
        layers: usize,
        n_ctx: usize,
        int8: bool,
    ) -> Result<Self> {
        let weights = if int8 { Weights::Int8 } else { Weights::F32 };
        let blocks = (0..layers)
            .map(|i| {
                let vb = vb.pp(format!("layers.{i}"));
                Ok(Block {
                    self_attn: Attention::load(n_state, heads, vb.pp("self_attn"), weights)?,
                    self_ln: layer_norm(n_state, 1e-5, vb.pp("self_attn_layer_norm"))?,
                    cross_attn: Attention::load_with(n_state, heads, vb.pp("encoder_attn"), weights, Weights::F32)?,
                    cross_ln: layer_norm(n_state, 1e-5, vb.pp("encoder_attn_layer_norm"))?,
                    mlp: Mlp::load(n_state, vb.clone(), weights)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let embed = embedding(vocab, n_state, vb.pp("embed_tokens"))?;
        let logits = if int8 { Some(Proj::eight_bit(embed.embeddings(), None)?) } else { None };
        Ok(Decoder {
            embed,
            positions: vb.get((n_ctx, n_state), "embed_positions.weight")?,
            blocks,
            ln: layer_norm(n_state, 1e-5, vb.pp("layer_norm"))?,
            logits,
        })
    }

    /// A fresh cache for audio features `xa` (batch 1, frames, state).
    pub fn cache(&self, xa: &Tensor) -> Result<Cache> {
        let cross = self
            .blocks
            .iter()
            .map(|b| {
                let a = &b.cross_attn;
                Ok((a.split(&a.k.forward(xa)?)?, a.split(&a.v.forward(xa)?)?))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Cache { selfs: vec![None; self.blocks.len()], cross, len: 0 })
    }

    /// Runs `tokens` (the next ones after `cache.len`) and returns logits for each of them,
    /// shaped (tokens, vocab).
    pub fn forward(&self, tokens: &[u32], cache: &mut Cache) -> Result<Tensor> {
        let dev = self.positions.device();
        let (offset, n) = (cache.len, tokens.len());
        let ids = Tensor::new(tokens, dev)?.unsqueeze(0)?;
        let mut x = self.embed.forward(&ids)?.broadcast_add(&self.positions.narrow(0, offset, n)?)?;
        let mask = if n > 1 {
            let m: Vec<f32> = (0..n)
                .flat_map(|i| (0..offset + n).map(move |j| if j > offset + i { f32::NEG_INFINITY } else { 0.0 }))
                .collect();
            Some(Tensor::from_vec(m, (n, offset + n), dev)?)
        } else {
            None
        };
        for (i, b) in self.blocks.iter().enumerate() {
            let h = b.self_ln.forward(&x)?;
            let a = &b.self_attn;
            let (q, k, v) = (a.q.forward(&h)?, a.split(&a.k.forward(&h)?)?, a.split(&a.v.forward(&h)?)?);
            // Keys and values are kept split into heads: each step adds its own along the
            // sequence, and nothing cached is re-laid out.
            let (k, v) = match &cache.selfs[i] {
                Some((pk, pv)) => (Tensor::cat(&[pk, &k], 2)?, Tensor::cat(&[pv, &v], 2)?),
                None => (k, v),
            };
            cache.selfs[i] = Some((k.clone(), v.clone()));
            x = (x + a.attend_heads(&q, &k, &v, mask.as_ref())?)?;
            let h = b.cross_ln.forward(&x)?;
            let q = b.cross_attn.q.forward(&h)?;
            let (ck, cv) = &cache.cross[i];
            x = (&x + b.cross_attn.attend_heads(&q, ck, cv, None)?)?;
            x = (&x + b.mlp.forward(&x)?)?;
        }
        cache.len += n;
        let x = self.ln.forward(&x)?.squeeze(0)?;
        match &self.logits {
            Some(q) => q.forward(&x),
            None => x.matmul(&self.embed.embeddings().t()?),
        }
    }
}
