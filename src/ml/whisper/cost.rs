//! What one 30 s window and one decoded token cost a checkpoint, measured on its own weights
//! (random weights cost the same as trained ones): the figures behind a real-time-factor estimate
//! for checkpoints whose trained weights are not at hand (base.en here).

use super::decode::failed;
use super::mel::WINDOW_FRAMES;
use super::Transcriber;
use crate::error::Result;
use candle_core::Tensor;
use std::time::Instant;

/// Median seconds per encoder window and per decoding step (KV cache on, output projection
/// included; the sampling rules around it are not).
#[derive(Debug, Clone, Copy)]
pub struct Costs {
    pub encoder_seconds_per_window: f64,
    pub decoder_ms_per_token: f64,
}

impl Costs {
    /// Real-time factor at `tokens_per_second` of speech: 30 s of audio over one window plus
    /// the tokens it holds.
    pub fn real_time_factor(&self, tokens_per_second: f64) -> f64 {
        30.0 / (self.encoder_seconds_per_window + 30.0 * tokens_per_second * self.decoder_ms_per_token / 1000.0)
    }
}

impl Transcriber {
    /// Runs the encoder on `windows` windows of low noise and decodes `tokens` steps after the
    /// start-of-transcript token, each step timed; the medians.
    pub fn costs(&self, windows: usize, tokens: usize) -> Result<Costs> {
        let run = || -> candle_core::Result<Costs> {
            let mel = Tensor::randn(0f32, 0.1, (1, self.config.num_mel_bins, WINDOW_FRAMES), &self.device)?;
            let mut encoder = Vec::new();
            let mut features = None;
            for _ in 0..windows.max(1) {
                let t = Instant::now();
                features = Some(self.encoder.forward(&mel)?);
                encoder.push(t.elapsed().as_secs_f64());
            }
            let features = features.expect("at least one window ran");
            let mut cache = self.decoder.cache(&features)?;
            self.decoder.forward(&[self.specials.sot], &mut cache)?;
            let mut steps = Vec::new();
            let max = self.config.max_target_positions.saturating_sub(1).min(tokens.max(1));
            for i in 0..max {
                let token = 220 + i as u32 % 1000; // ordinary text tokens
                let t = Instant::now();
                self.decoder.forward(&[token], &mut cache)?.to_vec2::<f32>()?;
                steps.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            Ok(Costs { encoder_seconds_per_window: median(encoder), decoder_ms_per_token: median(steps) })
        };
        run().map_err(failed)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_real_time_factor_counts_one_window_and_its_tokens() {
        let c = Costs { encoder_seconds_per_window: 1.0, decoder_ms_per_token: 10.0 };
        // 30 s of audio: 1 s of encoder + 90 tokens × 10 ms.
        assert!((c.real_time_factor(3.0) - 30.0 / 1.9).abs() < 1e-9);
        assert!((c.real_time_factor(0.0) - 30.0).abs() < 1e-9);
    }
}
