//! The models, all in Candle: weight resolution, device choice, the ResNet-50 image embedder,
//! the BERT text embedder, the Whisper transcriber and the SigLIP 2 / CLIP vision-text model.

pub mod device;
pub mod fastmath;
pub mod image;
mod int8;
pub mod linalg;
pub mod load;
mod manifest;
mod models;
mod packed;
mod resample;
mod resnet;
mod resolve;
mod rows8;
pub mod text;
pub mod vision_text;
pub mod whisper;
mod winograd;

pub use crate::types::ModelNote;
pub use device::{device, parse_device, DeviceSpec};
pub use manifest::{Manifest, Role};
pub use models::Models;
pub use resolve::{resolve, resolve_manifest, ModelFiles, Source};

/// The first `len` items of a buffer kept between calls, with unspecified contents: `v` is
/// lengthened (with default items) only when shorter. A `resize` to each request's length wrote
/// over the new part every time a larger request followed a smaller one (3.4 % of ResNet-50's
/// 8-bit forward pass, in `memset`).
fn reuse<T: Clone + Default>(v: &mut Vec<T>, len: usize) -> &mut [T] {
    if v.len() < len {
        v.resize(len, T::default());
    }
    &mut v[..len]
}

/// Parts of at most `most` items for `len` items, in a multiple of `threads` and of equal size
/// (the last one shorter): `(parts, items per part)`. Unequal parts left a core idle while the
/// other finished its extra one.
fn equal_parts(len: usize, most: usize, threads: usize) -> (usize, usize) {
    let parts = len.div_ceil(most.max(1)).max(1).next_multiple_of(threads.max(1));
    (parts, len.div_ceil(parts).max(1))
}

/// L2-normalises `v` in place (a zero vector stays zero).
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}
