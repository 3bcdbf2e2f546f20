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
        };
        toml::from_str(text).expect("models/*.toml are valid (checked by tests)")
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
        for role in Role::ALL {
            let m = role.manifest();
            assert!(m.files.iter().any(|f| f == "model.safetensors"), "{role:?}");
            if role != Role::Image {
                assert!(m.files.iter().any(|f| f == "config.json"), "{role:?}");
            }
        }
        assert_eq!(Role::Speech.manifest().repo, "openai/whisper-base.en");
    }
}
