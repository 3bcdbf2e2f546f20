//! Training the linear head on frame features, read batch by batch where the store maps them:
//! mini-batch cross-entropy with SGD or AdamW, a test evaluation after every epoch, and a
//! cooperative stop between batches.

use super::head::{standardise, Head};
use super::metrics::{summarise, ConfusionMatrix, EpochMetrics};
use super::optim::Optim;
use crate::config::{Optimizer, Train};
use crate::error::{Error, Remedy, Result};
use crate::events::Cancel;
use crate::ml::linalg::{matmul_serial, Strided};
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
    let mut yb = Vec::with_capacity(s.batch_size.max(1));
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
            data.train.standardised_batch(batch, &mean, &std, &mut xb);
            yb.clear();
            yb.extend(batch.iter().map(|&i| data.train.y[i as usize]));
            let step = match on_device {
                Some(device) => {
                    let step =
                        cross_entropy_step(device, &params, (&xb, &yb), (dim, classes), &mut scratch).map_err(fail)?;
                    opt.step(&mut params, &scratch.grads);
                    step
                }
                None => fused_step(&mut params, &mut opt, (&xb, &yb), (dim, classes), &mut scratch),
            };
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
#[derive(Debug)]
struct Step {
    /// Mean cross-entropy over the batch.
    loss: f64,
    /// Samples whose highest logit is their label.
    correct: usize,
}

/// What a step writes, kept from one step to the next: the batch's logits (classes × rows),
/// which become the loss's gradient with respect to them, and the parameters' gradient (the
/// weight's, classes × dim, then the bias's).
#[derive(Default)]
struct Scratch {
    logits: Vec<f32>,
    /// One sample's logits across the classes.
    row: Vec<f32>,
    /// The batch as dim × rows.
    transposed: Vec<f32>,
    grads: Vec<f32>,
    /// Per part of the classes and batch row, what the softmax needs of the part (see [`PartMax`]).
    parts: Vec<PartMax>,
    /// Per part and batch row, the factor that turns the part's exponentials into probabilities.
    factors: Vec<f32>,
}

/// Classes per task in [`fused_step`]: a part's weight rows and gradient (128 × 2048 floats,
/// 1 MiB each) stay in cache between its product and its update.
const CLASSES_PER_PART: usize = 128;

/// One batch row's logits over one part of the classes, once the part has exponentiated them.
#[derive(Debug, Clone, Copy, Default)]
struct PartMax {
    /// The largest logit (bias added) and the first of the part's classes that has it.
    max: f32,
    best: u32,
    /// The sum over the part of exp(logit − max).
    sum: f32,
    /// The label's logit, when the label is one of the part's classes.
    label: Option<f32>,
}

/// A training step on the CPU, split by classes over the pool. Each task computes its classes'
/// logits `W_p · Xᵀ`, adds their bias and exponentiates them against the part's own largest;
/// the parts' largest logits and sums then give each row's softmax (a few numbers per row,
/// combined on the calling thread); then each task turns its exponentials into dL/dlogits,
/// computes its classes' weight gradient and applies the optimiser's update to them at once,
/// while the gradient is still in cache. Two parallel phases a step, each product on one
/// thread: the arithmetic of [`cross_entropy_step`] followed by [`Optim::step`], up to rounding.
fn fused_step(
    params: &mut [f32],
    opt: &mut Optim,
    (xb, yb): (&[f32], &[u32]),
    (dim, classes): (usize, usize),
    scratch: &mut Scratch,
) -> Step {
    use rayon::prelude::*;
    let rows = yb.len();
    let threads = rayon::current_num_threads().max(1);
    let parts = threads * classes.div_ceil(threads * CLASSES_PER_PART);
    let per = classes.div_ceil(parts).max(1);
    let parts = classes.div_ceil(per);
    scratch.logits.resize(rows * classes, 0.0);
    scratch.grads.resize(params.len(), 0.0);
    scratch.parts.resize(parts * rows, PartMax::default());
    scratch.factors.resize(parts * rows, 0.0);
    let x = Strided::row_major(xb, rows, dim);
    // From 64 rows (a batch as tall as `gemm`'s AVX-512 kernel), the batch transposed once
    // (dim × rows) for the logits' product: `gemm` then reads it as it is, where it repacks the
    // row-major batch for every part (2.7 → 2.1 s an epoch at 90,000 × 2048, 400 classes; below
    // 64 rows the row-major batch measured faster).
    let xt = if rows >= 64 {
        scratch.transposed.resize(rows * dim, 0.0);
        transpose_into(xb, rows, dim, &mut scratch.transposed);
        Strided::row_major(&scratch.transposed, dim, rows)
    } else {
        x.t()
    };
    let (weight, bias) = params.split_at(classes * dim);
    scratch.logits.par_chunks_mut(per * rows).zip(scratch.parts.par_chunks_mut(rows)).enumerate().for_each(
        |(p, (out, stats))| {
            let n = out.len() / rows;
            matmul_serial(out, Strided::row_major(&weight[p * per * dim..(p * per + n) * dim], n, dim), xt);
            exponentiate_part(out, &bias[p * per..p * per + n], p * per, yb, stats);
        },
    );
    let step = combine_parts(&scratch.parts, yb, &mut scratch.factors);
    let mut bounds: Vec<usize> = (0..classes).step_by(per).map(|c| c * dim).collect();
    bounds.extend([classes * dim, params.len()]);
    let mut updates = opt.parts(params, &bounds);
    let mut bias = updates.pop().expect("the bias's part");
    let (dw, db) = scratch.grads.split_at_mut(classes * dim);
    updates
        .into_par_iter()
        .zip(dw.par_chunks_mut(per * dim))
        .zip(db.par_chunks_mut(per))
        .zip(scratch.logits.par_chunks_mut(per * rows))
        .zip(scratch.factors.par_chunks(rows))
        .enumerate()
        .for_each(|(p, ((((mut update, g), gb), lt), factors))| {
            part_gradient(lt, factors, p * per, yb);
            bias_gradient(gb, lt, rows);
            matmul_serial(g, Strided::row_major(lt, lt.len() / rows, rows), x);
            update.apply(g);
        });
    bias.apply(db);
    step
}

/// `xb` (rows × dim, row-major) into `out` as dim × rows, in blocks of components spread over
/// the pool.
fn transpose_into(xb: &[f32], rows: usize, dim: usize, out: &mut [f32]) {
    use rayon::prelude::*;
    const BLOCK: usize = 16;
    out.par_chunks_mut(BLOCK * rows).enumerate().with_min_len(8).for_each(|(b, out)| {
        let k0 = b * BLOCK;
        let width = out.len() / rows;
        for (r, row) in xb.chunks_exact(dim).enumerate() {
            row[k0..k0 + width].iter().enumerate().for_each(|(k, &v)| out[k * rows + r] = v);
        }
    });
}

/// Adds the bias to one part's logits (`out`, the part's classes × rows, the first being class
/// `first`) and replaces each by exp(logit − the row's largest in the part), noting per row the
/// largest, its class, the sum and the label's logit.
fn exponentiate_part(out: &mut [f32], bias: &[f32], first: usize, yb: &[u32], stats: &mut [PartMax]) {
    let rows = yb.len();
    stats.fill(PartMax { max: f32::NEG_INFINITY, best: first as u32, sum: 0.0, label: None });
    for (c, (logits, b)) in out.chunks_exact_mut(rows).zip(bias).enumerate() {
        let class = (first + c) as u32;
        for ((l, st), &y) in logits.iter_mut().zip(stats.iter_mut()).zip(yb) {
            *l += b;
            if *l > st.max {
                st.max = *l;
                st.best = class;
            }
            if y == class {
                st.label = Some(*l);
            }
        }
    }
    for logits in out.chunks_exact_mut(rows) {
        for (l, st) in logits.iter_mut().zip(stats.iter_mut()) {
            *l = (*l - st.max).exp();
            st.sum += *l;
        }
    }
}

/// Each row's softmax from its parts (`parts`, part-major, `yb.len()` rows each): the batch's
/// mean loss and right answers, and into `factors` (same layout) the factor exp(part's largest −
/// row's largest) / (row's sum × rows) that turns a part's exponentials into probabilities over
/// the batch size.
fn combine_parts(parts: &[PartMax], yb: &[u32], factors: &mut [f32]) -> Step {
    let rows = yb.len();
    let (mut loss, mut correct) = (0f64, 0usize);
    for (r, &y) in yb.iter().enumerate() {
        let row = || parts.iter().skip(r).step_by(rows);
        // The first part with the largest logit holds the first class with it.
        let top = row().fold(parts[r], |top, p| if p.max > top.max { *p } else { top });
        let sum: f32 = row().map(|p| p.sum * (p.max - top.max).exp()).sum();
        let label = row().find_map(|p| p.label).unwrap_or(f32::NAN);
        correct += (top.best == y) as usize;
        loss += (sum.ln() + top.max - label) as f64;
        for (f, p) in factors.iter_mut().skip(r).step_by(rows).zip(row()) {
            *f = (p.max - top.max).exp() / (sum * rows as f32);
        }
    }
    Step { loss: loss / rows as f64, correct }
}

/// One part's exponentials (`lt`, its classes × rows, the first being class `first`) into
/// dL/dlogits: (P − Y) / rows, with `factors` from [`combine_parts`].
fn part_gradient(lt: &mut [f32], factors: &[f32], first: usize, yb: &[u32]) {
    let rows = yb.len() as f32;
    for (c, logits) in lt.chunks_exact_mut(yb.len()).enumerate() {
        let class = (first + c) as u32;
        for ((l, f), &y) in logits.iter_mut().zip(factors).zip(yb) {
            *l = *l * f - (y == class) as u32 as f32 / rows;
        }
    }
}

/// The loss of `xb` (rows × dim) with labels `yb`, and its exact gradient into `scratch.grads`,
/// with both products in Candle on `device` (a GPU; the CPU trains through [`fused_step`]).
fn cross_entropy_step(
    device: &Device,
    params: &[f32],
    (xb, yb): (&[f32], &[u32]),
    (dim, classes): (usize, usize),
    scratch: &mut Scratch,
) -> candle_core::Result<Step> {
    let rows = yb.len();
    let (weight, bias) = params.split_at(classes * dim);
    scratch.grads.resize(params.len(), 0.0);
    let x = Tensor::from_slice(xb, (rows, dim), device)?;
    let w = Tensor::from_slice(weight, (classes, dim), device)?;
    scratch.logits = w.matmul(&x.t()?)?.flatten_all()?.to_vec1::<f32>()?;
    let step = softmax_gradient(&mut scratch.logits, bias, yb, &mut scratch.row);
    let (dw, db) = scratch.grads.split_at_mut(classes * dim);
    let g = Tensor::from_slice(&scratch.logits, (classes, rows), device)?;
    dw.copy_from_slice(&g.matmul(&x)?.flatten_all()?.to_vec1::<f32>()?);
    bias_gradient(db, &scratch.logits, rows);
    Ok(step)
}

/// Adds the bias to `logits` (classes × rows) and turns them in place into the loss's gradient
/// with respect to them: with softmax probabilities P and one-hot labels Y, (P − Y) / rows.
fn softmax_gradient(logits: &mut [f32], bias: &[f32], yb: &[u32], row: &mut Vec<f32>) -> Step {
    let (classes, rows) = (bias.len(), yb.len());
    row.resize(classes, 0.0);
    let (mut loss, mut correct) = (0f64, 0usize);
    for (r, &y) in yb.iter().enumerate() {
        let y = y as usize;
        row.iter_mut().zip(bias).enumerate().for_each(|(c, (l, b))| *l = logits[c * rows + r] + b);
        let (best, max) =
            row.iter().enumerate().fold((0, f32::NEG_INFINITY), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
        correct += (best == y) as usize;
        let label = row[y];
        let mut sum = 0f32;
        row.iter_mut().for_each(|v| {
            *v = (*v - max).exp();
            sum += *v;
        });
        loss += (sum.ln() + max - label) as f64;
        for (c, e) in row.iter().enumerate() {
            logits[c * rows + r] = (e / sum - (c == y) as u32 as f32) / rows as f32;
        }
    }
    Step { loss: loss / rows as f64, correct }
}

/// The bias's gradient: each class's row sum of dL/dlogits (classes × rows).
fn bias_gradient(db: &mut [f32], g: &[f32], rows: usize) {
    db.iter_mut().zip(g.chunks_exact(rows)).for_each(|(d, r)| *d = r.iter().sum());
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
        let step = |p: &[f32], scratch: &mut Scratch| {
            cross_entropy_step(&Device::Cpu, p, (&xb, &yb), (dim, classes), scratch).unwrap()
        };
        let mut scratch = Scratch::default();
        step(&params, &mut scratch);
        for i in 0..params.len() {
            let h = 1e-3;
            let (mut up, mut down) = (params.clone(), params.clone());
            up[i] += h;
            down[i] -= h;
            let l = |p: &[f32]| step(p, &mut Scratch::default()).loss;
            let numeric = (l(&up) - l(&down)) / (2.0 * h as f64);
            let grad = scratch.grads[i] as f64;
            assert!((numeric - grad).abs() < 1e-3, "parameter {i}: {numeric} vs {grad}");
        }
    }

    /// The CPU's fused step (products split by classes, the softmax combined from the parts,
    /// each part updated as soon as its gradient is known) computes the gradient that Candle
    /// computes, up to rounding, and moves the parameters exactly as the optimiser's whole step
    /// does with that gradient, over several steps of both optimisers, with more classes than
    /// one part holds. (The parameters are not compared with those of Candle's gradient: AdamW's
    /// step divides by the gradient's size, so a rounding of a gradient near zero moves them by up
    /// to the learning rate.)
    #[test]
    fn the_fused_step_matches_the_gradient_then_the_update() {
        // 17 rows read the batch in place; from 64 the batch is transposed first.
        for (rows, kind) in [(17, Optimizer::Sgd), (17, Optimizer::Adamw), (70, Optimizer::Adamw)] {
            let (dim, classes) = (24, 300);
            let mut rng = SplitMix64(4);
            let start: Vec<f32> = (0..classes * dim + classes).map(|_| rng.unit() as f32 - 0.5).collect();
            let xb: Vec<f32> = (0..rows * dim).map(|_| rng.unit() as f32 * 2.0 - 1.0).collect();
            let yb: Vec<u32> = (0..rows as u32).map(|i| i * 37 % classes as u32).collect();
            let (mut fused, mut apart) = (start.clone(), start.clone());
            let mut opt_fused = Optim::new(kind, start.len(), 0.05, 0.9, 0.01);
            let mut opt_apart = Optim::new(kind, start.len(), 0.05, 0.9, 0.01);
            let (mut a, mut b) = (Scratch::default(), Scratch::default());
            for n in 0..3 {
                let sb = cross_entropy_step(&Device::Cpu, &apart, (&xb, &yb), (dim, classes), &mut b).unwrap();
                let sa = fused_step(&mut fused, &mut opt_fused, (&xb, &yb), (dim, classes), &mut a);
                let worst = a.grads.iter().zip(&b.grads).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
                assert!(worst < 1e-6, "{kind:?}, {rows} rows, step {n}: gradients differ by {worst}");
                opt_apart.step(&mut apart, &a.grads);
                assert!(
                    (sa.loss - sb.loss).abs() < 1e-5 && sa.correct == sb.correct,
                    "{kind:?}, {rows} rows, step {n}: {sa:?} vs {sb:?}"
                );
                assert!(
                    fused == apart,
                    "{kind:?}, {rows} rows, step {n}: the fused update moved the parameters otherwise"
                );
            }
            let moved = fused.iter().zip(&start).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            assert!(moved > 1e-2, "{kind:?}: the parameters moved by {moved} only");
        }
    }
}
