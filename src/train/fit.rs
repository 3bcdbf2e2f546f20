//! Training the linear head on features held in memory: mini-batch cross-entropy with SGD or
//! AdamW, a test evaluation after every epoch, and a cooperative stop between batches.

use super::head::{feature_stats, standardise, Head};
use super::metrics::{summarise, ConfusionMatrix, EpochMetrics};
use super::optim::Optim;
use crate::config::{Optimizer, Train};
use crate::error::{Error, Result};
use crate::events::Cancel;
use crate::rng::SplitMix64;
use candle_core::{DType, Device, Tensor, Var, D};
use std::time::Instant;

/// Row-major features with one label each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples {
    pub x: Vec<f32>,
    pub y: Vec<u32>,
}

impl Samples {
    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
}

/// Everything the trainer needs: the classes' titles and the train and test samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub dim: usize,
    pub titles: Vec<String>,
    pub train: Samples,
    pub test: Samples,
}

/// How to train: the `[train]` settings and a seed for initialisation and shuffling.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FitSettings {
    pub optimizer: String,
    pub learning_rate: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub epochs: u32,
    pub batch_size: usize,
    pub seed: u64,
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

/// Trains a linear head on `data`. `on` sees every step and epoch (an error from it stops the run).
pub fn fit(
    data: &Dataset,
    s: &FitSettings,
    resume: Option<Resume>,
    on: &mut dyn FnMut(Progress) -> Result<()>,
    cancel: &Cancel,
) -> Result<Fitted> {
    let classes = data.titles.len();
    if classes < 2 {
        return Err(Error::Invalid(format!(
            "training needs at least two videos with train frames; this library has {classes}. Ingest more videos first"
        )));
    }
    if data.train.is_empty() {
        return Err(Error::Invalid(
            "there are no train frames to learn from; ingest videos with an image model first".into(),
        ));
    }
    let fail = |e: candle_core::Error| Error::Invalid(format!("training failed: {e}"));
    let dev = Device::Cpu;
    let dim = data.dim;
    let (mean, std) = match &resume {
        Some(r) => (r.head.mean.to_vec1::<f32>().map_err(fail)?, r.head.std.to_vec1::<f32>().map_err(fail)?),
        None => feature_stats(&data.train.x, dim),
    };
    let prepared = |samples: &Samples| -> candle_core::Result<(Tensor, Tensor)> {
        let mut x = samples.x.clone();
        standardise(&mut x, &mean, &std);
        Ok((Tensor::from_vec(x, (samples.len(), dim), &dev)?, Tensor::new(samples.y.as_slice(), &dev)?))
    };
    let (x_train, y_train) = prepared(&data.train).map_err(fail)?;
    let test = if data.test.is_empty() { None } else { Some(prepared(&data.test).map_err(fail)?) };

    let mut rng = SplitMix64(s.seed);
    let (weight, bias) = match &resume {
        Some(r) => (Var::from_tensor(&r.head.weight).map_err(fail)?, Var::from_tensor(&r.head.bias).map_err(fail)?),
        None => {
            // PyTorch's nn.Linear initialisation: U(−1/√dim, 1/√dim), seeded.
            let k = 1.0 / (dim as f64).sqrt();
            let mut uniform = |n: usize| (0..n).map(|_| ((rng.unit() * 2.0 - 1.0) * k) as f32).collect::<Vec<_>>();
            let w = Tensor::from_vec(uniform(classes * dim), (classes, dim), &dev).map_err(fail)?;
            let b = Tensor::from_vec(uniform(classes), classes, &dev).map_err(fail)?;
            (Var::from_tensor(&w).map_err(fail)?, Var::from_tensor(&b).map_err(fail)?)
        }
    };
    let mut opt = Optim::new(s.kind(), vec![weight.clone(), bias.clone()], s.learning_rate, s.momentum, s.weight_decay)
        .map_err(fail)?;
    let head_now = |mean: &[f32], std: &[f32]| -> candle_core::Result<Head> {
        Ok(Head {
            weight: weight.as_tensor().copy()?,
            bias: bias.as_tensor().copy()?,
            mean: Tensor::new(mean, &dev)?,
            std: Tensor::new(std, &dev)?,
        })
    };

    let n = data.train.len();
    let per_epoch = steps_per_epoch(n, s.batch_size);
    let first = resume.as_ref().map_or(0, |r| r.epochs_done);
    let mut history = Vec::new();
    let mut epochs_done = first;
    let mut stopped = false;
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
            let idx = Tensor::new(batch, &dev).map_err(fail)?;
            let mut step = || -> candle_core::Result<(f32, usize)> {
                let xb = x_train.index_select(&idx, 0)?;
                let yb = y_train.index_select(&idx, 0)?;
                let logits = xb.matmul(&weight.as_tensor().t()?)?.broadcast_add(bias.as_tensor())?;
                let loss = candle_nn::loss::cross_entropy(&logits, &yb)?;
                let correct = logits.argmax(D::Minus1)?.eq(&yb)?.to_dtype(DType::U32)?.sum_all()?.to_scalar::<u32>()?;
                opt.backward_step(&loss)?;
                Ok((loss.to_scalar::<f32>()?, correct as usize))
            };
            let (loss, correct) = step().map_err(fail)?;
            loss_sum += loss as f64 * batch.len() as f64;
            right += correct;
            seen += batch.len();
            on(Progress::Step { epoch: epoch + 1, step: epoch as u64 * per_epoch + b as u64, loss })?;
        }
        if seen == 0 {
            break;
        }
        let head = head_now(&mean, &std).map_err(fail)?;
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
    Ok(Fitted { head: head_now(&mean, &std).map_err(fail)?, epochs_done, stopped, history })
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
