//! Errors as the dashboard keeps them: the newest in the status bar (cut at a word, never
//! mid-word, with `e` for the whole text), every one in the errors view (`e`) and the log, and
//! each cleared when what failed is done again or the view is closed.

use ratatui::layout::Rect;
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;
use std::collections::VecDeque;

/// The most errors the view keeps.
const KEPT: usize = 100;

/// What failed: its error clears when the same thing is done again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Ingest,
    Train,
    Query,
    Inspect,
    /// Reading the lists (videos, runs).
    Lists,
    Play,
    Playlist,
    Decision,
}

/// One error, as the view lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub origin: Origin,
    pub text: String,
    /// When, as `HH:MM:SS` UTC.
    pub at: String,
}

/// The errors of this session.
#[derive(Debug, Default)]
pub struct Errors {
    /// Newest first.
    pub all: VecDeque<Failure>,
    /// The newest is on show in the status bar.
    on_show: bool,
    /// The errors view is open.
    pub open: bool,
}

impl Errors {
    /// Keeps `text` (also written to the log) and shows it in the status bar.
    pub fn push(&mut self, origin: Origin, text: &str) {
        tracing::warn!("{text}");
        self.all.push_front(Failure { origin, text: text.to_string(), at: utc_clock() });
        self.all.truncate(KEPT);
        self.on_show = true;
    }

    /// The error the status bar shows, if any.
    pub fn shown(&self) -> Option<&str> {
        self.all.front().filter(|_| self.on_show).map(|f| f.text.as_str())
    }

    /// `origin` is being done again: its error leaves the status bar (the view keeps it).
    pub fn again(&mut self, origin: Origin) {
        self.on_show &= self.all.front().is_some_and(|f| f.origin != origin);
    }

    /// Read in full or dismissed: the status bar shows none.
    pub fn dismiss(&mut self) {
        self.on_show = false;
    }
}

/// The time of day, `HH:MM:SS` UTC.
fn utc_clock() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) % 86_400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// `text` in at most `width` characters: whole when it fits, else cut after a word and ended
/// with `…` (a word longer than the room is cut where the room ends).
pub fn cut_at_word(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let room = width.saturating_sub(1);
    let head: String = text.chars().take(room).collect();
    let kept = match head.rfind(' ') {
        Some(i) if i > 0 => head[..i].trim_end(),
        _ => head.as_str(),
    };
    format!("{kept}…")
}

/// How many rows `lines` take wrapped at `width` (at least one each).
pub fn wrapped_height(lines: &[String], width: u16) -> u16 {
    let width = usize::from(width.max(1));
    lines.iter().map(|l| l.chars().count().div_ceil(width).max(1)).sum::<usize>().min(u16::MAX as usize) as u16
}

/// Draws the errors view over `area`: every error, newest first, wrapped.
pub fn draw(frame: &mut Frame, area: Rect, errors: &Errors) {
    frame.render_widget(Clear, area);
    let block =
        Block::new().borders(Borders::ALL).title(" Errors, newest first · any key closes (and clears the status bar) ");
    let lines: Vec<Line> = match errors.all.is_empty() {
        true => vec![Line::from("No errors this session.").dim()],
        false => errors
            .all
            .iter()
            .map(|f| {
                Line::from(vec![
                    Span::raw(format!("{} ", f.at)).dim(),
                    Span::styled(f.text.clone(), Style::new().fg(Color::Red)),
                ])
            })
            .collect(),
    };
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_cut_after_a_word_never_inside_one() {
        let text = "the text model is not available: the text model (google-bert/bert-base-uncased) has no files";
        assert_eq!(cut_at_word(text, 200), text);
        assert_eq!(cut_at_word(text, 40), "the text model is not available: the…");
        assert_eq!(cut_at_word("unbreakable-long-word", 10), "unbreakab…");
        assert_eq!(wrapped_height(&["a".repeat(25), String::new()], 10), 4);
    }
}
