//! The HNSW index over a model's frames on the shared catalog: its names, the mean it centres
//! on, when it no longer fits the library (`drift`), and its build. A build runs under the
//! model's advisory lock, one session at a time, and `CREATE INDEX CONCURRENTLY`, so uploads
//! from every worker go on while it runs; an index that was being built when its session died
//! is found and dropped by the next build.

use super::SharedCatalog;
use crate::error::Result;
use pgvector::Vector;

/// A model's HNSW index: the function its vectors are centred by, and the mean it subtracts.
#[derive(Debug, Clone)]
pub(super) struct Hnsw {
    pub centre_fn: String,
    pub mean: Vec<f32>,
}

/// What a build did.
#[derive(Debug, Clone, PartialEq)]
pub enum HnswBuild {
    /// The index there still fits the library.
    Kept,
    /// There was none: built now.
    Built,
    /// The library moved away from the one the index was built on (why): built again.
    Rebuilt(String),
}

/// The mean of a model's (normalised) frame vectors over the library, from the per-video
/// sums, and how many frames it is over; `None` when the model has none.
pub(super) fn library_mean(shared: &mut SharedCatalog, model: &str) -> Result<Option<(Vec<f32>, i64)>> {
    let row = shared
        .client()
        .query_one("SELECT sum(sum), sum(n)::bigint FROM embedding_sums WHERE model = $1", &[&model])
        .map_err(|e| shared.err(e))?;
    Ok(match (row.get::<_, Option<Vector>>(0), row.get::<_, Option<i64>>(1)) {
        (Some(sum), Some(n)) => Some((sum.to_vec().into_iter().map(|s| s / n.max(1) as f32).collect(), n)),
        _ => None,
    })
}

/// The tag a model's index and function names share.
fn tag(model: &str) -> String {
    blake3::hash(model.as_bytes()).to_hex()[..12].to_string()
}

/// The names of a model's HNSW index and of its centring function, for a build stamped
/// `stamp` (each rebuild has its own names, so the old index serves until the new one is in).
fn hnsw_names(model: &str, stamp: u64) -> (String, String) {
    let tag = tag(model);
    (format!("frame_hnsw_{tag}_{stamp}"), format!("reelmatch_centred_{tag}_{stamp}"))
}

/// The centring function that goes with the index `name`.
fn centre_fn_of(name: &str) -> String {
    name.replacen("frame_hnsw_", "reelmatch_centred_", 1)
}

/// A model's built index: its name, the mean it centres on and the frames it was built over.
fn built_hnsw(shared: &mut SharedCatalog, model: &str) -> Result<Option<(String, Vec<f32>, i64)>> {
    let row = shared
        .client()
        .query_opt(
            "SELECT name, mean, frames FROM frame_indexes WHERE model = $1 AND to_regclass(name) IS NOT NULL",
            &[&model],
        )
        .map_err(|e| shared.err(e))?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
}

pub(super) fn hnsw_of(shared: &mut SharedCatalog, model: &str) -> Result<Option<Hnsw>> {
    Ok(built_hnsw(shared, model)?.map(|(name, mean, _)| Hnsw { centre_fn: centre_fn_of(&name), mean }))
}

/// Why an index built over `built_frames` frames centred on `built_mean` no longer fits a
/// library of `frames` frames with mean `mean`: it grew or shrank by half, or its mean moved by
/// more than 5 % of its length (the index's neighbours are by vectors centred on the old mean).
fn drift(built_mean: &[f32], built_frames: i64, mean: &[f32], frames: i64) -> Option<String> {
    let ratio = frames as f64 / built_frames.max(1) as f64;
    if !(2.0 / 3.0..=1.5).contains(&ratio) {
        return Some(format!("the library went from {built_frames} to {frames} frames"));
    }
    let len = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
    let moved = len(&mut built_mean.iter().zip(mean).map(|(a, b)| f64::from(a - b)));
    let shift = moved / len(&mut built_mean.iter().map(|&a| f64::from(a))).max(1e-12);
    (built_mean.len() != mean.len() || shift > 0.05)
        .then(|| format!("its mean moved by {:.0} % of its length", shift * 100.0))
}

/// Builds the HNSW index over a model's frames if it is not there, or again if the library has
/// drifted from it ([`drift`]): cosine distance between vectors centred on the library mean of
/// now (as search ranks them; uncentred, features every frame shares would decide the
/// neighbours). A rebuild makes the new index beside the old one, then swaps them. Waits for a
/// build another session is running, then looks again.
pub fn ensure_hnsw(shared: &mut SharedCatalog, model: &str) -> Result<HnswBuild> {
    locked(shared, model, true, |s| build_hnsw(s, model, false)).map(|b| b.unwrap_or(HnswBuild::Kept))
}

/// [`ensure_hnsw`] unless another session is building this model's index now (`None`: that
/// session brings it up to date).
pub fn try_ensure_hnsw(shared: &mut SharedCatalog, model: &str) -> Result<Option<HnswBuild>> {
    locked(shared, model, false, |s| build_hnsw(s, model, false))
}

/// Builds a model's HNSW index again whether or not the library has drifted from it
/// (`index rebuild`), or builds it where there is none.
pub fn rebuild_hnsw(shared: &mut SharedCatalog, model: &str) -> Result<HnswBuild> {
    locked(shared, model, true, |s| build_hnsw(s, model, true)).map(|b| b.unwrap_or(HnswBuild::Kept))
}

/// `work` under the model's session-level advisory lock, taken waiting (`wait`) or only if it is
/// free (`None` when it is not). A session that dies lets go of it.
fn locked(
    shared: &mut SharedCatalog,
    model: &str,
    wait: bool,
    work: impl FnOnce(&mut SharedCatalog) -> Result<HnswBuild>,
) -> Result<Option<HnswBuild>> {
    let key = format!("reelmatch-hnsw:{model}");
    let take = if wait {
        "SELECT true FROM pg_advisory_lock(hashtext($1))"
    } else {
        "SELECT pg_try_advisory_lock(hashtext($1))"
    };
    let got: bool = shared.client().query_one(take, &[&key]).map_err(|e| shared.err(e))?.get(0);
    if !got {
        return Ok(None);
    }
    let outcome = work(shared);
    shared.client().execute("SELECT pg_advisory_unlock(hashtext($1))", &[&key]).map_err(|e| shared.err(e))?;
    outcome.map(Some)
}

/// The build itself, under the model's lock. Each step is a statement of its own: an index
/// built concurrently cannot be inside a transaction.
fn build_hnsw(shared: &mut SharedCatalog, model: &str, always: bool) -> Result<HnswBuild> {
    let Some((mean, n)) = library_mean(shared, model)? else { return Ok(HnswBuild::Kept) };
    let old = built_hnsw(shared, model)?;
    drop_strays(shared, model, old.as_ref().map(|o| o.0.as_str()))?;
    let outcome = match &old {
        None => HnswBuild::Built,
        Some((_, built_mean, built_frames)) => match drift(built_mean, *built_frames, &mean, n) {
            Some(why) => HnswBuild::Rebuilt(why),
            None if always => HnswBuild::Rebuilt("asked for".into()),
            None => return Ok(HnswBuild::Kept),
        },
    };
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let (index, centre_fn) = hnsw_names(model, stamp);
    // Index builds run functions with only pg_catalog on the search path (PostgreSQL 17 on),
    // so the body names pgvector's schema.
    let schema: String = shared
        .client()
        .query_one("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'vector'", &[])
        .map_err(|e| shared.err(e))?
        .get(0);
    let literal_mean = format!("[{}]", mean.iter().map(|x| format!("{x:e}")).collect::<Vec<_>>().join(","));
    let function = format!(
        "CREATE OR REPLACE FUNCTION {centre_fn}(v halfvec) RETURNS halfvec
            AS $$ SELECT v OPERATOR({schema}.-) '{literal_mean}'::{schema}.halfvec $$ LANGUAGE sql IMMUTABLE PARALLEL SAFE"
    );
    let create = format!(
        "CREATE INDEX CONCURRENTLY {index} ON frame_embeddings
            USING hnsw (({centre_fn}(vector)::halfvec({dim})) halfvec_cosine_ops)
            WITH (m = 16, ef_construction = 64) WHERE model = {model_literal}",
        dim = mean.len(),
        model_literal = literal(model)
    );
    // The graph is built in memory when it fits (a 100k-frame library's is about 0.9 GB);
    // otherwise pgvector builds it on disk, many times slower.
    let steps = ["ANALYZE frame_embeddings", "SET maintenance_work_mem = '2GB'", &function, &create];
    let built = steps.iter().try_for_each(|sql| shared.client().batch_execute(sql).map_err(|e| shared.err(e)));
    let _ = shared.client().batch_execute("RESET maintenance_work_mem");
    if let Err(e) = built {
        // A failed concurrent build leaves an invalid index behind: not to be kept.
        let _ = drop_index(shared, &index);
        return Err(e);
    }
    // The new index is recorded (search takes it from here on), then the old one goes.
    shared
        .client()
        .execute(
            "INSERT INTO frame_indexes (model, name, mean, frames) VALUES ($1, $2, $3, $4)
             ON CONFLICT (model) DO UPDATE SET name = EXCLUDED.name, mean = EXCLUDED.mean, frames = EXCLUDED.frames, built_at = now()",
            &[&model, &index, &mean, &n],
        )
        .map_err(|e| shared.err(e))?;
    if let Some((old_index, _, _)) = &old {
        drop_index(shared, old_index)?;
    }
    Ok(outcome)
}

/// Drops an index and its centring function (concurrently: uploads and searches go on).
fn drop_index(shared: &mut SharedCatalog, index: &str) -> Result<()> {
    for sql in [
        format!("DROP INDEX CONCURRENTLY IF EXISTS {index}"),
        format!("DROP FUNCTION IF EXISTS {}(halfvec)", centre_fn_of(index)),
    ] {
        shared.client().batch_execute(&sql).map_err(|e| shared.err(e))?;
    }
    Ok(())
}

/// Drops a model's indexes (and centring functions) other than `keep`: builds whose session
/// died before recording them, valid or not. Runs under the model's lock, so none of them is a
/// build in progress.
fn drop_strays(shared: &mut SharedCatalog, model: &str, keep: Option<&str>) -> Result<()> {
    let tag = tag(model);
    let keep_fn = keep.map(centre_fn_of);
    let indexes: Vec<String> = shared
        .client()
        .query(
            "SELECT relname::text FROM pg_class WHERE relkind = 'i' AND relname LIKE $1",
            &[&format!("frame_hnsw_{tag}_%")],
        )
        .map_err(|e| shared.err(e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for index in indexes.iter().filter(|i| Some(i.as_str()) != keep) {
        tracing::info!("{model}: dropping {index}, left by a build that did not finish");
        drop_index(shared, index)?;
    }
    let functions: Vec<String> = shared
        .client()
        .query("SELECT proname::text FROM pg_proc WHERE proname LIKE $1", &[&format!("reelmatch_centred_{tag}_%")])
        .map_err(|e| shared.err(e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for f in functions.iter().filter(|f| Some(f.as_str()) != keep_fn.as_deref()) {
        shared.client().batch_execute(&format!("DROP FUNCTION IF EXISTS {f}(halfvec)")).map_err(|e| shared.err(e))?;
    }
    Ok(())
}

/// A SQL string literal (the model name in a partial index's predicate, which a query must
/// repeat as a literal for the planner to use that index).
pub(super) fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::drift;

    #[test]
    fn an_index_is_built_again_once_the_library_grew_by_half_or_its_mean_moved() {
        let mean = [1.0, 2.0, 2.0]; // length 3
        assert_eq!(drift(&mean, 1000, &mean, 1400), None);
        assert_eq!(drift(&mean, 1000, &mean, 700), None);
        assert_eq!(drift(&mean, 1000, &mean, 1600).as_deref(), Some("the library went from 1000 to 1600 frames"));
        assert!(drift(&mean, 1000, &mean, 600).is_some());
        assert_eq!(drift(&mean, 1000, &[1.0, 2.0, 2.1], 1000), None, "3 % of its length");
        assert_eq!(drift(&mean, 1000, &[1.0, 2.0, 2.3], 1000).as_deref(), Some("its mean moved by 10 % of its length"));
        assert!(drift(&mean, 1000, &[1.0, 2.0], 1000).is_some(), "another dimension");
    }
}
