//! A linear layer of Whisper's, in f32 or with its weight quantised to 8 bits when it loads
//! (`[models.speech] precision = "int8"`: candle's Q8_0 blocks of 32 weights with one scale, made
//! from the same safetensors file, no other files).

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Module, Result, Tensor};
use candle_nn::{linear, linear_no_bias, Linear, VarBuilder};

/// `x · Wᵀ (+ b)`.
pub enum Proj {
    Full(Linear),
    Int8 { weight: QMatMul, bias: Option<Tensor> },
}

impl Proj {
    /// Loads `vb`'s `weight` (`outputs × inputs`) and, with `bias`, its `bias`.
    pub fn load(inputs: usize, outputs: usize, bias: bool, vb: VarBuilder, int8: bool) -> Result<Proj> {
        let full = if bias { linear(inputs, outputs, vb)? } else { linear_no_bias(inputs, outputs, vb)? };
        if !int8 {
            return Ok(Proj::Full(full));
        }
        Ok(Proj::Int8 { weight: quantised(full.weight())?, bias: full.bias().cloned() })
    }
}

/// `weight` (`outputs × inputs`) in 8-bit blocks, as a matrix product's right side.
pub fn quantised(weight: &Tensor) -> Result<QMatMul> {
    QMatMul::from_qtensor(QTensor::quantize(weight, GgmlDType::Q8_0)?)
}

impl Module for Proj {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Proj::Full(l) => l.forward(x),
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
