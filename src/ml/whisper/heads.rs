//! Attention over long sequences on the CPU (the encoder's 1,500 positions): `softmax(q·kᵀ)·v`
//! per head on `ml::packed`'s kernel, a block of query rows at a time so each block's weights
//! (64 × 1,500) stay in the core's cache between the two products and the softmax. Candle's path
//! materialised every head's 1,500 × 1,500 weights and ran the products on `gemm`, a quarter of
//! a transcription's time on the AVX2 machine.

use crate::ml::fastmath;
use crate::ml::packed::{self, PackedMatrix, Then};
use candle_core::{DType, Result, Tensor};
use rayon::prelude::*;

/// Query rows per task.
const BLOCK: usize = 64;

/// Whether [`attend`] takes this product: f32 on a CPU where the packed kernel is preferred, and
/// enough queries and keys to pay for packing each head's keys and values.
pub fn applies(q: &Tensor, k: &Tensor) -> bool {
    q.device().is_cpu()
        && q.dtype() == DType::F32
        && packed::preferred()
        && q.dims().len() == 4
        && q.dim(2).is_ok_and(|t| t >= BLOCK)
        && k.dim(2).is_ok_and(|s| s >= BLOCK)
}

/// `softmax(q·kᵀ)·v` for `q` (batch, heads, queries, head_dim), already scaled, and `k`, `v`
/// (batch, heads, keys, head_dim), as (batch, queries, heads·head_dim).
pub fn attend(q: &Tensor, k: &Tensor, v: &Tensor) -> Result<Tensor> {
    let (b, h, t, d) = q.dims4()?;
    let s = k.dim(2)?;
    let flat = |x: &Tensor| x.contiguous()?.flatten_all()?.to_vec1::<f32>();
    let (q, k, v) = (flat(q)?, flat(k)?, flat(v)?);
    // Per head: the keys transposed (head_dim × keys) and the values (keys × head_dim), packed.
    let heads: Vec<(PackedMatrix, PackedMatrix)> = (0..b * h)
        .into_par_iter()
        .map(|bh| {
            let kh = &k[bh * s * d..(bh + 1) * s * d];
            let mut kt = vec![0f32; d * s];
            for (j, key) in kh.chunks_exact(d).enumerate() {
                for (c, &x) in key.iter().enumerate() {
                    kt[c * s + j] = x;
                }
            }
            (PackedMatrix::new(kt, d, s), PackedMatrix::new(v[bh * s * d..(bh + 1) * s * d].to_vec(), s, d))
        })
        .collect();
    let blocks = t.div_ceil(BLOCK);
    let mut out = vec![0f32; b * t * h * d];
    let results: Vec<Vec<f32>> = (0..b * h * blocks)
        .into_par_iter()
        .map(|task| {
            let (bh, first) = (task / blocks, (task % blocks) * BLOCK);
            let rows = BLOCK.min(t - first);
            let (kt, vh) = &heads[bh];
            let qb = &q[(bh * t + first) * d..(bh * t + first + rows) * d];
            let mut w = vec![0f32; rows * s];
            kt.product(&mut w, qb, Then::SET);
            fastmath::softmax_rows(&mut w, s);
            let mut o = vec![0f32; rows * d];
            vh.product(&mut o, &w, Then::SET);
            o
        })
        .collect();
    for (task, o) in results.iter().enumerate() {
        let (bh, first) = (task / blocks, (task % blocks) * BLOCK);
        let (bi, hi) = (bh / h, bh % h);
        for (i, row) in o.chunks_exact(d).enumerate() {
            let at = ((bi * t + first + i) * h + hi) * d;
            out[at..at + d].copy_from_slice(row);
        }
    }
    Tensor::from_vec(out, (b, t, h * d), &candle_core::Device::Cpu)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// Against candle's products and softmax on the same tensors: several blocks of queries (the
    /// last one partial), keys not a multiple of 8, two images and three heads.
    #[test]
    fn packed_attention_matches_candles() {
        if !crate::kernels::exercise("packed attention (ml::whisper::heads)", &["avx2", "fma"]) {
            return;
        }
        let mut rng = crate::rng::SplitMix64(150);
        let mut random = |dims: (usize, usize, usize, usize)| {
            let n = dims.0 * dims.1 * dims.2 * dims.3;
            Tensor::from_vec((0..n).map(|_| rng.unit() as f32 * 2.0 - 1.0).collect::<Vec<_>>(), dims, &Device::Cpu)
        };
        let (b, h, t, s, d) = (2, 3, 150, 101, 64);
        let (q, k, v) = (random((b, h, t, d)).unwrap(), random((b, h, s, d)).unwrap(), random((b, h, s, d)).unwrap());
        assert!(applies(&q, &k), "an f32 CPU tensor this long takes the packed path");
        let got = attend(&q, &k, &v).unwrap();
        let w = candle_nn::ops::softmax_last_dim(&q.matmul(&k.t().unwrap()).unwrap()).unwrap();
        let want = w.matmul(&v).unwrap().transpose(1, 2).unwrap().reshape((b, t, h * d)).unwrap();
        let worst =
            (got - want).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
        assert!(worst < 1e-5, "off by {worst}");
    }
}
