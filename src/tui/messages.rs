//! How the dashboard words errors and model notes: where the command line names a command or a
//! flag, the dashboard names the keys to press or the config setting.

use crate::error::{Error, Remedy};
use crate::ml::ModelNote;

/// A model note as the dashboard says it, with the config setting that fixes it.
pub fn model_note(note: &ModelNote) -> String {
    match note {
        ModelNote::Missing { role, reason } => {
            format!("{} (set [models.{}] path in the config): {reason}", note.consequence(), role.name())
        }
        ModelNote::RandomImage { .. } => note.consequence().to_string(),
    }
}

/// What to do, in the dashboard's words.
fn remedy(r: Remedy) -> &'static str {
    match r {
        Remedy::Ingest => "press a in the Library pane to add a folder of videos",
        Remedy::IngestWithImageModel => "set [models.image] path in the config and ingest again (a, or r on a video)",
        Remedy::IngestMore => "add more videos (a in the Library pane)",
        Remedy::WaitForIngest => "let ingestion finish first (r in the Library pane retries the video)",
        Remedy::NewRun => "press t in the Training pane to start a new run",
        Remedy::ListRuns => "the Training pane lists the runs",
        Remedy::TrainAgain => "press t in the Training pane to train again",
        Remedy::UseCpu => "set models.device = \"cpu\" (or \"auto\") in the config",
        Remedy::CudaBuild => {
            "build a CUDA one with scripts/build-cuda.sh --release, or set models.device = \"auto\" in the config"
        }
        Remedy::ChooseLibraryFolder => "start reelmatch with --library set to a folder",
        Remedy::ConfirmViews => {
            "press t again to compute them anyway (they are cached), or set train.augmented_views = 0"
        }
        Remedy::EmbedForDescriptions => {
            "turn [models.vision_text] on in the config and run `reelmatch index update` (it embeds the frames for descriptions)"
        }
    }
}

/// An error as the dashboard shows it.
pub fn error_text(e: &Error) -> String {
    match e {
        Error::NotReady { problem, remedy: r } => format!("{problem}; {}", remedy(*r)),
        Error::ModelMissing { role, .. } => format!("{e} (set [models.{}] path in the config)", role.name()),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dashboard_names_keys_where_the_cli_names_commands() {
        let e = Error::not_ready("the library has no ingested videos yet", Remedy::Ingest);
        assert!(e.to_string().contains("reelmatch ingest"), "{e}");
        let shown = error_text(&e);
        assert!(shown.contains("press a") && !shown.contains("reelmatch ingest"), "{shown}");
        let missing = Error::ModelMissing { role: crate::types::Role::Text, reason: "no files".into() };
        assert!(error_text(&missing).contains("[models.text] path") && !error_text(&missing).contains("--text"));
    }
}
