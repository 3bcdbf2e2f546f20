//! Channels balanced between two convolutions before their weights go to 8 bits, from the
//! weights and batch norms alone (the equalisation of Nagel et al., "Data-Free Quantization
//! Through Weight Equalization and Bias Correction", 2019).
//!
//! Where a ReLU (and a max pooling) lies between a convolution and its readers, each channel `c`
//! may be scaled by any `a_c > 0` in the producer (its weight column and bias) and by `1/a_c` in
//! the readers' weight rows, and the f32 network computes the same: `relu(a·x) = a·relu(x)`, and
//! so for the maximum. The 8-bit products are not indifferent to it: a reader's weights are
//! quantised per output channel, its largest weight setting the step for all its input channels,
//! and its input per pixel, the largest channel setting the step for the others. A channel of
//! small activations read through large weights (the stem's output has many) costs every other
//! channel's weights their resolution. `a_c = √(w_c / x_c)`, with `w_c` the channel's largest
//! weight in its readers and `x_c` how far the producer's batch norm says it reaches (`β + 3|γ|`),
//! gives the channel's weights and activations the same reach, `√(w_c·x_c)` (up to one factor for
//! all channels). On the trained weights' real frames it took the lowest centred cosine of 8-bit
//! features against f32 from 0.9965 to 0.9979 (docs/benchmarks.md).

use super::Conv;

/// Balances each channel of `producer`'s output (which only `readers` read, through a ReLU and
/// possibly a max pooling) between it and `readers`; the f32 network computes the same up to
/// rounding. The convolutions are rebuilt from their f32 weights, 8-bit ones dropped: quantise
/// after. A second pass finds every factor 1 (up to rounding). Leaves them as they are when the
/// producer has no batch norm to say how far its channels reach.
pub(super) fn between(producer: &mut Conv, readers: &mut [&mut Conv]) {
    if producer.reach.len() != producer.c_out {
        return;
    }
    for conv in readers.iter() {
        assert_eq!(conv.c_in, producer.c_out, "a reader of the producer's channels");
    }
    let a = factors(&weight_reach(readers.iter().map(|c| &**c), producer.c_out), &producer.reach);
    producer.rescale(|_, o| a[o]);
    producer.bias.iter_mut().zip(&a).for_each(|(b, a)| *b *= a);
    producer.reach.iter_mut().zip(&a).for_each(|(x, a)| *x *= a);
    for conv in readers.iter_mut() {
        let c_in = conv.c_in;
        conv.rescale(|r, _| 1.0 / a[r % c_in]);
    }
}

/// Each of `channels` input channels' largest weight (absolute) in `readers`.
fn weight_reach<'a>(readers: impl Iterator<Item = &'a Conv>, channels: usize) -> Vec<f32> {
    let mut reach = vec![0f32; channels];
    for conv in readers {
        // Rows are `[kh, kw, c_in]`: the input channel is the row's index modulo `c_in`.
        for (r, row) in conv.weight.row_major().chunks_exact(conv.c_out).enumerate() {
            let c = r % conv.c_in;
            reach[c] = row.iter().fold(reach[c], |m, v| m.max(v.abs()));
        }
    }
    reach
}

/// `√(w_c / x_c)` over the factors' geometric mean (values stay near where they were), or 1 for a
/// channel read through no weight or reaching nowhere (never positive after ReLU).
fn factors(weight_reach: &[f32], reach: &[f32]) -> Vec<f32> {
    let mut a: Vec<f32> = weight_reach
        .iter()
        .zip(reach)
        .map(|(&w, &x)| if w > 0.0 && x > 0.0 && (w / x).is_finite() { (w / x).sqrt() } else { 1.0 })
        .collect();
    let mean = (a.iter().map(|v| v.ln()).sum::<f32>() / a.len() as f32).exp();
    a.iter_mut().for_each(|v| *v /= mean);
    a
}

impl Conv {
    /// The same convolution with each weight `[row, column]` multiplied by `by(row, column)`.
    fn rescale(&mut self, by: impl Fn(usize, usize) -> f32) {
        let mut w = self.weight.row_major().into_owned();
        for (r, row) in w.chunks_exact_mut(self.c_out).enumerate() {
            row.iter_mut().enumerate().for_each(|(o, v)| *v *= by(r, o));
        }
        let reach = std::mem::take(&mut self.reach);
        *self = Conv::new(w, std::mem::take(&mut self.bias), (self.k, self.stride, self.pad));
        self.reach = reach;
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Act, Pools};
    use super::*;

    /// A convolution of random weights whose `c`-th input channel's weights are `gain(c)` times
    /// larger, its batch norm saying each output channel reaches `reach(o)`.
    fn conv(
        (c_in, c_out, k): (usize, usize, usize),
        seed: u32,
        gain: impl Fn(usize) -> f32,
        reach: impl Fn(usize) -> f32,
    ) -> Conv {
        let mut state = seed;
        let weight: Vec<f32> = (0..k * k * c_in * c_out)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
            })
            .enumerate()
            .map(|(i, v)| v * gain(i / c_out % c_in))
            .collect();
        let bias = (0..c_out).map(|o| (o % 5) as f32 * 0.1 - 0.2).collect();
        let mut conv = Conv::new(weight, bias, (k, 1, k / 2));
        conv.reach = (0..c_out).map(reach).collect();
        conv
    }

    fn input(c: usize) -> Act {
        let data = (0..2 * 6 * 5 * c).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect();
        Act { data, bytes: None, b: 2, h: 6, w: 5, c }
    }

    /// `relu(producer(x))` read by a 3×3 and a 1×1 convolution.
    fn run(producer: &Conv, readers: (&Conv, &Conv), pools: &Pools) -> (Vec<f32>, Vec<f32>) {
        let y = producer.forward(&input(producer.c_in), true, None, false, pools);
        let (a, b) =
            (readers.0.forward(&y, false, None, false, pools), readers.1.forward(&y, false, None, false, pools));
        (a.data, b.data)
    }

    #[test]
    fn equalised_channels_compute_the_same_and_balance_weights_against_reach() {
        let pools = Pools::default();
        // Channel c is read through weights 2^(c mod 5) larger and reaches 1 + c mod 3.
        let mut producer = conv((8, 16, 1), 1, |_| 1.0, |o| 1.0 + (o % 3) as f32);
        let mut wide = conv((16, 8, 3), 2, |c| (1 << (c % 5)) as f32, |_| 1.0);
        let mut narrow = conv((16, 32, 1), 3, |c| (1 << (c % 5)) as f32, |_| 1.0);
        let before = run(&producer, (&wide, &narrow), &pools);
        between(&mut producer, &mut [&mut wide, &mut narrow]);
        let after = run(&producer, (&wide, &narrow), &pools);
        for (b, a) in [(&before.0, &after.0), (&before.1, &after.1)] {
            let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
            let moved = b.iter().zip(a).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(scale > 1.0 && moved < 1e-5 * scale, "the f32 outputs moved {moved} of {scale}");
        }
        // Now every channel's weights reach as far as its activations, up to one factor: the
        // factors of a second pass are all 1.
        let weight_reach = weight_reach([&wide, &narrow].into_iter(), 16);
        let again = factors(&weight_reach, &producer.reach);
        assert!(again.iter().all(|a| (a - 1.0).abs() < 1e-4), "{again:?}");
        let ratios: Vec<f32> = weight_reach.iter().zip(&producer.reach).map(|(w, x)| w / x).collect();
        assert!(ratios.iter().all(|r| (r / ratios[0] - 1.0).abs() < 1e-4), "{ratios:?}");
    }

    #[test]
    fn channels_read_through_nothing_or_never_on_keep_their_scale() {
        let a = factors(&[4.0, 0.0, 1.0, 9.0], &[1.0, 2.0, -1.0, 1.0]);
        // √4 and √9 against the geometric mean of (2, 1, 1, 3).
        let mean = 6f32.powf(0.25);
        let want = [2.0 / mean, 1.0 / mean, 1.0 / mean, 3.0 / mean];
        assert!(a.iter().zip(want).all(|(a, w)| (a - w).abs() < 1e-6), "{a:?}");
    }
}
