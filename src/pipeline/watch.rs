//! Around a result, for both frontends: the moment to watch (the matched frame's time in the
//! library video, the query frame's time in the query video) and the ranking as a playlist.

use crate::catalog::VideoRow;
use crate::play::Moment;
use crate::playlist::Entry;
use crate::search::{Hit, Results};

/// Where `hit` matched best in its own video: where the query starts in it when the query is an
/// excerpt of it, else the best frame's time, else the best lyric line's start, else the
/// beginning.
pub fn match_moment(hit: &Hit, video: &VideoRow) -> Moment {
    let start_s = match (hit.relation, hit.best_frame(), hit.lines.first()) {
        // The query is an excerpt of it: from where the excerpt starts.
        (Some(r), _, _) if r.relation == crate::search::relation::Relation::Excerpt && r.placed && r.offset_s > 0.0 => {
            r.offset_s
        }
        (_, Some(f), _) => f.match_t,
        (_, None, Some(l)) => l.match_start,
        (_, None, None) => 0.0,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::relation::{Related, Relation};

    #[test]
    fn an_excerpts_source_plays_from_where_the_excerpt_starts() {
        let frame = crate::search::FrameHit { query_t: 1.0, match_t: 40.0, similarity: 0.9, match_file: String::new() };
        let mut hit = Hit {
            rank: 1,
            id: 2,
            title: "Whole".into(),
            score: 0.9,
            visual: Some(0.9),
            lyrics: None,
            lyrics_doubt: None,
            frames: vec![frame],
            lines: vec![],
            relation: None,
            duplicate: false,
        };
        let video = VideoRow { id: 2, title: "Whole".into(), path: "/m/Whole.mp4".into(), ..Default::default() };
        assert_eq!(match_moment(&hit, &video).start_s, 40.0, "the best frame, without a relation");
        let excerpt = Related {
            relation: Relation::Excerpt,
            by: crate::search::relation::Evidence::Sound,
            offset_s: 17.0,
            placed: true,
            query_start_s: 0.0,
            result_start_s: 17.0,
            seconds: 11.0,
        };
        hit.relation = Some(excerpt);
        assert_eq!(match_moment(&hit, &video).start_s, 17.0);
    }
}
