//! `reelmatch similar`, `eval` and `dupes`.

use crate::catalog::Catalog;
use crate::config::{Config, SearchSpace};
use crate::events::Cancel;
use crate::images::Graphics;
use crate::library::Library;
use crate::ml::Models;
use crate::search::eval::{evaluate, near_duplicates};
use crate::search::space::Space;
use crate::search::{find_video, search, Query, Results, Weights};
use std::path::PathBuf;
use std::process::ExitCode;

/// What `similar` was asked.
pub struct SimilarArgs {
    pub video: Option<String>,
    pub file: Option<PathBuf>,
    pub image: Option<PathBuf>,
    pub lyrics: Option<String>,
    pub weights: Weights,
    pub top: usize,
    pub include_self: bool,
    pub preview: bool,
    pub graphics: Graphics,
    pub space: Option<SearchSpace>,
    pub json: bool,
}

/// The search space as configured, saying so when the head space falls back.
fn choose_space(
    library: &Library,
    catalog: &Catalog,
    config: &Config,
    flag: Option<SearchSpace>,
) -> anyhow::Result<Space> {
    let space = Space::choose(library, catalog, config, flag)?;
    if let Some(note) = &space.note {
        eprintln!("note: {note}");
    }
    Ok(space)
}

pub fn similar(library: &Library, config: &Config, a: SimilarArgs) -> anyhow::Result<ExitCode> {
    // A FIFO or device would block whatever opens it: refuse it before anything else runs.
    for path in a.file.iter().chain(&a.image) {
        crate::media::require_regular_file(path)?;
    }
    let catalog = Catalog::open(&library.catalog_path())?;
    let lib = choose_space(library, &catalog, config, a.space)?.load(&catalog, None)?;
    if lib.videos.is_empty() {
        anyhow::bail!(
            "the library at {} has no ingested videos; run `reelmatch ingest DIR` first",
            library.root().display()
        );
    }
    let mut models = Models::configured(config, Some(library));
    models.expected_language = None;
    let query = if let Some(what) = &a.video {
        Query::from_library(&lib, library.root(), find_video(&lib.videos, what)?)?
    } else if let Some(path) = &a.file {
        crate::media::probe(&config.tools.ffprobe, path)?; // a bad file is reported before models load
        models.require_image()?;
        crate::pipeline::query_from_file(config, &models, path, &Cancel::new())?
    } else if let Some(path) = &a.image {
        Query::from_image(models.require_image()?, path)?
    } else if let Some(text) = &a.lyrics {
        Query::from_lyrics(models.require_text()?, text)?
    } else {
        anyhow::bail!("say what to search with: a library video's title, --file PATH, --image PATH or --lyrics TEXT");
    };
    if query.frames.is_empty() && query.lyrics.is_none() {
        anyhow::bail!("\"{}\" gave nothing to search with (no frame embeddings and no lyrics)", query.label);
    }
    let results = search(&lib, &query, a.weights, a.top, a.include_self);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        print_results(&results);
    }
    if a.preview && a.graphics != Graphics::None {
        super::preview::show(library, &query, &results, a.graphics)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_results(r: &Results) {
    println!("most similar to {} (frames compared in the {} space):", r.query, r.space);
    if r.results.is_empty() {
        println!("  (no other videos to compare with)");
    }
    let side = |x: Option<f32>| x.map(|v| format!("{v:.3}")).unwrap_or_else(|| "  -  ".into());
    println!("{:>4}  {:<32} {:>6} {:>6} {:>6}  WHY", "RANK", "TITLE", "SCORE", "VISUAL", "LYRICS");
    for h in &r.results {
        let mut why = Vec::new();
        if let Some(f) = h.best_frame() {
            why.push(format!("frame {:.1}s ≈ {:.1}s ({:.2})", f.query_t, f.match_t, f.similarity));
        }
        if let Some(l) = h.lines.first() {
            why.push(format!("\"{}\" ≈ \"{}\" ({:.2})", l.query_text, l.match_text, l.similarity));
        }
        println!(
            "{:>4}  {:<32} {:>6.3} {:>6} {:>6}  {}",
            h.rank,
            h.title,
            h.score,
            side(h.visual),
            side(h.lyrics),
            why.join("; ")
        );
    }
}

pub fn eval(library: &Library, config: &Config, space: Option<SearchSpace>, json: bool) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::open(&library.catalog_path())?;
    let models = Models::configured(config, None);
    let text = models.text();
    let weights = Weights { visual: config.search.visual_weight, lyrics: config.search.lyrics_weight };
    let space = choose_space(library, &catalog, config, space)?;
    let report = evaluate(&catalog, space.image_model.as_deref(), text, weights, space.head(), space.traps.as_ref())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("frames compared in the {} space", report.space);
    println!("{:<8} {:>8} {:>10} {:>10} {:>8}", "", "QUERIES", "RECALL@1", "RECALL@5", "MAP");
    for (name, m) in [("visual", &report.visual), ("lyrics", &report.lyrics), ("fused", &report.fused)] {
        match m {
            Some(m) => {
                println!("{name:<8} {:>8} {:>10.3} {:>10.3} {:>8.3}", m.queries, m.recall_at_1, m.recall_at_5, m.map)
            }
            None => println!("{name:<8} {:>8}   (nothing to evaluate: no embeddings for this side)", 0),
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn dupes(library: &Library, config: &Config, threshold: Option<f32>, json: bool) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::open(&library.catalog_path())?;
    let lib = choose_space(library, &catalog, config, Some(SearchSpace::Backbone))?.load(&catalog, None)?;
    let threshold = threshold.unwrap_or(config.search.duplicate_threshold);
    let pairs = near_duplicates(&lib, threshold);
    let title = |id: i64| lib.videos.iter().find(|v| v.id == id).map(|v| v.title.clone()).unwrap_or_default();
    if json {
        let rows: Vec<_> = pairs
            .iter()
            .map(
                |(a, b, s)| serde_json::json!({"a": a, "a_title": title(*a), "b": b, "b_title": title(*b), "score": s}),
            )
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else if pairs.is_empty() {
        println!("no pairs of videos at or above {threshold} visual similarity");
    } else {
        for (a, b, s) in &pairs {
            println!("{s:.3}  {} (id {a})  ≈  {} (id {b})", title(*a), title(*b));
        }
    }
    Ok(ExitCode::SUCCESS)
}
