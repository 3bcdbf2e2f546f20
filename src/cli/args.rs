//! Command-line arguments (clap).

use crate::config::SearchSpace;
use crate::images::Graphics;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Find the music videos in a library most similar to a given one.
#[derive(Debug, Parser)]
#[command(name = "reelmatch", version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("REELMATCH_BUILD"), ")"), about)]
pub struct Cli {
    /// The library directory (default: the platform data dir, e.g. ~/.local/share/reelmatch).
    #[arg(long, global = true, env = "REELMATCH_LIBRARY", value_name = "DIR")]
    pub library: Option<PathBuf>,

    /// A shared catalog on PostgreSQL (`postgres://USER@HOST/DATABASE`, with pgvector) instead
    /// of the library folder's own SQLite one; as `[catalog] url` in the config. (Its value is
    /// never shown in this help: it may hold a password.)
    #[arg(long, global = true, env = "REELMATCH_CATALOG", hide_env_values = true, value_name = "URL")]
    pub catalog: Option<String>,

    /// A config file layered over the defaults and your user config.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// A shipped preset layered over your user config (e.g. `paper`: the seed paper's settings).
    #[arg(long, global = true, value_name = "NAME")]
    pub preset: Option<String>,

    /// Worker threads for models and image work (default: all available cores).
    #[arg(long, global = true, value_name = "N", value_parser = count)]
    pub threads: Option<usize>,

    /// Print no progress (bars, per-video lines, notes, paces): only failures, errors and results.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// Never touch the network (models must be local or in the Hugging Face cache).
    #[arg(long, global = true)]
    pub offline: bool,

    /// The device models run on: `auto` (the default: the first GPU of a CUDA build where one
    /// answers, else the CPU), `cpu` or `cuda:N`.
    #[arg(long, global = true, value_name = "DEVICE")]
    pub device: Option<String>,

    /// A Hugging Face-layout directory with the image model (ResNet-50).
    #[arg(long, global = true, value_name = "DIR")]
    pub image_model: Option<PathBuf>,

    /// A Hugging Face-layout directory with the text model (BERT family).
    #[arg(long, global = true, value_name = "DIR")]
    pub text_model: Option<PathBuf>,

    /// A Hugging Face-layout directory with the speech model (Whisper).
    #[arg(long, global = true, value_name = "DIR")]
    pub speech_model: Option<PathBuf>,

    /// A Hugging Face-layout directory with the vision-text model (SigLIP 2 or CLIP); turns
    /// the role on.
    #[arg(long, global = true, value_name = "DIR")]
    pub vision_text_model: Option<PathBuf>,

    /// Inline images (dashboard and `similar --preview`): detected, forced, or none.
    #[arg(long, global = true, default_value = "auto", value_parser = graphics())]
    pub graphics: Graphics,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan folders for videos; probe, sample frames, split them and extract audio. Resumable.
    Ingest {
        /// Folders or files to ingest.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Work the shared catalog's queue with other workers (needs `--catalog URL`): register
        /// what is found, then claim videos one at a time until none is left. The library
        /// folder holds each claim's frames and audio until they are uploaded. On a shared
        /// catalog a plain `ingest` is one such worker too.
        #[arg(long)]
        worker: bool,
        /// Where the catalog's paths are on this machine: SHARED=LOCAL (repeatable), e.g.
        /// `--path-map /mnt/nas=/Volumes/nas`.
        #[arg(long, value_name = "SHARED=LOCAL")]
        path_map: Vec<crate::shared::worker::PathMap>,
        /// With --worker: set the videos that failed pending again first (a plain `ingest` on a
        /// shared catalog always does, as an embedded one does).
        #[arg(long)]
        retry_failed: bool,
    },
    /// Print a completion script for SHELL on standard output, e.g.
    /// `reelmatch completions bash > ~/.local/share/bash-completion/completions/reelmatch`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the settings in force as TOML, each one set by a file or preset marked with where it
    /// came from (the defaults, your user config, --preset, --config); a catalog password hidden.
    Config,
    /// Print the manual page (roff) on standard output, e.g.
    /// `reelmatch manpage > ~/.local/share/man/man1/reelmatch.1`.
    Manpage,
    /// Set up (or bring up to date) the shared catalog's schema on PostgreSQL (`--catalog URL`).
    Migrate,
    /// Open the dashboard (the default when no command is given).
    Tui,
    /// Make a small demo library (generated clips with spoken lyrics) and ingest it.
    /// Uses `--library` if given, else a `demo` library beside your own.
    Demo,
    /// List the library: one row per video.
    Library {
        #[command(subcommand)]
        action: Option<LibraryAction>,
        /// Print JSON (an array with one object per video) instead of a table.
        #[arg(long)]
        json: bool,
        /// On a shared catalog: after the table, print each video's progress as workers make
        /// it (claimed, ready, failed), until interrupted.
        #[arg(long)]
        follow: bool,
    },
    /// Each model role: where its weights come from, and whether they are there.
    Models {
        #[command(subcommand)]
        action: Option<ModelsAction>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The audio fingerprint of any media file (Chromaprint's, printed as `fpcalc -raw` prints
    /// it), or the stretches where it holds the same recording as another file.
    Fingerprint {
        file: PathBuf,
        /// Another media file: where both hold the same recording, with where it starts in each.
        #[arg(long, value_name = "FILE")]
        against: Option<PathBuf>,
        /// Print JSON (`{"duration_s", "hashes"}`, or the matched stretches with --against).
        #[arg(long)]
        json: bool,
    },
    /// Transcribe the lyrics of any media file with Whisper.
    Transcribe {
        file: PathBuf,
        /// The language the words are in (`en`, `de`, …; multilingual models), or `auto` to
        /// detect it where the voice starts; `[models.speech] language` when not given.
        #[arg(long)]
        language: Option<String>,
        /// Print `{"language", "language_probability", "segments": [...]}`.
        #[arg(long)]
        json: bool,
    },
    /// Embed an image or a text.
    Embed {
        #[command(subcommand)]
        what: EmbedWhat,
    },
    /// The library videos most similar to a video (in the library or not), an image or lyrics.
    #[command(after_help = SCORES)]
    Similar {
        /// A library video: title (or a unique part of it), id or path.
        video: Option<String>,
        /// A video file outside the library (probed, sampled and transcribed; not added).
        #[arg(long, value_name = "PATH", conflicts_with_all = ["video", "image", "lyrics"])]
        file: Option<PathBuf>,
        /// An image file.
        #[arg(long, value_name = "PATH", conflicts_with_all = ["video", "file", "lyrics"])]
        image: Option<PathBuf>,
        /// Lyrics text.
        #[arg(long, value_name = "TEXT", conflicts_with_all = ["video", "file", "image"])]
        lyrics: Option<String>,
        /// A look in words ("dark blue background with neon colours"): videos ranked by their
        /// best-matching frame in the vision-text model's space (`[models.vision_text]`);
        /// with --lyrics, fused with them by the weights.
        #[arg(long, value_name = "TEXT", conflicts_with_all = ["video", "file", "image"])]
        describe: Option<String>,
        /// Weight of visual similarity in the fused score (default from config: 0.7).
        #[arg(long, value_name = "W", value_parser = weight)]
        visual: Option<f32>,
        /// Weight of lyrics similarity in the fused score (default from config: 0.3).
        #[arg(long, value_name = "W", value_parser = weight)]
        lyrics_weight: Option<f32>,
        /// How many results (default from config: 10).
        #[arg(long, value_name = "N", value_parser = count)]
        top: Option<usize>,
        /// Keep the query video in its own results.
        #[arg(long)]
        include_self: bool,
        /// Show the query frame and each match's best frame inline.
        #[arg(long)]
        preview: bool,
        /// Compare frames as backbone features or through the active run's head (default from config).
        #[arg(long, value_parser = space())]
        space: Option<SearchSpace>,
        /// Rank only the videos under this folder.
        #[arg(long = "in", value_name = "FOLDER")]
        within: Option<PathBuf>,
        /// Save the results as an extended M3U playlist (titles, durations, absolute paths).
        #[arg(long, value_name = "FILE")]
        m3u: Option<PathBuf>,
        /// Play result N (1 is the best) from its matched moment with the player (mpv).
        #[arg(long, value_name = "N", value_parser = count)]
        play: Option<usize>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// How well the library retrieves itself (recall@1, recall@5, mAP).
    Eval {
        /// Compare frames as backbone features or through the active run's head (default from config).
        #[arg(long, value_parser = space())]
        space: Option<SearchSpace>,
        /// Print JSON (recall@1, recall@5 and MAP for the visual, lyrics and fused rankings).
        #[arg(long)]
        json: bool,
    },
    /// Pairs of videos that look like near-duplicates (pairs marked not duplicates are hidden).
    Dupes {
        /// Visual similarity at or above which a pair is listed (default from config).
        #[arg(long, value_parser = similarity, allow_negative_numbers = true)]
        threshold: Option<f32>,
        /// Mark two videos (title, id or path) as not duplicates: the pair is hidden from now on.
        #[arg(long, num_args = 2, value_names = ["A", "B"], conflicts_with = "undo")]
        not_duplicate: Vec<String>,
        /// Forget that two videos were marked not duplicates.
        #[arg(long, num_args = 2, value_names = ["A", "B"])]
        undo: Vec<String>,
        /// List the pairs marked not duplicates too.
        #[arg(long)]
        all: bool,
        /// Only the pairs that are this to each other by their sound: copy, excerpt or same_song
        /// (the same recording with other pictures, listed apart from duplicates otherwise).
        #[arg(long, value_name = "RELATION")]
        relation: Option<crate::search::relation::Relation>,
        /// Print JSON (an array of pairs: ids, titles, score, whether marked not duplicates, and
        /// their relation with its offset or null).
        #[arg(long)]
        json: bool,
    },
    /// Train the video classifier on the library's frame features; the run becomes active.
    Train {
        /// Continue a stopped run instead of starting a new one.
        #[arg(long, value_name = "RUN")]
        resume: Option<i64>,
        /// Compute the augmented views however long they take (no question first).
        #[arg(long)]
        yes: bool,
        /// Print `{"run", "epochs", "test_accuracy", "top10_class_accuracy", "macro_accuracy", "classes", …}` at the end.
        #[arg(long)]
        json: bool,
    },
    /// Past training runs: when, settings, test accuracy, top-10 class accuracy.
    Runs {
        #[command(subcommand)]
        action: Option<RunsAction>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Export library data for other tools.
    Export {
        #[command(subcommand)]
        what: ExportWhat,
    },
    /// The vector store searches read: bring it up to date, or build it again from the catalog.
    Index {
        #[command(subcommand)]
        action: IndexAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum LibraryAction {
    /// Copy this (embedded) library into a shared PostgreSQL catalog: videos, frames with their
    /// images, transcripts and embeddings. Resumable: what is there already is skipped.
    Export {
        /// The shared catalog: `postgres://USER@HOST/DATABASE`.
        #[arg(long, value_name = "URL")]
        to: String,
        /// Store paths as other machines see them: LOCAL paths under SHARED=LOCAL become SHARED.
        #[arg(long, value_name = "SHARED=LOCAL")]
        path_map: Vec<crate::shared::worker::PathMap>,
    },
    /// Copy a shared PostgreSQL catalog down into this (embedded) library: the way back from
    /// `export`. Resumable: what is here already is skipped.
    Import {
        /// The shared catalog: `postgres://USER@HOST/DATABASE`.
        #[arg(long, value_name = "URL")]
        from: String,
        /// Where the catalog's paths are on this machine: SHARED=LOCAL.
        #[arg(long, value_name = "SHARED=LOCAL")]
        path_map: Vec<crate::shared::worker::PathMap>,
    },
}

#[derive(Debug, Subcommand)]
pub enum IndexAction {
    /// Catch up with the catalog (what ingest and train do when they finish); prints what is stored.
    Update,
    /// Build every store again from the catalog (after a disk problem, or to reclaim space).
    Rebuild,
}

#[derive(Debug, Subcommand)]
pub enum ModelsAction {
    /// Download every configured model into the Hugging Face cache, with progress.
    Fetch,
    /// Run every role on the configured device (`--device`) and report its outputs and pace:
    /// what `scripts/gpu-check.sh` compares between the CPU and a GPU.
    Check {
        /// Images to embed (repeated in turn up to the largest batch size × 2).
        #[arg(long, num_args = 1.., value_name = "IMAGE")]
        images: Vec<PathBuf>,
        /// Texts to embed.
        #[arg(long, num_args = 1.., value_name = "TEXT")]
        text: Vec<String>,
        /// Audio to transcribe: a media file (decoded with ffmpeg) or 16 kHz mono f32le `.pcm`.
        #[arg(long, value_name = "FILE")]
        audio: Option<PathBuf>,
        /// Batch sizes to time the image and text models at.
        #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
        batches: Vec<usize>,
        /// Where to write the report (JSON).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunsAction {
    /// Every recorded metric of one run.
    Show {
        /// The run's number, as `reelmatch runs` lists it.
        run: i64,
        /// Print JSON (the run, its epochs and its step losses).
        #[arg(long)]
        json: bool,
    },
    /// Loss and accuracy curves and the per-class accuracy bars as a PNG image.
    Plot {
        /// The run's number, as `reelmatch runs` lists it.
        run: i64,
        /// The PNG file to write.
        #[arg(short, long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Choose the run queries use (without RUN: the most recent finished run).
    Use {
        /// The run's number, as `reelmatch runs` lists it.
        run: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum EmbedWhat {
    /// Embed an image file with the image model: `{"model", "dim", "vector"}` with --json.
    Image {
        file: PathBuf,
        /// Which model: `image` (ResNet-50) or `vision-text` (SigLIP 2 / CLIP, the description space).
        #[arg(long, default_value = "image", value_parser = ["image", "vision-text"])]
        role: String,
        /// Print JSON (the vector and its dimensions).
        #[arg(long)]
        json: bool,
    },
    /// Embed a text with the text model: `{"model", "dim", "vector"}` with --json.
    Text {
        text: String,
        /// Which model: `text` (the lyrics encoder) or `vision-text` (a description, in the frames' space).
        #[arg(long, default_value = "text", value_parser = ["text", "vision-text"])]
        role: String,
        /// Print JSON (the vector and its dimensions).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExportWhat {
    /// Frame images, as OUT/train/<video>/*.jpg and OUT/test/<video>/*.jpg.
    Frames {
        #[arg(long, value_enum, default_value = "imagefolder")]
        layout: Layout,
        /// The output directory.
        out: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Layout {
    /// torchvision's ImageFolder: one folder per class under train/ and test/.
    Imagefolder,
}

/// A whole number of at least 1 (threads, results).
fn count(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("`{s}` must be a whole number of at least 1")),
    }
}

/// A fusion weight: a finite number of at least 0 (relative to the other weight).
fn weight(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(w) if w.is_finite() && (0.0..=1000.0).contains(&w) => Ok(w),
        _ => Err(format!("`{s}` must be a number from 0 to 1000 (weights are relative: 0.7 and 0.3 weigh as 7 and 3)")),
    }
}

/// A cosine similarity threshold, from -1 to 1.
fn similarity(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(t) if t.is_finite() && (-1.0..=1.0).contains(&t) => Ok(t),
        _ => Err(format!("`{s}` must be a similarity from -1 to 1")),
    }
}

/// Parses one of `names` with the type's `FromStr` (clap lists the names in `--help`).
fn one_of<T>(names: &'static [&'static str]) -> impl TypedValueParser<Value = T>
where
    T: std::str::FromStr + Clone + Send + Sync + 'static,
    T::Err: std::fmt::Display,
{
    PossibleValuesParser::new(names).try_map(|s: String| s.parse::<T>().map_err(|e| e.to_string()))
}

fn graphics() -> impl TypedValueParser<Value = Graphics> {
    one_of(Graphics::NAMES)
}

fn space() -> impl TypedValueParser<Value = SearchSpace> {
    one_of(SearchSpace::NAMES)
}

/// What `similar`'s scores mean, after its options in `--help`.
const SCORES: &str = "\
Scores are cosine similarities, from -1 to 1. Frames are compared after the library's mean frame is
taken away, so an unrelated video scores near 0 and can score below it; 1 is the same picture.
  visual   each of the query's 10 frames finds its best frame in the video; the mean of the 10
  lyrics   the cosine of the two whole-lyrics embeddings
  score    their weighted mean (--visual, --lyrics-weight); with one side missing (an
           instrumental, an image query) the other is the score
In `frame 22.5s ≈ 8.0s (0.91)` the first time is the query's frame, the second the match's, and
0.91 their similarity; one query frame (an image, --describe) shows `best frame at 8.0s (0.91)`.
A description is compared in the vision-text model's space: plain cosines, not centred.
relation: copy, excerpt (with where one starts in the other) or same_song, by the sound, or by
frames along one time line where one is silent; listed even below --top. duplicate (--json): a
copy or an excerpt, or frames alike at [search] duplicate_threshold, as `dupes` says.";
