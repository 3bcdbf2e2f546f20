//! Finding ffmpeg and ffprobe, with an install hint when they are missing.

use crate::config::Tools;
use crate::error::{Error, Result};
use std::process::{Command, Stdio};

/// Checks that both programs run; the error says how to install them.
pub fn check_tools(tools: &Tools) -> Result<()> {
    for (name, program) in [("ffprobe", &tools.ffprobe), ("ffmpeg", &tools.ffmpeg)] {
        let mut cmd = Command::new(program);
        // In a group of its own, so a Ctrl-C meant for reelmatch does not make it look missing.
        let ok = super::child::own_group(&mut cmd)
            .arg("-version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            return Err(missing(name, program));
        }
    }
    Ok(())
}

/// The error for a program that could not be started.
pub(crate) fn missing(tool: &'static str, program: &str) -> Error {
    Error::ToolMissing { tool, program: program.to_string() }
}
