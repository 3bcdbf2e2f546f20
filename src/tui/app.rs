//! Dashboard state: what the panes show, changed only by key actions and job events.

use crate::catalog::VideoRow;
use crate::events::Event;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::HashMap;

/// The dashboard's panes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Library,
    Training,
    Query,
}

impl Pane {
    pub const ALL: [Pane; 3] = [Pane::Library, Pane::Training, Pane::Query];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Library => "1 Library",
            Pane::Training => "2 Training",
            Pane::Query => "3 Query",
        }
    }

    fn index(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).expect("every pane is in ALL")
    }
}

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    ConfirmQuit,
    CancelQuit,
    NextPane,
    PrevPane,
    Show(Pane),
    Up,
    Down,
    ToggleHelp,
}

/// Live progress of one video being ingested.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub stage: &'static str,
    pub done: u32,
    pub expected: u32,
}

/// Everything the dashboard draws.
#[derive(Debug, Clone)]
pub struct App {
    pub pane: Pane,
    pub videos: Vec<VideoRow>,
    pub selected: usize,
    pub live: HashMap<i64, Live>,
    /// Videos to ingest in the running job, and how many have finished.
    pub job: Option<(usize, usize)>,
    pub show_help: bool,
    pub confirm_quit: bool,
    pub should_quit: bool,
    pub last_error: Option<String>,
    pub status: String,
    /// The library path, for the header.
    pub library: String,
    /// Warnings that stay on screen (e.g. the demo running with a random image model).
    pub banner: Vec<String>,
}

impl App {
    pub fn new(library: String, videos: Vec<VideoRow>) -> Self {
        App {
            pane: Pane::Library,
            videos,
            selected: 0,
            live: HashMap::new(),
            job: None,
            show_help: false,
            confirm_quit: false,
            should_quit: false,
            last_error: None,
            status: "ready".into(),
            library,
            banner: Vec::new(),
        }
    }

    /// Whether a job is running (quitting then asks first).
    pub fn busy(&self) -> bool {
        self.job.is_some()
    }

    /// Maps a key to an action, given the current state.
    pub fn key_action(&self, key: KeyEvent) -> Option<Action> {
        if self.confirm_quit {
            return Some(match key.code {
                KeyCode::Char('y') | KeyCode::Char('q') => Action::ConfirmQuit,
                _ => Action::CancelQuit,
            });
        }
        if self.show_help {
            return Some(Action::ToggleHelp);
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        Some(match key.code {
            KeyCode::Char('c') if ctrl => Action::Quit,
            KeyCode::Char('q') | KeyCode::Esc => Action::Quit,
            KeyCode::Tab => Action::NextPane,
            KeyCode::BackTab => Action::PrevPane,
            KeyCode::Char('1') => Action::Show(Pane::Library),
            KeyCode::Char('2') => Action::Show(Pane::Training),
            KeyCode::Char('3') => Action::Show(Pane::Query),
            KeyCode::Up | KeyCode::Char('k') => Action::Up,
            KeyCode::Down | KeyCode::Char('j') => Action::Down,
            KeyCode::Char('?') => Action::ToggleHelp,
            _ => return None,
        })
    }

    /// Applies an action.
    pub fn update(&mut self, action: Action) {
        match action {
            Action::Quit if self.busy() => self.confirm_quit = true,
            Action::Quit | Action::ConfirmQuit => self.should_quit = true,
            Action::CancelQuit => self.confirm_quit = false,
            Action::NextPane => self.pane = Pane::ALL[(self.pane.index() + 1) % Pane::ALL.len()],
            Action::PrevPane => self.pane = Pane::ALL[(self.pane.index() + Pane::ALL.len() - 1) % Pane::ALL.len()],
            Action::Show(p) => self.pane = p,
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(self.videos.len().saturating_sub(1)),
            Action::ToggleHelp => self.show_help = !self.show_help,
        }
    }

    /// Applies a job event. Returns true when the catalog changed and the list should be reloaded.
    pub fn on_event(&mut self, event: &Event) -> bool {
        match event {
            Event::IngestPlanned { to_process, .. } => {
                self.job = Some((*to_process, 0));
                self.status = format!("ingesting {to_process} video(s)");
                true
            }
            Event::VideoStarted { id, .. } => {
                self.live.insert(*id, Live { stage: "start", done: 0, expected: 0 });
                false
            }
            Event::VideoStage { id, stage } => {
                self.live.entry(*id).or_insert(Live { stage, done: 0, expected: 0 }).stage = stage;
                true
            }
            Event::VideoFrames { id, done, expected } => {
                let live = self.live.entry(*id).or_insert(Live { stage: "frames", done: 0, expected: 0 });
                live.done = *done;
                live.expected = *expected;
                false
            }
            Event::VideoDone { id, .. } => {
                self.live.remove(id);
                self.bump_job();
                true
            }
            Event::VideoFailed { id, path, reason } => {
                if let Some(id) = id {
                    self.live.remove(id);
                }
                self.bump_job();
                self.last_error = Some(format!("{}: {reason}", path.display()));
                true
            }
            Event::Note { .. } => false,
            Event::IngestFinished { processed, failed, cancelled } => {
                self.job = None;
                self.live.clear();
                let how = if *cancelled { "stopped" } else { "finished" };
                self.status = format!("ingest {how}: {processed} ingested, {failed} failed");
                true
            }
            _ => false,
        }
    }

    fn bump_job(&mut self) {
        if let Some((_, done)) = &mut self.job {
            *done += 1;
        }
    }

    /// Replaces the library list (after the catalog changed), keeping the selection in range.
    pub fn set_videos(&mut self, videos: Vec<VideoRow>) {
        self.videos = videos;
        self.selected = self.selected.min(self.videos.len().saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEvent;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn press(app: &mut App, code: KeyCode) {
        if let Some(a) = app.key_action(key(code)) {
            app.update(a);
        }
    }

    #[test]
    fn tab_numbers_and_backtab_switch_panes() {
        let mut app = App::new("lib".into(), vec![]);
        press(&mut app, KeyCode::Tab);
        assert_eq!(app.pane, Pane::Training);
        press(&mut app, KeyCode::Tab);
        press(&mut app, KeyCode::Tab);
        assert_eq!(app.pane, Pane::Library, "wraps around");
        press(&mut app, KeyCode::BackTab);
        assert_eq!(app.pane, Pane::Query);
        press(&mut app, KeyCode::Char('2'));
        assert_eq!(app.pane, Pane::Training);
    }

    #[test]
    fn quitting_asks_first_while_work_runs() {
        let mut app = App::new("lib".into(), vec![]);
        app.on_event(&Event::IngestPlanned { files: 2, to_process: 2, up_to_date: 0 });
        press(&mut app, KeyCode::Char('q'));
        assert!(app.confirm_quit && !app.should_quit);
        press(&mut app, KeyCode::Char('n'));
        assert!(!app.confirm_quit && !app.should_quit);
        press(&mut app, KeyCode::Char('q'));
        press(&mut app, KeyCode::Char('y'));
        assert!(app.should_quit);
    }

    #[test]
    fn quitting_when_idle_is_immediate_and_help_swallows_one_key() {
        let mut app = App::new("lib".into(), vec![]);
        press(&mut app, KeyCode::Char('?'));
        assert!(app.show_help);
        press(&mut app, KeyCode::Char('q'));
        assert!(!app.show_help && !app.should_quit, "the first key closes help");
        press(&mut app, KeyCode::Char('q'));
        assert!(app.should_quit);
    }

    #[test]
    fn events_track_progress_and_failures() {
        let mut app = App::new("lib".into(), vec![]);
        app.on_event(&Event::IngestPlanned { files: 2, to_process: 2, up_to_date: 0 });
        app.on_event(&Event::VideoStarted { id: 1, title: "a".into() });
        app.on_event(&Event::VideoFrames { id: 1, done: 3, expected: 10 });
        assert_eq!(app.live[&1], Live { stage: "start", done: 3, expected: 10 });
        app.on_event(&Event::VideoFailed { id: Some(2), path: "b.mp4".into(), reason: "broken".into() });
        assert_eq!(app.job, Some((2, 1)));
        assert_eq!(app.last_error.as_deref(), Some("b.mp4: broken"));
        app.on_event(&Event::IngestFinished { processed: 1, failed: 1, cancelled: false });
        assert!(app.job.is_none() && app.live.is_empty());
    }
}
