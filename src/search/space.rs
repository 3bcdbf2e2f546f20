//! Which embeddings a search compares: the configured image and text models' outputs (or the
//! catalog's most used), in the backbone space or through the active training run's head.

use super::approx::IndexChoice;
use super::library::SearchLibrary;
use super::traps::TrapRules;
use crate::catalog::{Catalog, Split};
use crate::config::{Config, SearchSpace};
use crate::error::Result;
use crate::library::Library;
use crate::ml::load::resolve_role;
use crate::ml::Role;
use crate::train::active_head;
use crate::train::head::Head;

/// The models and space a search uses.
pub struct Space {
    pub image_model: Option<String>,
    pub text_model: Option<String>,
    /// The active run's id and head, in the head space.
    pub head: Option<(i64, Head)>,
    /// Something to tell the user (e.g. the head space was asked for but no run is active).
    pub note: Option<String>,
    /// The frames set aside, unless `[search.traps] set_aside` is off.
    pub traps: Option<TrapRules>,
    /// Exact or approximate search (`[search] index`).
    pub index: IndexChoice,
}

impl Space {
    /// Chooses per config, with `flag` overriding `[search] space`. Model ids come from resolving
    /// the configured roles offline (nothing is loaded); the head space takes the run's image model.
    pub fn choose(library: &Library, catalog: &Catalog, config: &Config, flag: Option<SearchSpace>) -> Result<Space> {
        let preferred = |role| resolve_role(config, role, true).ok().map(|f| f.id);
        let mut space = Space {
            image_model: preferred(Role::Image),
            text_model: preferred(Role::Text),
            head: None,
            note: None,
            index: index_choice(config),
            traps: config
                .search
                .traps
                .set_aside
                .then(|| TrapRules { settings: config.search.traps.clone(), root: library.root().to_path_buf() }),
        };
        if flag.unwrap_or(config.search.space) == SearchSpace::VisionText {
            // The configured vision-text model's frames where the catalog has them, else the
            // vision-text model it has the most frames of; never the image model's.
            let wanted = preferred(Role::VisionText);
            let (model, note) = description_space(catalog.image_models()?, wanted.as_deref());
            space.traps = None;
            space.image_model = Some(model);
            space.note = note;
            return Ok(space);
        }
        if flag.unwrap_or(config.search.space) == SearchSpace::Head {
            match active_head(library, catalog)? {
                Some((run, head)) => {
                    space.image_model = Some(run.image_model);
                    space.head = Some((run.id, head));
                }
                None => {
                    space.note = Some(
                        "no training run is active, so frames are compared as backbone features; `reelmatch train` makes one"
                            .into(),
                    )
                }
            }
        }
        Ok(space)
    }

    /// The head as `load_in_space` and `evaluate` take it.
    pub fn head(&self) -> Option<(i64, &Head)> {
        self.head.as_ref().map(|(run, h)| (*run, h))
    }

    /// Loads the library's embeddings in this space (`only` keeps frames of one split).
    pub fn load(&self, catalog: &Catalog, only: Option<Split>) -> Result<SearchLibrary> {
        SearchLibrary::load_in_space(
            catalog,
            self.image_model.as_deref(),
            self.text_model.as_deref(),
            only,
            self.head(),
            self.traps.as_ref(),
            self.index,
        )
    }
}

/// The frames a description is compared with, on either catalog, out of the image models with
/// stored frames (`available`): the vision-text model `wanted` (its id, as configured) where it
/// has frames, else the vision-text model with the most. Where none has, its key all the same
/// (no image model's frames stand in), with the note that says how to embed them.
pub fn description_space(available: Vec<(String, i64)>, wanted: Option<&str>) -> (String, Option<String>) {
    let wanted = wanted.map(crate::catalog::vision_text_key);
    match crate::catalog::description_model(available, wanted.as_deref()) {
        Some(found) => (found, None),
        None => (
            wanted.unwrap_or_else(|| crate::catalog::vision_text_key("")),
            Some("no frames are embedded with a vision-text model yet: turn [models.vision_text] on and run `reelmatch index update`".into()),
        ),
    }
}

/// The index choice `[search]` configures.
pub fn index_choice(config: &Config) -> IndexChoice {
    let s = &config.search;
    IndexChoice { mode: s.index, approximate_from: s.approximate_from, candidates: s.candidates }
}
