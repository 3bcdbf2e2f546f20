//! Loading each role's model as configured: the weights path from the command line or config,
//! the models folders, offline mode and the device.

use super::image::ImageEmbedder;
use super::text::TextEmbedder;
use super::vision_text::VisionTextEmbedder;
use super::whisper::Transcriber;
use super::{device, parse_device, resolve_manifest, ModelFiles, Role};
use crate::config::Config;
use crate::error::Result;
use crate::library::Library;
use candle_core::Device;
use std::path::PathBuf;

/// Folders searched for `<name>/` model directories: the configured one, then the data dir's.
pub fn model_dirs(config: &Config) -> Vec<PathBuf> {
    let mut dirs = vec![config.models.dir.clone()];
    if let Some(data) = Library::default_dir() {
        dirs.push(data.join("models"));
    }
    dirs
}

/// The configured weights directory for a role, if any.
pub fn configured_path(config: &Config, role: Role) -> Option<PathBuf> {
    let p = match role {
        Role::Image => &config.models.image.path,
        Role::Text => &config.models.text.path,
        Role::Speech => &config.models.speech.path,
        Role::VisionText => &config.models.vision_text.path,
    };
    (!p.as_os_str().is_empty()).then(|| p.clone())
}

/// Resolves a role's files as configured (`offline` from config unless `force_offline`).
pub fn resolve_role(config: &Config, role: Role, force_offline: bool) -> Result<ModelFiles> {
    let explicit = configured_path(config, role);
    let no_download = match (config.models.offline, force_offline) {
        (true, _) => Some("offline mode is on"),
        (false, true) => Some("it is not downloaded yet (`reelmatch models fetch` downloads it)"),
        (false, false) => None,
    };
    resolve_manifest(role, configured_manifest(config, role), explicit.as_deref(), &model_dirs(config), no_download)
}

/// The manifest a role resolves as configured: its own, or (speech, vision-text) another repo's
/// of the same layout.
pub fn configured_manifest(config: &Config, role: Role) -> super::Manifest {
    let repo = match role {
        Role::VisionText => &config.models.vision_text.repo,
        Role::Speech => &config.models.speech.repo,
        Role::Text => &config.models.text.repo,
        _ => return role.manifest(),
    };
    match repo.is_empty() {
        true => role.manifest(),
        false => role.manifest().for_repo(repo),
    }
}

/// The configured device.
pub fn configured_device(config: &Config) -> Result<Device> {
    device(parse_device(&config.models.device)?)
}

/// Loads the text embedder as configured.
pub fn load_text(config: &Config) -> Result<TextEmbedder> {
    let files = resolve_role(config, Role::Text, false)?;
    let t = &config.models.text;
    Ok(TextEmbedder::load(&files, &configured_device(config)?, t.pooling, t.max_tokens, t.overlap_tokens)?
        .with_prefix(&t.prefix))
}

/// Loads the image embedder as configured.
pub fn load_image(config: &Config) -> Result<ImageEmbedder> {
    let files = resolve_role(config, Role::Image, false)?;
    let device = configured_device(config)?;
    let mut model = ImageEmbedder::load(&files, &device, &config.image, config.models.image.batch_for(&device))?;
    apply_image_precision(&mut model, config);
    Ok(model)
}

/// `[models.image] precision` on a loaded embedder (a CPU with neither AVX-512 VNNI nor AVX2 keeps f32, said once in the log).
pub fn apply_image_precision(model: &mut ImageEmbedder, config: &Config) {
    let wanted = config.models.image.precision;
    if wanted == crate::config::Precision::Int8 && !model.set_precision(wanted) {
        tracing::info!(
            "[models.image] precision = \"int8\" needs a CPU with AVX-512 VNNI or AVX2; ResNet-50 runs in f32"
        );
    }
}

/// Loads the vision-text model as configured (whether or not it is turned on: a description asks for it).
pub fn load_vision_text(config: &Config) -> Result<VisionTextEmbedder> {
    let files = resolve_role(config, Role::VisionText, false)?;
    VisionTextEmbedder::load(&files, &configured_device(config)?, config.models.vision_text.batch_size)
}

/// Loads the transcriber as configured.
pub fn load_speech(config: &Config) -> Result<Transcriber> {
    let files = resolve_role(config, Role::Speech, false)?;
    Transcriber::load_with(&files, &configured_device(config)?, config.models.speech.precision)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_speech_and_vision_text_take_another_repo_of_their_layout() {
        let mut config = Config::default();
        assert_eq!(configured_manifest(&config, Role::Speech).repo, "openai/whisper-base.en");
        config.models.speech.repo = "openai/whisper-base".into();
        let m = configured_manifest(&config, Role::Speech);
        assert_eq!(
            (m.repo.as_str(), m.name.as_str(), m.architecture.as_str()),
            ("openai/whisper-base", "whisper-base", "whisper")
        );
        config.models.vision_text.repo = "openai/clip-vit-base-patch32".into();
        assert_eq!(configured_manifest(&config, Role::VisionText).architecture, "clip");
        assert_eq!(configured_manifest(&config, Role::Text), Role::Text.manifest());
        config.models.text.repo = "intfloat/multilingual-e5-small".into();
        assert_eq!(configured_manifest(&config, Role::Text).name, "multilingual-e5-small");
    }
}
