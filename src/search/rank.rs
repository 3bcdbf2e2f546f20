//! Turning similarity scores into a ranking: per video, each query frame's best match, averaged
//! over the query frames; then fusion with lyrics similarity. Pure functions over numbers.

use serde::Serialize;

/// Where one video's frames sit in the index: rows `start..end`, with each row's timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoSpan {
    pub video: usize,
    pub start: usize,
    pub end: usize,
}

/// One query frame's best match in one video.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FrameMatch {
    /// Which query frame.
    pub query: usize,
    /// The matched row in the index.
    pub row: usize,
    pub similarity: f32,
}

/// A video's visual score: the mean over query frames of each one's best match in the video.
#[derive(Debug, Clone, PartialEq)]
pub struct VisualScore {
    pub video: usize,
    pub score: f32,
    pub matches: Vec<FrameMatch>,
}

/// Aggregates `scores` (query frames × index rows) per video; a video may own several spans.
/// Scores of minus infinity are frames set aside: they never match, a query frame with none left
/// in a video is not counted there, and a video with no frame left to match is left out.
pub fn aggregate(scores: &[Vec<f32>], spans: &[VideoSpan]) -> Vec<VisualScore> {
    // Each video's spans, videos in the order they first appear.
    let mut order: Vec<usize> = Vec::new();
    let mut own: std::collections::HashMap<usize, Vec<&VideoSpan>> = std::collections::HashMap::new();
    for s in spans.iter().filter(|s| s.end > s.start) {
        own.entry(s.video).or_insert_with(|| {
            order.push(s.video);
            Vec::new()
        });
        own.entry(s.video).or_default().push(s);
    }
    order
        .into_iter()
        .filter_map(|video| {
            let own = &own[&video];
            let matches: Vec<FrameMatch> = scores
                .iter()
                .enumerate()
                .map(|(q, row)| {
                    let (best, sim) = own
                        .iter()
                        .flat_map(|span| span.start..span.end)
                        .map(|r| (r, row[r]))
                        .fold((own[0].start, f32::NEG_INFINITY), |a, b| if b.1 > a.1 { b } else { a });
                    FrameMatch { query: q, row: best, similarity: sim }
                })
                .filter(|m| m.similarity > f32::NEG_INFINITY)
                .collect();
            if matches.is_empty() && !scores.is_empty() {
                return None;
            }
            let score = if matches.is_empty() {
                0.0
            } else {
                matches.iter().map(|m| m.similarity).sum::<f32>() / matches.len() as f32
            };
            Some(VisualScore { video, score, matches })
        })
        .collect()
}

/// How visual and lyrics similarity combine.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Weights {
    pub visual: f32,
    pub lyrics: f32,
}

impl Weights {
    /// Checks that both weights are finite, not negative and not both zero; the error names the
    /// settings as the user gave them (`--visual`, `search.visual_weight`, …).
    pub fn check(&self, visual_name: &str, lyrics_name: &str) -> Result<(), crate::config::BadWeights> {
        crate::config::check_weights(self.visual, self.lyrics, visual_name, lyrics_name)
    }
}

impl Default for Weights {
    /// The shipped `[search]` weights.
    fn default() -> Self {
        Weights { visual: 0.7, lyrics: 0.3 }
    }
}

/// `w_visual · visual + w_lyrics · lyrics`, with the weights renormalised over the sides that
/// exist: when one side is missing the other carries the score. `None` when both are missing.
pub fn fuse(visual: Option<f32>, lyrics: Option<f32>, w: Weights) -> Option<f32> {
    match (visual, lyrics) {
        (Some(v), Some(l)) => {
            let total = w.visual + w.lyrics;
            if total <= 0.0 {
                Some((v + l) / 2.0)
            } else {
                Some((w.visual * v + w.lyrics * l) / total)
            }
        }
        (Some(v), None) => Some(v),
        (None, Some(l)) => Some(l),
        (None, None) => None,
    }
}

/// Sorts by score, best first; ties keep the lower key first (stable, repeatable).
pub fn order<T>(items: &mut [T], score: impl Fn(&T) -> f32, key: impl Fn(&T) -> i64) {
    items.sort_by(|a, b| score(b).total_cmp(&score(a)).then(key(a).cmp(&key(b))));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans() -> Vec<VideoSpan> {
        vec![
            VideoSpan { video: 0, start: 0, end: 3 },
            VideoSpan { video: 1, start: 3, end: 5 },
            VideoSpan { video: 2, start: 5, end: 5 },
        ]
    }

    #[test]
    fn each_query_frame_takes_its_best_match_then_the_mean() {
        let scores = vec![vec![0.1, 0.9, 0.2, 0.5, 0.4], vec![0.3, 0.2, 0.1, 0.8, 0.7]];
        let a = aggregate(&scores, &spans());
        assert_eq!(a.len(), 2, "a video with no frames is left out");
        assert_eq!(a[0].matches[0], FrameMatch { query: 0, row: 1, similarity: 0.9 });
        assert_eq!(a[0].matches[1].row, 0);
        assert!((a[0].score - 0.6).abs() < 1e-6);
        assert!((a[1].score - 0.65).abs() < 1e-6);
        assert_eq!(a[1].matches[1].row, 3);
    }

    #[test]
    fn fusion_weights_and_missing_sides() {
        let w = Weights { visual: 0.7, lyrics: 0.3 };
        assert!((fuse(Some(1.0), Some(0.0), w).unwrap() - 0.7).abs() < 1e-6);
        assert_eq!(fuse(Some(0.4), None, w), Some(0.4), "an instrumental: visual carries the score");
        assert_eq!(fuse(None, Some(0.8), w), Some(0.8), "a lyrics query: lyrics carries the score");
        assert_eq!(fuse(None, None, w), None);
        let heavy = Weights { visual: 1.4, lyrics: 0.6 };
        assert_eq!(fuse(Some(1.0), Some(0.0), heavy), fuse(Some(1.0), Some(0.0), w), "weights are relative");
    }

    #[test]
    fn ties_are_broken_by_key() {
        let mut v = vec![(5, 0.5f32), (2, 0.9), (1, 0.5), (3, 0.9)];
        order(&mut v, |x| x.1, |x| x.0);
        assert_eq!(v.iter().map(|x| x.0).collect::<Vec<_>>(), vec![2, 3, 1, 5]);
    }
}
