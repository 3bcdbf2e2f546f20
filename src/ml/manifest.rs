//! The per-role model manifests in the top-level `models/` folder, built into the binary.

pub use crate::types::Role;
use serde::Deserialize;

impl Role {
    /// The manifest shipped for this role.
    pub fn manifest(self) -> Manifest {
        let text = match self {
            Role::Image => include_str!("../../models/image.toml"),
            Role::Text => include_str!("../../models/text.toml"),
            Role::Speech => include_str!("../../models/speech.toml"),
            Role::VisionText => include_str!("../../models/vision_text.toml"),
        };
        toml::from_str(text).expect("models/*.toml are valid (checked by tests)")
    }
}

impl Manifest {
    /// This manifest for another Hugging Face repo of the same layout (`[models.vision_text]
    /// repo = "openai/clip-vit-base-patch32"`): its local folder is the repo's last part.
    pub fn for_repo(&self, repo: &str) -> Manifest {
        let name = repo.rsplit('/').next().unwrap_or(repo).to_string();
        let architecture = if name.contains("clip") { "clip" } else { self.architecture.as_str() }.to_string();
        Manifest { name, repo: repo.to_string(), revision: "main".into(), files: self.files.clone(), architecture }
    }
}

/// What a role loads: where from and which files.
#[derive(Debug, Clone, Deserialize, PartialEq, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The local directory name under `models/`.
    pub name: String,
    /// The Hugging Face repo.
    pub repo: String,
    pub revision: String,
    pub files: Vec<String>,
    pub architecture: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_parse_and_need_weights() {
        for role in Role::ALL.into_iter().chain([Role::VisionText]) {
            let m = role.manifest();
            assert!(m.files.iter().any(|f| f == "model.safetensors"), "{role:?}");
            if role != Role::Image {
                assert!(m.files.iter().any(|f| f == "config.json"), "{role:?}");
            }
        }
        assert_eq!(Role::Speech.manifest().repo, "openai/whisper-base.en");
        let vt = Role::VisionText.manifest();
        assert_eq!(vt.repo, "google/siglip2-base-patch16-224");
        assert!(vt.files.iter().any(|f| f == "preprocessor_config.json"));
        let clip = vt.for_repo("openai/clip-vit-base-patch32");
        assert_eq!((clip.name.as_str(), clip.architecture.as_str()), ("clip-vit-base-patch32", "clip"));
    }
}
