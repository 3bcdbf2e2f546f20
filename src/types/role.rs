//! The roles models play.

/// A model role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Image,
    Text,
    Speech,
    /// An image-text model (SigLIP 2, CLIP): frames found by a description. Off unless
    /// `[models.vision_text]` turns it on.
    #[serde(rename = "vision_text")]
    VisionText,
}

impl Role {
    /// The roles every library uses.
    pub const ALL: [Role; 3] = [Role::Image, Role::Text, Role::Speech];

    pub fn name(self) -> &'static str {
        match self {
            Role::Image => "image",
            Role::Text => "text",
            Role::Speech => "speech",
            Role::VisionText => "vision-text",
        }
    }

    /// Its section of the configuration, `[models.SECTION]`.
    pub fn section(self) -> &'static str {
        match self {
            Role::VisionText => "vision_text",
            other => other.name(),
        }
    }

    /// The command-line flag that points this role at a directory.
    pub fn flag(self) -> &'static str {
        match self {
            Role::Image => "--image-model",
            Role::Text => "--text-model",
            Role::Speech => "--speech-model",
            Role::VisionText => "--vision-text-model",
        }
    }
}

/// What the set of models has to say about a role: it is missing, or a stand-in runs in its place.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelNote {
    /// The role could not be loaded; its stage is skipped.
    Missing { role: Role, reason: String },
    /// The image role runs on the library's randomly initialised ResNet-50.
    RandomImage { reason: String },
}

impl ModelNote {
    /// The role the note is about.
    pub fn role(&self) -> Role {
        match self {
            ModelNote::Missing { role, .. } => *role,
            ModelNote::RandomImage { .. } => Role::Image,
        }
    }

    /// What it means for the work, in a few words.
    pub fn consequence(&self) -> &'static str {
        match self {
            ModelNote::Missing { role: Role::Image, .. } => "frames are stored but not embedded",
            ModelNote::Missing { role: Role::Speech, .. } => "lyrics are not transcribed",
            ModelNote::Missing { role: Role::Text, .. } => "lyrics are not embedded",
            ModelNote::Missing { role: Role::VisionText, .. } => "frames are not embedded for descriptions",
            ModelNote::RandomImage { .. } => {
                "using a RANDOM ResNet-50 (no ResNet-50 weights), so visual results only show the mechanics"
            }
        }
    }

    /// Why.
    pub fn reason(&self) -> &str {
        match self {
            ModelNote::Missing { reason, .. } | ModelNote::RandomImage { reason } => reason,
        }
    }
}

impl std::fmt::Display for ModelNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.consequence(), self.reason())
    }
}
