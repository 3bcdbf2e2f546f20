//! `reelmatch models`, `transcribe` and `embed`.

use super::args::{EmbedWhat, ModelsAction};
use crate::config::Config;
use crate::events::Cancel;
use crate::media::decode_audio;
use crate::ml::load::{configured_manifest, load_image, load_speech, load_text, load_vision_text, resolve_role};
use crate::ml::Role;
use crate::types::clock;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

pub fn run(config: &Config, action: Option<ModelsAction>, json: bool) -> anyhow::Result<ExitCode> {
    let fetch = matches!(action, Some(ModelsAction::Fetch));
    let mut rows = Vec::new();
    let mut all_ok = true;
    let device = match crate::ml::device::describe_configured(&config.models.device) {
        Ok(chosen) => chosen.to_string(),
        Err(e) => format!("{} unavailable: {e}", config.models.device),
    };
    // The vision-text role is listed (and fetched) once it is turned on.
    let on = config.models.vision_text.is_on().then_some(Role::VisionText);
    for role in Role::ALL.into_iter().chain(on) {
        let m = configured_manifest(config, role);
        let found = resolve_role(config, role, !fetch);
        all_ok &= found.is_ok();
        let row = match &found {
            Ok(f) => serde_json::json!({
                "role": role, "repo": m.repo, "revision": m.revision, "source": f.source, "id": f.id,
                "files": f.files.iter().map(|(n, p)| serde_json::json!({"name": n, "path": p})).collect::<Vec<_>>(),
                "status": "ready", "error": null, "device": device,
            }),
            Err(e) => serde_json::json!({
                "role": role, "repo": m.repo, "revision": m.revision, "source": null, "id": null,
                "files": m.files, "status": "missing", "error": e.to_string(), "device": device,
            }),
        };
        if !json {
            match &found {
                Ok(f) => println!("{:<7} ready    {:?} {} ({})", role.name(), f.source, f.id, m.files.join(", ")),
                Err(e) => println!("{:<7} missing  {}@{}\n        {e}", role.name(), m.repo, m.revision),
            }
        }
        rows.push(row);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!("device  {device}");
    }
    Ok(if all_ok || !fetch { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

pub fn transcribe(config: &Config, file: &Path, language: Option<String>, json: bool) -> anyhow::Result<ExitCode> {
    // Any audio file is accepted here, so there is no duration to size the limit by: a stall
    // (no output for a minute) is what stops a stuck ffmpeg.
    let pcm = decode_audio(&config.tools.ffmpeg, file, Duration::from_secs(24 * 3600), &Cancel::new())?;
    let mut model = load_speech(config)?;
    let language = match language {
        Some(code) if code == "auto" => None,
        Some(code) => Some(code),
        None => config.models.speech.set_language(),
    };
    let transcript = model.transcribe(&pcm, language.as_deref(), &Cancel::new())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&transcript)?);
    } else {
        println!("language: {}", crate::types::language_told(&transcript.language, transcript.language_probability));
        for s in &transcript.segments {
            println!("[{} → {}] {}", clock(s.start, 2), clock(s.end, 2), s.text.trim());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn embed(config: &Config, what: EmbedWhat) -> anyhow::Result<ExitCode> {
    let (model, vector, json) = match what {
        EmbedWhat::Image { file, role, json } if role == "vision-text" => {
            let m = load_vision_text(config)?;
            let v = m.embed_files(&[file.as_path()])?.remove(0);
            (m.model_id.clone(), v, json)
        }
        EmbedWhat::Image { file, json, .. } => {
            let m = load_image(config)?;
            let v = m.embed_files(&[file.as_path()])?.remove(0);
            (m.model_id.clone(), v, json)
        }
        EmbedWhat::Text { text, role, json } if role == "vision-text" => {
            let m = load_vision_text(config)?;
            (m.model_id.clone(), m.embed_text(&text)?, json)
        }
        EmbedWhat::Text { text, json, .. } => {
            let m = load_text(config)?;
            (m.model_id.clone(), m.embed(&text)?, json)
        }
    };
    if json {
        println!("{}", serde_json::json!({"model": model, "dim": vector.len(), "vector": vector}));
    } else {
        let head: Vec<String> = vector.iter().take(8).map(|x| format!("{x:.4}")).collect();
        println!("{model}: {} dimensions [{}, …]", vector.len(), head.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
