//! Dashboard state: what the panes show, changed only by key actions and job messages. Keys
//! become [`Action`]s; applying one may ask for work as a [`Command`], which the event loop hands
//! to the job runner. Nothing here does I/O beyond completing a typed path.

pub use super::action::{Action, Pane};
use super::errors::{Errors, Origin};
use super::library_state::LibraryState;
pub use super::protocol::{Command, JobKind, Msg};
use super::query::{Focus, QueryState};
use super::training::TrainingState;
use crate::catalog::VideoRow;
use crate::error::Error;
use crate::events::Event;
use crate::pipeline::{expand_home, Inspection, QueryRequest};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_image::picker::Picker;
use ratatui_image::protocol::StatefulProtocol;
use std::collections::VecDeque;

/// What a line of typed text is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    AddFolder,
    Filter,
    Lyrics,
    /// A look described in words (the vision-text space).
    Describe,
    /// The folder results are limited to.
    Scope,
}

/// Text being typed at the bottom of the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub text: String,
}

/// The selected result's query frame beside its matched frame, over the whole screen.
pub struct FullPreview {
    pub caption: String,
    /// The pair as one picture, when images are drawn.
    pub image: Option<StatefulProtocol>,
}

/// The inspector: a video's metadata, transcript and thumbnails.
pub struct Inspector {
    pub info: Inspection,
    pub thumbnails: Vec<StatefulProtocol>,
}

/// Everything the dashboard draws.
pub struct App {
    pub pane: Pane,
    /// The library pane: its videos, the one selected, ingestion and workers.
    pub library: LibraryState,
    /// The long job running, if any.
    pub job: Option<JobKind>,
    pub training: TrainingState,
    pub query: QueryState,
    pub prompt: Option<Prompt>,
    pub inspector: Option<Inspector>,
    /// A full-screen preview is on screen (any key returns).
    pub preview: Option<FullPreview>,
    pub show_help: bool,
    pub confirm_quit: bool,
    pub should_quit: bool,
    pub status: String,
    /// The library path, for the header.
    pub library_path: String,
    /// The device models run on (`cpu`, `cuda:0`), for the status bar; empty shows none.
    pub device: String,
    /// Warnings that stay on screen (e.g. the demo running with a random image model).
    pub banner: Vec<String>,
    /// How inline images are drawn; `None` draws none.
    pub picker: Option<Picker>,
    /// Commands to run, one after another, as each job ends well (the demo's ingest → train → query).
    pub then: VecDeque<Command>,
    /// Where the last frame drew what the mouse can click.
    pub areas: super::mouse::Areas,
    /// Every error of the session, for the errors view (`e`).
    pub errors: Errors,
}

impl App {
    pub fn new(library: String, videos: Vec<VideoRow>) -> Self {
        let mut app = App {
            pane: Pane::Library,
            library: LibraryState::default(),
            job: None,
            training: TrainingState { presets: vec!["default".into(), "paper".into()], ..TrainingState::default() },
            query: QueryState::default(),
            prompt: None,
            inspector: None,
            preview: None,
            show_help: false,
            confirm_quit: false,
            should_quit: false,
            status: "ready".into(),
            library_path: library,
            device: String::new(),
            banner: Vec::new(),
            picker: None,
            then: VecDeque::new(),
            areas: super::mouse::Areas::default(),
            errors: Errors::default(),
        };
        app.set_videos(videos);
        app
    }

    /// Whether a long job is running (quitting then asks first).
    pub fn busy(&self) -> bool {
        self.job.is_some()
    }

    /// Maps a key to an action, given the current state.
    pub fn key_action(&self, key: KeyEvent) -> Option<Action> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if self.confirm_quit {
            return Some(match key.code {
                KeyCode::Char('y') | KeyCode::Char('q') => Action::ConfirmQuit,
                _ => Action::CancelQuit,
            });
        }
        if self.inspector.is_some() || self.preview.is_some() || self.errors.open {
            return Some(Action::CloseOverlay);
        }
        if self.show_help {
            return Some(Action::ToggleHelp);
        }
        if self.prompt.is_some() {
            return Some(match key.code {
                KeyCode::Char('c') if ctrl => Action::CancelInput,
                KeyCode::Char(c) => Action::Input(c),
                KeyCode::Backspace => Action::Backspace,
                KeyCode::Tab => Action::Complete,
                KeyCode::Enter => Action::Submit,
                KeyCode::Esc => Action::CancelInput,
                KeyCode::Up => Action::Up,
                KeyCode::Down => Action::Down,
                _ => return None,
            });
        }
        super::keys::action(self.pane, key)
    }

    /// Applies an action; returns the work it asks for, if any.
    pub fn update(&mut self, action: Action) -> Option<Command> {
        match action {
            Action::Quit if self.busy() => self.confirm_quit = true,
            Action::Quit | Action::ConfirmQuit => self.should_quit = true,
            Action::CancelQuit => self.confirm_quit = false,
            Action::NextPane => self.pane = Pane::ALL[(self.pane.index() + 1) % Pane::ALL.len()],
            Action::PrevPane => self.pane = Pane::ALL[(self.pane.index() + Pane::ALL.len() - 1) % Pane::ALL.len()],
            Action::Show(p) => self.pane = p,
            Action::Up => self.move_selection(-1),
            Action::Down => self.move_selection(1),
            Action::Left => self.query.focus = Focus::Videos,
            Action::Right if self.query.answer.is_some() => self.query.focus = Focus::Results,
            Action::Right => {}
            Action::ToggleHelp => self.show_help = !self.show_help,
            Action::CloseOverlay => {
                self.inspector = None;
                self.preview = None;
                if std::mem::take(&mut self.errors.open) {
                    // Read in full: dismissed from the status bar.
                    self.errors.dismiss();
                }
            }
            Action::ShowErrors => self.errors.open = true,
            Action::Stop if self.busy() => {
                self.status = format!("stopping {} after the current step…", self.job.map_or("", |j| j.name()));
                self.then.clear();
                return Some(Command::Stop);
            }
            Action::Stop => self.status = "nothing is running".into(),
            Action::Select => return self.select(),
            Action::AddFolder => self.prompt = Some(Prompt { kind: PromptKind::AddFolder, text: String::new() }),
            Action::Reingest => {
                let path = self.library.selected_video().map(|v| v.path.clone())?;
                return self.start(JobKind::Ingest, Command::Ingest(vec![path]));
            }
            Action::StartTraining => {
                let preset = self.training.preset_name().to_string();
                let command = if std::mem::take(&mut self.training.confirm_views) {
                    Command::TrainAnyway { preset }
                } else {
                    Command::Train { preset }
                };
                return self.start(JobKind::Train, command);
            }
            Action::NextPreset => {
                self.training.preset = (self.training.preset + 1) % self.training.presets.len().max(1);
            }
            Action::Filter => {
                let text = self.query.filter.clone();
                self.query.focus = Focus::Videos;
                self.prompt = Some(Prompt { kind: PromptKind::Filter, text });
            }
            Action::TypeLyrics => self.prompt = Some(Prompt { kind: PromptKind::Lyrics, text: String::new() }),
            Action::Describe => {
                let text = self.query.description.clone().unwrap_or_default();
                self.prompt = Some(Prompt { kind: PromptKind::Describe, text });
            }
            Action::MoreVisual => self.shift_weight(0.1),
            Action::MoreLyrics => self.shift_weight(-0.1),
            Action::PlayMatch => return self.play(false),
            Action::PlayQuery => return self.play(true),
            Action::SavePlaylist => return self.save_playlist(),
            Action::Scope => {
                let text = self.query.scope.clone();
                self.prompt = Some(Prompt { kind: PromptKind::Scope, text });
            }
            Action::NotDuplicate => return self.not_duplicate(),
            Action::Input(c) => {
                if let Some(p) = &mut self.prompt {
                    p.text.push(c);
                    self.prompt_changed();
                }
            }
            Action::Backspace => {
                if let Some(p) = &mut self.prompt {
                    p.text.pop();
                    self.prompt_changed();
                }
            }
            Action::Complete => match &self.prompt {
                Some(p) if matches!(p.kind, PromptKind::AddFolder | PromptKind::Scope) => {
                    return Some(Command::Complete(p.text.clone()))
                }
                _ => {}
            },
            Action::CancelInput => {
                if let Some(Prompt { kind: PromptKind::Filter, .. }) = self.prompt {
                    self.query.filter.clear();
                }
                self.prompt = None;
            }
            Action::Submit => return self.submit(),
        }
        None
    }

    fn shift_weight(&mut self, delta: f32) {
        self.query.shift_weight(delta);
        self.query.refresh_previews(self.picker.as_ref());
    }

    fn prompt_changed(&mut self) {
        match &self.prompt {
            Some(Prompt { kind: PromptKind::Filter, text }) => {
                self.query.filter = text.clone();
                self.query.selected_video = 0;
            }
            Some(Prompt { kind: PromptKind::Scope, text }) => {
                self.query.scope = text.clone();
                self.query.selected_hit = 0;
                self.query.refresh_previews(self.picker.as_ref());
            }
            _ => {}
        }
    }

    pub(super) fn move_selection(&mut self, by: i64) {
        let step = |i: usize, len: usize| (i as i64 + by).clamp(0, len.saturating_sub(1) as i64) as usize;
        match self.pane {
            Pane::Library => self.library.selected = step(self.library.selected, self.library.videos.len()),
            Pane::Training => self.training.selected_run = step(self.training.selected_run, self.training.runs.len()),
            Pane::Query => match self.query.focus {
                Focus::Videos => {
                    self.query.selected_video = step(self.query.selected_video, self.query.filtered().len())
                }
                Focus::Results => {
                    self.query.selected_hit = step(self.query.selected_hit, self.query.hits().len());
                    self.query.refresh_previews(self.picker.as_ref());
                }
            },
        }
    }

    pub(super) fn select(&mut self) -> Option<Command> {
        match (self.pane, self.query.focus) {
            (Pane::Library, _) => {
                self.again(Origin::Inspect);
                self.library.selected_video().map(|v| Command::Inspect(v.id))
            }
            (Pane::Query, Focus::Videos) => {
                let (id, title) = self.query.chosen_video()?;
                Some(self.ask(QueryRequest::Video(id), title))
            }
            (Pane::Query, Focus::Results) => {
                let pair = self.query.best_pair()?;
                let (qt, mt, sim) = (pair.query_t, pair.match_t, pair.similarity);
                let hit = self.query.selected()?;
                let label = self.query.answer.as_ref().map(|a| a.results.query.clone()).unwrap_or_default();
                let caption = format!(
                    "{label} at {qt:.1}s (left) beside \"{}\" at {mt:.1}s (right), similarity {sim:.2} (a cosine from -1 to 1 after the library's mean frame is taken away: unrelated frames score near 0). Any key returns.",
                    hit.title
                );
                let image = self.picker.as_ref().map(|p| {
                    let pair = crate::images::side_by_side(pair.query, pair.matched);
                    p.new_resize_protocol(image::DynamicImage::ImageRgb8(pair))
                });
                self.preview = Some(FullPreview { caption, image });
                None
            }
            (Pane::Training, _) => None,
        }
    }

    fn ask(&mut self, request: QueryRequest, label: String) -> Command {
        self.again(Origin::Query);
        self.query.pending = Some(label);
        (self.query.asked_video, self.query.description, self.query.lyrics) = match &request {
            QueryRequest::Video(id) => (Some(*id), None, None),
            QueryRequest::Lyrics(words) => (None, None, Some(words.clone())),
            QueryRequest::Describe { text, lyrics } => (None, Some(text.clone()), lyrics.clone()),
        };
        Command::Query(request)
    }

    /// A description query, fused with `lyrics` when there are some.
    fn describe(&mut self, text: String, lyrics: Option<String>) -> Command {
        let label = crate::search::query::description_label(&text, lyrics.as_deref());
        self.ask(QueryRequest::Describe { text, lyrics }, label)
    }

    fn submit(&mut self) -> Option<Command> {
        let prompt = self.prompt.take()?;
        match prompt.kind {
            PromptKind::Filter | PromptKind::Scope => None,
            // Lyrics typed while a description is the query join it (empty ones leave it alone).
            PromptKind::Lyrics if self.query.description.is_some() => {
                let text = self.query.description.clone().unwrap_or_default();
                let lyrics = Some(prompt.text).filter(|l| !l.trim().is_empty());
                Some(self.describe(text, lyrics))
            }
            PromptKind::Lyrics if prompt.text.trim().is_empty() => None,
            PromptKind::Lyrics => {
                let label = format!("lyrics \"{}\"", prompt.text.trim());
                Some(self.ask(QueryRequest::Lyrics(prompt.text), label))
            }
            PromptKind::Describe if prompt.text.trim().is_empty() => None,
            // A description keeps the lyrics typed for the query before it.
            PromptKind::Describe => Some(self.describe(prompt.text, self.query.lyrics.clone())),
            PromptKind::AddFolder => {
                let path = expand_home(prompt.text.trim());
                if path.as_os_str().is_empty() {
                    return None;
                }
                self.start(JobKind::Ingest, Command::Ingest(vec![path]))
            }
        }
    }

    /// Starts a long job unless one is running.
    fn start(&mut self, kind: JobKind, command: Command) -> Option<Command> {
        if let Some(running) = self.job {
            self.status = format!("{} is running; press s to stop it first", running.name());
            return None;
        }
        self.job = Some(kind);
        self.again(kind.origin());
        self.status = format!("{} started", kind.name());
        if kind == JobKind::Train {
            self.pane = Pane::Training;
            self.training.starting();
        }
        Some(command)
    }

    /// Asks for the stored run the training pane should show, once per run.
    pub fn wanted_run(&mut self) -> Option<Command> {
        let id = self.training.wanted()?;
        if self.training.requested == Some(id) {
            return None;
        }
        self.training.requested = Some(id);
        Some(Command::LoadRun(id))
    }

    /// Queues commands to run one after another as jobs end well, and returns the first.
    pub fn chain(&mut self, commands: Vec<Command>) -> Option<Command> {
        self.then = commands.into();
        self.next_in_chain()
    }

    fn next_in_chain(&mut self) -> Option<Command> {
        let command = self.then.pop_front()?;
        match &command {
            Command::Ingest(_) => self.start(JobKind::Ingest, command),
            Command::Train { .. } | Command::TrainAnyway { .. } => self.start(JobKind::Train, command),
            Command::Query(QueryRequest::Video(_)) => {
                // The demo's first query: the first video, once the library has it.
                let (id, title) = self.query.chosen_video()?;
                self.pane = Pane::Query;
                Some(self.ask(QueryRequest::Video(id), title))
            }
            _ => Some(command),
        }
    }

    /// Applies a message from the job runner; returns follow-up work, if any.
    pub fn on_msg(&mut self, msg: Msg) -> Option<Command> {
        match msg {
            Msg::Job(event) => {
                self.on_event(&event);
                None
            }
            Msg::JobDone { kind, result } => {
                if self.job == Some(kind) {
                    self.job = None;
                }
                if kind == JobKind::Train {
                    // Over, however it ended (a run that never started sent no end).
                    self.training.running = false;
                }
                self.library.job_ended();
                match result {
                    Ok(summary) => {
                        self.status = summary;
                        self.next_in_chain()
                    }
                    Err(e) => {
                        self.status = format!("{} failed", kind.name());
                        if matches!(e, Error::NotReady { remedy: crate::error::Remedy::ConfirmViews, .. }) {
                            self.status = "training waits for a yes: t computes the views anyway".into();
                            self.training.confirm_views = true;
                        }
                        self.fail(kind.origin(), super::messages::error_text(&e));
                        self.then.clear();
                        None
                    }
                }
            }
            Msg::Answer(result) => {
                self.query.pending = None;
                match result {
                    Ok(answer) => {
                        if let Some(note) = &answer.note {
                            self.status = format!("note: {note}");
                        }
                        if let Some((videos, frames)) = answer.opened {
                            self.library
                                .log(format!("opened the library for search: {videos} videos, {frames} frames"));
                        }
                        self.query.answer = Some(*answer);
                        self.query.selected_hit = 0;
                        self.query.focus = Focus::Results;
                        self.query.refresh_previews(self.picker.as_ref());
                    }
                    Err(e) => self.fail(Origin::Query, super::messages::error_text(&e)),
                }
                None
            }
            Msg::Inspected(result) => {
                match result {
                    Ok(info) => {
                        let thumbnails = match &self.picker {
                            Some(p) => {
                                info.thumbnails.iter().map(|(_, img)| p.new_resize_protocol(img.clone())).collect()
                            }
                            None => Vec::new(),
                        };
                        self.inspector = Some(Inspector { info: *info, thumbnails });
                    }
                    Err(e) => self.fail(Origin::Inspect, super::messages::error_text(&e)),
                }
                None
            }
            Msg::Overview(Ok(overview)) => {
                self.again(Origin::Lists);
                self.set_videos(overview.videos);
                self.query.decided = overview.not_duplicates;
                self.library.workers = overview.workers;
                if let Some(runs) = overview.runs {
                    self.training.set_runs(runs);
                }
                None
            }
            Msg::Worker(p) => {
                self.library.on_worker(&p);
                None
            }
            Msg::Unfollowed(why) => {
                self.library.log(format!("stopped hearing the workers ({why}); listening again shortly"));
                None
            }
            Msg::Run(Ok(Some(detail))) => {
                self.training.show(detail);
                None
            }
            Msg::Run(Ok(None)) => None,
            Msg::Overview(Err(e)) | Msg::Run(Err(e)) => {
                self.fail(Origin::Lists, super::messages::error_text(&e));
                None
            }
            Msg::Completed { typed, completed } => {
                if let Some(p) = &mut self.prompt {
                    if matches!(p.kind, PromptKind::AddFolder | PromptKind::Scope) && p.text == typed {
                        p.text = completed;
                        self.prompt_changed();
                    }
                }
                None
            }
            Msg::Played(result) => {
                match result {
                    Ok(()) => self.status = "back from the player".into(),
                    Err(e) => {
                        self.status = "nothing was played".into();
                        self.fail(Origin::Play, super::messages::error_text(&e));
                    }
                }
                None
            }
            Msg::Saved(result) => {
                match result {
                    Ok(path) => self.status = format!("playlist saved: {}", path.display()),
                    Err(e) => self.fail(Origin::Playlist, super::messages::error_text(&e)),
                }
                None
            }
            Msg::Decided(result) => {
                match result {
                    Ok((a, b)) => {
                        self.query.decided.insert((a.min(b), a.max(b)));
                        self.status = "marked not a duplicate; `reelmatch dupes` hides the pair from now on".into();
                    }
                    Err(e) => self.fail(Origin::Decision, super::messages::error_text(&e)),
                }
                None
            }
        }
    }

    /// Applies a job event. Returns true when the catalog changed and the lists should be reloaded.
    pub fn on_event(&mut self, event: &Event) -> bool {
        if self.training.on_event(event) {
            return true;
        }
        let changed = self.library.on_event(event);
        match event {
            Event::IngestPlanned { to_process, .. } => self.status = format!("ingesting {to_process} video(s)"),
            Event::VideoFailed { path, reason, .. } => {
                self.fail(Origin::Ingest, format!("{}: {reason}", path.display()))
            }
            Event::Note { message, .. } => self.status = format!("note: {message}"),
            Event::Model { note } => self.status = format!("note: {}", super::messages::model_note(note)),
            Event::IngestFinished { processed, failed, cancelled } => {
                let how = if *cancelled { "stopped" } else { "finished" };
                self.status = format!("ingest {how}: {processed} ingested, {failed} failed");
            }
            _ => {}
        }
        changed
    }

    /// Shows `text` in the status bar until what failed is done again or the errors view is
    /// closed, and keeps it in that view and the log.
    pub(super) fn fail(&mut self, origin: Origin, text: String) {
        self.errors.push(origin, &text);
    }

    /// `origin` is being done again: its error leaves the status bar (the view keeps it).
    pub(super) fn again(&mut self, origin: Origin) {
        self.errors.again(origin);
    }

    /// The error the status bar shows, if any.
    pub fn last_error(&self) -> Option<&str> {
        self.errors.shown()
    }

    /// Replaces the library list (after the catalog changed), keeping the selections in range.
    pub fn set_videos(&mut self, videos: Vec<VideoRow>) {
        self.query.paths = videos.iter().map(|v| (v.id, v.path.clone())).collect();
        self.query.videos = videos.iter().filter(|v| v.frames_embedded > 0).map(|v| (v.id, v.title.clone())).collect();
        self.library.set_videos(videos);
        self.query.selected_video = self.query.selected_video.min(self.query.filtered().len().saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Stage, Status};

    fn press(app: &mut App, code: KeyCode) -> Option<Command> {
        app.key_action(KeyEvent::new(code, KeyModifiers::NONE)).and_then(|a| app.update(a))
    }

    fn video(id: i64, title: &str) -> VideoRow {
        VideoRow {
            id,
            title: title.into(),
            path: format!("/m/{title}.mp4").into(),
            duration_s: Some(10.0),
            sample_fps: Some(2.0),
            frames_train: 18,
            frames_test: 2,
            status: Status::Ready,
            error: None,
            stage: Stage::DONE,
            content_hash: None,
            size_bytes: None,
            fps: None,
            width: None,
            height: None,
            has_audio: Some(true),
            audio_samples: None,
            frames_embedded: 20,
            transcript_language: None,
            transcript_language_probability: None,
            transcript_flag: None,
            lyrics_embedded: false,
            mtime_ns: None,
        }
    }

    fn app() -> App {
        App::new("lib".into(), vec![video(1, "Starboy"), video(2, "Blinding Lights"), video(3, "Save Your Tears")])
    }

    #[test]
    fn tab_numbers_and_backtab_switch_panes() {
        let mut app = app();
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
    fn quitting_asks_first_while_work_runs_and_is_immediate_when_idle() {
        let mut app = app();
        press(&mut app, KeyCode::Char('q'));
        assert!(app.should_quit);
        let mut app = self::app();
        app.pane = Pane::Training;
        assert_eq!(press(&mut app, KeyCode::Char('t')), Some(Command::Train { preset: "default".into() }));
        press(&mut app, KeyCode::Char('q'));
        assert!(app.confirm_quit && !app.should_quit);
        press(&mut app, KeyCode::Char('n'));
        assert!(!app.confirm_quit && !app.should_quit);
        press(&mut app, KeyCode::Char('q'));
        press(&mut app, KeyCode::Char('y'));
        assert!(app.should_quit);
    }

    #[test]
    fn training_keys_start_stop_and_choose_the_preset() {
        let mut app = app();
        app.pane = Pane::Training;
        press(&mut app, KeyCode::Char('p'));
        assert_eq!(press(&mut app, KeyCode::Char('t')), Some(Command::Train { preset: "paper".into() }));
        assert_eq!(press(&mut app, KeyCode::Char('t')), None, "one job at a time");
        assert!(app.status.contains("press s to stop"));
        assert_eq!(press(&mut app, KeyCode::Char('s')), Some(Command::Stop));
        app.on_msg(Msg::JobDone { kind: JobKind::Train, result: Ok("run 1 stopped".into()) });
        assert!(!app.busy());
    }

    #[test]
    fn a_new_run_clears_the_last_runs_figures_at_once() {
        let mut app = app();
        app.pane = Pane::Training;
        app.training.run = Some(3);
        app.training.epoch = 20;
        app.training.losses = vec![(1.0, 2.0)];
        press(&mut app, KeyCode::Char('t'));
        assert_eq!((app.training.run, app.training.epoch, app.training.losses.len()), (None, 0, 0));
        assert!(app.training.running, "shown as starting");
        app.on_msg(Msg::JobDone { kind: JobKind::Train, result: Err(Error::Invalid("no frames".into())) });
        assert!(!app.training.running, "a run that never started is over");
        assert_eq!(app.errors.all.len(), 1, "kept for the errors view");
    }

    #[test]
    fn the_add_folder_prompt_takes_text_and_starts_an_ingest() {
        let mut app = app();
        press(&mut app, KeyCode::Char('a'));
        for c in "/music/new".chars() {
            press(&mut app, KeyCode::Char(c));
        }
        assert_eq!(app.prompt.as_ref().unwrap().text, "/music/new", "q and other keys are text here");
        press(&mut app, KeyCode::Backspace);
        assert_eq!(press(&mut app, KeyCode::Enter), Some(Command::Ingest(vec!["/music/ne".into()])));
        assert_eq!(app.job, Some(JobKind::Ingest));
        assert!(app.prompt.is_none());
    }

    #[test]
    fn library_enter_inspects_and_r_reingests_the_selected_video() {
        let mut app = app();
        press(&mut app, KeyCode::Down);
        assert_eq!(press(&mut app, KeyCode::Enter), Some(Command::Inspect(2)));
        assert_eq!(press(&mut app, KeyCode::Char('r')), Some(Command::Ingest(vec!["/m/Blinding Lights.mp4".into()])));
    }

    #[test]
    fn query_filter_selects_and_runs_a_query() {
        let mut app = app();
        app.pane = Pane::Query;
        press(&mut app, KeyCode::Char('/'));
        for c in "tears".chars() {
            press(&mut app, KeyCode::Char(c));
        }
        assert_eq!(app.query.filtered().len(), 1);
        press(&mut app, KeyCode::Enter);
        assert!(app.prompt.is_none());
        assert_eq!(press(&mut app, KeyCode::Enter), Some(Command::Query(QueryRequest::Video(3))));
        assert_eq!(app.query.pending.as_deref(), Some("Save Your Tears"));
        press(&mut app, KeyCode::Char('l'));
        for c in "city lights".chars() {
            press(&mut app, KeyCode::Char(c));
        }
        assert_eq!(press(&mut app, KeyCode::Enter), Some(Command::Query(QueryRequest::Lyrics("city lights".into()))));
        // d describes a look and keeps the lyrics typed before; lyrics typed next join it.
        press(&mut app, KeyCode::Char('d'));
        for c in "neon".chars() {
            press(&mut app, KeyCode::Char(c));
        }
        let fused = QueryRequest::Describe { text: "neon".into(), lyrics: Some("city lights".into()) };
        assert_eq!(press(&mut app, KeyCode::Enter), Some(Command::Query(fused)));
        assert_eq!(app.query.pending.as_deref(), Some("described as \"neon\" with lyrics \"city lights\""));
        press(&mut app, KeyCode::Char('l'));
        press(&mut app, KeyCode::Char('x'));
        let fused = QueryRequest::Describe { text: "neon".into(), lyrics: Some("x".into()) };
        assert_eq!(press(&mut app, KeyCode::Enter), Some(Command::Query(fused)));
        // d opens on the description asked, to edit it; a library video starts afresh.
        press(&mut app, KeyCode::Char('d'));
        assert_eq!(app.prompt.as_ref().map(|p| p.text.as_str()), Some("neon"));
        press(&mut app, KeyCode::Esc);
        app.query.focus = Focus::Videos;
        assert_eq!(press(&mut app, KeyCode::Enter), Some(Command::Query(QueryRequest::Video(3))));
        assert_eq!((app.query.description.clone(), app.query.lyrics.clone()), (None, None));
    }

    #[test]
    fn a_failed_job_breaks_the_chain_and_shows_the_error() {
        let mut app = app();
        let first = app.chain(vec![Command::Ingest(vec!["/m".into()]), Command::Train { preset: "default".into() }]);
        assert_eq!(first, Some(Command::Ingest(vec!["/m".into()])));
        let next =
            app.on_msg(Msg::JobDone { kind: JobKind::Ingest, result: Err(Error::Invalid("ffmpeg missing".into())) });
        assert_eq!(next, None);
        assert_eq!(app.last_error(), Some("ffmpeg missing"));
        let mut app = self::app();
        app.chain(vec![Command::Ingest(vec!["/m".into()]), Command::Train { preset: "default".into() }]);
        let next = app.on_msg(Msg::JobDone { kind: JobKind::Ingest, result: Ok("ingest finished".into()) });
        assert_eq!(next, Some(Command::Train { preset: "default".into() }), "the demo goes on to training");
    }

    #[test]
    fn a_long_view_computation_is_confirmed_with_t() {
        let mut app = app();
        app.pane = Pane::Training;
        assert_eq!(press(&mut app, KeyCode::Char('t')), Some(Command::Train { preset: "default".into() }));
        let asked = Error::not_ready("the views would take about 2h", crate::error::Remedy::ConfirmViews);
        app.on_msg(Msg::JobDone { kind: JobKind::Train, result: Err(asked) });
        assert!(app.training.confirm_views && app.status.contains("t computes the views anyway"), "{}", app.status);
        assert!(app.last_error().unwrap_or_default().contains("press t again"));
        assert_eq!(press(&mut app, KeyCode::Char('t')), Some(Command::TrainAnyway { preset: "default".into() }));
        assert!(!app.training.confirm_views, "asked once");
    }

    #[test]
    fn events_track_progress_and_failures() {
        let mut app = app();
        app.on_event(&Event::IngestPlanned { files: 2, to_process: 2, up_to_date: 0 });
        app.on_event(&Event::VideoStarted { id: 1, title: "a".into() });
        app.on_event(&Event::VideoFrames { id: 1, done: 3, expected: 10 });
        let rate = crate::types::StageRate { stage: crate::types::Step::Embed, amount: 30.0, seconds: 2.0 };
        app.on_event(&Event::StageRate { id: 1, rate });
        assert_eq!(app.library.ingest.as_ref().unwrap().rates.summary(), "embed 15.0 frames/s");
        assert_eq!(app.library.live[&1], crate::tui::library_state::Live { stage: "start", done: 3, expected: 10 });
        app.on_event(&Event::VideoFailed { id: Some(2), path: "b.mp4".into(), reason: "broken".into() });
        assert_eq!(app.library.ingest.as_ref().map(|p| (p.total, p.done)), Some((2, 1)));
        assert_eq!(app.last_error(), Some("b.mp4: broken"));
        app.on_event(&Event::IngestFinished { processed: 1, failed: 1, cancelled: false });
        assert!(app.library.ingest.is_none() && app.library.live.is_empty());
    }
}
