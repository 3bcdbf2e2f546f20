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

/// Writes the demo clips into `dir` (skipping ones already there), telling `made` of each as
/// it is written (its number, how many there are, its title), and returns their paths.
pub fn make_demo_media(ffmpeg: &str, dir: &Path, made: &dyn Fn(usize, usize, &str)) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let speak = has_espeak();
    let mut out = Vec::new();
    for (i, song) in SONGS.iter().enumerate() {
        let path = dir.join(format!("{}.mp4", song.title));
        if !path.exists() {
            make_clip(ffmpeg, song, &path, speak)?;
            made(i + 1, SONGS.len(), song.title);
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

/// Writes `line` spoken by espeak-ng in `voice` to the WAV file `wav`.
fn speak(voice: &str, line: &str, wav: &Path) -> Result<()> {
    let status = Command::new("espeak-ng")
        .args(["-v", voice, "-s", "140", "-w"])
        .arg(wav)
        .arg(line)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| Error::media(wav, format!("espeak-ng failed: {e}")))?;
    if !status.success() {
        return Err(Error::media(wav, format!("espeak-ng could not speak in the voice {voice:?}")));
    }
    Ok(())
}

/// What goes under a song's verses and fills its breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bed {
    /// [`make_sung_video`]'s melody.
    Melody,
    /// Plucked notes with a click on each beat, louder than the melody.
    Pluck,
    /// Quiet pink noise: a room, a crowd, tape hiss.
    Noise,
    /// Nothing: the verses alone with silence between them.
    Silence,
}

impl Bed {
    /// Its lavfi source at 44.1 kHz mono.
    fn source(self) -> &'static str {
        match self {
            Bed::Melody => BED,
            Bed::Pluck => {
                "aevalsrc=0.2*sin(2*PI*(220+110*floor(mod(t*3\\,5)))*t)*exp(-3*mod(t\\,0.333))+0.15*(random(0)-0.5)*exp(-30*mod(t\\,0.5)):s=44100"
            }
            Bed::Noise => "anoisesrc=color=pink:amplitude=0.02:r=44100:seed=7",
            Bed::Silence => "anullsrc=r=44100:cl=mono",
        }
    }
}

/// Writes a song video `length_s` long for evaluations of lyrics over music: each verse (its
/// start in seconds and its words) spoken by espeak-ng in `voice` over `bed`, which plays alone
/// before, between and after them, over `picture` (a lavfi source with its options).
pub fn make_song(
    ffmpeg: &str,
    path: &Path,
    voice: &str,
    verses: &[(f64, &str)],
    length_s: f64,
    bed: Bed,
    picture: &str,
) -> Result<()> {
    let wavs: Vec<std::path::PathBuf> =
        (0..verses.len()).map(|i| path.with_extension(format!("verse{i}.wav"))).collect();
    let spoken = verses.iter().zip(&wavs).try_for_each(|((_, line), wav)| speak(voice, line, wav));
    let mut mix = String::new();
    for (i, (start, _)) in verses.iter().enumerate() {
        mix += &format!("[{i}:a]aresample=44100,adelay={}:all=1[v{i}];", (start * 1000.0).round() as u64);
    }
    let n = verses.len();
    if n == 0 {
        mix += &format!("[0:a]atrim=0:{length_s}[a]");
    } else {
        mix += &format!("[{n}:a]atrim=0:{length_s}[bed];[bed]");
        mix += &(0..n).map(|i| format!("[v{i}]")).collect::<String>();
        mix += &format!("amix=inputs={}:duration=first:normalize=0[a]", n + 1);
    }
    let out = spoken.and_then(|()| {
        let mut cmd = Command::new(ffmpeg);
        cmd.args(["-hide_banner", "-loglevel", "error", "-y"]);
        wavs.iter().for_each(|w| {
            cmd.arg("-i").arg(w);
        });
        cmd.args(["-f", "lavfi", "-i", bed.source(), "-f", "lavfi", "-i", picture, "-filter_complex", &mix])
            .args(["-map", &format!("{}:v", n + 1), "-map", "[a]", "-t", &length_s.to_string()])
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"])
            .arg(path)
            .output()
            .map_err(|e| Error::media(path, format!("could not run ffmpeg: {e}")))
    });
    wavs.iter().for_each(|w| {
        let _ = std::fs::remove_file(w);
    });
    let out = out?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        return Err(Error::media(path, format!("ffmpeg could not make this song: {}", said.trim())));
    }
    Ok(())
}

/// Writes a song video for tests, benches and evaluations of how videos relate: a note every
/// half second (`step` is not a simple fraction of 12, so the tune does not repeat for
/// minutes), two voices, over `picture` (a lavfi source with its options, e.g.
/// `testsrc2=size=96x64:rate=10`), `seconds` long.
pub fn make_tune_video(ffmpeg: &str, path: &Path, seconds: u32, base_hz: u32, step: f64, picture: &str) -> Result<()> {
    let note = format!("{base_hz}*pow(2,floor(mod(floor(t*2)*{step},12))/12)");
    let audio = format!("aevalsrc='0.4*sin(2*PI*{note}*t)+0.2*sin(2*PI*1.5*{note}*t)':s=44100:d={seconds}");
    let out = Command::new(ffmpeg)
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", &audio, "-f", "lavfi", "-i"])
        .arg(format!("{picture}:d={seconds}"))
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"])
        .arg(path)
        .output()
        .map_err(|e| Error::media(path, format!("could not run ffmpeg: {e}")))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        return Err(Error::media(path, format!("ffmpeg could not make this tune: {}", said.trim())));
    }
    Ok(())
}

/// A melody (a note every half second over a held fifth), quieter than a voice: the music bed
/// of [`make_sung_video`].
const BED: &str = "aevalsrc=0.12*sin(2*PI*(196+49*floor(mod(t*2\\,4)))*t)+0.06*sin(2*PI*294*t):s=44100";

/// Writes a song video for tests and evaluations of lyrics in other languages: `line` spoken by
/// espeak-ng in `voice` (`de`, `fr`, `en-us`, …), starting after `intro_s` seconds of a music
/// bed that goes on under it and 2 s past it, over `picture` (a lavfi source with its options).
pub fn make_sung_video(ffmpeg: &str, path: &Path, voice: &str, line: &str, intro_s: f64, picture: &str) -> Result<()> {
    let wav = path.with_extension("voice.wav");
    speak(voice, line, &wav)?;
    let mix = format!(
        "[0:a]aresample=44100,adelay={}:all=1,apad=pad_dur=2[v];[v][1:a]amix=inputs=2:duration=first:normalize=0[a]",
        (intro_s * 1000.0).round() as u64
    );
    let out = Command::new(ffmpeg)
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(&wav)
        .args(["-f", "lavfi", "-i", BED, "-f", "lavfi", "-i", picture, "-filter_complex", &mix])
        .args(["-map", "2:v", "-map", "[a]", "-shortest", "-c:v", "libx264", "-preset", "ultrafast"])
        .args(["-pix_fmt", "yuv420p", "-c:a", "aac"])
        .arg(path)
        .output()
        .map_err(|e| Error::media(path, format!("could not run ffmpeg: {e}")))?;
    let _ = std::fs::remove_file(&wav);
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        return Err(Error::media(path, format!("ffmpeg could not make this song: {}", said.trim())));
    }
    Ok(())
}
