//! Frames that say nothing (`[search.traps]`) on the shared catalog, judged as the embedded
//! store judges them (`search::traps`) and kept in the database: per frame how many other videos
//! hold a frame at least `shared_similarity` alike and its brightness spread (`frame_traps`),
//! per model the similarity the counts follow and how many frames they cover
//! (`trap_judgements`). New frames are judged against every frame as a worker finishes or a
//! search opens the library (where that is cheap), else by `index update`; a frame that left (a
//! video ingested again or removed) makes every count start again.

use super::SharedCatalog;
use crate::config::Config;
use crate::error::Result;
use crate::pipeline::SetAsideCount;
use crate::search::index::FlatIndex;
use crate::search::traps::{add_shared, brightness_spread, Effort, SetAside, TrapRules, QUERY_PAIRS};
use pgvector::HalfVector;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};

/// Frames whose JPEG bytes are read per query while judging brightness.
const JPEG_BATCH: usize = 2000;

/// New frames a search judges at most itself (their JPEG bytes come over the connection).
const QUERY_FRAMES: usize = 20_000;

/// What is known of a model's frames.
#[derive(Debug, Clone, Default)]
pub struct Judged {
    /// Per judged frame id: (other videos sharing it, when that was tested; brightness spread).
    /// Where every frame is judged, only the frames set aside are read.
    frames: HashMap<i64, (Option<u16>, f32)>,
    /// Each frame's video (of those read).
    video_of: HashMap<i64, i64>,
    /// Frames not judged yet (too many to judge for a query; `index update` judges them).
    pub pending: usize,
}

impl Judged {
    /// Why the frame `frame_id` is set aside, if it is; a frame not judged yet is not.
    pub fn judge(&self, rules: &TrapRules, frame_id: i64) -> Option<SetAside> {
        let &(shared, spread) = self.frames.get(&frame_id)?;
        rules.judge(shared, spread)
    }

    /// How many frames are set aside, and why.
    pub fn counts(&self, rules: &TrapRules) -> SetAsideCount {
        let mut count = SetAsideCount::default();
        self.frames.keys().for_each(|f| count.add(self.judge(rules, *f)));
        count
    }

    /// How many frames of each video (by id) are set aside, and why.
    pub fn per_video(&self, rules: &TrapRules) -> HashMap<i64, SetAsideCount> {
        let mut counts: HashMap<i64, SetAsideCount> = HashMap::new();
        for (frame, video) in &self.video_of {
            counts.entry(*video).or_default().add(self.judge(rules, *frame));
        }
        counts
    }
}

/// The rules frames are set aside by on the shared catalog, unless `[search.traps] set_aside`
/// is off (its frames' pictures are in the database, so no folder is named).
pub fn rules(config: &Config) -> Option<TrapRules> {
    let settings = &config.search.traps;
    settings.set_aside.then(|| TrapRules { settings: settings.clone(), root: std::path::PathBuf::new() })
}

/// What `trap_judgements` says of a model.
struct Header {
    shared_similarity: f32,
    shared_tested: bool,
    frames: i64,
}

/// The judgements of `model`'s frames, brought up to date first as far as `effort` allows. A
/// query does not wait for another process judging the same model: it takes what is kept.
pub fn judge(shared: &mut SharedCatalog, model: &str, rules: &TrapRules, effort: Effort) -> Result<Judged> {
    let url = shared.url().to_string();
    let db = |e: postgres::Error| super::error_of(&url, &e);
    // One snapshot throughout: the frame list, their vectors and the kept judgements agree.
    let mut tx = shared
        .client()
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .start()
        .map_err(db)?;
    // One judge per model at a time (the HNSW builds' locks are keyed by other names).
    let key = format!("traps:{model}");
    let locked: bool = match effort {
        Effort::Full => tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&key]).map(|_| true).map_err(db)?,
        Effort::Query => tx.query_one("SELECT pg_try_advisory_xact_lock(hashtext($1))", &[&key]).map_err(db)?.get(0),
    };
    let header = tx
        .query_opt("SELECT shared_similarity, shared_tested, frames FROM trap_judgements WHERE model = $1", &[&model])
        .map_err(db)?
        .map(|r| Header { shared_similarity: r.get(0), shared_tested: r.get(1), frames: r.get(2) });
    // A first look by counts: the kept judgements refer to existing frames only, so equal
    // counts are the same frames.
    let counts = tx
        .query_one(
            "SELECT (SELECT count(*) FROM frame_embeddings WHERE model = $1),
                    (SELECT count(*) FROM frame_traps WHERE model = $1)",
            &[&model],
        )
        .map_err(db)?;
    let (frames, kept_rows): (i64, i64) = (counts.get(0), counts.get(1));
    let test_shared = frames as usize <= rules.settings.shared_max_frames;
    // The kept counts follow these settings and every frame they were made with is still here.
    let valid = header.as_ref().is_some_and(|h| {
        h.shared_similarity == rules.settings.shared_similarity
            && (h.shared_tested || !test_shared)
            && h.frames == kept_rows
    });
    let at_least = if valid { frames - kept_rows } else { frames } as usize;
    let too_many = |to_judge: usize| {
        to_judge.saturating_mul(if test_shared { frames as usize } else { 0 }) > QUERY_PAIRS || to_judge > QUERY_FRAMES
    };
    // Everything judged, or too much to judge now: only the frames set aside are read (a search
    // of a large library reads a few rows, not one per frame).
    let leave = |to_judge: usize| !locked || effort == Effort::Query && too_many(to_judge);
    if at_least == 0 || leave(at_least) {
        let mut judged =
            if valid { set_aside(&mut tx, model, rules, test_shared).map_err(db)? } else { Judged::default() };
        judged.pending = at_least;
        if at_least > 0 {
            warn_pending(at_least, locked);
        }
        return Ok(judged);
    }
    let all: Vec<(i64, i64)> = tx
        .query("SELECT frame_id, video_id FROM frame_embeddings WHERE model = $1 ORDER BY frame_id", &[&model])
        .map_err(db)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut kept: HashMap<i64, (Option<u16>, f32)> = tx
        .query("SELECT frame_id, shared, spread FROM frame_traps WHERE model = $1", &[&model])
        .map_err(db)?
        .iter()
        .map(|r| (r.get(0), (r.get::<_, Option<i32>>(1).map(|n| n.clamp(0, u16::MAX as i32) as u16), r.get(2))))
        .collect();
    let video_of: HashMap<i64, i64> = all.iter().copied().collect();
    let old_videos: HashSet<i64> = kept.keys().filter_map(|f| video_of.get(f)).copied().collect();
    let new: Vec<(i64, i64)> = all.iter().filter(|(f, _)| !kept.contains_key(f)).copied().collect();
    // New frames' videos must be new: otherwise an old frame's count cannot simply grow.
    let again = !valid || new.iter().any(|(_, v)| old_videos.contains(v));
    if !test_shared {
        kept.values_mut().for_each(|(s, _)| *s = None);
    }
    if again && leave(all.len()) {
        warn_pending(all.len(), locked);
        return Ok(Judged { frames: HashMap::new(), video_of, pending: all.len() });
    }
    if again {
        kept.clear();
        tx.execute("DELETE FROM frame_traps WHERE model = $1", &[&model]).map_err(db)?;
    }
    let started = std::time::Instant::now();
    // Rows: the kept frames first, then the new ones (counted against all, adding to the kept).
    let mut order: Vec<(i64, i64)> = all.iter().filter(|(f, _)| kept.contains_key(f)).copied().collect();
    let from = order.len();
    order.extend(all.iter().filter(|(f, _)| !kept.contains_key(f)));
    let mut spreads: HashMap<i64, f32> = HashMap::new();
    for chunk in order[from..].chunks(JPEG_BATCH) {
        let ids: Vec<i64> = chunk.iter().map(|(f, _)| *f).collect();
        let rows = tx.query("SELECT id, jpeg FROM frames WHERE id = ANY($1)", &[&ids]).map_err(db)?;
        let judged: Vec<(i64, f32)> = rows
            .par_iter()
            .map(|r| {
                let spread = image::load_from_memory(r.get::<_, &[u8]>(1))
                    .map_or(f32::NAN, |img| brightness_spread(&img.to_rgb8()));
                (r.get(0), spread)
            })
            .collect();
        spreads.extend(judged);
    }
    let mut counts: Option<Vec<u16>> = None;
    if test_shared {
        let index = frame_index(&mut tx, model, &order).map_err(db)?;
        let videos: Vec<i64> = order.iter().map(|(_, v)| *v).collect();
        let mut shared_counts: Vec<u16> = order[..from].iter().map(|(f, _)| kept[f].0.unwrap_or(0)).collect();
        add_shared(&index, &videos, from, &mut shared_counts, rules.settings.shared_similarity);
        counts = Some(shared_counts);
    }
    let mut judged: HashMap<i64, (Option<u16>, f32)> = HashMap::with_capacity(order.len());
    for (r, (frame, _)) in order.iter().enumerate() {
        let spread = if r < from { kept[frame].1 } else { spreads.get(frame).copied().unwrap_or(f32::NAN) };
        judged.insert(*frame, (counts.as_ref().map(|c| c[r]), spread));
    }
    // Written back: every new frame, and the kept ones whose counts grew (spreads compared by
    // their bits: a frame with no picture to judge has NaN, which equals nothing).
    let bits = |j: Option<&(Option<u16>, f32)>| j.map(|(s, p)| (*s, p.to_bits()));
    let ids: Vec<i64> = order.iter().map(|(f, _)| *f).filter(|f| bits(kept.get(f)) != bits(judged.get(f))).collect();
    let shared_of: Vec<Option<i32>> = ids.iter().map(|f| judged[f].0.map(i32::from)).collect();
    let spread_of: Vec<f32> = ids.iter().map(|f| judged[f].1).collect();
    tx.execute(
        "INSERT INTO frame_traps (frame_id, model, shared, spread)
         SELECT f, $2, s, p FROM unnest($1::bigint[], $3::integer[], $4::real[]) AS t(f, s, p)
         ON CONFLICT (frame_id, model) DO UPDATE SET shared = excluded.shared, spread = excluded.spread",
        &[&ids, &model, &shared_of, &spread_of],
    )
    .map_err(db)?;
    tx.execute(
        "INSERT INTO trap_judgements (model, shared_similarity, shared_tested, frames) VALUES ($1, $2, $3, $4)
         ON CONFLICT (model) DO UPDATE SET shared_similarity = excluded.shared_similarity,
             shared_tested = excluded.shared_tested, frames = excluded.frames, judged_at = now()",
        &[&model, &rules.settings.shared_similarity, &test_shared, &(judged.len() as i64)],
    )
    .map_err(db)?;
    tx.commit().map_err(db)?;
    tracing::info!(
        "{model}: frames that say nothing: judged {} frames in {:.1}s",
        order.len() - from,
        started.elapsed().as_secs_f64()
    );
    Ok(Judged { frames: judged, video_of, pending: 0 })
}

/// The kept judgements of `model`'s frames that are set aside (the rest say something).
fn set_aside(
    tx: &mut postgres::Transaction,
    model: &str,
    rules: &TrapRules,
    test_shared: bool,
) -> std::result::Result<Judged, postgres::Error> {
    let shared_videos = if test_shared { rules.settings.shared_videos.min(i32::MAX as usize) as i32 } else { i32::MAX };
    let rows = tx.query(
        "SELECT t.frame_id, e.video_id, t.shared, t.spread FROM frame_traps t
         JOIN frame_embeddings e ON e.frame_id = t.frame_id AND e.model = t.model
         WHERE t.model = $1 AND (t.spread < $2 OR t.shared >= $3)",
        &[&model, &rules.settings.flat_below, &shared_videos],
    )?;
    let mut out = Judged::default();
    for r in rows {
        let frame: i64 = r.get(0);
        let shared = r.get::<_, Option<i32>>(2).filter(|_| test_shared).map(|n| n.clamp(0, u16::MAX as i32) as u16);
        out.frames.insert(frame, (shared, r.get(3)));
        out.video_of.insert(frame, r.get(1));
    }
    Ok(out)
}

fn warn_pending(pending: usize, locked: bool) {
    let who = if locked { "`reelmatch index update` judges them" } else { "another process is judging them" };
    tracing::warn!("{pending} frames are not judged yet for frames that say nothing; {who}");
}

/// The frames `order` lists (frame id, video id), in that order, as one centred index.
fn frame_index(
    tx: &mut postgres::Transaction,
    model: &str,
    order: &[(i64, i64)],
) -> std::result::Result<FlatIndex, postgres::Error> {
    let row_of: HashMap<i64, usize> = order.iter().enumerate().map(|(r, (f, _))| (*f, r)).collect();
    let mut vectors: Vec<Vec<f32>> = vec![Vec::new(); order.len()];
    for r in tx.query("SELECT frame_id, vector FROM frame_embeddings WHERE model = $1", &[&model])? {
        if let Some(&at) = row_of.get(&r.get::<_, i64>(0)) {
            vectors[at] = r.get::<_, HalfVector>(1).to_vec().iter().map(|h| h.to_f32()).collect();
        }
    }
    let dim = vectors.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let mut index = FlatIndex::new(dim);
    for v in &vectors {
        index.push(v);
    }
    index.center();
    Ok(index)
}
