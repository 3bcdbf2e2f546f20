//! Optimisers for the head: SGD with momentum and weight decay (PyTorch's semantics; candle-nn's
//! SGD has no momentum) and candle-nn's AdamW.

use crate::config::Optimizer as Kind;
use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};
use candle_nn::{AdamW, Optimizer as _, ParamsAdamW};

/// SGD: `v ← μ·v + (g + λ·w)`, `w ← w − lr·v` (dampening 0, no Nesterov), as PyTorch's `SGD`.
pub struct Sgd {
    vars: Vec<Var>,
    velocity: Vec<Option<Tensor>>,
    lr: f64,
    momentum: f64,
    weight_decay: f64,
}

impl Sgd {
    pub fn new(vars: Vec<Var>, lr: f64, momentum: f64, weight_decay: f64) -> Self {
        let velocity = vec![None; vars.len()];
        Sgd { vars, velocity, lr, momentum, weight_decay }
    }

    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        for (var, velocity) in self.vars.iter().zip(&mut self.velocity) {
            let Some(g) = grads.get(var) else { continue };
            let g = if self.weight_decay > 0.0 { (g + (var.as_tensor() * self.weight_decay)?)? } else { g.clone() };
            let v = match velocity.take() {
                Some(v) if self.momentum > 0.0 => ((v * self.momentum)? + g)?,
                _ => g,
            };
            var.set(&(var.as_tensor() - (&v * self.lr)?)?)?;
            if self.momentum > 0.0 {
                *velocity = Some(v);
            }
        }
        Ok(())
    }
}

/// One of the optimisers the trainer offers.
pub enum Optim {
    Sgd(Sgd),
    AdamW(AdamW),
}

impl Optim {
    pub fn new(kind: Kind, vars: Vec<Var>, lr: f64, momentum: f64, weight_decay: f64) -> Result<Self> {
        Ok(match kind {
            Kind::Sgd => Optim::Sgd(Sgd::new(vars, lr, momentum, weight_decay)),
            Kind::Adamw => Optim::AdamW(AdamW::new(vars, ParamsAdamW { lr, weight_decay, ..ParamsAdamW::default() })?),
        })
    }

    /// Back-propagates `loss` and updates the variables.
    pub fn backward_step(&mut self, loss: &Tensor) -> Result<()> {
        let grads = loss.backward()?;
        match self {
            Optim::Sgd(s) => s.step(&grads),
            Optim::AdamW(a) => a.step(&grads),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// Minimises (w − 3)² with momentum; checks the first steps against PyTorch's update rule
    /// written out by hand.
    #[test]
    fn sgd_momentum_follows_the_pytorch_rule() {
        let w = Var::new(&[0f32], &Device::Cpu).unwrap();
        let mut opt = Sgd::new(vec![w.clone()], 0.1, 0.9, 0.0);
        let (mut pw, mut pv) = (0f32, 0f32);
        for step in 0..5 {
            let loss = (w.as_tensor() - 3.0).unwrap().sqr().unwrap().sum_all().unwrap();
            opt.step(&loss.backward().unwrap()).unwrap();
            let g = 2.0 * (pw - 3.0);
            pv = if step == 0 { g } else { 0.9 * pv + g };
            pw -= 0.1 * pv;
            let got = w.as_tensor().to_vec1::<f32>().unwrap()[0];
            assert!((got - pw).abs() < 1e-5, "step {step}: {got} vs {pw}");
        }
    }

    #[test]
    fn weight_decay_adds_to_the_gradient() {
        let w = Var::new(&[1f32], &Device::Cpu).unwrap();
        let mut opt = Sgd::new(vec![w.clone()], 0.5, 0.0, 0.2);
        // d(loss)/dw = 1; with decay 0.2 the step is 0.5 · (1 + 0.2 · 1).
        let loss = w.as_tensor().sum_all().unwrap();
        opt.step(&loss.backward().unwrap()).unwrap();
        assert!((w.as_tensor().to_vec1::<f32>().unwrap()[0] - 0.4).abs() < 1e-6);
    }
}
