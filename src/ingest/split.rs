//! Splitting a video's frames into train and test: the seed paper's random split, or contiguous
//! time blocks (the default) so near-identical neighbouring frames do not leak into training.

use crate::catalog::Split;
use crate::config::SplitMethod;
use crate::rng::SplitMix64;

/// How many of `n` frames go to test: `test_fraction` of them rounded, at least one when there
/// are two or more frames, and never all of them.
pub fn test_count(n: usize, test_fraction: f64) -> usize {
    if n < 2 {
        return 0;
    }
    ((n as f64 * test_fraction).round() as usize).clamp(1, n - 1)
}

/// Assigns each of `n` frames (in time order) to train or test, deterministically for a seed.
pub fn assign_splits(n: usize, test_fraction: f64, method: SplitMethod, blocks: u32, seed: u64) -> Vec<Split> {
    let mut out = vec![Split::Train; n];
    let n_test = test_count(n, test_fraction);
    if n_test == 0 {
        return out;
    }
    let mut rng = SplitMix64(seed);
    match method {
        SplitMethod::Random => {
            let mut order: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                order.swap(i, rng.below(i + 1));
            }
            for &i in &order[..n_test] {
                out[i] = Split::Test;
            }
        }
        SplitMethod::Blocks => {
            let k = (blocks as usize).clamp(1, n_test);
            for b in 0..k {
                let (seg_start, seg_end) = (b * n / k, (b + 1) * n / k);
                let run = (n_test * (b + 1) / k - n_test * b / k).min(seg_end - seg_start);
                let start = seg_start + rng.below(seg_end - seg_start - run + 1);
                for s in &mut out[start..start + run] {
                    *s = Split::Test;
                }
            }
        }
    }
    out
}

/// A per-video seed: the configured seed mixed with the video's content hash, so each video gets
/// its own but repeatable split.
pub fn video_seed(seed: u64, content_hash: &str) -> u64 {
    content_hash.bytes().fold(seed ^ 0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tests_of(s: &[Split]) -> Vec<usize> {
        s.iter().enumerate().filter(|(_, s)| **s == Split::Test).map(|(i, _)| i).collect()
    }

    fn runs(idx: &[usize]) -> usize {
        idx.windows(2).filter(|w| w[1] != w[0] + 1).count() + usize::from(!idx.is_empty())
    }

    #[test]
    fn ratio_is_ninety_ten() {
        for n in [10, 57, 100, 533, 1000] {
            for method in [SplitMethod::Random, SplitMethod::Blocks] {
                let s = assign_splits(n, 0.1, method, 3, 7);
                assert_eq!(tests_of(&s).len(), (n as f64 * 0.1).round() as usize, "n={n} {method:?}");
            }
        }
    }

    #[test]
    fn tiny_videos_keep_a_train_frame() {
        assert_eq!(assign_splits(0, 0.1, SplitMethod::Blocks, 3, 1), vec![]);
        assert_eq!(assign_splits(1, 0.1, SplitMethod::Blocks, 3, 1), vec![Split::Train]);
        let two = assign_splits(2, 0.1, SplitMethod::Random, 3, 1);
        assert_eq!(tests_of(&two).len(), 1);
    }

    #[test]
    fn same_seed_same_split_other_seed_other_split() {
        for method in [SplitMethod::Random, SplitMethod::Blocks] {
            let a = assign_splits(500, 0.1, method, 3, 42);
            assert_eq!(a, assign_splits(500, 0.1, method, 3, 42));
            assert_ne!(a, assign_splits(500, 0.1, method, 3, 43), "{method:?}");
        }
    }

    #[test]
    fn blocks_keep_test_frames_contiguous() {
        for seed in 0..20 {
            let idx = tests_of(&assign_splits(400, 0.1, SplitMethod::Blocks, 3, seed));
            assert_eq!(idx.len(), 40);
            assert!(runs(&idx) <= 3, "seed {seed}: {} runs", runs(&idx));
        }
        let one = tests_of(&assign_splits(400, 0.1, SplitMethod::Blocks, 1, 5));
        assert_eq!(runs(&one), 1);
        assert_eq!(one.last().unwrap() - one[0], 39);
    }

    #[test]
    fn random_split_scatters() {
        let idx = tests_of(&assign_splits(400, 0.1, SplitMethod::Random, 3, 9));
        assert!(runs(&idx) > 10, "a random split should not be a few blocks");
    }

    #[test]
    fn video_seed_depends_on_hash() {
        assert_ne!(video_seed(42, "aa"), video_seed(42, "ab"));
        assert_eq!(video_seed(42, "aa"), video_seed(42, "aa"));
    }
}
