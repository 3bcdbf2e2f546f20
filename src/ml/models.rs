//! The one set of models every job uses: a role is loaded the first time a job needs it and
//! kept for the jobs after it. Where the configured ResNet-50 weights cannot be had, a library
//! may keep a randomly initialised stand-in (the demo writes one), and the set says so.

use super::image::{write_random_weights, ImageEmbedder};
use super::load::{configured_device, load_image, load_speech, load_text, load_vision_text};
use super::text::TextEmbedder;
use super::vision_text::VisionTextEmbedder;
use super::whisper::Transcriber;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::library::Library;
use crate::types::{ModelNote, Role};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};

/// A role's model once it has been asked for: loaded, or why not.
enum Slot<T> {
    Ready(T),
    Missing(String),
}

/// Where roles not given up front are loaded from.
struct Source {
    config: Config,
    /// The library whose random ResNet-50 stands in for missing image weights.
    library: Option<PathBuf>,
    /// Whether to write that stand-in when the library has none (the demo).
    make_stand_in: bool,
}

/// The models jobs run with. Shared by reference (it is `Sync`); each role loads once.
pub struct Models {
    source: Option<Source>,
    image: OnceLock<Slot<ImageEmbedder>>,
    random_image: OnceLock<String>,
    speech: OnceLock<Slot<Mutex<Transcriber>>>,
    text: OnceLock<Slot<TextEmbedder>>,
    vision_text: OnceLock<Slot<VisionTextEmbedder>>,
    /// The language lyrics are expected in; a transcript in another one is flagged.
    pub expected_language: Option<String>,
}

impl Default for Models {
    fn default() -> Self {
        Models::none()
    }
}

impl Models {
    /// No models and none to load: media stages only.
    pub fn none() -> Self {
        Models {
            source: None,
            image: OnceLock::new(),
            random_image: OnceLock::new(),
            speech: OnceLock::new(),
            text: OnceLock::new(),
            vision_text: OnceLock::new(),
            expected_language: None,
        }
    }

    /// The configured models, each loaded when first needed. For work on `library`, missing
    /// image weights fall back to the random stand-in the library keeps, if it keeps one.
    pub fn configured(config: &Config, library: Option<&Library>) -> Self {
        Models {
            source: Some(Source {
                config: config.clone(),
                library: library.map(|l| l.root().to_path_buf()),
                make_stand_in: false,
            }),
            expected_language: config.models.speech.set_language(),
            ..Models::none()
        }
    }

    /// The demo's models: the configured ones, with a random ResNet-50 written into the library
    /// when no image weights can be had. Every role is loaded now, so [`Models::notes`] is complete.
    pub fn for_demo(config: &Config, library: &Library) -> Self {
        let mut models = Models::configured(config, Some(library));
        if let Some(s) = &mut models.source {
            s.make_stand_in = true;
        }
        models.load_all();
        models
    }

    /// Uses `model` for the image role.
    pub fn with_image(self, model: ImageEmbedder) -> Self {
        let _ = self.image.set(Slot::Ready(model));
        self
    }

    /// Uses `model` for the speech role.
    pub fn with_speech(self, model: Transcriber) -> Self {
        let _ = self.speech.set(Slot::Ready(Mutex::new(model)));
        self
    }

    /// Uses `model` for the text role.
    pub fn with_text(self, model: TextEmbedder) -> Self {
        let _ = self.text.set(Slot::Ready(model));
        self
    }

    /// Uses `model` for the vision-text role.
    pub fn with_vision_text(self, model: VisionTextEmbedder) -> Self {
        let _ = self.vision_text.set(Slot::Ready(model));
        self
    }

    /// Expects lyrics in `language` (others are flagged).
    pub fn expecting(mut self, language: &str) -> Self {
        self.expected_language = Some(language.to_string());
        self
    }

    /// Loads every role that is not loaded yet; returns the notes about them.
    pub fn load_all(&self) -> Vec<ModelNote> {
        self.image();
        self.speech();
        self.text();
        if self.vision_text_on() {
            self.vision_text();
        }
        self.notes()
    }

    /// What to tell the user about the roles asked for so far.
    pub fn notes(&self) -> Vec<ModelNote> {
        let mut notes = Vec::new();
        if self.source.is_none() {
            return notes;
        }
        if let Some(reason) = self.random_image.get() {
            notes.push(ModelNote::RandomImage { reason: reason.clone() });
        }
        let mut missing = |role, reason: Option<&String>| {
            if let Some(reason) = reason {
                notes.push(ModelNote::Missing { role, reason: reason.clone() });
            }
        };
        missing(Role::Image, self.image.get().and_then(Slot::why));
        missing(Role::Speech, self.speech.get().and_then(Slot::why));
        missing(Role::Text, self.text.get().and_then(Slot::why));
        missing(Role::VisionText, self.vision_text.get().and_then(Slot::why));
        notes
    }

    /// The image embedder, loading it if need be; `None` when it cannot be had.
    pub fn image(&self) -> Option<&ImageEmbedder> {
        self.image.get_or_init(|| self.load(|s| self.load_image(s))).ready()
    }

    /// The transcriber (behind a lock: decoding needs it mutably), loading it if need be.
    pub fn speech(&self) -> Option<&Mutex<Transcriber>> {
        self.speech.get_or_init(|| self.load(|s| load_speech(&s.config).map(Mutex::new))).ready()
    }

    /// The transcriber, locked for one transcription.
    pub fn lock_speech(&self) -> Option<MutexGuard<'_, Transcriber>> {
        self.speech().map(|m| m.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// The text embedder, loading it if need be.
    pub fn text(&self) -> Option<&TextEmbedder> {
        self.text.get_or_init(|| self.load(|s| load_text(&s.config))).ready()
    }

    /// Whether the vision-text role is turned on (`[models.vision_text]`), or was given.
    pub fn vision_text_on(&self) -> bool {
        matches!(self.vision_text.get(), Some(Slot::Ready(_)))
            || self.source.as_ref().is_some_and(|s| s.config.models.vision_text.is_on())
    }

    /// The vision-text model, loading it if need be (whether or not the role is turned on).
    pub fn vision_text(&self) -> Option<&VisionTextEmbedder> {
        self.vision_text.get_or_init(|| self.load(|s| load_vision_text(&s.config))).ready()
    }

    /// The vision-text role, or an error saying why it cannot be had.
    pub fn require_vision_text(&self) -> Result<&VisionTextEmbedder> {
        self.vision_text().ok_or_else(|| missing(Role::VisionText, self.vision_text.get().and_then(Slot::why)))
    }

    /// The image role, or an error saying why it cannot be had.
    pub fn require_image(&self) -> Result<&ImageEmbedder> {
        self.image().ok_or_else(|| missing(Role::Image, self.image.get().and_then(Slot::why)))
    }

    /// The text role, or an error saying why it cannot be had.
    pub fn require_text(&self) -> Result<&TextEmbedder> {
        self.text().ok_or_else(|| missing(Role::Text, self.text.get().and_then(Slot::why)))
    }

    fn load<T>(&self, f: impl FnOnce(&Source) -> Result<T>) -> Slot<T> {
        match &self.source {
            None => Slot::Missing("not loaded for this job".into()),
            Some(s) => match f(s) {
                Ok(m) => Slot::Ready(m),
                Err(e) => Slot::Missing(e.to_string()),
            },
        }
    }

    fn load_image(&self, s: &Source) -> Result<ImageEmbedder> {
        let configured = match load_image(&s.config) {
            Ok(m) => return Ok(m),
            Err(e) => e,
        };
        let Some(root) = &s.library else { return Err(configured) };
        let weights = root.join("models/random-resnet50/model.safetensors");
        if !weights.is_file() {
            if !s.make_stand_in {
                return Err(configured);
            }
            if let Some(dir) = weights.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
            write_random_weights(&weights)?;
        }
        let device = configured_device(&s.config)?;
        let mut model = ImageEmbedder::load_weights(
            &weights,
            &device,
            &s.config.image,
            s.config.models.image.batch_for(&device),
            "random-resnet50".into(),
        )?;
        super::load::apply_image_precision(&mut model, &s.config);
        tracing::info!("configured image model unavailable ({configured}); using the library's random stand-in");
        let _ = self.random_image.set(configured.to_string());
        Ok(model)
    }
}

/// The error for a role that cannot be had, with why when it was tried.
fn missing(role: Role, why: Option<&String>) -> Error {
    Error::ModelMissing { role, reason: why.cloned().unwrap_or_else(|| "no model is configured".into()) }
}

impl<T> Slot<T> {
    fn ready(&self) -> Option<&T> {
        match self {
            Slot::Ready(m) => Some(m),
            Slot::Missing(_) => None,
        }
    }

    fn why(&self) -> Option<&String> {
        match self {
            Slot::Ready(_) => None,
            Slot::Missing(why) => Some(why),
        }
    }
}
