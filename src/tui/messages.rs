//! How the dashboard words errors and model notes: the remedy it offers is a config setting,
//! where the command line would name a flag.

use crate::error::Error;
use crate::ml::ModelNote;

/// A model note as the dashboard says it, with the config setting that fixes it.
pub fn model_note(note: &ModelNote) -> String {
    match note {
        ModelNote::Missing { role, reason } => {
            format!("{}: {reason} (set [models.{}] path in the config)", note.consequence(), role.name())
        }
        ModelNote::RandomImage { .. } => note.consequence().to_string(),
    }
}

/// An error as the dashboard shows it: the remedy is a config setting, not a flag.
pub fn error_text(e: &Error) -> String {
    match e {
        Error::ModelMissing { role, .. } => format!("{e} (set [models.{}] path in the config)", role.name()),
        other => other.to_string(),
    }
}
