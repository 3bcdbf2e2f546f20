//! Extracting a video's audio as 16 kHz mono f32 PCM (downmixed), the input Whisper expects.
//! ffmpeg writes the samples to a pipe and reelmatch writes the file, so a write that fails (a
//! full or read-only disk) is the library's problem, reported as such, never the video's.

use super::child::{own_group, Ending, Watch};
use super::input::require_regular_file;
use super::tools::missing;
use crate::error::{Error, Result};
use crate::events::Cancel;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The sample rate of extracted audio.
pub const AUDIO_SAMPLE_RATE: u32 = 16_000;

/// Writes the first audio stream of `path` to `out` as raw little-endian f32 mono samples at
/// [`AUDIO_SAMPLE_RATE`]. The file appears whole or not at all. Stops (killing ffmpeg) when
/// `cancel` is set, and reports the file when ffmpeg stalls or passes `limit`. Returns the
/// number of samples.
pub fn extract_audio(ffmpeg: &str, path: &Path, out: &Path, limit: Duration, cancel: &Cancel) -> Result<u64> {
    let tmp = out.with_extension("f32.partial");
    let io = |e| Error::io(&tmp, e);
    let written = std::fs::File::create(&tmp).map_err(io).and_then(|file| {
        let mut w = std::io::BufWriter::new(file);
        let bytes =
            decode(ffmpeg, path, AUDIO_SAMPLE_RATE, limit, cancel, &mut |block| w.write_all(block).map_err(io))?;
        w.into_inner().map_err(|e| io(e.into_error()))?.sync_all().map_err(io)?;
        Ok(bytes)
    });
    match written {
        Ok(bytes) => {
            std::fs::rename(&tmp, out).map_err(|e| Error::io(out, e))?;
            Ok(bytes / 4)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// The first audio stream of `path` as 16 kHz mono samples, in memory (for a query file, which
/// is not kept).
pub fn decode_audio(ffmpeg: &str, path: &Path, limit: Duration, cancel: &Cancel) -> Result<Vec<f32>> {
    let mut bytes = Vec::new();
    decode(ffmpeg, path, AUDIO_SAMPLE_RATE, limit, cancel, &mut |block| {
        bytes.extend_from_slice(block);
        Ok(())
    })?;
    Ok(samples(&bytes))
}

/// The first audio stream of `path` at `rate` Hz, mono, handed to `sink` in order as ffmpeg
/// decodes it (whole samples), so the work on it overlaps the decoding (a fingerprint of a file
/// alone takes Chromaprint's own 11,025 Hz). Returns the number of samples.
pub fn stream_audio(
    ffmpeg: &str,
    path: &Path,
    rate: u32,
    limit: Duration,
    cancel: &Cancel,
    sink: &mut dyn FnMut(&[f32]) -> Result<()>,
) -> Result<u64> {
    // A block may end inside a sample: its first bytes wait for the next block.
    let mut carry: Vec<u8> = Vec::with_capacity(4);
    let bytes = decode(ffmpeg, path, rate, limit, cancel, &mut |block| {
        let joined;
        let whole = if carry.is_empty() {
            block
        } else {
            joined = [carry.as_slice(), block].concat();
            joined.as_slice()
        };
        let cut = whole.len() / 4 * 4;
        sink(&samples(&whole[..cut]))?;
        carry = whole[cut..].to_vec();
        Ok(())
    })?;
    Ok(bytes / 4)
}

/// Runs ffmpeg over `path`, handing its f32le output to `sink` block by block.
fn decode(
    ffmpeg: &str,
    path: &Path,
    rate: u32,
    limit: Duration,
    cancel: &Cancel,
    sink: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<u64> {
    require_regular_file(path)?;
    let mut cmd = Command::new(ffmpeg);
    cmd.args(["-hide_banner", "-nostdin", "-loglevel", "error", "-i"])
        .arg(path)
        .args(["-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", "1", "-ar"])
        .arg(rate.to_string())
        .args(["-f", "f32le", "-"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = own_group(&mut cmd).spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => missing("ffmpeg", ffmpeg),
        _ => Error::media(path, format!("could not start ffmpeg: {e}")),
    })?;
    let watch = Watch::start(child.id(), limit, Some(cancel));
    let stderr = child.stderr.take().expect("stderr is piped");
    let said = std::thread::spawn(move || {
        BufReader::new(stderr).lines().map_while(|l| l.ok()).filter(|l| !l.trim().is_empty()).last()
    });
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let pumped = pump(&mut stdout, sink, &watch);
    drop(stdout);
    if pumped.is_err() {
        let _ = child.kill();
    }
    let said = said.join().ok().flatten();
    let ending = watch.finish();
    let status = child.wait().map_err(|e| Error::media(path, format!("ffmpeg did not finish: {e}")));
    let bytes = pumped?;
    match ending {
        Ending::Cancelled => return Err(Error::Cancelled),
        Ending::TimedOut => {
            return Err(Error::media(
                path,
                "ffmpeg stopped making progress extracting its audio; the file may be damaged or on a stalled disk. Check it and run again.",
            ))
        }
        Ending::Exited => {}
    }
    if !status?.success() {
        let said = said.unwrap_or_else(|| "no message".into());
        return Err(Error::media(
            path,
            format!("ffmpeg could not extract its audio (ffmpeg: {}); re-encode the file.", said.trim()),
        ));
    }
    Ok(bytes)
}

/// Hands everything read from `from` to `sink`, counting bytes and telling `watch` of progress.
fn pump(from: &mut impl Read, sink: &mut dyn FnMut(&[u8]) -> Result<()>, watch: &Watch) -> Result<u64> {
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        watch.progress();
        sink(&buf[..n])?;
        total += n as u64;
    }
    Ok(total)
}

fn samples(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// Reads a PCM file written by [`extract_audio`].
pub fn read_pcm(path: &Path) -> Result<Vec<f32>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(samples(&bytes))
}
