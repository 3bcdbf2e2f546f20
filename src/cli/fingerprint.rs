//! `reelmatch fingerprint FILE [--against OTHER]`: a media file's audio fingerprint as
//! `fpcalc -raw` prints it, or where two files hold the same recording.

use crate::config::Config;
use crate::events::Cancel;
use crate::media::fingerprint::{self, Fingerprint};
use crate::media::stream_audio;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// The fingerprint of `file`'s first audio stream, decoded straight to Chromaprint's own rate
/// (nothing left to resample; ingest fingerprints the 16 kHz audio it keeps for Whisper) and
/// fingerprinted as ffmpeg decodes it.
fn of_file(config: &Config, file: &Path) -> anyhow::Result<Fingerprint> {
    let mut printer = fingerprint::Printer::new(fingerprint::SAMPLE_RATE)?;
    // Any media file: no duration to size the limit by; a stall (a minute without output)
    // stops a stuck ffmpeg.
    let limit = Duration::from_secs(24 * 3600);
    stream_audio(&config.tools.ffmpeg, file, fingerprint::SAMPLE_RATE, limit, &Cancel::new(), &mut |samples| {
        printer.push(samples);
        Ok(())
    })?;
    if printer.is_empty() {
        anyhow::bail!("{}: no audio to fingerprint", file.display());
    }
    Ok(printer.finish())
}

pub fn run(config: &Config, file: &Path, against: Option<&Path>, json: bool) -> anyhow::Result<ExitCode> {
    let print = of_file(config, file)?;
    let Some(other) = against else {
        let out = match json {
            true => serde_json::to_string_pretty(&serde_json::json!({
                "duration_s": print.duration_s, "hashes": print.hashes
            }))?,
            false => print.raw(),
        };
        super::print_out(format!("{out}\n").as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    };
    let spans = fingerprint::matches(&print, &of_file(config, other)?);
    if json {
        let rows: Vec<_> = spans
            .iter()
            .map(|s| {
                serde_json::json!({"start_s": s.start_a, "other_start_s": s.start_b, "seconds": s.seconds,
                    "offset_s": s.start_b - s.start_a, "differing_bits": s.differing_bits,
                    "informative": s.informative()})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if spans.is_empty() {
        println!("no stretch of the same recording");
    }
    for s in &spans {
        let steady = if s.informative() { "" } else { "; silence or a steady sound, which says nothing" };
        println!(
            "{:.1}–{:.1} s ≈ {:.1}–{:.1} s of the other ({:.1} s; offset {:+.1} s; {:.1} bits of 32 differ per hash{steady})",
            s.start_a,
            s.start_a + s.seconds,
            s.start_b,
            s.start_b + s.seconds,
            s.seconds,
            s.start_b - s.start_a,
            s.differing_bits
        );
    }
    Ok(ExitCode::SUCCESS)
}
