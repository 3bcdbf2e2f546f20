//! Settings: `config/default.toml` embedded in the binary, layered with the user's config file,
//! an optional preset and `--config FILE`, then checked key by key.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// The defaults, with a comment for every key.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Presets shipped with reelmatch: name and TOML text.
pub const PRESETS: &[(&str, &str)] = &[("paper", include_str!("../config/presets/paper.toml"))];

/// All settings. Every field is present in `config/default.toml`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub sampling: Sampling,
    pub split: Split,
    pub ingest: Ingest,
    pub tools: Tools,
    pub image: ImageSettings,
    pub train: Train,
    pub models: Models,
    pub search: Search,
    pub player: Player,
    pub catalog: CatalogSettings,
}

/// Where the catalog is (`[catalog]`): the embedded one in the library folder, or a shared
/// PostgreSQL one.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CatalogSettings {
    /// `postgres://…` for a shared catalog; empty for the library's own SQLite file.
    pub url: String,
    /// How long an ingest worker's claim on a video holds without renewal, in seconds.
    pub lease_s: f64,
    /// Claims a video may take (workers dying on it) before it is marked failed.
    pub max_claims: u32,
}

/// Whether `s` names a PostgreSQL catalog (`postgres://…` or `postgresql://…`).
pub fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

impl CatalogSettings {
    /// The shared catalog's URL, if one is set.
    pub fn shared(&self) -> Option<&str> {
        (!self.url.trim().is_empty()).then_some(self.url.trim())
    }
}

/// Search settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Search {
    pub visual_weight: f32,
    pub lyrics_weight: f32,
    pub top: usize,
    pub duplicate_threshold: f32,
    pub space: SearchSpace,
    pub index: IndexKind,
    pub approximate_from: usize,
    pub candidates: usize,
    pub traps: Traps,
}

/// Which index scores frames (`[search] index`).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum IndexKind {
    /// Exact below `approximate_from` rows, approximate from there on.
    Auto,
    Exact,
    Approximate,
}

/// Which frames are set aside as saying nothing about their video (`[search.traps]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Traps {
    pub set_aside: bool,
    pub shared_videos: usize,
    pub shared_similarity: f32,
    pub flat_below: f32,
    pub shared_max_frames: usize,
}

/// The video player (`[player]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Player {
    pub command: String,
}

/// The space frames are compared in.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SearchSpace {
    Backbone,
    Head,
    /// The vision-text model's (`[models.vision_text]`): where a description meets the frames.
    #[serde(rename = "vision-text")]
    VisionText,
}

impl SearchSpace {
    /// The names it is written as, in config and on the command line.
    pub const NAMES: &'static [&'static str] = &["backbone", "head", "vision-text"];
}

impl std::str::FromStr for SearchSpace {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "backbone" => Ok(SearchSpace::Backbone),
            "head" => Ok(SearchSpace::Head),
            "vision-text" => Ok(SearchSpace::VisionText),
            other => Err(format!("`{other}` is not a search space; use one of: {}", Self::NAMES.join(", "))),
        }
    }
}

/// Where model weights come from and how the models run.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Models {
    pub dir: PathBuf,
    pub offline: bool,
    pub device: String,
    pub image: ImageModel,
    pub text: TextModel,
    pub speech: SpeechModel,
    pub vision_text: VisionTextModel,
}

/// The vision-text role's settings: off unless turned on (`enabled`, or a `path` or `repo`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VisionTextModel {
    pub enabled: bool,
    pub path: PathBuf,
    /// Another Hugging Face repo of the same layout (`openai/clip-vit-base-patch32`); "" for
    /// `models/vision_text.toml`'s.
    pub repo: String,
    pub batch_size: usize,
}

impl VisionTextModel {
    /// Whether ingest embeds frames with it.
    pub fn is_on(&self) -> bool {
        self.enabled || !self.path.as_os_str().is_empty() || !self.repo.is_empty()
    }
}

/// The image role's settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ImageModel {
    pub path: PathBuf,
    pub batch_size: usize,
    pub gpu_batch_size: usize,
    pub precision: Precision,
}

impl ImageModel {
    /// Images per forward pass on `device`: `gpu_batch_size` on a CUDA device, else `batch_size`.
    pub fn batch_for(&self, device: &candle_core::Device) -> usize {
        if device.is_cuda() {
            self.gpu_batch_size
        } else {
            self.batch_size
        }
    }
}

/// The text role's settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TextModel {
    pub path: PathBuf,
    /// Another Hugging Face repo of the same layout (`intfloat/multilingual-e5-small`); "" for
    /// `models/text.toml`'s.
    pub repo: String,
    /// Put before every text embedded ("query: " for multilingual-e5).
    pub prefix: String,
    pub pooling: Pooling,
    pub max_tokens: usize,
    pub overlap_tokens: usize,
}

/// How token states become one text embedding.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    Mean,
    Cls,
}

/// The speech role's settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SpeechModel {
    pub path: PathBuf,
    /// Another Hugging Face repo of the same layout (`openai/whisper-base`, multilingual); ""
    /// for `models/speech.toml`'s.
    pub repo: String,
    /// "auto" (or "") to detect each video's language, else the language code lyrics are in.
    pub language: String,
    pub precision: Precision,
}

impl SpeechModel {
    /// The language lyrics are set to be in: `None` where it is detected per video.
    pub fn set_language(&self) -> Option<String> {
        let code = self.language.trim();
        (!code.is_empty() && code != "auto").then(|| code.to_string())
    }
}

/// How a model holds its weights on the CPU: Whisper's decoder (`[models.speech]`) and
/// ResNet-50's convolutions but the first (`[models.image]`).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    F32,
    /// 8 bits, quantised from the same file when the model loads (Whisper: a scale per weight
    /// row on AVX2 CPUs, else Q8_0 blocks; ResNet-50: per output channel, activations per row, on
    /// AVX-512 VNNI or AVX2 CPUs).
    Int8,
}

/// How densely frames are sampled, by video length, and how they are stored.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Sampling {
    pub long_threshold_s: f64,
    pub short_threshold_s: f64,
    pub long_fps: f64,
    pub medium_fps: f64,
    pub short_fps: f64,
    pub frame_short_side: u32,
    pub jpeg_quality: u8,
}

impl Sampling {
    /// Frames per second to sample a video of `duration_s` seconds at: over the long threshold
    /// `long_fps`; from the short threshold up to and including the long one `medium_fps`;
    /// below the short threshold `short_fps`.
    pub fn fps_for(&self, duration_s: f64) -> f64 {
        if duration_s > self.long_threshold_s {
            self.long_fps
        } else if duration_s >= self.short_threshold_s {
            self.medium_fps
        } else {
            self.short_fps
        }
    }
}

/// How a video's frames are split into train and test.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Split {
    pub test_fraction: f64,
    pub method: SplitMethod,
    pub test_blocks: u32,
    pub seed: u64,
}

/// The split method: contiguous time blocks (default) or the seed paper's random split.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SplitMethod {
    Blocks,
    Random,
}

/// Ingestion settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Ingest {
    pub concurrency: usize,
    pub extensions: Vec<String>,
    pub min_decoded_fraction: f64,
    pub overlap: Overlap,
}

/// Which of a video's stages run at the same time as its frame sampling (ffmpeg's decoding
/// leaves part of the cores idle).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Overlap {
    /// One stage after another.
    None,
    /// The audio extracted and transcribed on a thread of its own while the frames are sampled.
    Audio,
    /// The frames embedded, a batch at a time, while they are sampled.
    Frames,
    /// Both.
    All,
}

impl Overlap {
    /// Whether the audio side runs beside the frame sampling.
    pub fn audio(self) -> bool {
        matches!(self, Overlap::Audio | Overlap::All)
    }

    /// Whether frames are embedded while they are sampled.
    pub fn frames(self) -> bool {
        matches!(self, Overlap::Frames | Overlap::All)
    }
}

/// Where the external programs are.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tools {
    pub ffmpeg: String,
    pub ffprobe: String,
}

/// Image-model preprocessing.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ImageSettings {
    pub size: u32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

/// Classifier training settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Train {
    pub optimizer: Optimizer,
    pub learning_rate: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub epochs: u32,
    pub batch_size: usize,
    pub loss: Loss,
    pub augmented_views: u32,
    pub views_ask_over_minutes: f64,
    pub min_train_frames: usize,
    pub seed: u64,
}

/// Optimisers the trainer offers.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    Sgd,
    Adamw,
}

/// Loss functions the trainer offers.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    CrossEntropy,
}

/// Where a config layer comes from, for error messages.
#[derive(Debug, Clone)]
pub struct Layer {
    pub name: String,
    pub text: String,
}

impl Layer {
    /// Reads a config file as a layer.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config { file: path.display().to_string(), message: format!("cannot read it: {e}") })?;
        Ok(Layer { name: path.display().to_string(), text })
    }

    /// A shipped preset by name.
    pub fn preset(name: &str) -> Result<Self> {
        PRESETS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, text)| Layer { name: format!("preset `{n}`"), text: text.to_string() })
            .ok_or_else(|| {
                let known: Vec<_> = PRESETS.iter().map(|(n, _)| *n).collect();
                Error::Unknown {
                    what: "preset",
                    name: name.to_string(),
                    known: known.iter().map(|k| k.to_string()).collect(),
                }
            })
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::from_layers(&[]).expect("config/default.toml is valid (checked by tests)")
    }
}

impl Config {
    /// The user's own config file (`<config dir>/reelmatch/config.toml`), if the platform has one.
    pub fn user_file() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "reelmatch").map(|d| d.config_dir().join("config.toml"))
    }

    /// Loads defaults, then the user's file if it exists, then `preset`, then `file`.
    pub fn load(preset: Option<&str>, file: Option<&Path>) -> Result<Self> {
        Self::from_layers(&Self::layers(preset, file)?)
    }

    /// The settings in force, as TOML, each one a layer set marked with where it came from
    /// (`# from FILE`); the catalog URL's password hidden (`reelmatch config`).
    pub fn explain(preset: Option<&str>, file: Option<&Path>) -> Result<String> {
        let layers = Self::layers(preset, file)?;
        let (merged, origin, negative) = Self::merged(&layers)?;
        Self::checked(merged.clone(), &origin, &negative)?; // only settings that load are explained
        let mut out = format!(
            "# the defaults (config/default.toml){}\n",
            layers.iter().map(|l| format!(", then {}", l.name)).collect::<String>()
        );
        explain_table(&merged, "", &origin, &mut out);
        Ok(out)
    }

    /// The layers `load` applies over the defaults, in order.
    fn layers(preset: Option<&str>, file: Option<&Path>) -> Result<Vec<Layer>> {
        let mut layers = Vec::new();
        if let Some(user) = Self::user_file().filter(|p| p.is_file()) {
            layers.push(Layer::from_file(&user)?);
        }
        if let Some(name) = preset {
            layers.push(Layer::preset(name)?);
        }
        if let Some(path) = file {
            layers.push(Layer::from_file(path)?);
        }
        Ok(layers)
    }

    /// The defaults with `layers` merged in: the table, which layer set each key, and the whole
    /// numbers given below 0.
    #[allow(clippy::type_complexity)] // three results of one merge, each named in the doc
    fn merged(layers: &[Layer]) -> Result<(Table, HashMap<String, String>, HashMap<String, i64>)> {
        let mut merged: Table = DEFAULT_TOML.parse().expect("config/default.toml parses");
        let mut origin = HashMap::new();
        let mut negative = HashMap::new();
        for layer in layers {
            let table: Table = layer.text.parse().map_err(|e: toml::de::Error| Error::Config {
                file: layer.name.clone(),
                message: format!("not valid TOML: {}", e.message()),
            })?;
            merge(&mut merged, table, "", &layer.name, &mut origin, &mut negative)?;
        }
        Ok((merged, origin, negative))
    }

    /// Defaults with `layers` applied in order; later layers win.
    pub fn from_layers(layers: &[Layer]) -> Result<Self> {
        let (merged, origin, negative) = Self::merged(layers)?;
        Self::checked(merged, &origin, &negative)
    }

    /// The settings of a merged table, checked against their rules.
    fn checked(merged: Table, origin: &HashMap<String, String>, negative: &HashMap<String, i64>) -> Result<Self> {
        let config: Config = Value::Table(merged).try_into().map_err(|e: toml::de::Error| Error::Config {
            file: "(merged)".into(),
            message: e.message().to_string(),
        })?;
        config.validate(origin, negative)?;
        Ok(config)
    }

    /// Checks every setting against its rule; `negative` holds the whole numbers given below 0
    /// (held as 0 meanwhile), each reported with its own setting's rule.
    fn validate(&self, origin: &HashMap<String, String>, negative: &HashMap<String, i64>) -> Result<()> {
        let s = &self.sampling;
        let checks: Vec<(&str, String, bool, &str)> = vec![
            ("sampling.long_threshold_s", s.long_threshold_s.to_string(), s.long_threshold_s > 0.0, "must be positive"),
            (
                "sampling.short_threshold_s",
                s.short_threshold_s.to_string(),
                s.short_threshold_s > 0.0 && s.short_threshold_s <= s.long_threshold_s,
                "must be positive and at most sampling.long_threshold_s",
            ),
            (
                "sampling.long_fps",
                s.long_fps.to_string(),
                fps_ok(s.long_fps),
                "must be more than 0 and at most 60 frames per second",
            ),
            (
                "sampling.medium_fps",
                s.medium_fps.to_string(),
                fps_ok(s.medium_fps),
                "must be more than 0 and at most 60 frames per second",
            ),
            (
                "sampling.short_fps",
                s.short_fps.to_string(),
                fps_ok(s.short_fps),
                "must be more than 0 and at most 60 frames per second",
            ),
            (
                "sampling.frame_short_side",
                s.frame_short_side.to_string(),
                (32..=4096).contains(&s.frame_short_side),
                "must be from 32 to 4096 pixels",
            ),
            (
                "sampling.jpeg_quality",
                s.jpeg_quality.to_string(),
                (1..=100).contains(&s.jpeg_quality),
                "must be from 1 to 100",
            ),
            (
                "split.test_fraction",
                self.split.test_fraction.to_string(),
                self.split.test_fraction > 0.0 && self.split.test_fraction < 1.0,
                "must be between 0 and 1 (exclusive)",
            ),
            (
                "split.test_blocks",
                self.split.test_blocks.to_string(),
                self.split.test_blocks >= 1,
                "must be at least 1",
            ),
            (
                "catalog.url",
                crate::redact::url(&self.catalog.url),
                self.catalog.shared().is_none_or(is_postgres_url),
                "must be empty (the library's own SQLite catalog) or a postgres://USER@HOST/DATABASE connection string",
            ),
            (
                "catalog.lease_s",
                self.catalog.lease_s.to_string(),
                self.catalog.lease_s.is_finite() && (1.0..=86_400.0).contains(&self.catalog.lease_s),
                "must be from 1 to 86400 seconds",
            ),
            (
                "catalog.max_claims",
                self.catalog.max_claims.to_string(),
                (1..=1000).contains(&self.catalog.max_claims),
                "must be from 1 to 1000",
            ),
            (
                "ingest.concurrency",
                self.ingest.concurrency.to_string(),
                (1..=64).contains(&self.ingest.concurrency),
                "must be from 1 to 64",
            ),
            (
                "ingest.extensions",
                format!("{:?}", self.ingest.extensions),
                !self.ingest.extensions.is_empty(),
                "must list at least one extension",
            ),
            (
                "ingest.min_decoded_fraction",
                self.ingest.min_decoded_fraction.to_string(),
                self.ingest.min_decoded_fraction > 0.0 && self.ingest.min_decoded_fraction <= 1.0,
                "must be more than 0 and at most 1",
            ),
            (
                "tools.ffmpeg",
                format!("{:?}", self.tools.ffmpeg),
                !self.tools.ffmpeg.trim().is_empty(),
                "must name a program",
            ),
            (
                "tools.ffprobe",
                format!("{:?}", self.tools.ffprobe),
                !self.tools.ffprobe.trim().is_empty(),
                "must name a program",
            ),
            (
                "image.size",
                self.image.size.to_string(),
                (32..=1024).contains(&self.image.size),
                "must be from 32 to 1024 pixels",
            ),
            (
                "image.std",
                format!("{:?}", self.image.std),
                self.image.std.iter().all(|v| *v > 0.0),
                "must be three positive numbers",
            ),
            (
                "train.learning_rate",
                self.train.learning_rate.to_string(),
                self.train.learning_rate > 0.0 && self.train.learning_rate < 10.0,
                "must be more than 0 and less than 10",
            ),
            (
                "train.momentum",
                self.train.momentum.to_string(),
                (0.0..1.0).contains(&self.train.momentum),
                "must be at least 0 and less than 1",
            ),
            (
                "train.weight_decay",
                self.train.weight_decay.to_string(),
                self.train.weight_decay >= 0.0,
                "must be at least 0",
            ),
            ("train.epochs", self.train.epochs.to_string(), self.train.epochs >= 1, "must be at least 1"),
            ("train.batch_size", self.train.batch_size.to_string(), self.train.batch_size >= 1, "must be at least 1"),
            (
                "train.augmented_views",
                self.train.augmented_views.to_string(),
                self.train.augmented_views <= 32,
                "must be from 0 to 32",
            ),
            (
                "train.views_ask_over_minutes",
                self.train.views_ask_over_minutes.to_string(),
                self.train.views_ask_over_minutes.is_finite() && self.train.views_ask_over_minutes >= 0.0,
                "must be a number of minutes, 0 or more",
            ),
            (
                "train.min_train_frames",
                self.train.min_train_frames.to_string(),
                self.train.min_train_frames >= 1,
                "must be at least 1",
            ),
            (
                "models.device",
                format!("{:?}", self.models.device),
                crate::types::parse_device(&self.models.device).is_ok(),
                "must be \"auto\", \"cpu\" or \"cuda:N\"",
            ),
            (
                "models.speech.language",
                format!("{:?}", self.models.speech.language),
                self.models
                    .speech
                    .set_language()
                    .is_none_or(|c| (2..=3).contains(&c.len()) && c.chars().all(|ch| ch.is_ascii_lowercase())),
                "must be \"auto\" or a language code Whisper knows (\"en\", \"de\", \"ko\", \"yue\", …)",
            ),
            (
                "models.image.batch_size",
                self.models.image.batch_size.to_string(),
                (1..=1024).contains(&self.models.image.batch_size),
                "must be from 1 to 1024",
            ),
            (
                "models.vision_text.batch_size",
                self.models.vision_text.batch_size.to_string(),
                (1..=1024).contains(&self.models.vision_text.batch_size),
                "must be from 1 to 1024",
            ),
            (
                "search.candidates",
                self.search.candidates.to_string(),
                (1..=1_000_000).contains(&self.search.candidates),
                "must be from 1 to 1000000",
            ),
            (
                "models.image.gpu_batch_size",
                self.models.image.gpu_batch_size.to_string(),
                (1..=4096).contains(&self.models.image.gpu_batch_size),
                "must be from 1 to 4096",
            ),
            (
                "models.text.max_tokens",
                self.models.text.max_tokens.to_string(),
                (8..=512).contains(&self.models.text.max_tokens),
                "must be from 8 to 512 (BERT's limit)",
            ),
            (
                "models.text.overlap_tokens",
                self.models.text.overlap_tokens.to_string(),
                self.models.text.overlap_tokens + 4 <= self.models.text.max_tokens / 2,
                "must be less than half of models.text.max_tokens",
            ),
        ];
        let (v, l) = (self.search.visual_weight, self.search.lyrics_weight);
        if let Err(message) = check_weights(v, l, "`search.visual_weight`", "`search.lyrics_weight`") {
            let file = origin
                .get("search.visual_weight")
                .or_else(|| origin.get("search.lyrics_weight"))
                .cloned()
                .unwrap_or_else(|| "config/default.toml".into());
            return Err(Error::Config { file, message: message.to_string() });
        }
        let search_checks: Vec<(&str, String, bool, &str)> = vec![
            ("search.top", self.search.top.to_string(), self.search.top >= 1, "must be at least 1"),
            (
                "search.duplicate_threshold",
                self.search.duplicate_threshold.to_string(),
                self.search.duplicate_threshold.is_finite() && (-1.0..=1.0).contains(&self.search.duplicate_threshold),
                "must be a similarity from -1 to 1",
            ),
            (
                "search.traps.shared_videos",
                self.search.traps.shared_videos.to_string(),
                self.search.traps.shared_videos >= 1,
                "must be at least 1",
            ),
            (
                "search.traps.shared_similarity",
                self.search.traps.shared_similarity.to_string(),
                (-1.0..=1.0).contains(&self.search.traps.shared_similarity),
                "must be a similarity from -1 to 1",
            ),
            (
                "search.traps.flat_below",
                self.search.traps.flat_below.to_string(),
                (0.0..=255.0).contains(&self.search.traps.flat_below),
                "must be a brightness spread from 0 to 255",
            ),
            (
                "player.command",
                format!("{:?}", self.player.command),
                !self.player.command.trim().is_empty(),
                "must name a player (mpv)",
            ),
        ];
        let file = |key: &str| origin.get(key).cloned().unwrap_or_else(|| "config/default.toml".into());
        let checks: Vec<_> = checks.into_iter().chain(search_checks).collect();
        // The first setting given below 0 (by name, so the same one is named every time), with its
        // own rule where it has one that 0 breaks too (`must be at least 1`).
        if let Some((key, given)) = negative.iter().min_by_key(|(key, _)| key.as_str()) {
            let rule = checks.iter().find(|c| c.0 == key && !c.2).map_or("must be 0 or more", |c| c.3);
            return Err(Error::Config { file: file(key), message: format!("`{key}` = {given} {rule}") });
        }
        for (key, value, ok, rule) in checks {
            if !ok {
                return Err(Error::Config { file: file(key), message: format!("`{key}` = {value} {rule}") });
            }
        }
        Ok(())
    }
}

/// Fusion weights that cannot be used, named as the user gave them (`--visual`,
/// `search.visual_weight`, …).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BadWeights {
    #[error("{name} = {value} must be a number of at least 0")]
    Negative { name: String, value: f32 },
    #[error("{visual} and {lyrics} are both 0; at least one must be more than 0")]
    BothZero { visual: String, lyrics: String },
}

/// Checks fusion weights: both finite, not negative, not both zero.
pub fn check_weights(
    visual: f32,
    lyrics: f32,
    visual_name: &str,
    lyrics_name: &str,
) -> std::result::Result<(), BadWeights> {
    for (name, w) in [(visual_name, visual), (lyrics_name, lyrics)] {
        if !w.is_finite() || w < 0.0 {
            return Err(BadWeights::Negative { name: name.to_string(), value: w });
        }
    }
    if visual + lyrics <= 0.0 {
        return Err(BadWeights::BothZero { visual: visual_name.to_string(), lyrics: lyrics_name.to_string() });
    }
    Ok(())
}

fn fps_ok(fps: f64) -> bool {
    fps > 0.0 && fps <= 60.0
}

/// Keys whose value is one of a fixed set of words.
const CHOICES: &[(&str, &[&str])] = &[
    ("split.method", &["blocks", "random"]),
    ("train.optimizer", &["sgd", "adamw"]),
    ("train.loss", &["cross_entropy"]),
    ("models.text.pooling", &["mean", "cls"]),
    ("search.space", &["backbone", "head"]),
];

/// Merges `layer` into `base`, refusing keys the defaults do not have and values of another type.
fn merge(
    base: &mut Table,
    layer: Table,
    prefix: &str,
    file: &str,
    origin: &mut HashMap<String, String>,
    negative: &mut HashMap<String, i64>,
) -> Result<()> {
    for (key, value) in layer {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        let err = |message: String| Error::Config { file: file.to_string(), message };
        let Some(current) = base.get_mut(&key) else {
            let known: Vec<_> = base.keys().map(String::as_str).collect();
            let section = if prefix.is_empty() { "the top level".to_string() } else { format!("[{prefix}]") };
            return Err(err(format!("unknown key `{path}` (= {value}); keys in {section}: {}", known.join(", "))));
        };
        match (current, value) {
            (Value::Table(cur), Value::Table(new)) => merge(cur, new, &path, file, origin, negative)?,
            (Value::Table(_), other) => return Err(err(format!("`{path}` = {other} should be a section [{path}]"))),
            (cur, new) => {
                let new = coerce(cur, new).map_err(|(want, got)| err(format!("`{path}` = {got} should be {want}")))?;
                if let (Some((_, choices)), Value::String(s)) = (CHOICES.iter().find(|(k, _)| *k == path), &new) {
                    if !choices.contains(&s.as_str()) {
                        return Err(err(format!("`{path}` = {new} should be one of: {}", choices.join(", "))));
                    }
                }
                // Every whole-number setting counts something (epochs, pixels, threads): one below
                // 0 is held as 0 until its rule is checked, and reported as given.
                let new = match new {
                    Value::Integer(i) if i < 0 => {
                        negative.insert(path.clone(), i);
                        Value::Integer(0)
                    }
                    other => {
                        negative.remove(&path);
                        other
                    }
                };
                *cur = new;
                origin.insert(path, file.to_string());
            }
        }
    }
    Ok(())
}

/// `new` made the same kind as `cur` (integers widen to floats), or the kind wanted.
fn coerce(cur: &Value, new: Value) -> std::result::Result<Value, (String, String)> {
    let kind = kind_of(cur);
    match (cur, new) {
        (Value::Float(_), Value::Float(f)) if !f.is_finite() => Err(("a finite number".into(), f.to_string())),
        (Value::Float(_), Value::Integer(i)) => Ok(Value::Float(i as f64)),
        // Lists of numbers (one per colour channel) have as many values as the default.
        (Value::Array(items), Value::Array(new_items))
            if items.first().is_some_and(|v| matches!(v, Value::Float(_))) && items.len() != new_items.len() =>
        {
            Err((format!("a list of {} numbers", items.len()), Value::Array(new_items).to_string()))
        }
        (Value::Array(items), Value::Array(new_items)) => {
            let Some(first) = items.first() else { return Ok(Value::Array(new_items)) };
            let coerced =
                new_items.into_iter().map(|v| coerce(first, v)).collect::<std::result::Result<Vec<_>, _>>()?;
            Ok(Value::Array(coerced))
        }
        (cur, new) if std::mem::discriminant(cur) == std::mem::discriminant(&new) => Ok(new),
        (_, new) => Err((kind.to_string(), new.to_string())),
    }
}

/// Writes `table`'s keys as TOML (sections after the plain keys), each one a layer set marked
/// with its layer.
fn explain_table(table: &Table, prefix: &str, origin: &HashMap<String, String>, out: &mut String) {
    let path = |key: &str| if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") };
    for (key, value) in table.iter().filter(|(_, v)| !v.is_table()) {
        let full = path(key);
        let shown = match (full.as_str(), value) {
            ("catalog.url", Value::String(url)) => Value::String(crate::redact::url(url)).to_string(),
            _ => value.to_string(),
        };
        let from = origin.get(&full).map(|file| format!("  # from {file}")).unwrap_or_default();
        out.push_str(&format!("{key} = {shown}{from}\n"));
    }
    for (key, value) in table.iter() {
        if let Value::Table(inner) = value {
            out.push_str(&format!("\n[{}]\n", path(key)));
            explain_table(inner, &path(key), origin, out);
        }
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "a whole number",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "true or false",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "a list",
        Value::Table(_) => "a section",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(text: &str) -> Layer {
        Layer { name: "test.toml".into(), text: text.into() }
    }

    #[test]
    fn defaults_load_and_match_the_seed_sampling_policy() {
        let c = Config::default();
        assert_eq!(c.sampling.fps_for(301.0), 0.5);
        assert_eq!(c.sampling.fps_for(300.0), 1.0);
        assert_eq!(c.sampling.fps_for(250.0), 1.0);
        assert_eq!(c.sampling.fps_for(200.0), 1.0);
        assert_eq!(c.sampling.fps_for(199.9), 2.0);
        assert_eq!(c.split.method, SplitMethod::Blocks);
    }

    /// The paper preset behaves as the seed describes, where the defaults do not: frames
    /// sampled by length at the seed's rates, a 90/10 split at random (not in time blocks), SGD
    /// at the seed's pace.
    #[test]
    fn paper_preset_behaves_as_the_seed() {
        let c = Config::from_layers(&[Layer::preset("paper").unwrap()]).unwrap();
        let d = Config::default();
        for (seconds, fps) in [(301.0, 0.5), (300.0, 1.0), (250.0, 1.0), (200.0, 1.0), (199.9, 2.0), (30.0, 2.0)] {
            assert_eq!(c.sampling.fps_for(seconds), fps, "a {seconds} s video");
        }
        // 1,000 frames: 100 to test, scattered; the default's blocks keep them in a few runs.
        let runs = |split: &Split| {
            let s = crate::ingest::split::assign_splits(1000, split.test_fraction, split.method, split.test_blocks, 7);
            let test: Vec<usize> = (0..s.len()).filter(|&i| s[i] == crate::catalog::Split::Test).collect();
            (test.len(), 1 + test.windows(2).filter(|w| w[1] != w[0] + 1).count())
        };
        let (tested, scattered) = runs(&c.split);
        assert_eq!(tested, 100);
        assert!(scattered > 80, "a random split scatters its test frames: {scattered} runs");
        assert!(runs(&d.split).1 < 20, "the default keeps test frames in blocks");
        assert_eq!(c.train.optimizer, Optimizer::Sgd);
        assert_ne!(d.train.optimizer, Optimizer::Sgd, "the preset changes the optimiser");
        assert_eq!((c.train.learning_rate, c.train.epochs, c.train.batch_size), (1e-4, 5, 32));
    }

    #[test]
    fn a_negative_whole_number_is_refused_with_its_own_settings_rule() {
        let said = |text: &str| Config::from_layers(&[layer(text)]).err().map(|e| e.to_string()).unwrap_or_default();
        let top = said("[search]\ntop = -1\n");
        assert!(top.contains("`search.top` = -1 must be at least 1") && top.contains("test.toml"), "{top}");
        assert!(said("[search]\ntop = 0\n").contains("`search.top` = 0 must be at least 1"));
        let quality = said("[sampling]\njpeg_quality = -3\n");
        assert!(quality.contains("`sampling.jpeg_quality` = -3 must be from 1 to 100"), "{quality}");
        // A later layer that sets it right wins.
        let fixed = Config::from_layers(&[layer("[search]\ntop = -1\n"), layer("[search]\ntop = 7\n")]);
        assert_eq!(fixed.unwrap().search.top, 7);
    }

    #[test]
    fn non_finite_numbers_and_short_lists_are_refused_naming_the_file_and_key() {
        for (text, key, value, want) in [
            ("[train]\nweight_decay = inf\n", "train.weight_decay", "inf", "a finite number"),
            ("[search]\nvisual_weight = nan\n", "search.visual_weight", "NaN", "a finite number"),
            ("[catalog]\nlease_s = -inf\n", "catalog.lease_s", "-inf", "a finite number"),
            ("[image]\nmean = [0.5]\n", "image.mean", "[0.5]", "a list of 3 numbers"),
            ("[image]\nstd = [0.2, 0.2, 0.2, 0.2]\n", "image.std", "[0.2, 0.2, 0.2, 0.2]", "a list of 3 numbers"),
            ("[image]\nmean = [nan, 0.4, 0.4]\n", "image.mean", "NaN", "a finite number"),
        ] {
            let err = Config::from_layers(&[layer(text)]).err().unwrap_or_else(|| panic!("{text} was accepted"));
            let said = err.to_string();
            for part in ["test.toml", key, value, want] {
                assert!(said.contains(part), "{text}: {part:?} not in {said}");
            }
        }
        // The same kinds of value, finite and of the right length, load.
        let ok = Config::from_layers(&[layer("[train]\nweight_decay = 0.01\n[image]\nmean = [0.5, 0.5, 0.5]\n")]);
        assert_eq!(ok.unwrap().image.mean, [0.5, 0.5, 0.5]);
    }

    #[test]
    fn later_layers_win_and_integers_widen() {
        let c = Config::from_layers(&[layer("[sampling]\nshort_fps = 3"), layer("[ingest]\nconcurrency = 1")]).unwrap();
        assert_eq!(c.sampling.short_fps, 3.0);
        assert_eq!(c.ingest.concurrency, 1);
    }

    #[test]
    fn unknown_key_is_quoted_with_file_and_value() {
        let e = Config::from_layers(&[layer("[sampling]\nshort_fsp = 3")]).unwrap_err().to_string();
        assert!(e.contains("test.toml"), "{e}");
        assert!(e.contains("unknown key `sampling.short_fsp` (= 3)"), "{e}");
        assert!(e.contains("short_fps"), "lists known keys: {e}");
    }

    #[test]
    fn wrong_type_is_quoted() {
        let e = Config::from_layers(&[layer("[ingest]\nconcurrency = \"many\"")]).unwrap_err().to_string();
        assert!(e.contains("`ingest.concurrency` = \"many\" should be a whole number"), "{e}");
    }

    #[test]
    fn bad_value_is_quoted_with_its_rule() {
        let e = Config::from_layers(&[layer("[split]\ntest_fraction = 1.5")]).unwrap_err().to_string();
        assert!(e.contains("test.toml") && e.contains("`split.test_fraction` = 1.5"), "{e}");
        let e = Config::from_layers(&[layer("[split]\nmethod = \"stripes\"")]).unwrap_err().to_string();
        assert!(e.contains("`split.method` = \"stripes\" should be one of: blocks, random"), "{e}");
    }

    #[test]
    fn invalid_toml_is_reported() {
        let e = Config::from_layers(&[layer("[sampling\n")]).unwrap_err().to_string();
        assert!(e.contains("not valid TOML"), "{e}");
    }
}
