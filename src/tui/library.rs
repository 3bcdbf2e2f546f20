//! The library pane: one row per video (title, length, rate, frames, transcript, stage with a
//! bar, error, and on a shared catalog the worker holding it), overall ingestion progress with
//! rate and ETA, the workers' log on a shared catalog, the video inspector (Enter) and the
//! add-folder prompt's path completion. Its state is `library_state::LibraryState`.

use super::app::{App, Inspector, Pane};
use super::library_state::Live;
use super::mouse::RowArea;
use super::widgets::{short_duration, text_bar};
use crate::catalog::{Status, VideoRow};
use crate::types::clock;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Gauge, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;
use ratatui_image::{Resize, StatefulImage};

/// The most lines the workers' log takes.
const LOG_HEIGHT: u16 = 8;

/// Draws the pane; returns where the videos' rows went.
pub fn draw(frame: &mut Frame, area: Rect, app: &App) -> Option<RowArea> {
    let log_height = if app.library.with_workers { LOG_HEIGHT.min(area.height / 3) } else { 0 };
    let [area, log] = Layout::vertical([Constraint::Min(3), Constraint::Length(log_height)]).areas(area);
    if log_height > 0 {
        draw_log(frame, log, app);
    }
    let (gauge_area, table_area) = match app.library.ingest {
        Some(_) => {
            let [g, t] = Layout::vertical([Constraint::Length(1), Constraint::Min(2)]).areas(area);
            (Some(g), t)
        }
        None => (None, area),
    };
    if let (Some(area), Some(p)) = (gauge_area, &app.library.ingest) {
        let ratio = if p.total == 0 { 1.0 } else { p.done as f64 / p.total as f64 };
        let mut pace = match p.eta_seconds() {
            Some(eta) => format!(" · {:.1} videos/min · ETA {}", p.per_minute().unwrap_or(0.0), short_duration(eta)),
            None => String::new(),
        };
        if !p.rates.is_empty() {
            pace.push_str(&format!(" · {}", p.rates.summary()));
        }
        let gauge = Gauge::default()
            .ratio(ratio.clamp(0.0, 1.0))
            .label(format!("ingesting: {}/{} videos{pace}", p.done, p.total))
            .gauge_style(Style::new().fg(Color::Green));
        frame.render_widget(gauge, area);
    }
    let block = Block::new()
        .borders(Borders::ALL)
        .title(format!(" Library · {} videos ", app.library.videos.len()))
        .title_bottom(
            Line::from(format!(
                " {} ",
                super::keys::hint_within(Pane::Library, usize::from(area.width).saturating_sub(4))
            ))
            .right_aligned(),
        );
    if app.library.videos.is_empty() {
        let text = match app.library.with_workers {
            false => "The library is empty. Press a to add a folder of videos, or run `reelmatch demo`.",
            true => "The library is empty. Press a to add a folder of videos: this machine ingests it as one of the catalog's workers (any machine can: `reelmatch --catalog URL ingest --worker DIR`).",
        };
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }).block(block), table_area);
        return None;
    }
    let wide = table_area.width >= 100;
    let workers = wide && app.library.with_workers;
    let mut header = if wide {
        vec!["Title", "Length", "Rate", "Train/Test", "Lyrics", "Stage", "Error"]
    } else {
        vec!["Title", "Train/Test", "Stage"]
    };
    if workers {
        header.insert(6, "Worker");
    }
    let rows = app.library.videos.iter().enumerate().map(|(i, v)| {
        let worker = workers.then(|| app.library.workers.get(&v.id).cloned().unwrap_or_default());
        let row = video_row(v, app.library.live.get(&v.id), wide, worker);
        if i == app.library.selected {
            row.style(Style::new().add_modifier(Modifier::REVERSED))
        } else {
            row
        }
    });
    let mut widths: Vec<Constraint> = if wide {
        vec![
            Constraint::Min(20),
            Constraint::Length(6),
            Constraint::Length(4),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Length(22),
            Constraint::Min(20),
        ]
    } else {
        vec![Constraint::Min(16), Constraint::Length(10), Constraint::Length(22)]
    };
    if workers {
        widths.insert(6, Constraint::Length(18));
    }
    let inner = block.inner(table_area);
    let table = Table::new(rows, widths).header(Row::new(header).bold()).block(block);
    // Scrolled so the selection is in view; the header takes the first line.
    let mut state = TableState::default().with_selected(Some(app.library.selected));
    frame.render_stateful_widget(table, table_area, &mut state);
    let rows = Rect { y: inner.y + 1, height: inner.height.saturating_sub(1), ..inner };
    Some(RowArea { area: rows, offset: state.offset(), len: app.library.videos.len() })
}

/// The workers' log (newest first) under a line of counts.
fn draw_log(frame: &mut Frame, area: Rect, app: &App) {
    let n = |s: Status| app.library.videos.iter().filter(|v| v.status == s).count();
    let parts: Vec<String> = [Status::Ready, Status::Working, Status::Pending, Status::Failed]
        .into_iter()
        .filter(|&s| n(s) > 0)
        .map(|s| format!("{} {}", n(s), s.as_str()))
        .collect();
    let frames: i64 = app.library.videos.iter().map(|v| v.frames_train + v.frames_test).sum();
    let counts = if parts.is_empty() { "none yet".to_string() } else { parts.join(" · ") };
    let title = format!(" Workers · {} videos, {frames} frames: {counts} ", app.library.videos.len());
    let lines: Vec<Line> = app.library.activity.iter().map(|l| Line::from(l.as_str())).collect();
    frame.render_widget(Paragraph::new(lines).block(Block::new().borders(Borders::ALL).title(title)), area);
}

fn video_row(v: &VideoRow, live: Option<&Live>, wide: bool, worker: Option<String>) -> Row<'static> {
    let stage = match live {
        Some(l) if l.expected > 0 => {
            format!("{} {} {}/{}", l.stage, text_bar(l.done as f64 / l.expected as f64, 6), l.done, l.expected)
        }
        Some(l) => l.stage.to_string(),
        None => v.status.as_str().to_string(),
    };
    let color = match (live, v.status) {
        (Some(_), _) => Color::Yellow,
        (None, Status::Ready) => Color::Green,
        (None, Status::Failed) => Color::Red,
        (None, Status::Missing) => Color::Magenta,
        (None, Status::Pending | Status::Working) => Color::Gray,
    };
    let split = format!("{}/{}", v.frames_train, v.frames_test);
    let stage = Cell::from(stage).style(Style::new().fg(color));
    if !wide {
        return Row::new(vec![Cell::from(v.title.clone()), Cell::from(split), stage]);
    }
    let length = v.duration_s.map(|d| clock(d, 0)).unwrap_or_default();
    let rate = v.sample_fps.map(|r| r.to_string()).unwrap_or_default();
    let lyrics = match (&v.transcript_language, &v.transcript_flag, v.has_audio) {
        (Some(_), Some(_), _) => Cell::from("flagged").style(Style::new().fg(Color::Yellow)),
        (Some(lang), None, _) => {
            Cell::from(format!("✓ {}", crate::types::language_told(lang, v.transcript_language_probability)))
        }
        (None, _, Some(false)) => Cell::from("no audio").dim(),
        _ => Cell::from(""),
    };
    let mut cells = vec![
        Cell::from(v.title.clone()),
        Cell::from(length),
        Cell::from(rate),
        Cell::from(split),
        lyrics,
        stage,
        Cell::from(v.error.clone().unwrap_or_default()).style(Style::new().fg(Color::Red)),
    ];
    if let Some(worker) = worker {
        cells.insert(6, Cell::from(worker));
    }
    Row::new(cells)
}

/// Draws the inspector over `area`.
pub fn draw_inspector(frame: &mut Frame, area: Rect, inspector: &mut Inspector, images: bool) {
    let v = &inspector.info.video;
    let block = Block::new().borders(Borders::ALL).title(format!(" {} · any key closes ", v.title));
    let inner = block.inner(area);
    frame.render_widget(ratatui::widgets::Clear, area);
    frame.render_widget(block, area);
    let thumbs_height = if images && !inspector.thumbnails.is_empty() { (inner.height / 3).clamp(4, 12) } else { 0 };
    let lines = inspector_lines(inspector);
    // Every line wraps whole (an error is never cut), leaving at least a row for the words.
    let texts: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let meta_height = super::errors::wrapped_height(&texts, inner.width).min(inner.height.saturating_sub(1));
    let [meta, thumbs, words] =
        Layout::vertical([Constraint::Length(meta_height), Constraint::Length(thumbs_height), Constraint::Min(1)])
            .areas(inner);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), meta);
    if thumbs.height > 0 {
        let n = inspector.thumbnails.len() as u32;
        let cols = Layout::horizontal((0..n).map(|_| Constraint::Ratio(1, n))).split(thumbs);
        for (proto, rect) in inspector.thumbnails.iter_mut().zip(cols.iter()) {
            frame.render_stateful_widget(
                StatefulImage::default().resize(Resize::Scale(Some(image::imageops::FilterType::Triangle))),
                *rect,
                proto,
            );
        }
    }
    let segments: Vec<Line> = inspector
        .info
        .segments
        .iter()
        .map(|s| Line::from(format!("[{} – {}] {}", clock(s.start, 1), clock(s.end, 1), s.text.trim())))
        .collect();
    frame.render_widget(Paragraph::new(segments).wrap(Wrap { trim: true }), words);
}

/// The inspector's lines about the video: path, numbers, transcript, frames set aside, error.
fn inspector_lines(inspector: &Inspector) -> Vec<Line<'static>> {
    let v = &inspector.info.video;
    let duration = v.duration_s.map(|d| format!("{d:.1}s")).unwrap_or_else(|| "?".into());
    let size = match (v.width, v.height) {
        (Some(w), Some(h)) => format!("{w}×{h}"),
        _ => "?".into(),
    };
    let mut lines = vec![
        Line::from(format!("{}", v.path.display())),
        Line::from(format!(
            "{duration} · {size} · {} fps · sampled at {} fps · frames {} train / {} test · {} embedded",
            v.fps.map(|f| format!("{f:.2}")).unwrap_or_else(|| "?".into()),
            v.sample_fps.map(|f| f.to_string()).unwrap_or_else(|| "?".into()),
            v.frames_train,
            v.frames_test,
            v.frames_embedded
        )),
    ];
    match &inspector.info.transcript {
        Some(t) => lines.push(Line::from(format!(
            "transcript: {} segment(s), language {}, model {}{}",
            t.segments,
            crate::types::language_told(&t.language, t.language_probability),
            t.model,
            t.flag.as_ref().map(|f| format!(" · {f}")).unwrap_or_default()
        ))),
        None if v.has_audio == Some(false) => lines.push(Line::from("no audio stream: an instrumental")),
        None => lines.push(Line::from("not transcribed")),
    }
    if inspector.info.set_aside.total() > 0 {
        lines.push(Line::from(format!("search: {}", inspector.info.set_aside)).fg(Color::Yellow));
    }
    if let Some(e) = &v.error {
        lines.push(Line::from(format!("error: {e}")).fg(Color::Red));
    }
    lines
}
