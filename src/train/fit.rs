//! Training the linear head on features held in memory: mini-batch cross-entropy with SGD or
//! AdamW, a test evaluation after every epoch, and a cooperative stop between batches.

use super::head::{standardise, Head};
use super::metrics::{summarise, ConfusionMatrix, EpochMetrics};
use super::optim::Optim;
use crate::config::{Optimizer, Train};
use crate::error::{Error, Remedy, Result};
use crate::events::Cancel;
use crate::ml::linalg::{matmul, Strided};
use crate::rng::SplitMix64;
pub use crate::types::FitSettings;
use candle_core::{Device, Tensor, D};
use std::time::Instant;

pub use super::samples::Samples;

/// Everything the trainer needs: the classes' titles and the train and test samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub dim: usize,
    pub titles: Vec<String>,
    pub train: Samples,
    pub test: Samples,
}

impl FitSettings {
    pub fn from_config(t: &Train, seed: u64) -> Self {
        let optimizer = match t.optimizer {
            Optimizer::Sgd => "sgd",
            Optimizer::Adamw => "adamw",
        };
        FitSettings {
            optimizer: optimizer.into(),
            learning_rate: t.learning_rate,
            momentum: t.momentum,
            weight_decay: t.weight_decay,
            epochs: t.epochs,
            batch_size: t.batch_size,
            seed,
        }
    }

    fn kind(&self) -> Optimizer {
        if self.optimizer == "sgd" {
            Optimizer::Sgd
        } else {
            Optimizer::Adamw
        }
    }
}

/// What the trainer reports as it goes.
pub enum Progress<'a> {
    /// One optimisation step: `step` counts from 0 over the whole run.
    Step { epoch: u32, step: u64, loss: f32 },
    /// An epoch ended (`complete`), or the run stopped part-way through one; with the head as it is.
    Epoch { metrics: &'a EpochMetrics, head: &'a Head, complete: bool },
}

/// The outcome of [`fit`].
pub struct Fitted {
    pub head: Head,
    /// Complete epochs, counting those of a resumed run.
    pub epochs_done: u32,
    /// Whether a stop request ended the run early.
    pub stopped: bool,
    pub history: Vec<EpochMetrics>,
}

/// A run to continue: its head and how many epochs it has done.
pub struct Resume<'a> {
    pub head: &'a Head,
    pub epochs_done: u32,
}

/// Steps per epoch for `n` samples.
pub fn steps_per_epoch(n: usize, batch_size: usize) -> u64 {
    n.div_ceil(batch_size.max(1)) as u64
}

/// Trains a linear head on `data` on the CPU. `on` sees every step and epoch (an error from it
/// stops the run).
pub fn fit(
    data: &Dataset,
    s: &FitSettings,
    resume: Option<Resume>,
    on: &mut dyn FnMut(Progress) -> Result<()>,
    cancel: &Cancel,
) -> Result<Fitted> {
    fit_on(&Device::Cpu, data, s, resume, on, cancel)
}

/// Rows × features from which training's products run on a CUDA device when one is configured:
/// below it, copying each batch over costs more than the products save.
pub const GPU_TRAINING_FROM: usize = 10_000 * 2048;

/// [`fit`], with each step's two products (logits and the weight's gradient) on `device`; the
/// parameters, the optimiser and the head stay on the CPU.
pub fn fit_on(
    device: &Device,
    data: &Dataset,
    s: &FitSettings,
    resume: Option<Resume>,
    on: &mut dyn FnMut(Progress) -> Result<()>,
    cancel: &Cancel,
) -> Result<Fitted> {
    let classes = data.titles.len();
    if classes < 2 {
        return Err(Error::not_ready(
            format!("training needs at least two videos with train frames; this library has {classes}"),
            Remedy::IngestMore,
        ));
    }
    if data.train.is_empty() {
        return Err(Error::not_ready("there are no train frames to learn from", Remedy::IngestWithImageModel));
    }
    let fail = |e: candle_core::Error| Error::compute("training", e);
    let dev = Device::Cpu;
    let dim = data.dim;
    let (mean, std) = match &resume {
        Some(r) => (r.head.mean.to_vec1::<f32>().map_err(fail)?, r.head.std.to_vec1::<f32>().map_err(fail)?),
        None => data.train.feature_stats(dim),
    };
    // Only the test frames are standardised ahead (a tenth of the frames); train batches are
    // read and standardised as they are drawn.
    let test = if data.test.is_empty() {
        None
    } else {
        let mut x = Vec::with_capacity(data.test.len() * dim);
        (0..data.test.len()).for_each(|i| data.test.row_into(i, dim, &mut x));
        standardise(&mut x, &mean, &std);
        let x = Tensor::from_vec(x, (data.test.len(), dim), &dev).map_err(fail)?;
        Some((x, Tensor::new(data.test.y.as_slice(), &dev).map_err(fail)?))
    };

    // The parameters: the weight (classes × dim, row-major), then the bias.
    let mut params = match &resume {
        Some(r) => {
            let mut p = r.head.weight.flatten_all().and_then(|w| w.to_vec1::<f32>()).map_err(fail)?;
            p.extend(r.head.bias.to_vec1::<f32>().map_err(fail)?);
            p
        }
        None => {
            // PyTorch's nn.Linear initialisation: U(−1/√dim, 1/√dim), seeded.
            let mut rng = SplitMix64(s.seed);
            let k = 1.0 / (dim as f64).sqrt();
            (0..classes * dim + classes).map(|_| ((rng.unit() * 2.0 - 1.0) * k) as f32).collect()
        }
    };
    let mut opt = Optim::new(s.kind(), params.len(), s.learning_rate, s.momentum, s.weight_decay);
    let head_of = |params: &[f32]| -> candle_core::Result<Head> {
        Ok(Head::new(
            Tensor::from_slice(&params[..classes * dim], (classes, dim), &dev)?,
            Tensor::from_slice(&params[classes * dim..], classes, &dev)?,
            Tensor::new(mean.as_slice(), &dev)?,
            Tensor::new(std.as_slice(), &dev)?,
        ))
    };

    let n = data.train.len();
    let per_epoch = steps_per_epoch(n, s.batch_size);
    let first = resume.as_ref().map_or(0, |r| r.epochs_done);
    let mut history = Vec::new();
    let mut epochs_done = first;
    let mut stopped = false;
    let mut xb = Vec::with_capacity(s.batch_size.max(1) * dim);
    let mut scratch = Scratch::default();
    let on_device = (!device.is_cpu()).then_some(device);
    for epoch in first..s.epochs {
        let started = Instant::now();
        let mut order: Vec<u32> = (0..n as u32).collect();
        let mut shuffle = SplitMix64(s.seed ^ (epoch as u64 + 1).wrapping_mul(0x9e37_79b9));
        for i in (1..n).rev() {
            order.swap(i, shuffle.below(i + 1));
        }
        let (mut loss_sum, mut right, mut seen) = (0f64, 0usize, 0usize);
        for (b, batch) in order.chunks(s.batch_size.max(1)).enumerate() {
            if cancel.is_cancelled() {
                stopped = true;
                break;
            }
            xb.clear();
            for &i in batch {
                data.train.row_into(i as usize, dim, &mut xb);
            }
            standardise(&mut xb, &mean, &std);
            let yb: Vec<u32> = batch.iter().map(|&i| data.train.y[i as usize]).collect();
            let step = cross_entropy_step(on_device, &params, &xb, &yb, dim, classes, &mut scratch).map_err(fail)?;
            opt.step(&mut params, &scratch.grads);
            loss_sum += step.loss * batch.len() as f64;
            right += step.correct;
            seen += batch.len();
            on(Progress::Step { epoch: epoch + 1, step: epoch as u64 * per_epoch + b as u64, loss: step.loss as f32 })?;
        }
        if seen == 0 {
            break;
        }
        let head = head_of(&params).map_err(fail)?;
        let (test_loss, confusion) = match &test {
            Some((x, y)) => {
                let (l, m) = evaluate_prepared(&head, x, y, classes).map_err(fail)?;
                (Some(l), m)
            }
            None => (None, ConfusionMatrix::new(classes)),
        };
        let (per_class, top10, macro_acc, confused) = summarise(&confusion, &data.titles);
        let metrics = EpochMetrics {
            epoch: epoch + 1,
            train_loss: loss_sum / seen as f64,
            train_accuracy: right as f64 / seen as f64,
            test_loss,
            test_accuracy: confusion.accuracy(),
            top10_class_accuracy: top10,
            macro_accuracy: macro_acc,
            per_class,
            confused,
            seconds: started.elapsed().as_secs_f64(),
        };
        on(Progress::Epoch { metrics: &metrics, head: &head, complete: !stopped })?;
        history.push(metrics);
        if stopped {
            break;
        }
        epochs_done = epoch + 1;
    }
    Ok(Fitted { head: head_of(&params).map_err(fail)?, epochs_done, stopped, history })
}

/// One mini-batch of a linear layer under softmax cross-entropy.
struct Step {
    /// Mean cross-entropy over the batch.
    loss: f64,
    /// Samples whose highest logit is their label.
    correct: usize,
}

/// What a step writes, kept from one step to the next: the batch's logits (rows × classes),
/// which become the loss's gradient with respect to them, and the parameters' gradient (the
/// weight's, classes × dim, then the bias's).
#[derive(Default)]
struct Scratch {
    logits: Vec<f32>,
    /// The logits as the product leaves them, classes × rows.
    transposed: Vec<f32>,
    grads: Vec<f32>,
}

/// The loss of `xb` (rows × dim) with labels `yb`, and its exact gradient into `scratch.grads`:
/// with softmax probabilities P and one-hot labels Y, dL/dlogits = (P − Y)/rows, dW = that
/// transposed · X, db = its column sums. The two products run on the CPU's `gemm` straight from
/// the slices, or in Candle on `device` when one is given (a GPU).
fn cross_entropy_step(
    device: Option<&Device>,
    params: &[f32],
    xb: &[f32],
    yb: &[u32],
    dim: usize,
    classes: usize,
    scratch: &mut Scratch,
) -> candle_core::Result<Step> {
    let rows = yb.len();
    let (weight, bias) = params.split_at(classes * dim);
    scratch.logits.resize(rows * classes, 0.0);
    scratch.grads.resize(params.len(), 0.0);
    // The batch, uploaded once for both products when they run on a device.
    let on_device = device.map(|d| Tensor::from_slice(xb, (rows, dim), d).map(|x| (x, d))).transpose()?;
    match &on_device {
        Some((x, d)) => {
            let w = Tensor::from_slice(weight, (classes, dim), d)?;
            scratch.logits.copy_from_slice(&x.matmul(&w.t()?)?.flatten_all()?.to_vec1::<f32>()?);
        }
        None => {
            // As W · Xᵀ (classes × rows), then transposed: gemm runs this orientation about a
            // quarter faster here than X · Wᵀ, whose right operand it would repack every step.
            scratch.transposed.resize(rows * classes, 0.0);
            matmul(
                &mut scratch.transposed,
                Strided::row_major(weight, classes, dim),
                Strided::row_major(xb, rows, dim).t(),
                false,
            );
            for (r, row) in scratch.logits.chunks_exact_mut(classes).enumerate() {
                row.iter_mut().enumerate().for_each(|(c, l)| *l = scratch.transposed[c * rows + r]);
            }
        }
    }
    let (mut loss, mut correct) = (0f64, 0usize);
    for (row, &y) in scratch.logits.chunks_exact_mut(classes).zip(yb) {
        row.iter_mut().zip(bias).for_each(|(l, b)| *l += b);
        let (best, max) =
            row.iter().enumerate().fold((0, f32::NEG_INFINITY), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
        correct += (best == y as usize) as usize;
        let sum: f32 = row.iter().map(|v| (v - max).exp()).sum();
        loss += (sum.ln() + max - row[y as usize]) as f64;
        // The row becomes (softmax − one-hot) / rows.
        for (i, v) in row.iter_mut().enumerate() {
            *v = ((*v - max).exp() / sum - (i == y as usize) as u32 as f32) / rows as f32;
        }
    }
    let (dw, db) = scratch.grads.split_at_mut(classes * dim);
    match &on_device {
        Some((x, d)) => {
            let g = Tensor::from_slice(&scratch.logits, (rows, classes), d)?;
            dw.copy_from_slice(&g.t()?.matmul(x)?.flatten_all()?.to_vec1::<f32>()?);
        }
        None => {
            matmul(dw, Strided::row_major(&scratch.logits, rows, classes).t(), Strided::row_major(xb, rows, dim), false)
        }
    }
    db.fill(0.0);
    for row in scratch.logits.chunks_exact(classes) {
        db.iter_mut().zip(row).for_each(|(d, v)| *d += v);
    }
    Ok(Step { loss: loss / rows as f64, correct })
}

/// Mean cross-entropy and the confusion matrix of a head on standardised features.
fn evaluate_prepared(
    head: &Head,
    x: &Tensor,
    y: &Tensor,
    classes: usize,
) -> candle_core::Result<(f64, ConfusionMatrix)> {
    let n = y.dims()[0];
    let mut m = ConfusionMatrix::new(classes);
    let mut loss_sum = 0f64;
    let mut start = 0;
    while start < n {
        let len = 1024.min(n - start);
        let (xb, yb) = (x.narrow(0, start, len)?, y.narrow(0, start, len)?);
        let logits = xb.matmul(&head.weight.t()?)?.broadcast_add(&head.bias)?;
        loss_sum += candle_nn::loss::cross_entropy(&logits, &yb)?.to_scalar::<f32>()? as f64 * len as f64;
        let predicted = logits.argmax(D::Minus1)?.to_vec1::<u32>()?;
        for (p, a) in predicted.iter().zip(yb.to_vec1::<u32>()?) {
            m.add(a as usize, *p as usize);
        }
        start += len;
    }
    Ok((loss_sum / n.max(1) as f64, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The analytic gradient against finite differences of the loss.
    #[test]
    fn the_gradient_matches_finite_differences() {
        let (dim, classes) = (3, 4);
        let mut rng = SplitMix64(9);
        let params: Vec<f32> = (0..classes * dim + classes).map(|_| rng.unit() as f32 - 0.5).collect();
        let xb: Vec<f32> = (0..2 * dim).map(|_| rng.unit() as f32 * 2.0 - 1.0).collect();
        let yb = [1u32, 3];
        let mut scratch = Scratch::default();
        cross_entropy_step(None, &params, &xb, &yb, dim, classes, &mut scratch).unwrap();
        for i in 0..params.len() {
            let h = 1e-3;
            let (mut up, mut down) = (params.clone(), params.clone());
            up[i] += h;
            down[i] -= h;
            let l =
                |p: &[f32]| cross_entropy_step(None, p, &xb, &yb, dim, classes, &mut Scratch::default()).unwrap().loss;
            let numeric = (l(&up) - l(&down)) / (2.0 * h as f64);
            let grad = scratch.grads[i] as f64;
            assert!((numeric - grad).abs() < 1e-3, "parameter {i}: {numeric} vs {grad}");
        }
    }

    /// The products through Candle (the GPU's path, run here on the CPU device) give the same
    /// loss and gradient as `gemm` on the slices, on a batch large enough for several threads.
    #[test]
    fn the_tensor_path_agrees_with_the_slice_path() {
        let (dim, classes, rows) = (96, 40, 33);
        let mut rng = SplitMix64(4);
        let params: Vec<f32> = (0..classes * dim + classes).map(|_| rng.unit() as f32 - 0.5).collect();
        let xb: Vec<f32> = (0..rows * dim).map(|_| rng.unit() as f32 * 2.0 - 1.0).collect();
        let yb: Vec<u32> = (0..rows as u32).map(|i| i * 7 % classes as u32).collect();
        let (mut a, mut b) = (Scratch::default(), Scratch::default());
        let sa = cross_entropy_step(None, &params, &xb, &yb, dim, classes, &mut a).unwrap();
        let sb = cross_entropy_step(Some(&Device::Cpu), &params, &xb, &yb, dim, classes, &mut b).unwrap();
        assert!((sa.loss - sb.loss).abs() < 1e-5 && sa.correct == sb.correct, "{} vs {}", sa.loss, sb.loss);
        let worst = a.grads.iter().zip(&b.grads).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-5, "gradients differ by {worst}");
        assert!(a.grads.iter().any(|g| g.abs() > 1e-3), "the gradient is not all zero");
    }
}
