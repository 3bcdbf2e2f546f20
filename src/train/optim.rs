//! Optimisers for the head's parameters, held as one flat `f32` slice: SGD with momentum and
//! weight decay, and AdamW (decoupled weight decay), each with PyTorch's update rule. Updates are
//! fused loops over the parameters, so a step costs one pass.

use crate::config::Optimizer as Kind;

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

    /// Updates `params` with their gradients `grads`.
    pub fn step(&mut self, params: &mut [f32], grads: &[f32]) {
        match self {
            Optim::Sgd { lr, momentum, weight_decay, velocity, started } => {
                for ((p, g), v) in params.iter_mut().zip(grads).zip(velocity.iter_mut()) {
                    let g = g + *weight_decay * *p;
                    *v = if *started && *momentum > 0.0 { *momentum * *v + g } else { g };
                    *p -= *lr * *v;
                }
                *started = true;
            }
            Optim::AdamW { lr, weight_decay, beta1, beta2, eps, m, v, t } => {
                *t += 1;
                let (c1, c2) = (1.0 - beta1.powi(*t), 1.0 - beta2.powi(*t));
                for (((p, g), m), v) in params.iter_mut().zip(grads).zip(m.iter_mut()).zip(v.iter_mut()) {
                    *p -= *lr * *weight_decay * *p;
                    *m = *beta1 * *m + (1.0 - *beta1) * g;
                    *v = *beta2 * *v + (1.0 - *beta2) * g * g;
                    *p -= *lr * (*m / c1) / ((*v / c2).sqrt() + *eps);
                }
            }
        }
    }
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
