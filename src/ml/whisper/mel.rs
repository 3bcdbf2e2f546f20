//! Whisper's 80-bin log-mel spectrogram, computed here: Slaney mel filters, a periodic Hann
//! window of 400 samples, hop 160, centred frames with reflect padding, power spectrum,
//! log10 clamped to 8 below the maximum, scaled as `(x + 4) / 4`.

use candle_core::{Device, Tensor};

pub const SAMPLE_RATE: usize = 16_000;
pub const N_FFT: usize = 400;
pub const HOP: usize = 160;
/// Mel frames in one 30 s window.
pub const WINDOW_FRAMES: usize = 3000;

fn hz_to_mel(f: f64) -> f64 {
    let (f_sp, min_log_hz, min_log_mel, logstep) = (200.0 / 3.0, 1000.0, 15.0, 6.4f64.ln() / 27.0);
    if f < min_log_hz {
        f / f_sp
    } else {
        min_log_mel + (f / min_log_hz).ln() / logstep
    }
}

fn mel_to_hz(m: f64) -> f64 {
    let (f_sp, min_log_hz, min_log_mel, logstep) = (200.0 / 3.0, 1000.0, 15.0, 6.4f64.ln() / 27.0);
    if m < min_log_mel {
        m * f_sp
    } else {
        min_log_hz * ((m - min_log_mel) * logstep).exp()
    }
}

/// Slaney-style mel filters with Slaney (area) normalisation, as librosa computes them:
/// `n_mels` rows of `n_fft / 2 + 1` weights.
pub fn mel_filters(n_mels: usize, n_fft: usize, sample_rate: usize) -> Vec<f32> {
    let n_bins = n_fft / 2 + 1;
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(sample_rate as f64 / 2.0));
    let hz: Vec<f64> = (0..n_mels + 2).map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n_mels + 1) as f64)).collect();
    let mut out = vec![0f32; n_mels * n_bins];
    for m in 0..n_mels {
        let norm = 2.0 / (hz[m + 2] - hz[m]);
        for k in 0..n_bins {
            let f = k as f64 * sample_rate as f64 / n_fft as f64;
            let lower = (f - hz[m]) / (hz[m + 1] - hz[m]);
            let upper = (hz[m + 2] - f) / (hz[m + 2] - hz[m + 1]);
            out[m * n_bins + k] = (lower.min(upper).max(0.0) * norm) as f32;
        }
    }
    out
}

/// The log-mel spectrogram of 16 kHz mono `pcm` followed by 30 s of silence (as Whisper pads),
/// shaped `(n_mels, frames)` with `frames = (pcm.len() + 480000) / 160`.
pub fn log_mel(pcm: &[f32], filters: &[f32], n_mels: usize, device: &Device) -> candle_core::Result<Tensor> {
    let n_bins = N_FFT / 2 + 1;
    let mut audio = pcm.to_vec();
    audio.extend(std::iter::repeat_n(0.0, SAMPLE_RATE * 30));
    let half = N_FFT / 2;
    // Reflect padding, as torch.stft(center=True).
    let mut padded = Vec::with_capacity(audio.len() + N_FFT);
    padded.extend((1..=half).rev().map(|i| audio[i.min(audio.len() - 1)]));
    padded.extend_from_slice(&audio);
    padded.extend((0..half).map(|i| audio[audio.len().saturating_sub(2 + i)]));
    let frames = audio.len() / HOP; // torch.stft gives one more; Whisper drops the last
    let window: Vec<f32> =
        (0..N_FFT).map(|n| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos()) as f32).collect();
    let mut framed = vec![0f32; frames * N_FFT];
    for t in 0..frames {
        let src = &padded[t * HOP..t * HOP + N_FFT];
        for (n, (d, s)) in framed[t * N_FFT..(t + 1) * N_FFT].iter_mut().zip(src).enumerate() {
            *d = s * window[n];
        }
    }
    // The DFT as two matrix products with cosine and sine bases.
    let (mut cos, mut sin) = (vec![0f32; N_FFT * n_bins], vec![0f32; N_FFT * n_bins]);
    for n in 0..N_FFT {
        for k in 0..n_bins {
            let angle = 2.0 * std::f64::consts::PI * (n * k % N_FFT) as f64 / N_FFT as f64;
            cos[n * n_bins + k] = angle.cos() as f32;
            sin[n * n_bins + k] = angle.sin() as f32;
        }
    }
    let framed = Tensor::from_vec(framed, (frames, N_FFT), device)?;
    let re = framed.matmul(&Tensor::from_vec(cos, (N_FFT, n_bins), device)?)?;
    let im = framed.matmul(&Tensor::from_vec(sin, (N_FFT, n_bins), device)?)?;
    let power = (re.sqr()? + im.sqr()?)?;
    let filters = Tensor::from_vec(filters.to_vec(), (n_mels, n_bins), device)?;
    let mel = filters.matmul(&power.t()?)?; // (n_mels, frames)
    let log = mel.clamp(1e-10f32, f32::MAX)?.log()?.affine(1.0 / std::f64::consts::LN_10, 0.0)?;
    let max = log.max_all()?.to_scalar::<f32>()?;
    let log = log.clamp(max - 8.0, f32::MAX)?;
    log.affine(0.25, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_triangles_of_unit_area() {
        let f = mel_filters(80, N_FFT, SAMPLE_RATE);
        let n_bins = N_FFT / 2 + 1;
        let df = SAMPLE_RATE as f32 / N_FFT as f32;
        for m in 20..80 {
            let row = &f[m * n_bins..(m + 1) * n_bins];
            let area: f32 = row.iter().sum::<f32>() * df;
            assert!((area - 1.0).abs() < 0.1, "filter {m} area {area}");
            let peak = row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
            let nonzero: Vec<usize> = (0..n_bins).filter(|k| row[*k] > 0.0).collect();
            assert!(nonzero.windows(2).all(|w| w[1] == w[0] + 1), "one contiguous triangle");
            assert!(nonzero[0] <= peak && peak <= *nonzero.last().unwrap());
        }
        // Slaney's scale is linear below 1 kHz: the first centres are evenly spaced.
        assert!((mel_to_hz(hz_to_mel(440.0)) - 440.0).abs() < 1e-9);
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(6400.0) - 42.0).abs() < 1e-9, "27 mels per factor 6.4 above 1 kHz");
    }

    #[test]
    fn silence_is_minus_one_and_a_half() {
        let f = mel_filters(80, N_FFT, SAMPLE_RATE);
        let mel = log_mel(&vec![0.0; 16_000], &f, 80, &Device::Cpu).unwrap();
        assert_eq!(mel.dims(), &[80, (16_000 + 480_000) / 160]);
        let v = mel.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(v.iter().all(|x| (x + 1.5).abs() < 1e-6), "log10(1e-10) = -10 → (-10 + 4) / 4");
    }

    #[test]
    fn a_tone_lights_up_the_band_of_its_frequency() {
        let f = mel_filters(80, N_FFT, SAMPLE_RATE);
        let pcm: Vec<f32> =
            (0..16_000).map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin() * 0.5).collect();
        let mel = log_mel(&pcm, &f, 80, &Device::Cpu).unwrap();
        let col: Vec<f32> = mel.narrow(1, 50, 1).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let peak = col.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        let n_bins = N_FFT / 2 + 1;
        let k1000 = 1000 * N_FFT / SAMPLE_RATE; // bin 25
        let best = (0..80).max_by(|a, b| f[a * n_bins + k1000].total_cmp(&f[b * n_bins + k1000])).unwrap();
        assert_eq!(peak, best, "the 1 kHz band is loudest");
        let max = mel.max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!((col[peak] - max).abs() < 0.05, "the tone's band holds the spectrogram's maximum");
    }
}

#[cfg(test)]
mod known_values {
    use super::*;

    /// Values from an independent numpy implementation of OpenAI Whisper's
    /// `log_mel_spectrogram` (np.fft.rfft, reflect padding, librosa's Slaney filter formulas)
    /// on the same signal.
    #[test]
    fn matches_a_numpy_reference() {
        let f = mel_filters(80, N_FFT, SAMPLE_RATE);
        for (m, k, want) in [(1, 1, 0.00199082), (79, 190, 0.00223206)] {
            assert!((f[m * 201 + k] - want).abs() < 1e-7, "filter ({m}, {k}) = {} not {want}", f[m * 201 + k]);
        }
        let pcm: Vec<f32> = (0..40_000)
            .map(|i| {
                let x = i as f64;
                (((x * 0.031).sin() * 0.3 + (x * 0.0071).cos() * 0.2) * ((i % 977) as f64 / 977.0)) as f32
            })
            .collect();
        let mel = log_mel(&pcm, &f, 80, &Device::Cpu).unwrap();
        assert_eq!(mel.dims(), &[80, 3250]);
        let mel = mel.to_vec2::<f32>().unwrap();
        let max = mel.iter().flatten().copied().fold(f32::MIN, f32::max);
        assert!((max - 1.35406).abs() < 1e-3, "max {max}");
        for (m, t, want) in [
            (0, 7, 0.90369),
            (2, 100, 1.01608),
            (5, 180, 0.00622),
            (8, 7, 0.25122),
            (15, 100, -0.64594),
            (1, 249, 1.26722),
            (30, 60, -0.01440),
        ] {
            assert!((mel[m][t] - want).abs() < 1e-3, "mel[{m}][{t}] = {} not {want}", mel[m][t]);
        }
    }
}
