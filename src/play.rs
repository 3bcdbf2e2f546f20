//! Watching a result: the configured player (mpv) started at the matched moment. With a display
//! it opens a window; without one (over SSH) it draws in the terminal itself, with the same
//! graphics the inline images use (`--vo=kitty`, `--vo=sixel`, else `--vo=tct`).

use crate::config::Player;
use crate::error::{Error, Result};
use crate::images::Graphics;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A moment of a video to watch.
#[derive(Debug, Clone, PartialEq)]
pub struct Moment {
    pub path: PathBuf,
    /// Where to start, in seconds.
    pub start_s: f64,
    /// What the player's window is called.
    pub title: String,
}

/// Whether a graphical display is there to open a window on.
pub fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
}

/// The terminal video output that matches how inline images are drawn.
pub fn terminal_output(graphics: Graphics) -> &'static str {
    let kitty =
        std::env::var_os("KITTY_WINDOW_ID").is_some() || std::env::var("TERM").is_ok_and(|t| t.contains("kitty"));
    match graphics {
        Graphics::Kitty => "kitty",
        Graphics::Sixel => "sixel",
        Graphics::Auto if kitty => "kitty",
        _ => "tct",
    }
}

/// The player's program, found: a path as given, or a name looked up on `PATH`.
pub fn find_player(player: &Player) -> Result<PathBuf> {
    let program = player.command.trim();
    let missing = || Error::PlayerMissing { player: program.to_string() };
    if program.contains('/') {
        let path = Path::new(program);
        return if path.is_file() { Ok(path.to_path_buf()) } else { Err(missing()) };
    }
    let path = std::env::var_os("PATH").ok_or_else(missing)?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| p.is_file()).ok_or_else(missing)
}

/// The player's command line for `moment`: in a window when `display` (not reading the
/// terminal's keys), else in the terminal.
pub fn command(player: &Player, graphics: Graphics, display: bool, moment: &Moment) -> Result<Command> {
    let mut cmd = Command::new(find_player(player)?);
    cmd.arg(format!("--start={:.2}", moment.start_s.max(0.0)));
    cmd.arg(format!("--title=reelmatch: {}", moment.title));
    if display {
        cmd.arg("--input-terminal=no");
    } else {
        cmd.arg(format!("--vo={}", terminal_output(graphics))).arg("--really-quiet");
    }
    cmd.arg("--").arg(&moment.path);
    Ok(cmd)
}

/// The command line [`play`] runs for `moment`, as a shell would take it (arguments holding
/// spaces or quotes quoted), to show the person.
pub fn command_line(player: &Player, graphics: Graphics, moment: &Moment) -> Result<String> {
    let cmd = command(player, graphics, has_display(), moment)?;
    let quote = |s: std::borrow::Cow<'_, str>| {
        if s.chars().any(|c| c.is_whitespace() || "\"'\\$`".contains(c)) {
            format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace('$', "\\$").replace('`', "\\`"))
        } else {
            s.into_owned()
        }
    };
    let program = Path::new(cmd.get_program()).file_name().unwrap_or(cmd.get_program()).to_string_lossy();
    let words: Vec<String> =
        std::iter::once(quote(program)).chain(cmd.get_args().map(|a| quote(a.to_string_lossy()))).collect();
    Ok(words.join(" "))
}

/// The most of the player's own messages kept for an error.
const KEPT_MESSAGES: usize = 2000;

/// Plays `moment` and waits until the player ends. Without a display the terminal is the
/// player's meanwhile; with one, the player keeps to its window and leaves the terminal alone.
/// Its messages (an audio device it cannot open, say) never spill onto the terminal: they are
/// kept, and said when it fails.
pub fn play(player: &Player, graphics: Graphics, moment: &Moment) -> Result<()> {
    use std::io::Read;
    use std::process::Stdio;
    crate::blocking::off_drawing_thread("wait for the video player");
    let display = has_display();
    let mut cmd = command(player, graphics, display, moment)?;
    if display {
        // In its own window: nothing of it on the terminal, which stays the dashboard's.
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
    }
    cmd.stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| Error::io(&moment.path, e))?;
    let mut stderr = child.stderr.take();
    // Read as it comes (a full pipe would stop the player), keeping the last of it.
    let reader = std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Some(Ok(n @ 1..)) = stderr.as_mut().map(|s| s.read(&mut chunk)) {
            kept.extend_from_slice(&chunk[..n]);
            let extra = kept.len().saturating_sub(KEPT_MESSAGES);
            kept.drain(..extra);
        }
        String::from_utf8_lossy(&kept).trim().to_string()
    });
    let status = child.wait().map_err(|e| Error::io(&moment.path, e))?;
    let said = reader.join().unwrap_or_default();
    if status.success() {
        if !said.is_empty() {
            tracing::info!("the player said: {said}");
        }
        return Ok(());
    }
    let last = said.lines().last().map(|l| format!(": {l}")).unwrap_or_default();
    Err(Error::Invalid(format!(
        "the player `{}` stopped with {status} while playing {}{last}",
        player.command,
        moment.path.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A player's messages stay off the terminal; its last one is in the error when it fails.
    #[test]
    fn the_players_messages_are_kept_and_said_when_it_fails() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("player");
        std::fs::write(
            &script,
            "#!/bin/sh\necho '[ao] could not open the audio device' >&2\necho 'cannot play this file' >&2\nexit 3\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let player = Player { command: script.to_string_lossy().into_owned() };
        let m = Moment { path: "/v/a.mp4".into(), start_s: 1.0, title: "A".into() };
        let e = play(&player, Graphics::Halfblocks, &m).unwrap_err().to_string();
        assert!(e.ends_with(": cannot play this file") && e.contains("exit status: 3"), "{e}");
        std::fs::write(&script, "#!/bin/sh\necho '[ao] could not open the audio device' >&2\n").unwrap();
        assert!(play(&player, Graphics::Halfblocks, &m).is_ok(), "messages alone are no failure");
    }

    #[test]
    fn the_command_line_shown_is_quoted_as_a_shell_takes_it() {
        let player = Player { command: "/bin/true".into() };
        let moment =
            Moment { path: "/m/Blinding Lights.mp4".into(), title: "Blinding Lights @ 0:12.5".into(), start_s: 12.5 };
        let line = command_line(&player, Graphics::Halfblocks, &moment).unwrap();
        assert!(line.starts_with("true --start=12.50 \"--title=reelmatch: Blinding Lights @ 0:12.5\""), "{line}");
        assert!(line.ends_with(" -- \"/m/Blinding Lights.mp4\""), "{line}");
    }

    #[test]
    fn the_command_starts_at_the_moment_and_draws_in_the_terminal_without_a_display() {
        let player = Player { command: "sh".into() };
        let m = Moment { path: "/v/a b.mp4".into(), start_s: 12.345, title: "A".into() };
        let args = |display, g| {
            let cmd = command(&player, g, display, &m).unwrap();
            cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>()
        };
        assert_eq!(
            args(true, Graphics::Sixel),
            ["--start=12.35", "--title=reelmatch: A", "--input-terminal=no", "--", "/v/a b.mp4"]
        );
        assert!(args(false, Graphics::Sixel).contains(&"--vo=sixel".to_string()));
        assert!(args(false, Graphics::Kitty).contains(&"--vo=kitty".to_string()));
        assert!(args(false, Graphics::Halfblocks).contains(&"--vo=tct".to_string()));
        let missing = Player { command: "no-such-player-here".into() };
        let e = command(&missing, Graphics::Auto, true, &m).unwrap_err().to_string();
        assert!(e.contains("no-such-player-here") && e.contains("install"), "{e}");
    }
}
