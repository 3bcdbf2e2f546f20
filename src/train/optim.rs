//! Optimisers for the head's parameters, held as one flat `f32` slice: SGD with momentum and
//! weight decay, and AdamW (decoupled weight decay), each with PyTorch's update rule. Updates are
//! fused loops over the parameters on both cores, so a step costs one pass.

use crate::config::Optimizer as Kind;
use rayon::prelude::*;

/// One of the optimisers the trainer offers, with its state.
pub enum Optim {
    /// `v ← μ·v + (g + λ·w)`, `w ← w − lr·v` (dampening 0, no Nesterov), as PyTorch's `SGD`.
    Sgd { lr: f32, momentum: f32, weight_decay: f32, velocity: Vec<f32>, started: bool },
    /// PyTorch's `AdamW`: `w ← w − lr·λ·w`, then the bias-corrected Adam step.
    AdamW { lr: f32, weight_decay: f32, beta1: f32, beta2: f32, eps: f32, m: Vec<f32>, v: Vec<f32>, t: i32 },
}

impl Optim {
    /// An optimiser for `n` parameters.
    pub fn new(kind: Kind, n: usize, lr: f64, momentum: f64, weight_decay: f64) -> Self {
        let (lr, weight_decay) = (lr as f32, weight_decay as f32);
        match kind {
            Kind::Sgd => {
                Optim::Sgd { lr, momentum: momentum as f32, weight_decay, velocity: vec![0.0; n], started: false }
            }
            Kind::Adamw => Optim::AdamW {
                lr,
                weight_decay,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                m: vec![0.0; n],
                v: vec![0.0; n],
                t: 0,
            },
        }
    }

    /// Updates `params` with their gradients `grads`, in chunks spread over the rayon pool (the
    /// update is a pass over several megabytes of parameters and state per step).
    pub fn step(&mut self, params: &mut [f32], grads: &[f32]) {
        const CHUNK: usize = 1 << 14;
        let bounds: Vec<usize> = (0..params.len()).step_by(CHUNK).chain([params.len()]).collect();
        self.parts(params, &bounds)
            .into_par_iter()
            .zip(grads.par_chunks(CHUNK))
            .for_each(|(mut part, g)| part.apply(g));
    }

    /// Starts a step and splits it at `bounds` (ascending offsets, from 0 to `params.len()`):
    /// part `i` updates `params[bounds[i]..bounds[i + 1]]` and its state when given its
    /// gradients, so parts can be updated on different threads, each as soon as its gradients
    /// are known. Every part must be applied for the step to be whole.
    pub fn parts<'a>(&'a mut self, params: &'a mut [f32], bounds: &[usize]) -> Vec<Part<'a>> {
        let (rule, first, second): (Rule, &mut [f32], Option<&mut [f32]>) = match self {
            Optim::Sgd { lr, momentum, weight_decay, velocity, started } => {
                let rule = SgdRule { lr: *lr, momentum: *momentum, weight_decay: *weight_decay, keep: *started };
                *started = true;
                (Rule::Sgd(rule), velocity, None)
            }
            Optim::AdamW { lr, weight_decay, beta1, beta2, eps, m, v, t } => {
                *t += 1;
                let rule = AdamRule {
                    lr: *lr,
                    weight_decay: *weight_decay,
                    beta1: *beta1,
                    beta2: *beta2,
                    eps: *eps,
                    step_size: *lr / (1.0 - beta1.powi(*t)),
                    inv_sqrt_c2: 1.0 / (1.0 - beta2.powi(*t)).sqrt(),
                };
                (Rule::Adam(rule), m, Some(v))
            }
        };
        assert!(bounds.first() == Some(&0) && bounds.last() == Some(&params.len()), "bounds cover the parameters");
        let (mut params, mut first, mut second) = (params, first, second);
        let mut parts = Vec::with_capacity(bounds.len().saturating_sub(1));
        for w in bounds.windows(2) {
            let len = w[1] - w[0];
            let (p, rest) = std::mem::take(&mut params).split_at_mut(len);
            params = rest;
            let (a, rest) = std::mem::take(&mut first).split_at_mut(len);
            first = rest;
            let b = second.as_mut().map(|s| {
                let (b, rest) = std::mem::take(s).split_at_mut(len);
                *s = rest;
                b
            });
            parts.push(Part { rule, params: p, first: a, second: b });
        }
        parts
    }
}

/// A step's update of one slice of the parameters, with the matching slices of the state.
pub struct Part<'a> {
    rule: Rule,
    params: &'a mut [f32],
    /// SGD's velocity, or AdamW's first moment.
    first: &'a mut [f32],
    /// AdamW's second moment.
    second: Option<&'a mut [f32]>,
}

impl Part<'_> {
    /// Updates the slice with its gradients (as many as the slice has parameters).
    pub fn apply(&mut self, grads: &[f32]) {
        assert_eq!(grads.len(), self.params.len(), "one gradient per parameter");
        match (self.rule, self.second.as_deref_mut()) {
            (Rule::Sgd(rule), _) => wide(|| rule.apply(self.params, grads, self.first)),
            (Rule::Adam(rule), Some(v)) => wide(|| rule.apply(self.params, grads, self.first, v)),
            (Rule::Adam(_), None) => unreachable!("AdamW parts carry both moments"),
        }
    }
}

#[derive(Clone, Copy)]
enum Rule {
    Sgd(SgdRule),
    Adam(AdamRule),
}

/// One SGD step's constants.
#[derive(Clone, Copy)]
struct SgdRule {
    lr: f32,
    momentum: f32,
    weight_decay: f32,
    /// Whether the velocity carries over (not on the first step, nor without momentum).
    keep: bool,
}

impl SgdRule {
    #[inline(always)]
    fn apply(self, params: &mut [f32], grads: &[f32], velocity: &mut [f32]) {
        let keep = self.keep && self.momentum > 0.0;
        for ((p, g), v) in params.iter_mut().zip(grads).zip(velocity.iter_mut()) {
            let g = g + self.weight_decay * *p;
            *v = if keep { self.momentum * *v + g } else { g };
            *p -= self.lr * *v;
        }
    }
}

/// One AdamW step's constants, with the bias corrections folded as PyTorch folds them:
/// `w ← w·(1 − lr·λ)`, then `w ← w − (lr / c1) · m / (√v / √c2 + ε)`, the division by √c2 taken
/// as a product with its inverse (a division costs several products; this one moves a result by
/// an ulp at most).
#[derive(Clone, Copy)]
struct AdamRule {
    lr: f32,
    weight_decay: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    step_size: f32,
    inv_sqrt_c2: f32,
}

impl AdamRule {
    #[inline(always)]
    fn apply(self, params: &mut [f32], grads: &[f32], m: &mut [f32], v: &mut [f32]) {
        let decay = 1.0 - self.lr * self.weight_decay;
        for (((p, g), m), v) in params.iter_mut().zip(grads).zip(m.iter_mut()).zip(v.iter_mut()) {
            *p *= decay;
            *m = self.beta1 * *m + (1.0 - self.beta1) * g;
            *v = self.beta2 * *v + (1.0 - self.beta2) * g * g;
            *p -= self.step_size * *m / (v.sqrt() * self.inv_sqrt_c2 + self.eps);
        }
    }
}

/// Runs `f` compiled for AVX-512 or AVX2 where the CPU has it: the update loops then take
/// sixteen or eight lanes at a time instead of four. The operations (and so the results) are the
/// same IEEE ones either way.
#[inline(always)]
fn wide(f: impl FnOnce()) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(f: impl FnOnce()) {
            f()
        }
        // SAFETY: the CPU has AVX-512F (checked just above).
        return unsafe { avx512(f) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(f: impl FnOnce()) {
            f()
        }
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { avx2(f) };
    }
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minimises (w − 3)² with momentum; checks the first steps against PyTorch's rule written out.
    #[test]
    fn sgd_momentum_follows_the_pytorch_rule() {
        let mut w = [0f32];
        let mut opt = Optim::new(Kind::Sgd, 1, 0.1, 0.9, 0.0);
        let (mut pw, mut pv) = (0f32, 0f32);
        for step in 0..5 {
            let g = 2.0 * (w[0] - 3.0);
            opt.step(&mut w, &[g]);
            let pg = 2.0 * (pw - 3.0);
            pv = if step == 0 { pg } else { 0.9 * pv + pg };
            pw -= 0.1 * pv;
            assert!((w[0] - pw).abs() < 1e-6, "step {step}: {} vs {pw}", w[0]);
        }
    }

    #[test]
    fn sgd_weight_decay_adds_to_the_gradient() {
        let mut w = [1f32];
        Optim::new(Kind::Sgd, 1, 0.5, 0.0, 0.2).step(&mut w, &[1.0]);
        assert!((w[0] - 0.4).abs() < 1e-6, "1 − 0.5 · (1 + 0.2 · 1)");
    }

    #[test]
    fn adamw_first_step_moves_by_the_learning_rate_and_decays_decoupled() {
        // Adam's first bias-corrected step is lr · sign(g); decay shrinks w by lr · λ · w first.
        let mut w = [2f32, -1.0];
        Optim::new(Kind::Adamw, 2, 0.1, 0.0, 0.5).step(&mut w, &[0.3, -7.0]);
        assert!((w[0] - (2.0 * (1.0 - 0.05) - 0.1)).abs() < 1e-5, "{}", w[0]);
        assert!((w[1] - (-(1.0 - 0.05) + 0.1)).abs() < 1e-5, "{}", w[1]);
    }

    #[test]
    fn both_minimise_a_quadratic() {
        for kind in [Kind::Sgd, Kind::Adamw] {
            let mut w = [5f32, -4.0];
            let mut opt = Optim::new(kind, 2, 0.05, 0.9, 0.0);
            for _ in 0..500 {
                let g = [2.0 * (w[0] - 1.0), 2.0 * (w[1] + 2.0)];
                opt.step(&mut w, &g);
            }
            assert!((w[0] - 1.0).abs() < 0.05 && (w[1] + 2.0).abs() < 0.05, "{kind:?}: {w:?}");
        }
    }
}
