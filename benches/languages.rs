//! Lyrics in several languages, heard (issue 42), beside the reference in the same run:
//! espeak-ng speaks a line in each of eight languages over a music bed
//! (`demo::make_sung_video`), and Whisper's multilingual base checkpoint tells the language
//! (with its probability) and the words (WER against the line), in reelmatch and in
//! faster-whisper on the same weights (`benches/whisper_languages.py`, float32). Then a German
//! line after 35 s of the bed alone (told where the voice starts), and the time a clip takes:
//! base beside tiny.en in reelmatch and beside faster-whisper's base, alternated. First, lyrics
//! matched across languages: six songs' lines in five languages, recall@1 of a line finding its
//! own song in another language, with multilingual-e5-small beside the English all-MiniLM.
//!
//! Then songs rather than speech: verses with long breaks of music, silence or noise, a refrain
//! and instrumentals, under the music rules and Whisper's reference rules.
//!
//! `cargo bench --bench languages` (`-- music` for the songs alone; needs the test assets, espeak-ng, ffmpeg, and python3 with
//! faster-whisper for the reference: `pip install faster-whisper`).
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

mod common;

use candle_core::Device;
use reelmatch::events::Cancel;
use reelmatch::media::{extract_audio, read_pcm};
use reelmatch::ml::whisper::Transcriber;
use reelmatch::ml::{resolve, Role};
use reelmatch::types::{word_error_rate, Transcript};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// (espeak-ng voice, Whisper's code, a line of lyrics).
const LINES: &[(&str, &str, &str)] = &[
    ("en-us", "en", "I have been waiting all night for the summer rain to fall on the city, hold me close and never let me go"),
    ("de", "de", "Ich habe die ganze Nacht gewartet, dass der Sommerregen auf die Stadt fällt, halt mich fest und lass mich nie mehr los"),
    ("fr", "fr", "J'ai attendu toute la nuit que la pluie d'été tombe sur la ville, serre-moi fort et ne me laisse jamais partir"),
    ("es", "es", "He esperado toda la noche a que la lluvia de verano caiga sobre la ciudad, abrázame fuerte y nunca me dejes ir"),
    ("it", "it", "Ho aspettato tutta la notte che la pioggia d'estate cadesse sulla città, stringimi forte e non lasciarmi mai andare"),
    ("pt", "pt", "Esperei a noite inteira pela chuva de verão cair sobre a cidade, abraça-me forte e nunca me deixes ir"),
    ("nl", "nl", "Ik heb de hele nacht gewacht tot de zomerregen op de stad valt, houd me vast en laat me nooit meer gaan"),
    ("pl", "pl", "Czekałem całą noc, aż letni deszcz spadnie na miasto, przytul mnie mocno i nigdy nie pozwól mi odejść"),
];

/// Six songs' lines, each in five languages (en, de, fr, es, it): a line should find its
/// translations before any other song's line.
const SONGS: &[[&str; 5]] = &[
    [
        "I waited all night for the summer rain to fall on the city",
        "Ich habe die ganze Nacht gewartet, dass der Sommerregen auf die Stadt fällt",
        "J'ai attendu toute la nuit que la pluie d'été tombe sur la ville",
        "Esperé toda la noche a que la lluvia de verano cayera sobre la ciudad",
        "Ho aspettato tutta la notte che la pioggia d'estate cadesse sulla città",
    ],
    [
        "We dance on the beach under the moon until the morning comes",
        "Wir tanzen am Strand unter dem Mond, bis der Morgen kommt",
        "Nous dansons sur la plage sous la lune jusqu'au matin",
        "Bailamos en la playa bajo la luna hasta que llega la mañana",
        "Balliamo sulla spiaggia sotto la luna finché arriva il mattino",
    ],
    [
        "My heart is broken since you left me alone",
        "Mein Herz ist gebrochen, seit du mich allein gelassen hast",
        "Mon cœur est brisé depuis que tu m'as laissé seul",
        "Mi corazón está roto desde que me dejaste solo",
        "Il mio cuore è spezzato da quando mi hai lasciato solo",
    ],
    [
        "Drive fast on the highway with the radio loud",
        "Fahr schnell auf der Autobahn mit lautem Radio",
        "Roule vite sur l'autoroute avec la radio à fond",
        "Conduce rápido por la autopista con la radio alta",
        "Guida veloce in autostrada con la radio a tutto volume",
    ],
    [
        "The children play in the snow and laugh at the winter sky",
        "Die Kinder spielen im Schnee und lachen über den Winterhimmel",
        "Les enfants jouent dans la neige et rient sous le ciel d'hiver",
        "Los niños juegan en la nieve y ríen bajo el cielo de invierno",
        "I bambini giocano nella neve e ridono sotto il cielo d'inverno",
    ],
    [
        "Money and gold will never buy the love I need",
        "Geld und Gold werden nie die Liebe kaufen, die ich brauche",
        "L'argent et l'or n'achèteront jamais l'amour dont j'ai besoin",
        "El dinero y el oro nunca comprarán el amor que necesito",
        "Soldi e oro non compreranno mai l'amore di cui ho bisogno",
    ],
];

/// How many lines find a translation of themselves first among the lines in the other
/// languages, with `model`'s vectors; and how many lines asked.
fn recall_across(model: &reelmatch::ml::text::TextEmbedder) -> (usize, usize) {
    let lines: Vec<(usize, usize, &str)> =
        SONGS.iter().enumerate().flat_map(|(s, song)| song.iter().enumerate().map(move |(l, t)| (s, l, *t))).collect();
    let texts: Vec<&str> = lines.iter().map(|l| l.2).collect();
    let vectors = model.embed_batch(&texts).unwrap();
    let mut found = 0;
    for (i, (song, lang, _)) in lines.iter().enumerate() {
        let best = lines
            .iter()
            .enumerate()
            .filter(|(_, (_, l, _))| l != lang)
            .max_by(|a, b| {
                let dot = |j: usize| vectors[i].iter().zip(&vectors[j]).map(|(x, y)| x * y).sum::<f32>();
                dot(a.0).total_cmp(&dot(b.0))
            })
            .map(|(_, (s, _, _))| *s);
        found += usize::from(best == Some(*song));
    }
    (found, lines.len())
}

/// A clip: its 16 kHz mono PCM, and the same as a WAV file for the reference.
struct Clip {
    pcm: Vec<f32>,
    wav: PathBuf,
}

fn clip(dir: &Path, name: &str, voice: &str, line: &str, intro_s: f64) -> Clip {
    let video = dir.join(format!("{name}.mp4"));
    reelmatch::demo::make_sung_video("ffmpeg", &video, voice, line, intro_s, "testsrc2=size=96x64:rate=5").unwrap();
    let raw = dir.join(format!("{name}.f32"));
    extract_audio("ffmpeg", &video, &raw, Duration::from_secs(120), &Cancel::new()).unwrap();
    let wav = dir.join(format!("{name}.wav"));
    let ok = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "f32le", "-ar", "16000", "-ac", "1", "-i"])
        .arg(&raw)
        .arg(&wav)
        .status()
        .unwrap();
    assert!(ok.success());
    Clip { pcm: read_pcm(&raw).unwrap(), wav }
}

fn model(name: &str) -> Transcriber {
    let files = resolve(Role::Speech, Some(&common::assets().join("models").join(name)), &[], Some("offline")).unwrap();
    Transcriber::load(&files, &Device::Cpu).unwrap()
}

/// What faster-whisper heard in each WAV: (language, probability, text, seconds).
fn reference(compute: &str, wavs: &[&Path]) -> Result<Vec<(String, f64, String, f64)>, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/whisper_languages.py");
    let out =
        Command::new("python3").arg(script).args([compute, "2"]).args(wavs).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("failed").to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let text = v["text"].as_str().unwrap_or_default().to_string();
            (
                v["language"].as_str().unwrap().to_string(),
                v["probability"].as_f64().unwrap(),
                text,
                v["seconds"].as_f64().unwrap(),
            )
        })
        .collect())
}

fn told(t: &Transcript) -> String {
    match t.language_probability {
        _ if t.language.is_empty() => "none".into(),
        Some(p) => format!("{} {p:.2}", t.language),
        None => t.language.clone(),
    }
}

fn text_model(name: &str, prefix: &str) -> reelmatch::ml::text::TextEmbedder {
    let files = resolve(Role::Text, Some(&common::assets().join("models").join(name)), &[], Some("offline")).unwrap();
    let pooling = reelmatch::config::Pooling::Mean;
    reelmatch::ml::text::TextEmbedder::load(&files, &Device::Cpu, pooling, 512, 64).unwrap().with_prefix(prefix)
}

/// Recall@1 of typed lines against what Whisper base heard of the same lines sung: each of
/// [`SONGS`]' 30 lines sung by espeak-ng over the bed and transcribed; a typed line asked
/// against the 6 transcripts in its own language (within), and against the 24 in the others
/// (across); each text model.
fn sung_recall(dir: &Path, base: &mut Transcriber) {
    const VOICES: [&str; 5] = ["en-us", "de", "fr", "es", "it"];
    let mut heard: Vec<(usize, usize, String)> = Vec::new();
    for (s, song) in SONGS.iter().enumerate() {
        for (l, line) in song.iter().enumerate() {
            let c = clip(dir, &format!("song{s}-{l}"), VOICES[l], line, 1.0);
            heard.push((s, l, base.transcribe(&c.pcm, None, &Cancel::new()).unwrap().text()));
        }
    }
    println!("\nTyped lines against the same lines sung and heard by Whisper base (6 songs × 5 languages), recall@1:");
    println!("| text model | within a language (of 6) | across languages (of 24) |");
    println!("|---|---|---|");
    for (name, prefix) in [("multilingual-e5-small", "query: "), ("all-minilm-l6-v2", "")] {
        let model = text_model(name, prefix);
        let typed: Vec<&str> = SONGS.iter().flat_map(|s| s.iter().copied()).collect();
        let asked = model.embed_batch(&typed).unwrap();
        let texts: Vec<&str> = heard.iter().map(|h| h.2.as_str()).collect();
        let found = model.embed_batch(&texts).unwrap();
        let (mut within, mut across) = (0, 0);
        for (i, q) in asked.iter().enumerate() {
            let (song, lang) = (i / 5, i % 5);
            let best = |same: bool| {
                heard
                    .iter()
                    .zip(&found)
                    .filter(|((_, l, _), _)| (*l == lang) == same)
                    .max_by(|a, b| {
                        let dot = |v: &Vec<f32>| q.iter().zip(v).map(|(x, y)| x * y).sum::<f32>();
                        dot(a.1).total_cmp(&dot(b.1))
                    })
                    .map(|((s, _, _), _)| *s)
            };
            within += usize::from(best(true) == Some(song));
            across += usize::from(best(false) == Some(song));
        }
        println!("| {name} | {within}/30 = {:.2} | {across}/30 = {:.2} |", within as f64 / 30.0, across as f64 / 30.0);
    }
}

/// Three verses of an English song, for the songs with breaks.
const VERSES: [&str; 3] = [
    "I have been waiting all night for the summer rain to fall on the city",
    "Hold me close and never let me go, the lights are burning down the road",
    "We dance on the beach under the moon until the morning comes",
];

/// Whisper on songs rather than speech: verses with long breaks of music, silence or noise
/// between them, a refrain sung four times, and instrumentals. Each heard by base and tiny.en,
/// with the music rules (`Transcriber::music_rules`) and with Whisper's reference rules, one after
/// the other: the segments, the words heard (WER against the verses), the flag a transcript
/// gets, the language told and the time taken. Then the cost: the eight languages' clips under
/// both rules.
fn music_rules(dir: &Path, models: &mut [(&str, &mut Transcriber)], clips: &[Clip]) {
    use reelmatch::demo::Bed;
    let refrain: Vec<(f64, &str)> = std::iter::once((1.0, VERSES[0]))
        .chain((0..4).map(|i| (7.0 + 3.0 * f64::from(i), "Never let me go")))
        .collect();
    let spread: Vec<(f64, &str)> = [2.0, 45.0, 100.0].into_iter().zip(VERSES).collect();
    /// A song: its name, its bed, its verses (start, words) and its length.
    type Song<'a> = (&'a str, Bed, &'a [(f64, &'a str)], f64);
    let songs: Vec<Song> = vec![
        ("3 verses, 40 s breaks of melody", Bed::Melody, &spread, 120.0),
        ("3 verses, 40 s breaks of silence", Bed::Silence, &spread, 120.0),
        ("3 verses, 40 s breaks of quiet noise", Bed::Noise, &spread, 120.0),
        ("3 verses, 40 s breaks of plucked notes", Bed::Pluck, &spread, 120.0),
        ("a verse, then a refrain 4 times", Bed::Melody, &refrain, 30.0),
        ("instrumental: melody", Bed::Melody, &[], 60.0),
        ("instrumental: plucked notes", Bed::Pluck, &[], 60.0),
        ("instrumental: quiet noise", Bed::Noise, &[], 60.0),
    ];
    println!(
        "\nSongs, not speech: music rules (a window with no voice holds no words) against Whisper's reference rules:"
    );
    println!("| song | model | rules | segments | words heard | WER | flagged | language | seconds |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (i, (name, bed, verses, length)) in songs.iter().enumerate() {
        let video = dir.join(format!("song{i}.mp4"));
        reelmatch::demo::make_song("ffmpeg", &video, "en-us", verses, *length, *bed, "testsrc2=size=96x64:rate=5")
            .unwrap();
        let raw = dir.join(format!("song{i}.f32"));
        extract_audio("ffmpeg", &video, &raw, Duration::from_secs(120), &Cancel::new()).unwrap();
        let pcm = read_pcm(&raw).unwrap();
        let sung: String = verses.iter().map(|v| v.1).collect::<Vec<_>>().join(" ");
        for (model, transcriber) in models.iter_mut() {
            for music in [true, false] {
                transcriber.music_rules = music;
                let started = Instant::now();
                let t = transcriber.transcribe(&pcm, None, &Cancel::new()).unwrap();
                let seconds = started.elapsed().as_secs_f64();
                let heard = t.text();
                let wer = if sung.is_empty() { "-".into() } else { format!("{:.2}", word_error_rate(&sung, &heard)) };
                let flag = reelmatch::ingest::transcript_flag(&t, None).map_or("no".into(), |f| f.replace('|', "/"));
                println!(
                    "| {name} | {model} | {} | {} | {} | {wer} | {flag} | {} | {seconds:.1} |",
                    if music { "music" } else { "reference" },
                    t.segments.len(),
                    heard.split_whitespace().count(),
                    told(&t),
                );
            }
        }
    }
    let (_, base) = &mut models[0];
    let mut lost = Vec::new();
    for ((_, code, line), c) in LINES.iter().zip(clips) {
        let mut wers = [0.0; 2];
        for (k, music) in [true, false].into_iter().enumerate() {
            base.music_rules = music;
            wers[k] = word_error_rate(line, &base.transcribe(&c.pcm, None, &Cancel::new()).unwrap().text());
        }
        lost.push(format!("{code} {:.2}/{:.2}", wers[0], wers[1]));
    }
    base.music_rules = true;
    println!(
        "\nThe cost: WER of base on the eight languages' clips, music rules / reference rules: {}",
        lost.join(", ")
    );
}

fn main() {
    println!("Lyrics matched across languages: 6 songs' lines in en, de, fr, es, it; recall@1 of a line");
    println!("finding its own song among the 24 lines in the other languages:");
    for (name, prefix) in [("multilingual-e5-small", "query: "), ("all-minilm-l6-v2", "")] {
        let (found, asked) = recall_across(&text_model(name, prefix));
        println!("  {name:<24} {found}/{asked} = {:.2}", found as f64 / asked as f64);
    }
    println!();
    let dir = tempfile::tempdir().unwrap();
    let mut base = model("whisper-base");
    assert!(base.is_multilingual(), "models/whisper-base is the multilingual checkpoint");
    let clips: Vec<Clip> = LINES.iter().map(|(voice, code, line)| clip(dir.path(), code, voice, line, 1.0)).collect();
    if std::env::args().any(|a| a == "music") {
        let mut tiny = model("whisper-tiny.en");
        return music_rules(dir.path(), &mut [("base", &mut base), ("tiny.en", &mut tiny)], &clips);
    }
    let late = clip(dir.path(), "late", "de", LINES[1].2, 35.0);
    let mut wavs: Vec<&Path> = clips.iter().map(|c| c.wav.as_path()).collect();
    wavs.push(&late.wav);
    let theirs = reference("float32", &wavs);
    if let Err(e) = &theirs {
        println!("faster-whisper did not run ({e}); its columns are empty");
    }
    let theirs_at = |i: usize| theirs.as_ref().ok().and_then(|t| t.get(i).cloned());

    println!("Whisper base (multilingual), espeak-ng over a music bed; reelmatch beside faster-whisper float32:");
    println!(
        "| language | reelmatch told | faster-whisper told | WER reelmatch | WER faster-whisper | reelmatch heard |"
    );
    println!("|---|---|---|---|---|---|");
    let (mut right, mut agree) = (0, 0);
    for (i, ((_, code, line), c)) in LINES.iter().zip(&clips).enumerate() {
        let t = base.transcribe(&c.pcm, None, &Cancel::new()).unwrap();
        right += usize::from(t.language == *code);
        let (their_told, their_wer) = match theirs_at(i) {
            Some((lang, p, text, _)) => {
                agree += usize::from(lang == t.language);
                (format!("{lang} {p:.2}"), format!("{:.2}", word_error_rate(line, &text)))
            }
            None => ("-".into(), "-".into()),
        };
        let heard = t.text();
        println!(
            "| {code} | {} | {their_told} | {:.2} | {their_wer} | {} |",
            told(&t),
            word_error_rate(line, &heard),
            heard.chars().take(60).collect::<String>()
        );
    }
    println!(
        "\ntold right: {right} of {}; the same language as faster-whisper: {agree} of {}",
        LINES.len(),
        LINES.len()
    );

    sung_recall(dir.path(), &mut base);
    let mut tiny = model("whisper-tiny.en");
    music_rules(dir.path(), &mut [("base", &mut base), ("tiny.en", &mut tiny)], &clips);

    let t = base.transcribe(&late.pcm, None, &Cancel::new()).unwrap();
    let first = t.segments.first().map_or(f64::NAN, |s| s.start);
    let their = theirs_at(LINES.len()).map(|(l, p, _, _)| format!("{l} {p:.2}")).unwrap_or_else(|| "-".into());
    println!(
        "German after 35 s of the bed alone: reelmatch told {} (faster-whisper {their}), first segment at {first:.1} s, WER {:.2}",
        told(&t),
        word_error_rate(LINES[1].2, &t.text())
    );

    // The time of one clip: base and tiny.en in reelmatch, base in faster-whisper, alternated.
    let english = &clips[0];
    let seconds = english.pcm.len() as f64 / 16_000.0;
    let (mut base_s, mut tiny_s, mut ct2_f32, mut ct2_int8) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        let started = Instant::now();
        base.transcribe(&english.pcm, None, &Cancel::new()).unwrap();
        base_s.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        tiny.transcribe(&english.pcm, None, &Cancel::new()).unwrap();
        tiny_s.push(started.elapsed().as_secs_f64());
        for (compute, into) in [("float32", &mut ct2_f32), ("int8", &mut ct2_int8)] {
            if let Ok(r) = reference(compute, &[&english.wav]) {
                into.push(r[0].3);
            }
        }
    }
    let range = |v: &[f64]| {
        if v.is_empty() {
            return "-".to_string();
        }
        let (lo, hi) = v.iter().fold((f64::MAX, 0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        format!("{lo:.2}–{hi:.2} s ({:.1}–{:.1}× real time)", seconds / hi, seconds / lo)
    };
    println!("\na {seconds:.1} s English clip, 3 rounds alternated, 2 threads (the model loaded beforehand):");
    println!("  reelmatch base:              {}", range(&base_s));
    println!("  reelmatch tiny.en:           {}", range(&tiny_s));
    println!("  faster-whisper base float32: {}", range(&ct2_f32));
    println!("  faster-whisper base int8:    {}", range(&ct2_int8));
}
