//! Search on the shared catalog: the library's frame list, mean and lyrics are read once, and
//! each query's frames are scored in SQL (pgvector) by the same centred cosine the embedded
//! index uses, keeping each video's best frame per query frame. Past a size, an HNSW index on
//! the frames picks candidate videos first (a k-NN per query frame), and only their frames are
//! scored. The ranking itself is the embedded backend's (`search::search`), so both give the
//! same answer on the same library.

use super::hnsw::{hnsw_of, library_mean, literal, Hnsw};
use super::SharedCatalog;
use crate::catalog::{is_vision_text, preferred_model, Status, VideoRow, WHOLE};
use crate::error::Result;
use crate::search::approx::IndexChoice;
use crate::search::index::VectorIndex;
use crate::search::library::{FrameRef, Line, Lyrics, SearchLibrary};
use crate::search::traps::{Effort, SetAside, TrapRules};
use pgvector::{HalfVector, Vector};
use std::collections::HashMap;
use std::sync::Mutex;

/// How a shared library is searched.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SharedSearch {
    /// Exact or approximate, as `[search]` configures it for the embedded index: when it is
    /// approximate (and the HNSW index is built), `candidates` videos are scored exactly.
    pub index: IndexChoice,
    /// Frames each query frame's k-NN returns, the query's own video left out (HNSW
    /// `ef_search` is at least this; at most 1000).
    pub neighbours: usize,
}

impl Default for SharedSearch {
    fn default() -> Self {
        SharedSearch { index: IndexChoice::default(), neighbours: 200 }
    }
}

/// The file name a frame's image has in search results: its JPEG is in the database.
pub fn frame_file(frame_id: i64) -> String {
    format!("frame:{frame_id}")
}

/// The frame id a [`frame_file`] name stands for.
pub fn frame_id_of(file: &str) -> Option<i64> {
    file.strip_prefix("frame:")?.parse().ok()
}

/// Loads the ready videos, their frames (ids and times, not vectors) and lyrics, and returns a
/// search library whose frame index scores in SQL over this connection.
pub fn load(
    mut shared: SharedCatalog,
    image_model: Option<&str>,
    text_model: Option<&str>,
    how: SharedSearch,
    traps: Option<&TrapRules>,
) -> Result<SearchLibrary> {
    let image_model = preferred_model(image_models(&mut shared)?, image_model);
    let text_model = preferred_model(text_models(&mut shared)?, text_model);
    let videos = searchable_videos(&mut shared)?;
    let position: HashMap<i64, usize> = videos.iter().enumerate().map(|(i, v)| (v.id, i)).collect();
    let mut frame_refs = Vec::new();
    let mut frame_ids = Vec::new();
    let (mut dim, mut mean) = (0, Vec::new());
    if let Some(model) = &image_model {
        let rows = shared
            .client()
            .query(
                "SELECT frame_id, video_id, t_s FROM frame_embeddings WHERE model = $1 ORDER BY video_id, t_s, frame_id",
                &[model],
            )
            .map_err(|e| shared.err(e))?;
        for r in rows {
            let Some(&video) = position.get(&r.get::<_, i64>(1)) else { continue };
            let id: i64 = r.get(0);
            frame_ids.push(id);
            frame_refs.push(FrameRef { video, t_s: r.get(2), file: frame_file(id) });
        }
        if let Some((m, _)) = library_mean(&mut shared, model)? {
            dim = m.len();
            // A vision-text model's frames are compared by plain cosine: no mean to centre on.
            mean = if is_vision_text(model) { vec![0.0; dim] } else { m };
        }
    }
    // Frames that say nothing, judged (and kept) as the search opens the library if that is
    // cheap, else by `index update`. A judging that fails (a video replaced meanwhile breaks its
    // snapshot) leaves every frame counted this time, and the next search judges again.
    let judged = match (traps, &image_model) {
        (Some(rules), Some(m)) => match super::traps::judge(&mut shared, m, rules, Effort::Query) {
            Ok(judged) => Some((rules, judged)),
            Err(e) => {
                tracing::warn!(
                    "{m}: frames could not be judged for saying nothing ({e}); every frame counts this time"
                );
                None
            }
        },
        _ => None,
    };
    let lyrics = match &text_model {
        Some(m) => lyrics_of(&mut shared, m, &position, videos.len())?,
        None => vec![None; videos.len()],
    };
    let hnsw = match &image_model {
        Some(m) if how.index.approximate(frame_ids.len()) && !is_vision_text(m) => hnsw_of(&mut shared, m)?,
        _ => None,
    };
    let centroids = match (&hnsw, &image_model) {
        (Some(_), Some(m)) => centroids(&mut shared, m, &mean, &position)?,
        _ => Vec::new(),
    };
    let set_aside: Vec<Option<SetAside>> = match &judged {
        Some((rules, j)) => frame_ids.iter().map(|&f| j.judge(rules, f)).collect(),
        None => Vec::new(),
    };
    let index = SqlIndex {
        shared: Mutex::new(shared),
        model: image_model.clone().unwrap_or_default(),
        dim: dim.max(1),
        row_of: frame_ids.iter().enumerate().map(|(r, &id)| (id, r)).collect(),
        frame_ids,
        mean,
        hnsw,
        centroids,
        how,
    };
    let lib = SearchLibrary::assemble(videos, Box::new(index), frame_refs, lyrics, image_model, text_model);
    Ok(match judged {
        Some((rules, j)) => lib.with_traps(rules, set_aside, j.pending),
        None => lib,
    })
}

/// Each listed video's mean frame, centred on the library mean and normalised (from the kept
/// per-video sums): the candidates' second source, which sees every video.
fn centroids(
    shared: &mut SharedCatalog,
    model: &str,
    mean: &[f32],
    position: &HashMap<i64, usize>,
) -> Result<Vec<(i64, Vec<f32>)>> {
    let rows = shared
        .client()
        .query("SELECT video_id, n, sum FROM embedding_sums WHERE model = $1", &[&model])
        .map_err(|e| shared.err(e))?;
    Ok(rows
        .iter()
        .filter(|r| position.contains_key(&r.get::<_, i64>(0)))
        .map(|r| {
            let n = r.get::<_, i64>(1).max(1) as f32;
            let c: Vec<f32> = r.get::<_, Vector>(2).to_vec().iter().zip(mean).map(|(s, m)| s / n - m).collect();
            (r.get(0), unit(&c))
        })
        .collect())
}

/// Image models with frame embeddings, most used first: (model, frames), as
/// `Catalog::image_models` lists them.
pub fn image_models(shared: &mut SharedCatalog) -> Result<Vec<(String, i64)>> {
    model_counts(shared, "SELECT model, count(*) FROM frame_embeddings GROUP BY model ORDER BY 2 DESC, 1")
}

/// Text models with whole-lyrics embeddings, most used first: (model, videos), as
/// `Catalog::text_models` lists them.
pub fn text_models(shared: &mut SharedCatalog) -> Result<Vec<(String, i64)>> {
    model_counts(
        shared,
        "SELECT model, count(*) FROM lyrics_embeddings WHERE segment = -1 GROUP BY model ORDER BY 2 DESC, 1",
    )
}

fn model_counts(shared: &mut SharedCatalog, sql: &str) -> Result<Vec<(String, i64)>> {
    let rows = shared.client().query(sql, &[]).map_err(|e| shared.err(e))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The videos with frames that search ranks, ordered by title then id, as the embedded catalog
/// lists them: the ready ones, and the missing ones (their file is gone, their frames kept until
/// it comes back). A video being ingested again is left out until its new frames are uploaded.
pub fn searchable_videos(shared: &mut SharedCatalog) -> Result<Vec<VideoRow>> {
    let rows = super::listing::queue(shared)?.into_iter().map(|r| r.video);
    Ok(rows
        .filter(|v| matches!(v.status, Status::Ready | Status::Missing) && v.frames_train + v.frames_test > 0)
        .collect())
}

/// Each video's lyrics (whole text and lines) from the text model `model`.
fn lyrics_of(
    shared: &mut SharedCatalog,
    model: &str,
    position: &HashMap<i64, usize>,
    videos: usize,
) -> Result<Vec<Option<Lyrics>>> {
    let rows = shared
        .client()
        .query(
            "SELECT l.video_id, l.segment, l.vector, s.text, s.start_s, s.end_s, s.avg_logprob,
                    t.flag, t.language_probability
             FROM lyrics_embeddings l
             LEFT JOIN segments s ON s.video_id = l.video_id AND s.model = l.transcript_model AND s.id = l.segment
             LEFT JOIN transcripts t ON t.video_id = l.video_id AND t.model = l.transcript_model
             WHERE l.model = $1 ORDER BY l.video_id, l.segment",
            &[&model],
        )
        .map_err(|e| shared.err(e))?;
    let mut wholes: Vec<Option<Vec<f32>>> = vec![None; videos];
    let mut lines: Vec<Vec<Line>> = vec![Vec::new(); videos];
    // Each video's transcript flag and language probability, and its lines' log-probabilities.
    let mut heard: Vec<(Option<String>, Option<f32>, Vec<f64>)> = vec![(None, None, Vec::new()); videos];
    for r in rows {
        let Some(&at) = position.get(&r.get::<_, i64>(0)) else { continue };
        let vector = r.get::<_, Vector>(2).to_vec();
        heard[at].0 = r.get(7);
        heard[at].1 = r.get(8);
        if i64::from(r.get::<_, i32>(1)) == WHOLE {
            wholes[at] = Some(vector);
        } else if let Some(text) = r.get::<_, Option<String>>(3) {
            heard[at].2.extend(r.get::<_, Option<f64>>(6));
            lines[at].push(Line { text: text.trim().to_string(), start: r.get(4), end: r.get(5), vector });
        }
    }
    Ok(wholes
        .into_iter()
        .zip(lines)
        .zip(heard)
        .map(|((whole, lines), (flag, probability, logprobs))| {
            let doubt = crate::search::doubt::lyrics_doubt(flag.as_deref(), probability, logprobs);
            whole.map(|whole| Lyrics { whole, lines, doubt })
        })
        .collect())
}

/// Each video's nearest frame among the `k` frames nearest to `$1` (centred) by the HNSW index,
/// leaving out the video `$2` (the query's own; -1 for none).
fn knn_sql(centre_fn: &str, dim: usize, model: &str, k: usize) -> String {
    format!(
        "SELECT video_id, min(distance) FROM (
            SELECT video_id, {centre_fn}(vector)::halfvec({dim}) <=> $1 AS distance FROM frame_embeddings
            WHERE model = {model} AND video_id <> $2 ORDER BY distance LIMIT {k}) nearest
         GROUP BY video_id",
        model = literal(model),
    )
}

/// The session settings a k-NN query runs under: the search breadth, and the index taken even
/// where the planner's row estimates are off (just after a bulk load, before autovacuum has
/// analysed the table, it would scan and sort).
/// The scan goes on past a filtered-out video's frames (`iterative_scan`, pgvector 0.8; an
/// older pgvector takes the setting as an unknown custom one and ignores it).
fn knn_settings(k: usize) -> String {
    format!(
        "SET LOCAL hnsw.ef_search = {}; SET LOCAL hnsw.iterative_scan = relaxed_order; \
         SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off",
        k.max(40)
    )
}

/// The plan PostgreSQL makes for a model's k-NN query (`EXPLAIN`), to see that it takes the
/// HNSW index; `None` when the model has no index.
pub fn knn_plan(shared: &mut SharedCatalog, model: &str) -> Result<Option<String>> {
    let Some(h) = hnsw_of(shared, model)? else { return Ok(None) };
    let sql = format!("EXPLAIN {}", knn_sql(&h.centre_fn, h.mean.len(), model, 100));
    let probe = HalfVector::from_f32_slice(&vec![0.01; h.mean.len()]);
    let url = shared.url().to_string();
    let db = |e: postgres::Error| super::error_of(&url, &e);
    let mut tx = shared.client().transaction().map_err(db)?;
    tx.batch_execute(&knn_settings(100)).map_err(db)?;
    let rows = tx.query(&sql, &[&probe, &-1i64]).map_err(db)?;
    // Each line without the mean's long literal.
    Ok(Some(
        rows.iter().map(|r| r.get::<_, String>(0).chars().take(160).collect::<String>()).collect::<Vec<_>>().join("\n"),
    ))
}

/// Frame vectors kept in PostgreSQL, scored there.
struct SqlIndex {
    shared: Mutex<SharedCatalog>,
    model: String,
    dim: usize,
    /// Each row's frame id, and back.
    frame_ids: Vec<i64>,
    row_of: HashMap<i64, usize>,
    /// The library mean (of the normalised vectors) that scores are centred on.
    mean: Vec<f32>,
    hnsw: Option<Hnsw>,
    /// Every video's centred mean frame, when the HNSW index is used.
    centroids: Vec<(i64, Vec<f32>)>,
    how: SharedSearch,
}

impl SqlIndex {
    /// The candidate videos: by the HNSW index, each video scored by its nearest frame per query
    /// frame summed over the query frames; and by each video's mean frame.
    fn candidates(
        &self,
        shared: &mut SharedCatalog,
        hnsw: &Hnsw,
        units: &[Vec<f32>],
        centred: &[Vec<f32>],
        own_video: Option<i64>,
    ) -> Result<Vec<i64>> {
        let url = shared.url().to_string();
        let db = |e: postgres::Error| super::error_of(&url, &e);
        let k = self.how.neighbours.clamp(1, 1000);
        let mut tx = shared.client().transaction().map_err(db)?;
        tx.batch_execute(&knn_settings(k)).map_err(db)?;
        let sql = knn_sql(&hnsw.centre_fn, self.dim, &self.model, k);
        let mut closeness: HashMap<i64, f64> = HashMap::new();
        for q in units {
            let centred: Vec<f32> = q.iter().zip(&hnsw.mean).map(|(a, m)| a - m).collect();
            for r in tx.query(&sql, &[&HalfVector::from_f32_slice(&centred), &own_video.unwrap_or(-1)]).map_err(db)? {
                *closeness.entry(r.get(0)).or_default() += 1.0 - r.get::<_, f64>(1);
            }
        }
        tx.commit().map_err(db)?;
        // Half the candidates from the frames' neighbours (a scene shared with the query),
        // the rest from the videos' mean frames (every video is seen: the k-NN's horizon is a
        // few videos' worth of frames, and the query's own frames fill the first of it).
        let want = self.how.index.candidates.max(1);
        let mut chosen: Vec<i64> = ranked(closeness).into_iter().take(want.div_ceil(2)).collect();
        let by_mean: HashMap<i64, f64> = self
            .centroids
            .iter()
            .map(|(video, c)| {
                let sum: f32 = centred.iter().map(|q| q.iter().zip(c).map(|(a, b)| a * b).sum::<f32>()).sum();
                (*video, f64::from(sum))
            })
            .collect();
        for video in ranked(by_mean) {
            if chosen.len() >= want {
                break;
            }
            if !chosen.contains(&video) && Some(video) != own_video {
                chosen.push(video);
            }
        }
        Ok(chosen)
    }

    fn score(&self, queries: &[Vec<f32>], own_video: Option<i64>) -> Result<Vec<Vec<f32>>> {
        let mut out = vec![vec![f32::NEG_INFINITY; self.frame_ids.len()]; queries.len()];
        if queries.is_empty() || self.frame_ids.is_empty() {
            return Ok(out);
        }
        let units: Vec<Vec<f32>> = queries.iter().map(|q| unit(q)).collect();
        // Centred and normalised here, so a cosine is one inner product in SQL.
        let centred: Vec<Vec<f32>> =
            units.iter().map(|u| unit(&u.iter().zip(&self.mean).map(|(a, m)| a - m).collect::<Vec<_>>())).collect();
        let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        let within = match &self.hnsw {
            Some(h) => Some(self.candidates(&mut shared, h, &units, &centred, own_video)?),
            None => None,
        };
        // Each row is centred and normalised once (the lateral subquery, kept from being folded
        // into the select list by OFFSET 0), then its inner product with every query frame.
        let products: Vec<String> = (0..centred.len()).map(|k| format!("(-(c.v <#> ${}))::real", k + 3)).collect();
        let sql = format!(
            "SELECT e.frame_id, ARRAY[{}]
             FROM frame_embeddings e
             CROSS JOIN LATERAL (SELECT l2_normalize(e.vector::vector - $1) AS v OFFSET 0) c
             WHERE e.model = $2 {}",
            products.join(", "),
            if within.is_some() { format!("AND e.video_id = ANY(${})", centred.len() + 3) } else { String::new() }
        );
        let mean = Vector::from(self.mean.clone());
        let queries: Vec<Vector> = centred.iter().map(|c| Vector::from(c.clone())).collect();
        let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![&mean, &self.model];
        params.extend(queries.iter().map(|c| c as &(dyn postgres::types::ToSql + Sync)));
        if let Some(videos) = &within {
            params.push(videos);
        }
        let rows = shared.client().query(&sql, &params).map_err(|e| shared.err(e))?;
        for r in rows {
            let Some(&row) = self.row_of.get(&r.get::<_, i64>(0)) else { continue };
            for (q, s) in r.get::<_, Vec<f32>>(1).into_iter().enumerate() {
                out[q][row] = s;
            }
        }
        Ok(out)
    }
}

/// Keys by score, best first (ties by key).
fn ranked(scores: HashMap<i64, f64>) -> Vec<i64> {
    let mut v: Vec<(i64, f64)> = scores.into_iter().collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v.into_iter().map(|(k, _)| k).collect()
}

/// `v` scaled to unit length (as the embedded index stores its rows).
pub(super) fn unit(v: &[f32]) -> Vec<f32> {
    let mut u = v.to_vec();
    crate::ml::l2_normalize(&mut u);
    u
}

impl VectorIndex for SqlIndex {
    fn dim(&self) -> usize {
        self.dim
    }

    fn len(&self) -> usize {
        self.frame_ids.len()
    }

    fn scores(&self, queries: &[Vec<f32>]) -> Vec<Vec<f32>> {
        self.scores_leaving_out(queries, None)
    }

    fn scores_leaving_out(&self, queries: &[Vec<f32>], own_video: Option<i64>) -> Vec<Vec<f32>> {
        self.score(queries, own_video).unwrap_or_else(|e| {
            tracing::error!("{e}");
            vec![vec![f32::NEG_INFINITY; self.frame_ids.len()]; queries.len()]
        })
    }

    fn rows(&self, rows: &[usize]) -> Vec<Vec<f32>> {
        let ids: Vec<i64> = rows.iter().map(|&r| self.frame_ids[r]).collect();
        let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        let found = shared
            .client()
            .query(
                "SELECT frame_id, vector FROM frame_embeddings WHERE model = $1 AND frame_id = ANY($2)",
                &[&self.model, &ids],
            )
            .unwrap_or_else(|e| {
                tracing::error!("reading {} frame vectors from {}: {e}", ids.len(), shared.url());
                Vec::new()
            });
        let by_id: HashMap<i64, Vec<f32>> = found
            .iter()
            .map(|r| (r.get(0), r.get::<_, HalfVector>(1).to_vec().iter().map(|h| h.to_f32()).collect()))
            .collect();
        ids.iter().map(|id| by_id.get(id).cloned().unwrap_or_else(|| vec![0.0; self.dim])).collect()
    }

    /// The centred cosine SQL scores, computed here from the rows read (one round trip).
    fn scores_at(&self, queries: &[Vec<f32>], rows: &[usize]) -> Vec<Vec<f32>> {
        let centre = |v: &[f32]| unit(&v.iter().zip(&self.mean).map(|(a, m)| a - m).collect::<Vec<_>>());
        let stored: Vec<Vec<f32>> = self.rows(rows).iter().map(|r| centre(r)).collect();
        queries
            .iter()
            .map(|q| {
                let q = centre(&unit(q));
                stored.iter().map(|r| q.iter().zip(r).map(|(a, b)| a * b).sum()).collect()
            })
            .collect()
    }

    fn kind(&self) -> &'static str {
        if self.hnsw.is_some() {
            "approximate (HNSW)"
        } else {
            "exact"
        }
    }

    fn scores_queries_together(&self) -> bool {
        // Candidates are chosen per search.
        self.hnsw.is_none()
    }
}

/// A frame's JPEG bytes (for previews: the viewer needs no shared file system).
pub fn frame_jpeg(shared: &mut SharedCatalog, frame_id: i64) -> Result<Option<Vec<u8>>> {
    let row =
        shared.client().query_opt("SELECT jpeg FROM frames WHERE id = $1", &[&frame_id]).map_err(|e| shared.err(e))?;
    Ok(row.map(|r| r.get(0)))
}

/// The image of the frame a search result names by [`frame_file`], decoded; `None` for a name
/// that is not one, a frame gone from the catalog or bytes that do not decode.
pub fn frame_image(shared: &mut SharedCatalog, file: &str) -> Result<Option<image::DynamicImage>> {
    let Some(id) = frame_id_of(file) else { return Ok(None) };
    Ok(frame_jpeg(shared, id)?.and_then(|bytes| image::load_from_memory(&bytes).ok()))
}
