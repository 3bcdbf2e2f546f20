//! Classification metrics from a confusion matrix: overall accuracy, per-class accuracy, the
//! seed's top-10 class accuracy (mean of the 10 best classes), the macro accuracy over all
//! classes, and the most-confused pairs.

pub use crate::types::{pct, ClassAccuracy, Confused, EpochMetrics};

/// Counts of (actual class, predicted class) over a set of frames.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfusionMatrix {
    classes: usize,
    counts: Vec<u32>,
}

impl ConfusionMatrix {
    pub fn new(classes: usize) -> Self {
        ConfusionMatrix { classes, counts: vec![0; classes * classes] }
    }

    /// Records one frame of class `actual` predicted as `predicted`.
    pub fn add(&mut self, actual: usize, predicted: usize) {
        self.counts[actual * self.classes + predicted] += 1;
    }

    pub fn count(&self, actual: usize, predicted: usize) -> u32 {
        self.counts[actual * self.classes + predicted]
    }

    /// Frames recorded.
    pub fn total(&self) -> u32 {
        self.counts.iter().sum()
    }

    /// Fraction of frames predicted right; `None` with no frames.
    pub fn accuracy(&self) -> Option<f64> {
        let total = self.total();
        let right: u32 = (0..self.classes).map(|c| self.count(c, c)).sum();
        (total > 0).then(|| right as f64 / total as f64)
    }

    /// Each class's accuracy (the fraction of its frames predicted as it) and its frame count;
    /// `None` for a class with no frames.
    pub fn per_class(&self) -> Vec<Option<(f64, u32)>> {
        (0..self.classes)
            .map(|c| {
                let n: u32 = (0..self.classes).map(|p| self.count(c, p)).sum();
                (n > 0).then(|| (self.count(c, c) as f64 / n as f64, n))
            })
            .collect()
    }

    /// Off-diagonal cells with counts, largest first: (actual, predicted, frames).
    pub fn most_confused(&self, k: usize) -> Vec<(usize, usize, u32)> {
        let mut cells: Vec<(usize, usize, u32)> = (0..self.classes)
            .flat_map(|a| (0..self.classes).map(move |p| (a, p)))
            .filter(|(a, p)| a != p)
            .map(|(a, p)| (a, p, self.count(a, p)))
            .filter(|c| c.2 > 0)
            .collect();
        cells.sort_by(|x, y| y.2.cmp(&x.2).then(x.0.cmp(&y.0)).then(x.1.cmp(&y.1)));
        cells.truncate(k);
        cells
    }
}

/// The mean accuracy of the `k` best classes (all of them when there are fewer than `k`);
/// `None` with no classes.
pub fn top_k_class_accuracy(per_class: &[f64], k: usize) -> Option<f64> {
    if per_class.is_empty() || k == 0 {
        return None;
    }
    let mut sorted = per_class.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let best = &sorted[..k.min(sorted.len())];
    Some(best.iter().sum::<f64>() / best.len() as f64)
}

/// The mean accuracy over every class (each class counts the same, whatever its size).
pub fn macro_accuracy(per_class: &[f64]) -> Option<f64> {
    (!per_class.is_empty()).then(|| per_class.iter().sum::<f64>() / per_class.len() as f64)
}

/// Per-class accuracy (best first), top-10 and macro accuracy, and confused pairs from a test
/// confusion matrix, with class titles.
pub fn summarise(
    m: &ConfusionMatrix,
    titles: &[String],
) -> (Vec<ClassAccuracy>, Option<f64>, Option<f64>, Vec<Confused>) {
    let mut per_class: Vec<ClassAccuracy> = m
        .per_class()
        .into_iter()
        .enumerate()
        .filter_map(|(c, a)| a.map(|(accuracy, frames)| ClassAccuracy { title: titles[c].clone(), accuracy, frames }))
        .collect();
    per_class.sort_by(|a, b| b.accuracy.total_cmp(&a.accuracy).then(a.title.cmp(&b.title)));
    let accs: Vec<f64> = per_class.iter().map(|c| c.accuracy).collect();
    let confused = m
        .most_confused(5)
        .into_iter()
        .map(|(a, p, frames)| Confused { actual: titles[a].clone(), predicted: titles[p].clone(), frames })
        .collect();
    (per_class, top_k_class_accuracy(&accs, 10), macro_accuracy(&accs), confused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_confusion() {
        // 3 classes: class 0 all right (4/4), class 1 half (1/2, one taken for 2), class 2 none (0/2).
        let mut m = ConfusionMatrix::new(3);
        for _ in 0..4 {
            m.add(0, 0);
        }
        m.add(1, 1);
        m.add(1, 2);
        m.add(2, 0);
        m.add(2, 0);
        assert_eq!(m.total(), 8);
        assert_eq!(m.accuracy(), Some(5.0 / 8.0));
        assert_eq!(m.per_class(), vec![Some((1.0, 4)), Some((0.5, 2)), Some((0.0, 2))]);
        assert_eq!(m.most_confused(5), vec![(2, 0, 2), (1, 2, 1)]);
        let titles: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let (per_class, top10, macro_acc, confused) = summarise(&m, &titles);
        assert_eq!(per_class[0].title, "a");
        assert_eq!(per_class[2].title, "c");
        // Fewer than 10 classes: the top-10 figure is the mean over all of them, as is macro.
        assert!((top10.unwrap() - 0.5).abs() < 1e-12);
        assert!((macro_acc.unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(confused[0], Confused { actual: "c".into(), predicted: "a".into(), frames: 2 });
    }

    #[test]
    fn top10_takes_the_ten_best_of_many_and_macro_takes_all() {
        // 20 classes: ten perfect, ten at zero.
        let accs: Vec<f64> = (0..20).map(|i| if i % 2 == 0 { 1.0 } else { 0.0 }).collect();
        assert_eq!(top_k_class_accuracy(&accs, 10), Some(1.0));
        assert_eq!(macro_accuracy(&accs), Some(0.5));
        let accs = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0, 0.95, 0.05];
        let want = (0.95 + 0.9 + 0.8 + 0.7 + 0.6 + 0.5 + 0.4 + 0.3 + 0.2 + 0.1) / 10.0;
        assert!((top_k_class_accuracy(&accs, 10).unwrap() - want).abs() < 1e-12);
        assert_eq!(top_k_class_accuracy(&[], 10), None);
        assert_eq!(macro_accuracy(&[]), None);
    }

    #[test]
    fn classes_without_test_frames_are_left_out_of_the_averages() {
        let mut m = ConfusionMatrix::new(3);
        m.add(0, 0);
        m.add(2, 1);
        let titles: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let (per_class, _, macro_acc, _) = summarise(&m, &titles);
        assert_eq!(per_class.len(), 2);
        assert_eq!(macro_acc, Some(0.5));
    }
}
