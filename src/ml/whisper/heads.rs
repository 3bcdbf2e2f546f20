//! Attention over long sequences on the CPU (the encoder's 1,500 positions): `softmax(q·kᵀ)·v`
//! per head on `ml::packed`'s kernel, a block of query rows at a time so each block's weights
//! (64 × 1,500) stay in the core's cache between the two products and the softmax. Candle's path
//! materialised every head's 1,500 × 1,500 weights and ran the products on `gemm`, a quarter of
//! a transcription's time on the AVX2 machine. And one query against many keys (each decoding
//! step's attention over the audio's 1,500 positions, read in place), where candle's `gemm` ran
//! two one-row products per head.

use crate::ml::fastmath;
use crate::ml::packed::{self, PackedMatrix, Then};
use candle_core::{bail, CpuStorage, CustomOp3, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Query rows per task.
const BLOCK: usize = 64;
/// Columns of a head [`attend_one`] sums at once: eight registers.
const WIDTH: usize = 64;

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

/// Whether [`attend_one`] takes this product: one query per head (a decoding step), f32 on a
/// CPU with AVX2 and FMA, a head width a multiple of 64 (Whisper's, in every size).
pub fn one_query(q: &Tensor) -> bool {
    #[cfg(target_arch = "x86_64")]
    let wide = std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    let wide = false;
    wide && q.device().is_cpu()
        && q.dtype() == DType::F32
        && q.dims().len() == 4
        && q.dim(2).is_ok_and(|t| t == 1)
        && q.dim(3).is_ok_and(|d| d % WIDTH == 0)
}

/// `softmax(q·kᵀ)·v` for `q` (batch, heads, 1, head_dim), already scaled, and `k`, `v`
/// (batch, heads, keys, head_dim), as (batch, 1, heads·head_dim). [`one_query`] must hold.
pub fn attend_one(q: &Tensor, k: &Tensor, v: &Tensor) -> Result<Tensor> {
    let (b, h, _, d) = q.dims4()?;
    q.contiguous()?.apply_op3_no_bwd(&k.contiguous()?, &v.contiguous()?, &OneQuery)?.reshape((b, 1, h * d))
}

struct OneQuery;

impl CustomOp3 for OneQuery {
    fn name(&self) -> &'static str {
        "one-query-attention"
    }

    fn cpu_fwd(
        &self,
        qs: &CpuStorage,
        ql: &Layout,
        ks: &CpuStorage,
        kl: &Layout,
        vs: &CpuStorage,
        vl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (q, k, v) = (f32s(qs, ql)?, f32s(ks, kl)?, f32s(vs, vl)?);
        let (qd, kd, vd) = (ql.dims(), kl.dims(), vl.dims());
        if qd.len() != 4 || kd.len() != 4 || kd != vd || kd[0] * kd[1] != qd[0] * qd[1] || kd[3] != qd[3] || qd[2] != 1
        {
            bail!("one-query attention: q {qd:?}, k {kd:?}, v {vd:?}");
        }
        let (heads, s, d) = (qd[0] * qd[1], kd[2], qd[3]);
        let mut out = vec![0f32; heads * d];
        let head = |(i, o): (usize, &mut [f32])| {
            let mut scores = vec![0f32; s];
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `one_query` checked AVX2 and FMA; the slices are one head's (`d` a
            // multiple of 64, `s` keys and values of `d`).
            unsafe {
                one_head(
                    &q[i * d..(i + 1) * d],
                    &k[i * s * d..(i + 1) * s * d],
                    &v[i * s * d..(i + 1) * s * d],
                    &mut scores,
                    o,
                )
            };
            #[cfg(not(target_arch = "x86_64"))]
            let _ = (i, o, &mut scores);
        };
        if heads * s * d >= 1 << 16 {
            out.par_chunks_mut(d).enumerate().for_each(head);
        } else {
            out.chunks_mut(d).enumerate().for_each(head);
        }
        Ok((CpuStorage::F32(out), Shape::from((qd[0], qd[1], 1, d))))
    }
}

/// The elements of a contiguous f32 tensor.
fn f32s<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    match (s, l.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((start, end))) => Ok(&v[start..end]),
        _ => bail!("one-query attention reads contiguous f32 tensors"),
    }
}

/// One head: `scores = q·kⱼ` for every key, their softmax, then `out = Σ scoreⱼ·vⱼ`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn one_head(q: &[f32], k: &[f32], v: &[f32], scores: &mut [f32], out: &mut [f32]) {
    use std::arch::x86_64::*;
    let d = q.len();
    // SAFETY: every load lies inside `q` (d), a key or value row (d of `k`, `v`) or `out` (d).
    unsafe {
        let sum = |x: __m256| {
            let h = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps::<1>(x));
            let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
            _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps::<1>(h, h)))
        };
        for (j, score) in scores.iter_mut().enumerate() {
            let key = k.as_ptr().add(j * d);
            let (mut even, mut odd) = (_mm256_setzero_ps(), _mm256_setzero_ps());
            for c in (0..d).step_by(16) {
                even = _mm256_fmadd_ps(_mm256_loadu_ps(q.as_ptr().add(c)), _mm256_loadu_ps(key.add(c)), even);
                odd = _mm256_fmadd_ps(_mm256_loadu_ps(q.as_ptr().add(c + 8)), _mm256_loadu_ps(key.add(c + 8)), odd);
            }
            *score = sum(_mm256_add_ps(even, odd));
        }
        fastmath::softmax_rows(scores, scores.len());
        for c in (0..d).step_by(WIDTH) {
            let mut acc = [_mm256_setzero_ps(); WIDTH / 8];
            for (j, &p) in scores.iter().enumerate() {
                let (p, row) = (_mm256_set1_ps(p), v.as_ptr().add(j * d + c));
                for (a, acc) in acc.iter_mut().enumerate() {
                    *acc = _mm256_fmadd_ps(p, _mm256_loadu_ps(row.add(a * 8)), *acc);
                }
            }
            for (a, acc) in acc.iter().enumerate() {
                _mm256_storeu_ps(out.as_mut_ptr().add(c + a * 8), *acc);
            }
        }
    }
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

    /// One query per head (a decoding step) against candle's products, for a few keys (one
    /// thread) and for many (heads split across threads), keys not a multiple of 8.
    #[test]
    fn one_query_attention_matches_candles() {
        if !crate::kernels::exercise("one-query attention (ml::whisper::heads)", &["avx2", "fma"]) {
            return;
        }
        let mut rng = crate::rng::SplitMix64(151);
        for (b, h, s, d) in [(1, 2, 5, 64), (2, 3, 401, 128)] {
            let mut random = |dims: (usize, usize, usize, usize)| {
                let n = dims.0 * dims.1 * dims.2 * dims.3;
                let x = (0..n).map(|_| rng.unit() as f32 * 2.0 - 1.0).collect::<Vec<_>>();
                Tensor::from_vec(x, dims, &Device::Cpu).unwrap()
            };
            let (q, k, v) = (random((b, h, 1, d)), random((b, h, s, d)), random((b, h, s, d)));
            assert!(one_query(&q), "one f32 query on the CPU takes the path");
            let got = attend_one(&q, &k, &v).unwrap();
            let w = candle_nn::ops::softmax_last_dim(&q.matmul(&k.t().unwrap()).unwrap()).unwrap();
            let want = w.matmul(&v).unwrap().transpose(1, 2).unwrap().reshape((b, 1, h * d)).unwrap();
            let worst =
                (got - want).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
            assert!(worst < 1e-5, "{s} keys: off by {worst}");
        }
    }
}
