//! `reelmatch similar`, `eval` and `dupes`.

use crate::backend::{Asked, Backend, Local};
use crate::catalog::{is_decided, Catalog};
use crate::config::{Config, SearchSpace};
use crate::events::Cancel;
use crate::images::Graphics;
use crate::library::Library;
use crate::ml::Models;
use crate::search::eval::evaluate;
use crate::search::relation::{Related, Relation};
use crate::search::space::Space;
use crate::search::{find_video, search, Query, Results, Weights};
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

/// What `similar` was asked.
pub struct SimilarArgs {
    pub video: Option<String>,
    pub file: Option<PathBuf>,
    pub image: Option<PathBuf>,
    pub lyrics: Option<String>,
    /// A look in words, searched in the vision-text space.
    pub describe: Option<String>,
    pub weights: Weights,
    pub top: usize,
    pub include_self: bool,
    pub preview: bool,
    pub graphics: Graphics,
    pub space: Option<SearchSpace>,
    /// Rank only videos under this folder.
    pub within: Option<PathBuf>,
    /// Save the results here as an M3U playlist.
    pub m3u: Option<PathBuf>,
    /// Play this result (1-based) from its matched moment.
    pub play: Option<usize>,
    pub json: bool,
}

/// The search space as configured, saying so when the head space falls back.
/// Says when frames are waiting to be judged for saying nothing.
fn note_unjudged(lib: &crate::search::SearchLibrary) {
    if lib.unjudged > 0 {
        eprintln!(
            "note: {} new frame(s) are not yet checked for shared intros and black frames; `reelmatch index update` checks them (once)",
            lib.unjudged
        );
    }
}

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

/// `reelmatch similar`: the library ranked against a video, a file, an image or lyrics.
pub fn similar(library: &Library, config: &Config, backend: &Backend, a: SimilarArgs) -> anyhow::Result<ExitCode> {
    // A FIFO or device would block whatever opens it: refuse it before anything else runs.
    for path in a.file.iter().chain(&a.image) {
        crate::media::require_regular_file(path)?;
    }
    // A description is compared with frames in the vision-text model's space, whatever the
    // configured one.
    let space = if a.describe.is_some() { Some(SearchSpace::VisionText) } else { a.space };
    let searchable = backend.searchable(library, config, space, &|line| eprintln!("{line}"))?;
    let (lib, root) = (&searchable.lib, searchable.root());
    note_unjudged(lib);
    if lib.videos.is_empty() {
        anyhow::bail!(
            "the library at {} has no ingested videos; run `{}` first",
            backend.shown(library),
            backend.ingest_command()
        );
    }
    let mut models = Models::configured(config, Some(library));
    models.expected_language = None;
    let within = a.within.as_deref().map(folder).transpose()?;
    // The library video asked with, whose relations to the results are said.
    let mut asked = None;
    // Or the query file's fingerprint, for the same.
    let mut asked_print = None;
    // And its length, which places frames matched along one time line.
    let mut asked_seconds = 0.0;
    let mut query = if let Some(what) = &a.video {
        let video = match find_video(&lib.videos, &searchable.reference(what)) {
            Ok(video) => video,
            Err(e @ crate::Error::NoSuchVideo { .. }) => match not_searchable(library, config, backend, what)? {
                Some(why) => anyhow::bail!(why),
                None => return Err(e.into()),
            },
            Err(e) => return Err(e.into()),
        };
        asked = Some(video.id);
        Query::from_library(lib, root, video)?
    } else if let Some(path) = &a.file {
        // A bad file is reported before models load.
        asked_seconds = crate::media::probe(&config.tools.ffprobe, path)?.duration_s;
        models.require_image()?;
        let (query, print) = crate::pipeline::file_query(config, &models, path, &Cancel::new())?;
        asked_print = print;
        query
    } else if let Some(path) = &a.image {
        match space {
            Some(SearchSpace::VisionText) => Query::from_image_vision_text(models.require_vision_text()?, path)?,
            _ => Query::from_image(models.require_image()?, path)?,
        }
    } else if let Some(text) = &a.describe {
        searchable.description_query(&models, text, a.lyrics.as_deref())?
    } else if let Some(text) = &a.lyrics {
        Query::from_lyrics(models.require_text()?, text)?
    } else {
        anyhow::bail!(
            "say what to search with: a library video's title, --file PATH, --image PATH, --lyrics TEXT or --describe TEXT"
        );
    };
    if query.frames.is_empty() && query.lyrics.is_none() {
        let aside = a.video.is_some() && !lib.set_aside.is_empty() && lib.set_aside.iter().any(Option::is_some);
        let why = if aside {
            "its frames are all black, flat or shared with many videos, so they are set aside (`[search.traps] set_aside = false` counts them), and it has no lyrics"
        } else {
            "no frame embeddings and no lyrics"
        };
        anyhow::bail!("\"{}\" gave nothing to search with ({why})", query.label);
    }
    query.within = within;
    // Every video ranked, so that the ones holding the query's recording are found and listed
    // wherever they rank; the rest stop at `--top`.
    let mut results = search(lib, &query, a.weights, usize::MAX, a.include_self);
    let threshold = config.search.duplicate_threshold;
    // A file's frames in the library's space, for the time-line relation by frames.
    let file_frames: Vec<(f64, Vec<f32>)> = match &a.file {
        Some(_) => {
            query.frames.iter().map(|f| f.t_s).zip(lib.query_vectors(&query.frames).unwrap_or_default()).collect()
        }
        None => Vec::new(),
    };
    let asked = match (asked, &a.file) {
        (Some(id), _) => Some(Asked::Video(id)),
        (None, Some(_)) => {
            Some(Asked::File { print: asked_print.as_ref(), seconds: asked_seconds, frames: &file_frames })
        }
        (None, None) => None,
    };
    if let Some(asked) = asked {
        searchable.relate(&mut results, asked, threshold)?;
    }
    let mut kept = 0;
    results.results.retain(|h| {
        kept += 1;
        kept <= a.top || h.relation.is_some()
    });
    searchable.publish(&mut results);
    if let (Some(Asked::Video(id)), true) = (asked, results.results.iter().any(|h| h.duplicate)) {
        // A pair marked not duplicates is none here either, as in `dupes` and the dashboard.
        let (decided, shown) = (backend.not_duplicates(library)?, searchable.shown(id));
        results.results.iter_mut().for_each(|h| h.duplicate &= !is_decided(&decided, shown, h.id));
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        print_results(&results);
    }
    // Images are terminal escapes: drawn on a terminal, or where a protocol was asked for by name.
    let drawable = std::io::IsTerminal::is_terminal(&std::io::stdout()) || a.graphics != Graphics::Auto;
    if a.preview && !drawable {
        eprintln!("note: --preview draws images on a terminal; standard output is not one, so none were written (--graphics MODE draws them anyway)");
    }
    if a.preview && drawable && a.graphics != Graphics::None {
        searchable.with_images(|images| super::preview::show(images, &query, &results, a.graphics))??;
    }
    if let Some(path) = &a.m3u {
        let entries = crate::pipeline::playlist_entries(&results.results, &lib.videos);
        crate::playlist::write(path, &crate::pipeline::playlist_heading(&results), &entries)?;
        eprintln!("playlist: {} ({} videos)", path.display(), entries.len());
    }
    if let Some(n) = a.play {
        let Some(hit) = results.results.get(n - 1) else {
            anyhow::bail!("--play {n}: there are only {} result(s)", results.results.len());
        };
        let video = lib.videos.iter().find(|v| v.id == hit.id).context("the result's video is in the library")?;
        let moment = crate::pipeline::match_moment(hit, video);
        eprintln!("playing {}", crate::types::printable(&moment.title));
        eprintln!("({})", crate::types::printable(&crate::play::command_line(&config.player, a.graphics, &moment)?));
        crate::play::play(&config.player, a.graphics, &moment)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Why the library video `what` (an id or a whole title) cannot be searched with, where it is in
/// the catalog but not ready: ingesting, failed, or its file gone.
fn not_searchable(library: &Library, config: &Config, backend: &Backend, what: &str) -> anyhow::Result<Option<String>> {
    use crate::catalog::Status;
    let rows = backend.listing(library, config)?;
    let id = what.parse::<i64>().ok();
    let Some(row) = rows.iter().find(|r| Some(r.video.id) == id || r.video.title.eq_ignore_ascii_case(what)) else {
        return Ok(None);
    };
    let v = &row.video;
    let why = match v.status {
        Status::Ready => return Ok(None),
        Status::Failed => format!("its ingestion failed: {}", v.error.as_deref().unwrap_or("no reason recorded")),
        Status::Missing => format!("its file is gone from {}", v.path.display()),
        Status::Pending | Status::Working => format!("it is not ingested yet (`{}`)", backend.ingest_command()),
    };
    Ok(Some(format!("video {} (\"{}\") cannot be searched with: {why}", v.id, v.title)))
}

/// The folder `--in` names, as the library records paths (absolute, links resolved).
fn folder(path: &std::path::Path) -> anyhow::Result<PathBuf> {
    let resolved = crate::pipeline::expand_home(&path.to_string_lossy()).canonicalize().ok().filter(|p| p.is_dir());
    resolved.with_context(|| format!("--in {}: no such folder; give a folder holding library videos", path.display()))
}

/// A relation as the table says it: "excerpt: the query is 17.0 s into it (sound, 12.0 s)".
fn relation_words(r: &Related) -> String {
    let place = offset_words(r, "the query", "it");
    let along = match r.by {
        crate::search::relation::Evidence::Sound => "the same recording",
        crate::search::relation::Evidence::Frames => "the same frames",
    };
    format!("{}: {place} ({along} for {:.1} s)", r.relation.name(), r.seconds)
}

fn print_results(r: &Results) {
    use crate::types::printable;
    println!("most similar to {} (frames compared in the {} space):", printable(&r.query), r.space);
    if r.results.is_empty() {
        println!("  (no other videos to compare with)");
    }
    let side = |x: Option<f32>| x.map(|v| format!("{v:.3}")).unwrap_or_else(|| "  -  ".into());
    println!("{:>4}  {:<32} {:>6} {:>6} {:>6}  WHY", "RANK", "TITLE", "SCORE", "VISUAL", "LYRICS");
    for h in &r.results {
        let mut why = Vec::new();
        if let Some(r) = &h.relation {
            why.push(relation_words(r));
        }
        match (h.best_frame(), h.frames.len()) {
            // One query frame (an image, a description): where in the result it is found.
            (Some(f), 1) => why.push(format!("best frame at {:.1}s ({:.2})", f.match_t, f.similarity)),
            (Some(f), _) => why.push(format!("frame {:.1}s ≈ {:.1}s ({:.2})", f.query_t, f.match_t, f.similarity)),
            (None, _) => {}
        }
        if let Some(l) = h.lines.first() {
            let (query, matched) = (printable(&l.query_text), printable(&l.match_text));
            why.push(format!("\"{query}\" ≈ \"{matched}\" ({:.2})", l.similarity));
        }
        if let Some(doubt) = h.lyrics_left_out() {
            why.push(format!("lyrics not counted: {}", printable(doubt)));
        }
        println!(
            "{:>4}  {:<32} {:>6.3} {:>6} {:>6}  {}",
            h.rank,
            printable(&h.title),
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
    let report = evaluate(
        &catalog,
        space.image_model.as_deref(),
        text,
        weights,
        space.head(),
        space.traps.as_ref(),
        space.index,
    )?;
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

/// A decision about a pair, given as two video references (title, id or path).
pub enum Decide {
    NotDuplicate(String, String),
    Undo(String, String),
}

/// What `dupes` was asked.
pub struct DupesArgs {
    pub threshold: Option<f32>,
    pub decide: Option<Decide>,
    /// List pairs marked not duplicates too.
    pub all: bool,
    /// Only pairs that are this to each other by their sound.
    pub relation: Option<crate::search::relation::Relation>,
    pub json: bool,
}

/// Where `a` falls in `b`, in words: "Cut is 17.0 s into Whole".
fn offset_words(r: &Related, a: &str, b: &str) -> String {
    if !r.placed {
        return format!("{a} and {b} look alike all along; where one falls in the other is not told");
    }
    match r.offset_s >= 0.0 {
        true => format!("{a} is {:.1} s into {b}", r.offset_s),
        false => format!("{b} is {:.1} s into {a}", -r.offset_s),
    }
}

/// What a decision about a pair did, said to the person (`changed`: whether it changed anything).
pub fn say_decided(decide: &Decide, changed: bool, a: &str, b: &str) {
    match (decide, changed) {
        (Decide::NotDuplicate(..), _) => {
            println!("marked \"{a}\" and \"{b}\" as not duplicates; `dupes` hides the pair from now on")
        }
        (Decide::Undo(..), true) => println!("\"{a}\" and \"{b}\" may be listed as duplicates again"),
        (Decide::Undo(..), false) => println!("\"{a}\" and \"{b}\" were not marked"),
    }
}

/// `reelmatch dupes`: pairs of near-duplicate videos found in `local` (the library, or this
/// machine's copy of a shared catalog, shown in the catalog's ids), or a decision about a pair.
pub fn dupes(local: &Local, config: &Config, a: DupesArgs) -> anyhow::Result<ExitCode> {
    let library = &local.library;
    let catalog = Catalog::open(&library.catalog_path())?;
    if let Some(decide) = &a.decide {
        let videos = catalog.videos()?;
        let (Decide::NotDuplicate(x, y) | Decide::Undo(x, y)) = decide;
        let (x, y) = (find_video(&videos, &local.reference(x))?, find_video(&videos, &local.reference(y))?);
        if x.id == y.id {
            anyhow::bail!("\"{}\" and \"{}\" are the same video", x.title, y.title);
        }
        let changed = local.decide_not_duplicate(x.id, y.id, matches!(decide, Decide::Undo(..)))?;
        say_decided(decide, changed, &x.title, &y.title);
        return Ok(ExitCode::SUCCESS);
    }
    let space = choose_space(library, &catalog, config, Some(SearchSpace::Backbone))?;
    let lib = space.load(&catalog, None)?;
    note_unjudged(&lib);
    let threshold = a.threshold.unwrap_or(config.search.duplicate_threshold);
    let decided = catalog.not_duplicates()?;
    let all_pairs = crate::search::pairs::duplicate_pairs(&catalog, &lib, threshold, a.relation)?;
    let hidden = all_pairs.iter().filter(|(x, y, _, _)| is_decided(&decided, *x, *y)).count();
    let pairs: Vec<_> = all_pairs.into_iter().filter(|(x, y, _, _)| a.all || !is_decided(&decided, *x, *y)).collect();
    let title = |id: i64| lib.videos.iter().find(|v| v.id == id).map(|v| v.title.clone()).unwrap_or_default();
    let shown = |id: i64| local.shown_id(id);
    if a.json {
        let rows: Vec<_> = pairs
            .iter()
            .map(|(x, y, s, r)| {
                serde_json::json!({"a": shown(*x), "a_title": title(*x), "b": shown(*y), "b_title": title(*y), "score": s,
                    "not_duplicate": is_decided(&decided, *x, *y), "relation": r})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if pairs.is_empty() {
        match a.relation {
            Some(r) => println!("no pairs of videos that are {} of each other", r.name()),
            None => println!("no pairs of videos at or above {threshold} visual similarity, and none cut from or copied from another by their sound"),
        }
    }
    let same_song = |r: &Option<Related>| r.is_some_and(|r| r.relation == Relation::SameSong);
    let (songs, duplicates): (Vec<_>, Vec<_>) = pairs.iter().partition(|p| same_song(&p.3) && a.relation.is_none());
    for (group, heading) in [(duplicates, None), (songs, Some("the same recording with other pictures (same_song):"))] {
        if let (Some(heading), false) = (heading, group.is_empty()) {
            println!("{heading}");
        }
        for &(x, y, s, r) in group {
            let mark = if is_decided(&decided, x, y) { "  (marked not duplicates)" } else { "" };
            let (a, b) = (title(x), title(y));
            let (a, b) = (crate::types::printable(&a), crate::types::printable(&b));
            let why = r.map(|r| format!("  [{}: {}]", r.relation.name(), offset_words(&r, &a, &b))).unwrap_or_default();
            println!("{s:.3}  {a} (id {})  ≈  {b} (id {}){why}{mark}", shown(x), shown(y));
        }
    }
    if hidden > 0 && !a.all {
        println!("{hidden} pair(s) marked not duplicates are hidden; --all lists them");
    }
    if let Some(rules) = &space.traps {
        let aside = lib.set_aside.iter().filter(|s| s.is_some()).count();
        if aside > 0 {
            println!(
                "{aside} frame(s) that say nothing (a shared intro or logo, black or flat) were set aside (alike to frames of {}+ other videos, or a brightness spread under {})",
                rules.settings.shared_videos, rules.settings.flat_below
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
