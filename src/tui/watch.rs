//! The dashboard on a shared catalog (PostgreSQL): every video with its place in the queue, kept
//! live from the workers' announcements (LISTEN) and a re-read every few seconds, a log of what
//! every worker did, and the selected video's most similar ones, searched in SQL. Each read runs
//! on a blocking thread; the loop only takes keys and messages and draws.

use crate::catalog::Status;
use crate::config::Config;
use crate::images::Graphics;
use crate::library::Library;
use crate::search::Results;
use crate::shared::listing::QueueRow;
use crate::shared::progress::Progress;
use crate::shared::runs::LatestRun;
use crate::types::pct;
use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use futures::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, TableState, Wrap};
use ratatui::{Frame, Terminal};
use ratatui_image::picker::Picker;
use ratatui_image::protocol::StatefulProtocol;
use ratatui_image::{Resize, StatefulImage};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// How often the queue is read again (leases run out and videos are registered without an
/// announcement).
const REREAD: Duration = Duration::from_secs(2);

/// The most log lines kept.
const LOG_LINES: usize = 200;

/// What the reading threads hand the loop.
#[derive(Debug)]
pub enum Msg {
    /// The whole queue, read again.
    Rows(Result<Vec<QueueRow>, String>),
    /// One worker's announcement.
    Progress(Progress),
    /// Listening stopped (the server went away), with why.
    Unfollowed(String),
    /// The answer to a query on a video, with the top hit's best pair of frames (query, match).
    Answer { title: String, answer: Result<Answer, String> },
    /// The newest training run, read again (from whichever machine trains it).
    Training(Option<LatestRun>),
}

/// A query's answer as the view shows it: the results, the top hit's best-matching pair of
/// frames (the query's, the matched one), and, when this query had to open the library, how
/// many videos and frames it holds.
#[derive(Debug, Clone)]
pub struct Answer {
    pub results: Results,
    pub pair: [Option<image::DynamicImage>; 2],
    pub opened: Option<(usize, usize)>,
}

impl Answer {
    /// The view's answer from the query cache's, the results cut to `top`.
    fn of(mut answer: crate::pipeline::QueryAnswer, top: usize) -> Answer {
        let best = answer.results.results.first().and_then(|h| h.best_frame());
        let pair = match best {
            Some(best) => [
                answer.query_frames.iter().find(|(t, _)| *t == best.query_t).and_then(|(_, i)| i.clone()),
                answer.matches.remove(&best.match_file),
            ],
            None => [None, None],
        };
        answer.results.results.truncate(top);
        Answer { results: answer.results, pair, opened: answer.opened }
    }
}

/// What the view shows.
#[derive(Default)]
pub struct Watch {
    /// The catalog, as shown (no password).
    pub catalog: String,
    pub rows: Vec<QueueRow>,
    pub selected: usize,
    /// Newest first.
    pub log: VecDeque<String>,
    /// The last answer: the query video's title and the results or why there are none.
    pub answer: Option<(String, Result<Results, String>)>,
    /// The video being searched for, while a query runs.
    pub asking: Option<String>,
    /// A query asked while another ran: it runs next (the newest one wins).
    pub wanted: Option<i64>,
    /// Why the queue could not be read, while it cannot.
    pub error: Option<String>,
    /// The newest training run.
    pub training: Option<LatestRun>,
    /// The last answer's frame pair, ready to draw (with a picker for the terminal's graphics).
    pub previews: [Option<StatefulProtocol>; 2],
    pub picker: Option<Picker>,
    pub quit: bool,
}

impl Watch {
    pub fn new(catalog: String) -> Self {
        Watch { catalog, ..Default::default() }
    }

    /// Takes a message in; returns a video to search for when one waits for its turn.
    pub fn on_msg(&mut self, msg: Msg) -> Option<i64> {
        match msg {
            Msg::Rows(Ok(rows)) => {
                let keep = self.rows.get(self.selected).map(|r| r.video.id);
                self.rows = rows;
                self.selected = keep.and_then(|id| self.rows.iter().position(|r| r.video.id == id)).unwrap_or(0);
                self.error = None;
            }
            Msg::Rows(Err(e)) => self.error = Some(e),
            Msg::Progress(p) => {
                if let Some(row) = self.rows.iter_mut().find(|r| r.video.id == p.video) {
                    row.video.status = Status::parse(&p.status);
                    row.frames = p.frames.max(row.frames);
                    row.claimed_by = (row.video.status == Status::Working).then(|| p.worker.clone()).flatten();
                    row.video.error = p.error.clone();
                }
                self.push_log(p.to_string());
            }
            Msg::Unfollowed(e) => self.push_log(format!("stopped listening: {e}")),
            Msg::Training(run) => self.training = run,
            Msg::Answer { title, answer } => {
                self.asking = None;
                let (answer, pair) = match answer {
                    Ok(Answer { results, pair, opened }) => {
                        if let Some((videos, frames)) = opened {
                            self.push_log(format!("opened the library for search: {videos} videos, {frames} frames"));
                        }
                        (Ok(results), pair)
                    }
                    Err(e) => (Err(e), [None, None]),
                };
                self.previews = match &self.picker {
                    Some(picker) => pair.map(|image| image.map(|i| picker.new_resize_protocol(i))),
                    None => [None, None],
                };
                self.answer = Some((title, answer));
                let next = self.wanted.take()?;
                self.asking = self.rows.iter().find(|r| r.video.id == next).map(|r| r.video.title.clone());
                return Some(next);
            }
        }
        None
    }

    fn push_log(&mut self, line: String) {
        self.log.push_front(line);
        self.log.truncate(LOG_LINES);
    }

    /// Takes a key; returns a video to search for now.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<i64> {
        let last = self.rows.len().saturating_sub(1);
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => self.quit = true,
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => self.quit = true,
            KeyCode::Down | KeyCode::Char('j') => self.selected = (self.selected + 1).min(last),
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::PageDown => self.selected = (self.selected + 10).min(last),
            KeyCode::PageUp => self.selected = self.selected.saturating_sub(10),
            KeyCode::Home | KeyCode::Char('g') => self.selected = 0,
            KeyCode::End | KeyCode::Char('G') => self.selected = last,
            KeyCode::Enter => {
                let row = &self.rows.get(self.selected)?.video;
                if row.status != Status::Ready {
                    let why = format!("it is {}: only ready videos are searched", row.status.as_str());
                    self.answer = Some((row.title.clone(), Err(why)));
                    return None;
                }
                if self.asking.is_some() {
                    self.wanted = Some(row.id);
                    return None;
                }
                self.asking = Some(row.title.clone());
                return Some(row.id);
            }
            _ => {}
        }
        None
    }

    /// "12 videos, 240 frames: 8 ready · 2 working · 1 pending · 1 failed".
    pub fn counts(&self) -> String {
        let n = |s: Status| self.rows.iter().filter(|r| r.video.status == s).count();
        let parts: Vec<String> = [Status::Ready, Status::Working, Status::Pending, Status::Failed]
            .into_iter()
            .filter(|&s| n(s) > 0)
            .map(|s| format!("{} {}", n(s), s.as_str()))
            .collect();
        let frames: i64 = self.rows.iter().map(|r| r.frames).sum();
        format!(
            "{} videos, {frames} frames: {}",
            self.rows.len(),
            if parts.is_empty() { "none yet".into() } else { parts.join(" · ") }
        )
    }
}

/// Draws the whole screen.
pub fn draw(f: &mut Frame, w: &mut Watch) {
    let [top, middle, training, log, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(6),
        Constraint::Length(5),
        Constraint::Length(8),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let title = format!("reelmatch · shared catalog {} · {}", w.catalog, w.counts());
    f.render_widget(Paragraph::new(title).style(Style::new().add_modifier(Modifier::BOLD)), top);

    let [videos, answer] = Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(middle);
    let rows = w.rows.iter().map(|r| {
        let note = r.claimed_by.clone().or_else(|| r.video.error.clone()).unwrap_or_default();
        Row::new(vec![r.video.title.clone(), r.video.status.as_str().into(), r.frames.to_string(), note])
    });
    let table =
        Table::new(rows, [Constraint::Fill(3), Constraint::Length(8), Constraint::Length(7), Constraint::Fill(2)])
            .header(
                Row::new(["TITLE", "STATUS", "FRAMES", "WORKER / NOTE"])
                    .style(Style::new().add_modifier(Modifier::DIM)),
            )
            .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
            .highlight_symbol("› ")
            .block(Block::default().borders(Borders::ALL).title(" Library (live) "));
    let mut state = TableState::default().with_selected((!w.rows.is_empty()).then_some(w.selected));
    if w.rows.is_empty() {
        let empty = match &w.error {
            Some(e) => format!("cannot read the catalog: {e}"),
            None => "no videos yet: add them with `reelmatch --catalog URL ingest --worker DIR` on any machine".into(),
        };
        f.render_widget(
            Paragraph::new(empty)
                .wrap(Wrap { trim: true })
                .block(Block::default().borders(Borders::ALL).title(" Library (live) ")),
            videos,
        );
    } else {
        f.render_stateful_widget(table, videos, &mut state);
    }
    let with_frames = w.previews.iter().any(Option::is_some);
    let frames_height = if with_frames { (answer.height / 2).max(6) } else { 0 };
    let [hits, frames] = Layout::vertical([Constraint::Min(3), Constraint::Length(frames_height)]).areas(answer);
    f.render_widget(answer_view(w), hits);
    if with_frames {
        draw_pair(f, frames, w);
    }

    let block = Block::default().borders(Borders::ALL).title(" Training (live) ");
    let width = block.inner(training).width as usize;
    f.render_widget(Paragraph::new(training_lines(w.training.as_ref(), width)).block(block), training);

    let lines: Vec<Line> = w.log.iter().map(|l| Line::from(l.as_str())).collect();
    let log_title = match &w.error {
        Some(e) if !w.rows.is_empty() => format!(" Workers · the catalog did not answer: {e} "),
        _ => " Workers ".into(),
    };
    f.render_widget(Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(log_title)), log);
    f.render_widget(
        Paragraph::new("↑↓ select · Enter similar videos · q quit").style(Style::new().add_modifier(Modifier::DIM)),
        keys,
    );
}

/// The top hit's best pair of frames side by side, as the terminal can show images.
fn draw_pair(f: &mut Frame, area: ratatui::layout::Rect, w: &mut Watch) {
    let best = w.answer.as_ref().and_then(|(_, a)| a.as_ref().ok()).and_then(|r| r.results.first());
    let (query_t, title, match_t) = match best.and_then(|h| h.best_frame().map(|b| (h, b))) {
        Some((hit, b)) => (b.query_t, hit.title.clone(), b.match_t),
        None => return,
    };
    let [q, m] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let blocks = [
        (Block::default().borders(Borders::ALL).title(format!(" query @ {query_t:.1}s ")), q),
        (Block::default().borders(Borders::ALL).title(format!(" {title} @ {match_t:.1}s ")), m),
    ];
    for ((block, rect), proto) in blocks.into_iter().zip(w.previews.iter_mut()) {
        let inner = block.inner(rect);
        f.render_widget(block, rect);
        match proto {
            Some(p) => f.render_stateful_widget(
                StatefulImage::default().resize(Resize::Scale(Some(image::imageops::FilterType::Triangle))),
                inner,
                p,
            ),
            None => f.render_widget(Paragraph::new("(no image)"), inner),
        }
    }
}

/// The newest run in three lines: what it is, its last epoch, and its loss curve.
fn training_lines(latest: Option<&LatestRun>, width: usize) -> Vec<Line<'static>> {
    let Some(LatestRun { run, epochs, curve, steps, last_loss }) = latest else {
        return vec![Line::from("no training runs yet: `reelmatch --catalog URL train` on any machine starts one")];
    };
    let mut head = format!(
        "run {} · {} · epoch {} of {} · {} classes · {}",
        run.id,
        run.status.as_str(),
        run.epochs_done,
        run.settings.epochs,
        run.classes.len(),
        run.image_model
    );
    if let Some(e) = &run.error {
        head.push_str(&format!(" · {e}"));
    }
    let last = match epochs.last() {
        Some(m) => format!(
            "epoch {}: train loss {:.4} · test accuracy {} · top-10 class accuracy {} · macro {}",
            m.epoch,
            m.train_loss,
            pct(m.test_accuracy),
            pct(m.top10_class_accuracy),
            pct(m.macro_accuracy)
        ),
        None => "no epoch finished yet".into(),
    };
    let curve = match (curve.as_slice(), last_loss) {
        ([], _) | (_, None) => String::new(),
        (c, Some(last)) => {
            format!("loss {} ({steps} steps, last {last:.4})", sparkline(c, width.saturating_sub(30).max(8)))
        }
    };
    vec![Line::from(head), Line::from(last), Line::from(curve)]
}

/// `values` as at most `width` block characters, each the mean of its share of the values, the
/// lowest mean ▁ and the highest █.
fn sparkline(values: &[f32], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let n = values.len().min(width).max(1);
    let means: Vec<f32> = (0..n)
        .map(|i| {
            let part = &values[i * values.len() / n..((i + 1) * values.len() / n).max(i * values.len() / n + 1)];
            part.iter().sum::<f32>() / part.len() as f32
        })
        .collect();
    let (lo, hi) = means.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &m| (lo.min(m), hi.max(m)));
    let span = (hi - lo).max(f32::EPSILON);
    means.iter().map(|m| BARS[(((m - lo) / span) * 7.0).round().clamp(0.0, 7.0) as usize]).collect()
}

fn answer_view(w: &Watch) -> Paragraph<'_> {
    let block = Block::default().borders(Borders::ALL).title(" Similar ");
    let mut lines: Vec<Line> = Vec::new();
    if let Some(title) = &w.asking {
        lines.push(Line::from(format!("searching for videos like {title}…")));
    }
    match &w.answer {
        Some((title, Ok(results))) => {
            lines.push(Line::from(format!("like {title} ({}):", results.space)));
            for hit in &results.results {
                lines.push(Line::from(format!("{:>2}. {:>6.3}  {}", hit.rank, hit.score, hit.title)));
            }
            if results.results.is_empty() {
                lines.push(Line::from("no other video to compare with yet"));
            }
        }
        Some((title, Err(e))) => lines.push(Line::from(format!("{title}: {e}"))),
        None if w.asking.is_none() => lines.push(Line::from("Enter on a ready video lists the most similar ones")),
        None => {}
    }
    Paragraph::new(lines).wrap(Wrap { trim: false }).block(block)
}

/// Opens the view on the terminal until the user quits, showing frames as `graphics` says;
/// `local` holds this machine's copy of the catalog for queries in the head space.
pub fn run(url: &str, config: &Config, local: &Library, graphics: Graphics) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let picker = crate::images::picker(graphics);
    let mut terminal = ratatui::init();
    let events = crossterm::event::EventStream::new();
    let result = runtime.block_on(event_loop(&mut terminal, events, url, config, local, picker));
    ratatui::restore();
    result
}

/// The view's loop over any backend and stream of terminal events.
pub async fn event_loop<B, E>(
    terminal: &mut Terminal<B>,
    mut events: E,
    url: &str,
    config: &Config,
    local: &Library,
    picker: Option<Picker>,
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    E: Stream<Item = std::io::Result<TermEvent>> + Unpin,
{
    let mut watch = Watch::new(crate::shared::shown(url));
    watch.picker = picker;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Msg>();
    let (tx_follow, tx_read) = (tx.clone(), tx.clone());
    let (follow_url, read_url) = (url.to_string(), url.to_string());
    std::thread::spawn(move || follow(&follow_url, &tx_follow));
    std::thread::spawn(move || reread(&read_url, &tx_read));
    // The library kept open between queries, as the embedded dashboard keeps its own.
    let warm = std::sync::Arc::new(crate::backend::QueryCache::default());
    let backend = crate::backend::Backend::Shared(url.to_string());
    let weights = crate::search::Weights { visual: config.search.visual_weight, lyrics: config.search.lyrics_weight };
    let models = std::sync::Arc::new(crate::ml::Models::configured(config, Some(local)));
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut dirty = true;
    while !watch.quit {
        let ask = tokio::select! {
            event = events.next() => match event {
                Some(Ok(TermEvent::Key(k))) if k.kind == KeyEventKind::Press => {
                    dirty = true;
                    watch.on_key(k)
                }
                Some(Ok(TermEvent::Resize(..))) => {
                    dirty = true;
                    None
                }
                Some(Err(_)) | None => break,
                _ => None,
            },
            Some(msg) = rx.recv() => {
                dirty = true;
                watch.on_msg(msg)
            }
            _ = tick.tick() => {
                if dirty {
                    terminal.draw(|f| draw(f, &mut watch))?;
                    dirty = false;
                }
                None
            }
        };
        // The state marked the query as asked (`asking`); the search runs off the loop, on the
        // library kept open from the last query (one query runs at a time).
        if let Some(video) = ask {
            let (warm, tx, backend, models) = (warm.clone(), tx.clone(), backend.clone(), models.clone());
            let (local, config) = (local.clone(), config.clone());
            let title = watch.asking.clone().unwrap_or_default();
            tokio::task::spawn_blocking(move || {
                let request = crate::pipeline::QueryRequest::Video(video);
                let answer = warm.answer(&backend, &local, &config, &request, &models, weights, 1);
                let answer = answer.map(|a| Answer::of(a, config.search.top)).map_err(|e| e.to_string());
                let _ = tx.send(Msg::Answer { title, answer });
            });
        }
    }
    Ok(())
}

/// Listens for announcements until the view is gone (its channel closed), listening again a few
/// seconds after the connection is lost.
fn follow(url: &str, tx: &UnboundedSender<Msg>) {
    loop {
        let ended = crate::shared::progress::follow(url, &mut || Ok(()), &mut |p| tx.send(Msg::Progress(p)).is_ok());
        match ended {
            Err(e) if tx.send(Msg::Unfollowed(e.to_string())).is_ok() => std::thread::sleep(REREAD * 3),
            _ => return,
        }
    }
}

/// Reads the queue every [`REREAD`] until the view is gone, reconnecting after an error.
fn reread(url: &str, tx: &UnboundedSender<Msg>) {
    let mut catalog = None;
    loop {
        let rows = match &mut catalog {
            Some(c) => crate::shared::listing::queue(c),
            None => {
                crate::shared::SharedCatalog::open(url).and_then(|c| crate::shared::listing::queue(catalog.insert(c)))
            }
        };
        if rows.is_err() {
            catalog = None;
        }
        let ok = rows.is_ok();
        if tx.send(Msg::Rows(rows.map_err(|e| e.to_string()))).is_err() {
            return;
        }
        if let (true, Some(c)) = (ok, &mut catalog) {
            match c.latest_run() {
                Ok(run) => {
                    if tx.send(Msg::Training(run)).is_err() {
                        return;
                    }
                }
                Err(e) => tracing::warn!("the catalog's training runs could not be read: {e}"),
            }
        }
        std::thread::sleep(REREAD);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, title: &str, status: &str) -> QueueRow {
        let video = video_row(id, title, status);
        QueueRow { video, ..QueueRow::default() }
    }

    fn video_row(id: i64, title: &str, status: &str) -> crate::catalog::VideoRow {
        crate::catalog::VideoRow {
            id,
            title: title.into(),
            path: format!("/nas/{title}.mp4").into(),
            duration_s: Some(10.0),
            status: Status::parse(status),
            ..Default::default()
        }
    }

    fn progress(video: i64, title: &str, status: &str, worker: &str, frames: i64) -> Msg {
        let (title, status, worker) = (title.into(), status.into(), Some(worker.into()));
        Msg::Progress(Progress { video, title, status, worker, frames, error: None })
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn announcements_update_rows_and_the_selection_follows_its_video() {
        let mut w = Watch::new("postgres://u@h/db".into());
        w.on_msg(Msg::Rows(Ok(vec![row(1, "a", "pending"), row(2, "b", "pending")])));
        w.on_key(key(KeyCode::Down));
        assert_eq!(w.selected, 1);
        w.on_msg(progress(2, "b", "working", "h:1", 0));
        assert_eq!(w.rows[1].claimed_by.as_deref(), Some("h:1"));
        assert_eq!(w.log[0], "b: working by h:1");
        // A new video sorts first: the selection stays on "b".
        w.on_msg(Msg::Rows(Ok(vec![row(3, "0", "pending"), row(1, "a", "pending"), row(2, "b", "working")])));
        assert_eq!(w.rows[w.selected].video.id, 2);
        w.on_msg(progress(2, "b", "ready", "h:1", 7));
        assert_eq!(
            (w.rows[2].video.status, w.rows[2].frames, w.rows[2].claimed_by.as_deref()),
            (Status::Ready, 7, None)
        );
        assert_eq!(w.counts(), "3 videos, 7 frames: 1 ready · 2 pending");
    }

    #[test]
    fn enter_asks_for_ready_videos_only_and_the_newest_wish_waits_its_turn() {
        let mut w = Watch::new("x".into());
        w.on_msg(Msg::Rows(Ok(vec![row(1, "a", "ready"), row(2, "b", "pending"), row(3, "c", "ready")])));
        assert_eq!(w.on_key(key(KeyCode::Enter)), Some(1));
        w.on_key(key(KeyCode::Down));
        assert_eq!(w.on_key(key(KeyCode::Enter)), None);
        w.on_key(key(KeyCode::Down));
        assert_eq!(w.on_key(key(KeyCode::Enter)), None, "one query at a time");
        assert_eq!(w.wanted, Some(3));
        let answer = Err("gone".into());
        assert_eq!(w.on_msg(Msg::Answer { title: "a".into(), answer }), Some(3), "the waiting one runs next");
        w.on_key(key(KeyCode::Up));
        w.asking = None;
        assert_eq!(w.on_key(key(KeyCode::Enter)), None);
        assert!(matches!(&w.answer, Some((t, Err(e))) if t == "b" && e.contains("pending")));
    }

    /// The view drawn `width` columns wide and 24 rows high, as text.
    fn screen(w: &mut Watch, width: u16) -> String {
        let mut terminal = Terminal::new(ratatui::backend::TestBackend::new(width, 24)).unwrap();
        terminal.draw(|f| draw(f, w)).unwrap();
        terminal.backend().buffer().content().iter().map(|c| c.symbol()).collect()
    }

    #[test]
    fn the_screen_shows_the_counts_rows_log_and_answer() {
        let mut w = Watch::new("postgres://u@h/db".into());
        w.on_msg(Msg::Rows(Ok(vec![row(1, "Bars of Gold", "ready"), row(2, "Night Drive", "working")])));
        w.on_msg(progress(2, "Night Drive", "working", "nas-2:77", 0));
        let screen = screen(&mut w, 100);
        for part in [
            "shared catalog postgres://u@h/db",
            "2 videos, 0 frames: 1 ready · 1 working",
            "Bars of Gold",
            "nas-2:77",
            "Night Drive: working by nas-2:77",
            "Training (live)",
            "no training runs yet",
        ] {
            assert!(screen.contains(part), "{part:?} not on screen:\n{screen}");
        }
    }

    #[test]
    fn the_training_pane_shows_the_newest_run_its_last_epoch_and_its_loss_curve() {
        assert_eq!(sparkline(&[4.0, 3.0, 2.0, 1.0], 4), "█▆▃▁");
        assert_eq!(sparkline(&[1.0, 1.0, 3.0, 3.0], 2), "▁█", "each bar the mean of its share");
        assert_eq!(sparkline(&[2.0], 10), "▁");
        let run = crate::catalog::RunRow {
            id: 7,
            started_at: "2026-12-02T10:00:00Z".into(),
            finished_at: None,
            status: crate::types::RunStatus::Running,
            error: None,
            image_model: "resnet50".into(),
            settings: crate::types::FitSettings { epochs: 20, ..Default::default() },
            classes: vec!["a".into(), "b".into(), "c".into()],
            class_ids: vec![1, 2, 3],
            left_out: Vec::new(),
            epochs_done: 2,
            head_file: None,
        };
        let epoch = crate::types::EpochMetrics {
            epoch: 2,
            train_loss: 0.5,
            train_accuracy: 0.8,
            test_loss: Some(0.7),
            test_accuracy: Some(0.75),
            top10_class_accuracy: Some(0.9),
            macro_accuracy: Some(0.6),
            per_class: Vec::new(),
            confused: Vec::new(),
            seconds: 1.0,
        };
        let mut w = Watch::new("postgres://u@h/db".into());
        w.on_msg(Msg::Training(Some(LatestRun {
            run,
            epochs: vec![epoch],
            curve: vec![3.0, 2.0, 1.0],
            steps: 3,
            last_loss: Some(1.0),
        })));
        let screen = screen(&mut w, 110);
        for part in [
            "run 7 · running · epoch 2 of 20 · 3 classes · resnet50",
            "epoch 2: train loss 0.5000 · test accuracy 75.0% · top-10 class accuracy 90.0% · macro 60.0%",
            "loss █▅▁ (3 steps, last 1.0000)",
        ] {
            assert!(screen.contains(part), "{part:?} not on screen:\n{screen}");
        }
    }
}
