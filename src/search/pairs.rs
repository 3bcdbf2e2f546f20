//! The pairs of videos `dupes` lists: alike by their frames, or one recording along one time
//! line (a copy or an excerpt, by sound or by frames), or the same song with other pictures.

use super::eval::{averaged, one_way_score, pairs_at_least, visual_scores_seeing};
use super::relation::{self, relate_by_frames, sound_decides, ByFrames, Related, Relation};
use super::SearchLibrary;
use crate::catalog::Catalog;
use crate::error::Result;
use crate::types::Fingerprint;
use std::collections::HashMap;

/// A pair `dupes` lists: the two videos, their visual score, and their relation (by sound or frames).
pub type Pair = (i64, i64, f32, Option<Related>);

/// The pairs `dupes` lists, best first: those whose frames look alike at `threshold` (both
/// directions averaged), and those that are a copy or an excerpt of each other along one time
/// line (by their fingerprints, or by their frames where either is silent or has no audio: an
/// excerpt's frames are found in the whole but not the other way round, so their average is
/// low), each with its relation; and the pairs of the same song with other pictures. With
/// `only`, the pairs of that relation. The rule is `similar`'s ([`relation::duplicate`]).
pub fn duplicate_pairs(
    catalog: &Catalog,
    lib: &SearchLibrary,
    threshold: f32,
    only: Option<Relation>,
) -> Result<Vec<Pair>> {
    // A shorter video whose frames, asking the longer one's, score this is looked at by frames.
    const PICTURES_LOOK_ALIKE: f32 = 0.5;
    let prints = catalog.all_fingerprints()?;
    let by_id: HashMap<i64, &Fingerprint> = prints.iter().map(|(id, p)| (*id, p)).collect();
    let length: HashMap<i64, f64> = lib.videos.iter().filter_map(|v| Some((v.id, v.duration_s?))).collect();
    // Pairs the sound cannot tell whose frames look alike at all (the shorter one's asking the
    // longer one's), related by their frames along one time line.
    let mut look: Vec<(i64, i64)> = Vec::new();
    // Only the scores a listing can turn on are kept: a pair averaging `threshold` has neither
    // direction under 2 × threshold − 1.
    let floor = (2.0 * threshold - 1.0).min(PICTURES_LOOK_ALIKE);
    let visual = visual_scores_seeing(lib, floor, |a, b, visual| {
        if visual < PICTURES_LOOK_ALIKE {
            return;
        }
        let (Some(&qa), Some(&qb)) = (length.get(&a), length.get(&b)) else { return };
        let shorter_asks = qa < qb || (qa == qb && a < b);
        if shorter_asks && !sound_decides(by_id.get(&a).copied(), by_id.get(&b).copied()) {
            look.push((a, b));
        }
    });
    // A pair's averaged score, with a direction under the floor scored again on its own.
    let both_ways = |a: i64, b: i64| -> Option<f32> {
        let one = |x: i64, y: i64| match visual.get(&(x, y)) {
            Some(s) => Some(*s),
            None => one_way_score(lib, lib.position(x)?, lib.position(y)?),
        };
        averaged(one(a, b), one(b, a))
    };
    // Each asking video's relations by frames, placed through the sound of those it is in.
    let mut asking: HashMap<i64, Vec<ByFrames>> = HashMap::new();
    for (a, b) in look {
        let (Some(pa), Some(pb)) = (lib.position(a), lib.position(b)) else { continue };
        let (from_s, to_s) = (length[&a], length[&b]);
        if let Some((related, alike)) = relate_by_frames(&lib.frame_grid(&lib.asking_frames(pa), pb), from_s, to_s) {
            asking.entry(a).or_default().push(ByFrames { other: b, related, alike, from_s, to_s });
        }
    }
    let mut by_frames: Vec<(i64, i64, Related)> = Vec::new();
    for (a, mut found) in asking {
        relation::place_through_sound(&mut found, |id| by_id.get(&id).copied());
        by_frames.extend(found.into_iter().map(|f| (a, f.other, f.related)));
    }
    by_frames.sort_by_key(|(a, b, _)| (*a, *b));
    let mut related: HashMap<(i64, i64), Related> =
        relation::related_pairs(&prints, both_ways, threshold).into_iter().map(|(a, b, r)| ((a, b), r)).collect();
    for (a, b, r) in by_frames {
        if !related.contains_key(&(a, b)) && !related.contains_key(&(b, a)) {
            related.insert((a, b), r);
        }
    }
    // A pair alike by frames takes its relation, told from its own first video's side.
    let mut relation_of = |a: i64, b: i64| match related.remove(&(a, b)) {
        Some(r) => Some(r),
        None => related.remove(&(b, a)).map(relation::from_other_side),
    };
    let mut pairs: Vec<Pair> =
        pairs_at_least(lib, &visual, threshold).into_iter().map(|(a, b, s)| (a, b, s, relation_of(a, b))).collect();
    // The related pairs that their frames' average did not list.
    for ((a, b), r) in related {
        pairs.push((a, b, both_ways(a, b).unwrap_or(0.0), Some(r)));
    }
    pairs.retain(|p| only.is_none_or(|want| p.3.is_some_and(|r| r.relation == want)));
    debug_assert!(pairs.iter().all(|p| p.3.is_some_and(|r| r.relation == Relation::SameSong)
        || relation::duplicate(p.3.as_ref(), Some(p.2), threshold)));
    pairs.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
    Ok(pairs)
}
