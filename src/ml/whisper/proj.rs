//! A linear layer of Whisper's, in f32 or with its weight quantised to 8 bits when it loads
//! (`[models.speech] precision = "int8"`: candle's Q8_0 blocks of 32 weights with one scale, made
//! from the same safetensors file, no other files; on a CPU with AVX2, `ml::rows8`'s rows of 8-bit
//! weights with a scale each instead). In f32 on a CPU where `ml::packed`'s kernel
//! is preferred (AVX2 and FMA), the weight is packed once and the product runs there. The
//! encoder's layers, which multiply 1,500 rows at a time, run in 8 bits on `ml::int8`'s VNNI
//! kernel where the CPU has it (`int8::SignedWeights`), in f32 elsewhere.

use crate::ml::int8::{Scratch, SignedWeights};
use crate::ml::packed::{self, PackedMatrix, Then};
use crate::ml::rows8::{self, Rows8};
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::{linear, linear_no_bias, Linear, VarBuilder};
use rayon::prelude::*;

/// How a layer's weight is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weights {
    F32,
    /// In 8 bits for a few rows at a time (the decoder's steps).
    Int8,
    /// In 8 bits for many rows at a time (the encoder's 1,500) where the CPU runs VNNI, else f32.
    Int8Rows,
}

/// Rows per task of an encoder layer's 8-bit product: a multiple of the kernel's six.
const ROWS_PER_TASK: usize = 36;

/// `x · Wᵀ (+ b)`.
pub enum Proj {
    Full(Linear),
    /// `Wᵀ` packed (`inputs × outputs`) and the bias (zeros without one), on the CPU.
    Packed {
        weight: PackedMatrix,
        bias: Vec<f32>,
    },
    Int8 {
        weight: QMatMul,
        bias: Option<Tensor>,
    },
    /// `W` in rows of bytes (`outputs × inputs`), on the CPU.
    Rows8 {
        weight: Rows8,
        bias: Option<Vec<f32>>,
    },
    /// `Wᵀ` in 8 bits for signed rows on the VNNI kernel, and the bias (zeros without one).
    Signed {
        weight: SignedWeights,
        bias: Vec<f32>,
    },
}

impl Proj {
    /// Loads `vb`'s `weight` (`outputs × inputs`) and, with `bias`, its `bias`, kept as `weights`
    /// says.
    pub fn load(inputs: usize, outputs: usize, bias: bool, vb: VarBuilder, weights: Weights) -> Result<Proj> {
        let full = if bias { linear(inputs, outputs, vb)? } else { linear_no_bias(inputs, outputs, vb)? };
        if weights == Weights::Int8Rows && full.weight().device().is_cpu() {
            let weight = full.weight().t()?.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
            if let Some(weight) = SignedWeights::new(&weight, inputs, outputs) {
                let bias = match full.bias() {
                    Some(b) => b.to_dtype(DType::F32)?.to_vec1()?,
                    None => vec![0.0; outputs],
                };
                return Ok(Proj::Signed { weight, bias });
            }
        }
        let int8 = weights == Weights::Int8;
        if !int8 && full.weight().device().is_cpu() && packed::preferred() {
            let weight = full.weight().t()?.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
            let bias = match full.bias() {
                Some(b) => b.to_dtype(DType::F32)?.to_vec1()?,
                None => vec![0.0; outputs],
            };
            return Ok(Proj::Packed { weight: PackedMatrix::new(weight, inputs, outputs), bias });
        }
        if !int8 {
            return Ok(Proj::Full(full));
        }
        Proj::eight_bit(full.weight(), full.bias())
    }

    /// `weight` (`outputs × inputs`) and `bias` in 8 bits: rows with a scale each where the
    /// weight is on a CPU with AVX2, else candle's Q8_0 blocks.
    pub fn eight_bit(weight: &Tensor, bias: Option<&Tensor>) -> Result<Proj> {
        if weight.device().is_cpu() && rows8::available() {
            let (outputs, inputs) = weight.dims2()?;
            let w = weight.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
            let bias = bias.map(|b| b.to_dtype(DType::F32)?.to_vec1::<f32>()).transpose()?;
            return Ok(Proj::Rows8 { weight: Rows8::new(&w, outputs, inputs), bias });
        }
        let weight = QMatMul::from_qtensor(QTensor::quantize(weight, GgmlDType::Q8_0)?)?;
        Ok(Proj::Int8 { weight, bias: bias.cloned() })
    }
}

impl Module for Proj {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Proj::Full(l) => l.forward(x),
            Proj::Packed { weight, bias } => {
                let (inputs, outputs) = (weight.k(), bias.len());
                let mut dims = x.dims().to_vec();
                let rows = x.elem_count() / inputs;
                let lhs = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
                let mut out: Vec<f32> = Vec::with_capacity(rows * outputs);
                (0..rows).for_each(|_| out.extend_from_slice(bias));
                weight.product_all_cores(&mut out, &lhs, Then { accumulate: true, relu: false });
                *dims.last_mut().expect("a linear layer's input has a last dimension") = outputs;
                Tensor::from_vec(out, dims, &Device::Cpu)?.to_dtype(x.dtype())
            }
            Proj::Rows8 { weight, bias } => {
                let mut dims = x.dims().to_vec();
                let lhs = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
                let out = weight.product(&lhs, bias.as_deref());
                *dims.last_mut().expect("a linear layer's input has a last dimension") = weight.outputs();
                Tensor::from_vec(out, dims, &Device::Cpu)?.to_dtype(x.dtype())
            }
            Proj::Signed { weight, bias } => {
                let (inputs, outputs) = weight.shape();
                let mut dims = x.dims().to_vec();
                let lhs = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
                let mut out = vec![0f32; lhs.len() / inputs * outputs];
                out.par_chunks_mut(ROWS_PER_TASK * outputs)
                    .zip(lhs.par_chunks(ROWS_PER_TASK * inputs))
                    .for_each_init(Scratch::default, |scratch, (dst, rows)| {
                        weight.product_into(dst, rows, bias, scratch)
                    });
                *dims.last_mut().expect("a linear layer's input has a last dimension") = outputs;
                Tensor::from_vec(out, dims, &Device::Cpu)?.to_dtype(x.dtype())
            }
            Proj::Int8 { weight, bias } => {
                let y = weight.forward(x)?;
                match bias {
                    Some(b) => y.broadcast_add(b),
                    None => Ok(y),
                }
            }
        }
    }
}
