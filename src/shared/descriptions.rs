//! A shared catalog's frames embedded for descriptions after the fact (`index update` with the
//! vision-text role turned on, on a catalog ingested before it was): each frame's JPEG bytes
//! read from the catalog, embedded on this machine and stored beside the image model's vectors
//! with the video's sum, a batch per transaction, so a stopped run picks up where it stopped.

use super::upload::stored_row;
use super::SharedCatalog;
use crate::config::Config;
use crate::error::Result;
use crate::pipeline::DescribeProgress;
use pgvector::Vector;

/// Where `[models.vision_text]` is on, embeds every frame of the catalog's searchable videos that
/// has no vector from it yet, saying through `say` how far it is after each video. Returns the
/// frames embedded. A frame whose bytes do not decode is left out, said once per video; a video
/// replaced by a worker meanwhile keeps only the vectors of the frames it still has.
pub fn embed_for_descriptions(url: &str, config: &Config, say: &dyn Fn(String)) -> Result<usize> {
    if !config.models.vision_text.is_on() {
        return Ok(0);
    }
    let model = crate::ml::load::load_vision_text(config)?;
    let key = model.model_id.clone();
    let mut shared = SharedCatalog::open(url)?;
    let missing = "NOT EXISTS (SELECT 1 FROM frame_embeddings e WHERE e.frame_id = f.id AND e.model = $1)";
    let todo: Vec<(i64, String, i64)> = shared
        .client()
        .query(
            &format!(
                "SELECT v.id, v.title, count(*) FROM frames f JOIN videos v ON v.id = f.video_id
                 WHERE v.status IN ('ready', 'missing') AND {missing} GROUP BY v.id, v.title ORDER BY v.id"
            ),
            &[&key],
        )
        .map_err(|e| shared.err(e))?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let total: i64 = todo.iter().map(|t| t.2).sum();
    if total == 0 {
        return Ok(0);
    }
    let mut progress = DescribeProgress::start(say, total as usize, todo.len(), &key);
    let frames_sql =
        format!("SELECT f.id, f.t_s, f.jpeg FROM frames f WHERE f.video_id = $2 AND {missing} ORDER BY f.idx");
    for (video, title, _) in todo {
        let rows = shared.client().query(&frames_sql, &[&key, &video]).map_err(|e| shared.err(e))?;
        let mut undecodable = 0;
        let mut stored = 0;
        for chunk in rows.chunks(model.batch_size()) {
            let (mut frames, mut images) = (Vec::with_capacity(chunk.len()), Vec::with_capacity(chunk.len()));
            for r in chunk {
                match image::load_from_memory(r.get::<_, &[u8]>(2)) {
                    Ok(img) => {
                        frames.push((r.get::<_, i64>(0), r.get::<_, f64>(1)));
                        images.push(img);
                    }
                    Err(_) => undecodable += 1,
                }
            }
            if images.is_empty() {
                continue;
            }
            let vectors = model.embed_images(&images)?;
            let frames: Vec<(i64, f64, Vec<f32>)> =
                frames.into_iter().zip(vectors).map(|((id, t), v)| (id, t, v)).collect();
            stored += store(&mut shared, video, &key, &frames)?;
        }
        if undecodable > 0 {
            say(format!(
                "  {}: {undecodable} frame(s) in the catalog do not decode as JPEG and were left out; ingesting the video again replaces them",
                crate::types::printable(&title)
            ));
        }
        progress.add(stored, &title);
    }
    Ok(progress.done)
}

/// Stores one batch of a video's frame vectors under `key` with their sum, in one transaction;
/// a frame gone from the catalog meanwhile (its video ingested again) is skipped. Returns how
/// many were stored.
fn store(shared: &mut SharedCatalog, video: i64, key: &str, frames: &[(i64, f64, Vec<f32>)]) -> Result<usize> {
    let url = shared.url().to_string();
    let db = |e: postgres::Error| super::error_of(&url, &e);
    let Some(dim) = frames.first().map(|f| f.2.len()) else { return Ok(0) };
    let mut tx = shared.client().transaction().map_err(db)?;
    let insert = tx
        .prepare(
            "INSERT INTO frame_embeddings (frame_id, model, video_id, t_s, vector, scale)
             SELECT id, $2, video_id, $3, $4, $5 FROM frames WHERE id = $1 AND video_id = $6
             ON CONFLICT DO NOTHING",
        )
        .map_err(db)?;
    let (mut sum, mut n) = (vec![0f32; dim], 0i64);
    for (frame, t_s, vector) in frames {
        let (halves, scale) = stored_row(vector);
        if tx.execute(&insert, &[frame, &key, t_s, &halves, &scale, &video]).map_err(db)? == 1 {
            sum.iter_mut().zip(halves.as_slice()).for_each(|(s, h)| *s += h.to_f32());
            n += 1;
        }
    }
    if n > 0 {
        tx.execute(
            "INSERT INTO embedding_sums (video_id, model, n, sum) VALUES ($1, $2, $3, $4)
             ON CONFLICT (video_id, model) DO UPDATE
             SET n = embedding_sums.n + EXCLUDED.n, sum = embedding_sums.sum + EXCLUDED.sum",
            &[&video, &key, &n, &Vector::from(sum)],
        )
        .map_err(db)?;
    }
    tx.commit().map_err(db)?;
    Ok(n as usize)
}
