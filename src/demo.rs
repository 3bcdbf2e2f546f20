//! A small demo library made on the spot: short clips with distinct visuals from ffmpeg's lavfi
//! sources and spoken lyrics from espeak-ng when it is installed (tones otherwise).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One demo song: a title, a lavfi video source, and lyrics.
struct Song {
    title: &'static str,
    source: &'static str,
    lyrics: &'static str,
}

const SONGS: &[Song] = &[
    Song {
        title: "Test Pattern Heart",
        source: "testsrc2=size=320x180:rate=25",
        lyrics: "Every colour on the screen, every line I've never seen, you are the signal in the noise",
    },
    Song {
        title: "Bars of Gold",
        source: "smptebars=size=320x180:rate=25",
        lyrics: "Seven bars of gold and blue, standing still and waiting for you, tune me in tonight",
    },
    Song {
        title: "Mandelbrot Dreams",
        source: "mandelbrot=size=320x180:rate=25",
        lyrics: "Falling deeper into the spiral, the closer I get the more I find, endless shores of you",
    },
    Song {
        title: "Game of Life",
        source: "life=size=320x180:rate=25:mold=10:ratio=0.1:death_color=#C83232:life_color=#00ff00",
        lyrics: "Cells are born and cells decay, the patterns change from day to day, but I stay alive",
    },
    Song {
        title: "Cellular Automaton",
        source: "cellauto=size=320x180:rate=25:rule=110",
        lyrics: "Rule one hundred and ten, starting over again, a simple rule that grows forever",
    },
];

/// Seconds each demo clip lasts.
pub const CLIP_SECONDS: u32 = 24;

/// Whether espeak-ng is available to speak lyrics.
pub fn has_espeak() -> bool {
    Command::new("espeak-ng")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Writes the demo clips into `dir` (skipping ones already there) and returns their paths.
pub fn make_demo_media(ffmpeg: &str, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let speak = has_espeak();
    let mut out = Vec::new();
    for song in SONGS {
        let path = dir.join(format!("{}.mp4", song.title));
        if !path.exists() {
            make_clip(ffmpeg, song, &path, speak)?;
        }
        out.push(path);
    }
    Ok(out)
}

fn make_clip(ffmpeg: &str, song: &Song, path: &Path, speak: bool) -> Result<()> {
    let partial = path.with_extension("partial.mp4");
    let voice = path.with_extension("wav");
    let mut cmd = Command::new(ffmpeg);
    cmd.args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", song.source]);
    if speak {
        let status = Command::new("espeak-ng")
            .args(["-s", "140", "-w"])
            .arg(&voice)
            .arg(song.lyrics)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| Error::media(&voice, format!("espeak-ng failed: {e}")))?;
        if !status.success() {
            return Err(Error::media(&voice, "espeak-ng could not speak the demo lyrics"));
        }
        cmd.arg("-i").arg(&voice).args(["-af", "apad"]);
    } else {
        cmd.args(["-f", "lavfi", "-i", "sine=frequency=440"]);
    }
    cmd.args(["-t", &CLIP_SECONDS.to_string(), "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"])
        .args(["-c:a", "aac", "-metadata"])
        .arg(format!("title={}", song.title))
        .arg(&partial);
    let out = cmd.output().map_err(|e| Error::media(path, format!("could not run ffmpeg: {e}")))?;
    let _ = std::fs::remove_file(&voice);
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        return Err(Error::media(path, format!("ffmpeg could not make this demo clip: {}", said.trim())));
    }
    std::fs::rename(&partial, path).map_err(|e| Error::io(path, e))
}

/// The models the demo runs with, and what a person must be told about them. Where the image
/// weights cannot be had, a randomly initialised ResNet-50 (kept in the library) stands in: its
/// results show the mechanics only. Missing speech and text models are switched off.
pub fn demo_models(library: &crate::Library, config: &crate::Config) -> (crate::ingest::Models, Vec<String>) {
    use crate::ml::Role;
    let (mut models, missing) = crate::ingest::Models::load(config);
    let mut banner = Vec::new();
    for (role, _) in &missing {
        match role {
            Role::Image => match random_resnet(library, config) {
                Ok(m) => {
                    models.image = Some(m);
                    banner.push(
                        "no ResNet-50 weights: using a RANDOM ResNet-50, so visual results only show the mechanics"
                            .to_string(),
                    );
                }
                Err(e) => banner.push(format!("no image model, and no random stand-in ({e}): frames are not embedded")),
            },
            Role::Speech => {
                banner.push("no Whisper weights: lyrics are not transcribed (pass --speech-model DIR)".to_string())
            }
            Role::Text => banner.push("no text model: lyrics are not embedded (pass --text-model DIR)".to_string()),
        }
    }
    (models, banner)
}

fn random_resnet(library: &crate::Library, config: &crate::Config) -> Result<crate::ml::image::ImageEmbedder> {
    let dir = library.root().join("models").join("random-resnet50");
    let weights = dir.join("model.safetensors");
    if !weights.exists() {
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        crate::ml::image::write_random_weights(&weights)?;
    }
    let device = crate::ml::load::configured_device(config)?;
    crate::ml::image::ImageEmbedder::load_weights(
        &weights,
        &device,
        &config.image,
        config.models.image.batch_size,
        "random-resnet50".into(),
    )
}

/// The image model for work on `library`: the configured one, else the random stand-in the demo
/// left in the library (so a demo library can be trained and queried after the demo).
pub fn image_model_for(library: &crate::Library, config: &crate::Config) -> Result<crate::ml::image::ImageEmbedder> {
    match crate::ml::load::load_image(config) {
        Ok(m) => Ok(m),
        Err(e) if library.root().join("models/random-resnet50/model.safetensors").is_file() => {
            tracing::info!("configured image model unavailable ({e}); using the library's random stand-in");
            random_resnet(library, config)
        }
        Err(e) => Err(e),
    }
}

/// The configured models for work on `library`, with the image role falling back to the library's
/// random stand-in (see [`image_model_for`]); and a note for each role that is unavailable.
pub fn models_for(library: &crate::Library, config: &crate::Config) -> (crate::ingest::Models, Vec<String>) {
    let (mut models, missing) = crate::ingest::Models::load(config);
    let mut notes = Vec::new();
    for (role, reason) in missing {
        if role == crate::ml::Role::Image {
            if let Ok(m) = image_model_for(library, config) {
                notes.push(format!("using the library's RANDOM ResNet-50 ({reason})"));
                models.image = Some(m);
                continue;
            }
        }
        notes.push(format!("{} model unavailable: {reason}", role.name()));
    }
    (models, notes)
}
