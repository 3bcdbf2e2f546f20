//! The commands on a shared PostgreSQL catalog (`--catalog URL`): `migrate`, `ingest` (as a
//! worker), `library` (with the queue's state), `library export --to URL` / `import --from URL`,
//! `index`, `export frames`, and `eval` and `dupes` on this machine's copy of the catalog.

use super::progress::Progress;
use super::search::{Decide, DupesArgs};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::config::SearchSpace;
use crate::events::Cancel;
use crate::library::Library;
use crate::ml::Models;
use crate::search::query::find_video;
use crate::shared::mirror::Mirror;
use crate::shared::worker::{PathMap, Paths, WorkerSettings};
use crate::shared::SharedCatalog;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `migrate`: sets up or updates the schema.
pub fn migrate(url: &str) -> anyhow::Result<ExitCode> {
    let (catalog, before) = SharedCatalog::open_and_migrate(url)?;
    let now = crate::shared::LATEST;
    if before == now {
        println!("{}: schema {now}, up to date", catalog.url());
    } else {
        println!("{}: schema {before} → {now}", catalog.url());
    }
    Ok(ExitCode::SUCCESS)
}

/// `ingest --worker PATH…`, with these models (the demo's may be random).
pub fn worker(
    library: &Library,
    config: &Config,
    url: &str,
    paths: Vec<PathBuf>,
    path_map: Vec<PathMap>,
    retry_failed: bool,
    models: Models,
) -> anyhow::Result<ExitCode> {
    if retry_failed {
        let n = crate::shared::worker::retry_failed(url)?;
        if n > 0 {
            eprintln!("{n} video(s) that failed set pending again");
        }
    }
    let settings = WorkerSettings::new(
        Duration::from_secs_f64(config.catalog.lease_s),
        config.catalog.max_claims,
        Paths(path_map),
    );
    eprintln!("worker {} on {}", settings.name, crate::shared::shown(url));
    let (library, config, url) = (library.clone(), config.clone(), url.to_string());
    let report = super::until_ctrl_c("video", move |cancel: Cancel| {
        crate::shared::worker::run(&url, &library, &config, &paths, &models, &settings, &Progress::new(), &cancel)
    })??;
    eprintln!("{report}");
    Ok(if report.failed + report.unreadable > 0 { ExitCode::from(super::EXIT_SOME_FAILED) } else { ExitCode::SUCCESS })
}

/// `library export --to URL`.
pub fn export(library: &Library, config: &Config, to: &str, path_map: Vec<PathMap>) -> anyhow::Result<ExitCode> {
    let report = crate::shared::export::export_library(
        library,
        to,
        &Paths(path_map),
        config.search.approximate_from,
        &one_video,
    )?;
    eprintln!("{report}");
    Ok(ExitCode::SUCCESS)
}

/// `library import --from URL`, then the vector store brought up to date.
pub fn import(library: &Library, config: &Config, from: &str, path_map: Vec<PathMap>) -> anyhow::Result<ExitCode> {
    let report = crate::shared::import::import_library(library, from, &Paths(path_map), &one_video)?;
    eprintln!("{report}");
    eprintln!("{}", crate::pipeline::refresh_index(library, config, false)?);
    Ok(ExitCode::SUCCESS)
}

/// A line per video an export or import starts on (the last call, with no title, ends it).
fn one_video(done: usize, total: usize, title: &str) {
    if !title.is_empty() {
        eprintln!("[{}/{total}] {title}", done + 1);
    }
}

/// `library` on a shared catalog: every video with its place in the queue.
pub fn list(url: &str, config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    list_as(url, config, json, false)
}

/// The table, or its JSON: pretty, or on one line where lines follow it (`--follow --json`).
fn list_as(url: &str, config: &Config, json: bool, one_line: bool) -> anyhow::Result<ExitCode> {
    let mut catalog = SharedCatalog::open(url)?;
    let mut rows = crate::shared::listing::queue(&mut catalog)?;
    let aside = crate::shared::query::set_aside_counts(&mut catalog, config)?;
    for row in &mut rows {
        row.set_aside = aside.get(&row.video.id).copied().unwrap_or_default();
    }
    if json {
        let text = if one_line { serde_json::to_string(&rows)? } else { serde_json::to_string_pretty(&rows)? };
        println!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!(
            "the catalog {} has no videos; add them with `reelmatch --catalog URL ingest --worker DIR`",
            catalog.url()
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>5} {:<32} {:>8} {:>5} {:>11} {:<8} {:<20} NOTE",
        "ID", "TITLE", "DURATION", "RATE", "TRAIN/TEST", "STATUS", "WORKER"
    );
    for row in &rows {
        let v = &row.video;
        let duration = v.duration_s.map(|d| crate::types::clock(d, 0)).unwrap_or_else(|| "-".into());
        let title: String = v.title.chars().take(32).collect();
        let rate = v.sample_fps.map_or_else(|| "-".into(), |r| format!("{r}"));
        let split = format!("{}/{}", v.frames_train, v.frames_test);
        let aside = (row.set_aside.total() > 0).then(|| row.set_aside.to_string());
        let note = [v.error.as_deref(), aside.as_deref()].into_iter().flatten().collect::<Vec<_>>().join("; ");
        println!(
            "{:>5} {:<32} {:>8} {:>5} {:>11} {:<8} {:<20} {}",
            v.id,
            title,
            duration,
            rate,
            split,
            v.status.as_str(),
            row.claimed_by.as_deref().unwrap_or("-"),
            note
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `library --follow`: the table once listening, then each announcement as a line (a JSON
/// object per line with `--json`).
pub fn follow(url: &str, config: &Config, json: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout();
    let mut table =
        || list_as(url, config, json, true).map(|_| ()).map_err(|e| crate::Error::Invalid(format!("{e:#}")));
    crate::shared::progress::follow(url, &mut table, &mut |p| {
        let line = if json { serde_json::to_string(&p).unwrap_or_default() } else { p.to_string() };
        writeln!(out, "{line}").and_then(|_| out.flush()).is_ok()
    })?;
    Ok(())
}

/// `index update` on a shared catalog: builds the HNSW index of each image model past the size
/// where search uses it, and builds it again where the library has drifted from it (`index
/// rebuild` builds each again regardless); and judges the frames not judged yet for saying
/// nothing.
pub fn index(url: &str, config: &Config, rebuild: bool) -> anyhow::Result<ExitCode> {
    use crate::search::traps::Effort;
    use crate::shared::hnsw::{ensure_hnsw, rebuild_hnsw, HnswBuild};
    use crate::shared::search::image_models;
    let mut catalog = SharedCatalog::open(url)?;
    let models = image_models(&mut catalog)?;
    if models.is_empty() {
        println!("{}: no frame embeddings yet, so no index to build", catalog.url());
    }
    for (model, count) in models {
        let how = if !crate::search::space::index_choice(config).approximate(count as usize) {
            "exact search (below search.approximate_from, or search.index = \"exact\")".to_string()
        } else {
            let build = if rebuild { rebuild_hnsw } else { ensure_hnsw };
            match build(&mut catalog, &model)? {
                HnswBuild::Kept => "HNSW index present".into(),
                HnswBuild::Built => "HNSW index built".into(),
                HnswBuild::Rebuilt(why) => format!("HNSW index built again ({why})"),
            }
        };
        println!("{model}: {count} frames, {how}");
        // Which frames say nothing, judged now so the first query does not wait for it.
        if let Some(rules) = crate::shared::traps::rules(config) {
            let judged = crate::shared::traps::judge(&mut catalog, &model, &rules, Effort::Full)?;
            let aside = judged.counts(&rules);
            if aside.total() > 0 {
                println!("{model}: {aside}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `export frames` on a shared catalog: the frames' images, as the catalog holds them, written
/// from this machine's up-to-date copy of it.
pub fn export_frames(library: &Library, config: &Config, url: &str, out: &std::path::Path) -> anyhow::Result<ExitCode> {
    let mirror = mirror(library, config, url)?;
    super::library::export(&mirror.library, out)
}

/// This machine's copy of the catalog at `url`, brought up to date (what it does on stderr).
fn mirror(library: &Library, config: &Config, url: &str) -> anyhow::Result<Mirror> {
    Ok(crate::shared::mirror::sync(library, config, url, &|m| eprintln!("{m}"))?)
}

/// `eval` on a shared catalog: on this machine's up-to-date copy of it.
pub fn eval(
    library: &Library,
    config: &Config,
    url: &str,
    space: Option<SearchSpace>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mirror = mirror(library, config, url)?;
    // The head space is the catalog's active run.
    mirror.take_active_run(&mut SharedCatalog::open(url)?)?;
    super::search::eval(&mirror.library, config, space, json)
}

/// `dupes` on a shared catalog: pairs found on this machine's up-to-date copy with the
/// catalog's decisions and shown in its ids; a decision is recorded in the catalog.
pub fn dupes(library: &Library, config: &Config, url: &str, mut args: DupesArgs) -> anyhow::Result<ExitCode> {
    let mirror = mirror(library, config, url)?;
    let mut shared = SharedCatalog::open(url)?;
    if let Some(decide) = &args.decide {
        let videos = Catalog::open(&mirror.library.catalog_path())?.videos()?;
        let (Decide::NotDuplicate(a, b) | Decide::Undo(a, b)) = decide;
        let (x, y) =
            (find_video(&videos, &mirror.local_reference(a))?, find_video(&videos, &mirror.local_reference(b))?);
        if x.id == y.id {
            anyhow::bail!("\"{}\" and \"{}\" are the same video", x.title, y.title);
        }
        let ids = mirror.to_shared(x.id).zip(mirror.to_shared(y.id));
        let (sx, sy) =
            ids.ok_or_else(|| anyhow::anyhow!("\"{}\" or \"{}\" is no longer in the catalog", x.title, y.title))?;
        let changed = shared.decide_not_duplicate(sx, sy, matches!(decide, Decide::Undo(..)))?;
        super::search::say_decided(decide, changed, &x.title, &y.title);
        return Ok(ExitCode::SUCCESS);
    }
    mirror.take_decisions(&mut shared)?;
    args.shown_ids = Some(mirror.shared_ids());
    super::search::dupes(&mirror.library, config, args)
}
