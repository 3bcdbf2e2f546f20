//! Around a result, for both frontends: the moment to watch (the matched frame's time in the
//! library video, the query frame's time in the query video) and the ranking as a playlist.

use crate::catalog::VideoRow;
use crate::play::Moment;
use crate::playlist::Entry;
use crate::search::{Hit, Results};

/// Where `hit` matched best in its own video: the best frame's time, else the best lyric
/// line's start, else the beginning.
pub fn match_moment(hit: &Hit, video: &VideoRow) -> Moment {
    let start_s = match (hit.best_frame(), hit.lines.first()) {
        (Some(f), _) => f.match_t,
        (None, Some(l)) => l.match_start,
        (None, None) => 0.0,
    };
    Moment {
        path: video.path.clone(),
        start_s,
        title: format!("{} @ {}", video.title, crate::types::clock(start_s, 1)),
    }
}

/// Where the query video `query` held the frame that matched `hit` best.
pub fn query_moment(hit: &Hit, query: &VideoRow) -> Moment {
    let start_s = hit.best_frame().map_or(0.0, |f| f.query_t);
    Moment {
        path: query.path.clone(),
        start_s,
        title: format!("{} @ {}", query.title, crate::types::clock(start_s, 1)),
    }
}

/// The results, in rank order, as playlist entries (results whose video is not in `videos` are
/// left out).
pub fn playlist_entries<'a>(hits: impl IntoIterator<Item = &'a Hit>, videos: &[VideoRow]) -> Vec<Entry> {
    hits.into_iter()
        .filter_map(|h| videos.iter().find(|v| v.id == h.id))
        .map(|v| Entry { title: v.title.clone(), duration_s: v.duration_s, path: v.path.clone() })
        .collect()
}

/// The playlist's heading for a ranking.
pub fn playlist_heading(results: &Results) -> String {
    format!("reelmatch: most similar to {}", results.query)
}
