//! Training samples: features with one label each, either rows of the vector store (read where
//! the store maps them, half floats times each row's scale, one batch at a time) or rows held
//! here (augmented views, or samples made by hand). The store's rows come first, in the order
//! they were added, then the held ones; a dataset of stored frames takes no memory of its own.

use super::head::standardise;
use crate::scan::{from_half, standardised_halves};
use crate::store::{FrameStore, Rows};
use std::sync::Arc;

/// Features with one label each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples {
    /// Held rows (row-major), after the stored ones.
    pub x: Vec<f32>,
    /// Every sample's label: the stored ones first, then the held ones.
    pub y: Vec<u32>,
    stored: Option<Stored>,
}

/// Rows of a vector store, by index.
#[derive(Clone)]
struct Stored {
    data: Rows,
    scale: Arc<Vec<f32>>,
    dim: usize,
    rows: Vec<u32>,
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} stored rows of {}", self.rows.len(), self.dim)
    }
}

impl PartialEq for Stored {
    fn eq(&self, other: &Self) -> bool {
        self.dim == other.dim
            && self.rows == other.rows
            && self.data.as_slice().as_ptr() == other.data.as_slice().as_ptr()
    }
}

impl Samples {
    /// Samples that will read rows of `store`.
    pub fn over(store: &FrameStore) -> Samples {
        let stored = Stored {
            data: store.rows().clone(),
            scale: Arc::new(store.centre().row_scale.clone()),
            dim: store.dim(),
            rows: Vec::new(),
        };
        Samples { x: Vec::new(), y: Vec::new(), stored: Some(stored) }
    }

    /// Adds store row `row` with label `y` (before any held row is added).
    pub fn push_stored(&mut self, row: usize, y: u32) {
        let stored = self.stored.as_mut().expect("samples made with Samples::over");
        assert!(self.x.is_empty(), "stored rows come before held ones");
        stored.rows.push(row as u32);
        self.y.push(y);
    }

    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    fn stored_len(&self) -> usize {
        self.stored.as_ref().map_or(0, |s| s.rows.len())
    }

    /// Appends sample `i`'s features (`dim` of them) to `out`.
    pub fn row_into(&self, i: usize, dim: usize, out: &mut Vec<f32>) {
        let first_held = self.stored_len();
        match &self.stored {
            Some(s) if i < first_held => {
                let r = s.rows[i] as usize;
                let scale = s.scale[r];
                out.extend(s.data.as_slice()[r * s.dim..(r + 1) * s.dim].iter().map(|&h| from_half(h) * scale));
            }
            _ => {
                let j = i - first_held;
                out.extend_from_slice(&self.x[j * dim..(j + 1) * dim]);
            }
        }
    }

    /// The standardised features (`(x − mean) / std`) of samples `batch` into `out`, row-major,
    /// one row per sample: rows are decoded on every core of the pool.
    pub fn standardised_batch(&self, batch: &[u32], mean: &[f32], std: &[f32], out: &mut Vec<f32>) {
        use rayon::prelude::*;
        let dim = mean.len();
        out.resize(batch.len() * dim, 0.0);
        let first_held = self.stored_len();
        out.par_chunks_mut(dim).zip(batch).with_min_len(8).for_each(|(o, &i)| match &self.stored {
            Some(s) if (i as usize) < first_held => {
                let r = s.rows[i as usize] as usize;
                standardised_halves(&s.data.as_slice()[r * dim..(r + 1) * dim], s.scale[r], mean, std, o);
            }
            _ => {
                let j = i as usize - first_held;
                o.copy_from_slice(&self.x[j * dim..(j + 1) * dim]);
                standardise(o, mean, std);
            }
        });
    }

    /// Each feature's mean and standard deviation over all samples (1 where a feature does not
    /// vary), in one pass that holds a row at a time.
    pub fn feature_stats(&self, dim: usize) -> (Vec<f32>, Vec<f32>) {
        let (mut sum, mut sq) = (vec![0f64; dim], vec![0f64; dim]);
        let mut row = Vec::with_capacity(dim);
        for i in 0..self.len() {
            row.clear();
            self.row_into(i, dim, &mut row);
            for ((s, q), &v) in sum.iter_mut().zip(&mut sq).zip(&row) {
                *s += v as f64;
                *q += (v as f64) * (v as f64);
            }
        }
        let n = self.len().max(1) as f64;
        let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
        let std = sum
            .iter()
            .zip(&sq)
            .map(|(s, q)| ((q / n - (s / n).powi(2)).max(0.0)).sqrt())
            .map(|s| if s > 1e-6 { s as f32 } else { 1.0 })
            .collect();
        (mean, std)
    }

    /// Bytes this holds of its own (the store's rows are mapped, not counted).
    pub fn held_bytes(&self) -> usize {
        self.x.len() * 4 + self.y.len() * 4 + self.stored.as_ref().map_or(0, |s| s.rows.len() * 4 + s.scale.len() * 4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch read on the pool: stored rows decoded from half floats times their row's scale
    /// and held rows, each standardised, in the batch's order; the expected values are worked
    /// out here by hand, not by the code under test.
    #[test]
    fn a_standardised_batch_is_its_rows_standardised() {
        let dim = 3;
        // Two stored rows of exactly representable halves, scales 2 and 0.5.
        let halves: Vec<u16> = [1.0f32, 2.0, 4.0, 8.0, -2.0, 0.5].iter().map(|&v| crate::scan::to_half(v)).collect();
        let stored =
            Stored { data: Rows::Owned(Arc::new(halves)), scale: Arc::new(vec![2.0, 0.5]), dim, rows: vec![1, 0] };
        // Samples 0 and 1 are store rows 1 and 0; sample 2 is held.
        let samples = Samples { x: vec![10.0, 20.0, 30.0], y: vec![0, 1, 2], stored: Some(stored) };
        let (mean, std) = (vec![1.0, 2.0, 3.0], vec![2.0, 4.0, 0.5]);
        let mut got = Vec::new();
        samples.standardised_batch(&[2, 0, 1], &mean, &std, &mut got);
        let want = [
            // sample 2: held row (10, 20, 30)
            (10.0 - 1.0) / 2.0,
            (20.0 - 2.0) / 4.0,
            (30.0 - 3.0) / 0.5,
            // sample 0: store row 1 (8, −2, 0.5) × 0.5 = (4, −1, 0.25)
            (4.0 - 1.0) / 2.0,
            (-1.0 - 2.0) / 4.0,
            (0.25 - 3.0) / 0.5,
            // sample 1: store row 0 (1, 2, 4) × 2 = (2, 4, 8)
            (2.0 - 1.0) / 2.0,
            (4.0 - 2.0) / 4.0,
            (8.0 - 3.0) / 0.5,
        ];
        assert_eq!(got, want);
        // Read one by one, unstandardised: the same decoded values.
        let mut row = Vec::new();
        samples.row_into(0, dim, &mut row);
        assert_eq!(row, [4.0, -1.0, 0.25]);
    }
}
