//! Drawing the dashboard from its state. Pure: draws into any ratatui backend, so tests render
//! it into `TestBackend`.

use super::app::{App, Live, Pane};
use crate::catalog::{Status, VideoRow};
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Gauge, Paragraph, Row, Table, Tabs, Wrap};
use ratatui::Frame;

/// The key map, shown by `?` and in the README.
pub const KEYS: &[(&str, &str)] = &[
    ("Tab / Shift-Tab", "next / previous pane"),
    ("1 2 3", "library, training, query pane"),
    ("↑ ↓ / k j", "move the selection"),
    ("?", "show or hide this help"),
    ("q / Esc", "quit (asks first while work runs)"),
];

/// Draws the whole dashboard.
pub fn draw(frame: &mut Frame, app: &App) {
    let banner_height = app.banner.len().min(3) as u16;
    let [header, banner, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner_height),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_tabs(frame, header, app);
    let lines: Vec<Line> = app.banner.iter().map(|b| Line::from(format!("⚠ {b}")).fg(Color::Yellow)).collect();
    frame.render_widget(Paragraph::new(lines), banner);
    match app.pane {
        Pane::Library => draw_library(frame, body, app),
        Pane::Training => draw_placeholder(frame, body, "Training", "No training runs yet: training arrives with `reelmatch train`. Ingested frames are ready for it."),
        Pane::Query => draw_placeholder(frame, body, "Query", "Similarity search arrives with `reelmatch similar`; this pane will show ranked matches with frame previews."),
    }
    draw_status(frame, status, app);
    if app.show_help {
        draw_help(frame);
    }
    if app.confirm_quit {
        draw_confirm(frame);
    }
}

fn draw_tabs(frame: &mut Frame, area: Rect, app: &App) {
    let selected = Pane::ALL.iter().position(|p| *p == app.pane).unwrap_or(0);
    let tabs = Tabs::new(Pane::ALL.iter().map(|p| p.title()))
        .select(selected)
        .highlight_style(Style::new().bold().reversed())
        .divider("│");
    let [left, right] = Layout::horizontal([Constraint::Length(36), Constraint::Min(0)]).areas(area);
    frame.render_widget(tabs, left);
    let lib = Paragraph::new(format!("reelmatch · {}", app.library)).right_aligned().dim();
    frame.render_widget(lib, right);
}

fn draw_library(frame: &mut Frame, area: Rect, app: &App) {
    let (gauge_area, table_area) = match app.job {
        Some(_) => {
            let [g, t] = Layout::vertical([Constraint::Length(1), Constraint::Min(2)]).areas(area);
            (Some(g), t)
        }
        None => (None, area),
    };
    if let (Some(area), Some((total, done))) = (gauge_area, app.job) {
        let ratio = if total == 0 { 1.0 } else { done as f64 / total as f64 };
        let gauge = Gauge::default()
            .ratio(ratio.clamp(0.0, 1.0))
            .label(format!("ingesting: {done}/{total} videos"))
            .gauge_style(Style::new().fg(Color::Green));
        frame.render_widget(gauge, area);
    }
    let block = Block::new().borders(Borders::ALL).title(format!(" Library · {} videos ", app.videos.len()));
    if app.videos.is_empty() {
        let text = "The library is empty. Add videos with `reelmatch ingest DIR`, or try `reelmatch demo`.";
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }).block(block), table_area);
        return;
    }
    let wide = table_area.width >= 100;
    let header = if wide {
        vec!["Title", "Length", "Rate", "Train/Test", "Audio", "Status", "Error"]
    } else {
        vec!["Title", "Train/Test", "Status"]
    };
    let rows = app.videos.iter().enumerate().map(|(i, v)| {
        let row = video_row(v, app.live.get(&v.id), wide);
        if i == app.selected {
            row.style(Style::new().add_modifier(Modifier::REVERSED))
        } else {
            row
        }
    });
    let widths: Vec<Constraint> = if wide {
        vec![
            Constraint::Min(20),
            Constraint::Length(6),
            Constraint::Length(4),
            Constraint::Length(10),
            Constraint::Length(5),
            Constraint::Length(18),
            Constraint::Min(20),
        ]
    } else {
        vec![Constraint::Min(16), Constraint::Length(10), Constraint::Length(18)]
    };
    let table = Table::new(rows, widths).header(Row::new(header).bold()).block(block);
    frame.render_widget(table, table_area);
}

fn video_row(v: &VideoRow, live: Option<&Live>, wide: bool) -> Row<'static> {
    let status = match live {
        Some(l) if l.expected > 0 => format!("{} {}/{}", l.stage, l.done, l.expected),
        Some(l) => l.stage.to_string(),
        None => v.status.as_str().to_string(),
    };
    let color = match (live, v.status) {
        (Some(_), _) => Color::Yellow,
        (None, Status::Ready) => Color::Green,
        (None, Status::Failed) => Color::Red,
        (None, Status::Missing) => Color::Magenta,
        (None, Status::Pending) => Color::Gray,
    };
    let split = format!("{}/{}", v.frames_train, v.frames_test);
    let status = Cell::from(status).style(Style::new().fg(color));
    if !wide {
        return Row::new(vec![Cell::from(v.title.clone()), Cell::from(split), status]);
    }
    let length = v.duration_s.map(|d| format!("{}:{:02}", (d / 60.0) as u64, d as u64 % 60)).unwrap_or_default();
    let rate = v.sample_fps.map(|r| r.to_string()).unwrap_or_default();
    let audio = match v.has_audio {
        Some(true) => "yes",
        Some(false) => "none",
        None => "",
    };
    Row::new(vec![
        Cell::from(v.title.clone()),
        Cell::from(length),
        Cell::from(rate),
        Cell::from(split),
        Cell::from(audio),
        status,
        Cell::from(v.error.clone().unwrap_or_default()).style(Style::new().fg(Color::Red)),
    ])
}

fn draw_placeholder(frame: &mut Frame, area: Rect, title: &str, text: &str) {
    let block = Block::new().borders(Borders::ALL).title(format!(" {title} "));
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }).block(block), area);
}

fn draw_status(frame: &mut Frame, area: Rect, app: &App) {
    let mut spans = vec![Span::raw(app.status.clone())];
    if let Some(e) = &app.last_error {
        spans.push(Span::raw("  ·  "));
        spans.push(Span::styled(format!("last error: {e}"), Style::new().fg(Color::Red)));
    }
    let [left, right] = Layout::horizontal([Constraint::Min(10), Constraint::Length(17)]).areas(area);
    frame.render_widget(Paragraph::new(Line::from(spans)), left);
    frame.render_widget(Paragraph::new("? help  q quit").right_aligned().dim(), right);
}

fn popup(frame: &mut Frame, width: u16, height: u16) -> Rect {
    let [area] = Layout::horizontal([Constraint::Length(width)]).flex(Flex::Center).areas(frame.area());
    let [area] = Layout::vertical([Constraint::Length(height)]).flex(Flex::Center).areas(area);
    frame.render_widget(Clear, area);
    area
}

fn draw_help(frame: &mut Frame) {
    let area = popup(frame, 56, KEYS.len() as u16 + 2);
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| Line::from(vec![Span::styled(format!("{k:>16}  "), Style::new().bold()), Span::raw(*what)]))
        .collect();
    let block = Block::new().borders(Borders::ALL).title(" Keys · any key closes ");
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_confirm(frame: &mut Frame) {
    let area = popup(frame, 50, 3);
    let block = Block::new().borders(Borders::ALL).title(" Quit? ");
    let text = "Work is running. Stop it and quit? (y/n)";
    frame.render_widget(Paragraph::new(text).block(block), area);
}
