//! Drawing the dashboard from its state: tabs, banner, the current pane, the prompt or status bar,
//! and the overlays (help, quit confirmation, video inspector, full-screen preview). Draws into any ratatui backend,
//! so tests render it into `TestBackend`.

use super::app::{App, FullPreview, Pane, PromptKind};
use super::keys::KEYMAP;
use super::mouse::List;
use super::{library, query, training};
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Tabs};
use ratatui::Frame;
use ratatui_image::{Resize, StatefulImage};

/// Draws the whole dashboard.
pub fn draw(frame: &mut Frame, app: &mut App) {
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
    let images = app.picker.is_some();
    app.areas.lists = match app.pane {
        Pane::Library => library::draw(frame, body, app).map(|rows| (List::Library, rows)).into_iter().collect(),
        Pane::Training => {
            training::draw(frame, body, &app.training).map(|rows| (List::Runs, rows)).into_iter().collect()
        }
        Pane::Query => query::draw(frame, body, &mut app.query, images),
    };
    match &app.prompt {
        Some(p) => draw_prompt(frame, status, p.kind, &p.text),
        None => draw_status(frame, status, app),
    }
    if let Some(inspector) = &mut app.inspector {
        let area = body.inner(ratatui::layout::Margin { horizontal: 2, vertical: 1 });
        library::draw_inspector(frame, area, inspector, images);
    }
    if app.show_help {
        draw_help(frame);
    }
    if let Some(preview) = &mut app.preview {
        draw_preview(frame, preview);
    }
    if app.confirm_quit {
        draw_confirm(frame, app.job.map_or("Work", |j| j.name()));
    }
}

/// The selected result's pair of frames over the whole screen, drawn with the same picker as
/// the inline previews.
fn draw_preview(frame: &mut Frame, preview: &mut FullPreview) {
    let area = frame.area();
    frame.render_widget(Clear, area);
    let [caption, picture] = Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(area);
    frame.render_widget(Paragraph::new(preview.caption.as_str()).wrap(ratatui::widgets::Wrap { trim: true }), caption);
    match &mut preview.image {
        Some(p) => frame.render_stateful_widget(
            StatefulImage::default().resize(Resize::Scale(Some(image::imageops::FilterType::Triangle))),
            picture,
            p,
        ),
        None => frame.render_widget(Paragraph::new("(images are off: --graphics none)").dim(), picture),
    }
}

fn draw_tabs(frame: &mut Frame, area: Rect, app: &mut App) {
    let selected = Pane::ALL.iter().position(|p| *p == app.pane).unwrap_or(0);
    let tabs = Tabs::new(Pane::ALL.iter().map(|p| p.title()))
        .select(selected)
        .highlight_style(Style::new().bold().reversed())
        .divider("│");
    let [left, right] = Layout::horizontal([Constraint::Length(36), Constraint::Min(0)]).areas(area);
    frame.render_widget(tabs, left);
    let titles: Vec<(Pane, &str)> = Pane::ALL.iter().map(|p| (*p, p.title())).collect();
    app.areas.lay_tabs(left.x, &titles);
    let lib = Paragraph::new(format!("reelmatch · {}", app.library)).right_aligned().dim();
    frame.render_widget(lib, right);
}

fn draw_prompt(frame: &mut Frame, area: Rect, kind: PromptKind, text: &str) {
    let (label, hint) = match kind {
        PromptKind::AddFolder => ("add folder: ", "  (Tab completes · Enter ingests · Esc cancels)"),
        PromptKind::Filter => ("filter: /", "  (Enter keeps · Esc clears)"),
        PromptKind::Lyrics => ("lyrics: ", "  (Enter searches · Esc cancels)"),
        PromptKind::Scope => ("results in folder: ", "  (Tab completes · Enter keeps · empty shows all)"),
    };
    let line =
        Line::from(vec![Span::raw(label).bold(), Span::raw(text.to_string()), Span::raw("▏"), Span::raw(hint).dim()]);
    frame.render_widget(Paragraph::new(line), area);
}

fn draw_status(frame: &mut Frame, area: Rect, app: &App) {
    let mut spans = Vec::new();
    if let Some(job) = app.job {
        spans.push(Span::styled(format!("● {} running  ", job.name()), Style::new().fg(Color::Yellow)));
    }
    spans.push(Span::raw(app.status.clone()));
    if let Some(e) = &app.last_error {
        spans.push(Span::raw("  ·  "));
        spans.push(Span::styled(format!("last error: {e}"), Style::new().fg(Color::Red)));
    }
    let keys =
        if app.device.is_empty() { "? help  q quit".to_string() } else { format!("{}  ? help  q quit", app.device) };
    let [left, right] =
        Layout::horizontal([Constraint::Min(10), Constraint::Length(keys.chars().count() as u16 + 3)]).areas(area);
    frame.render_widget(Paragraph::new(Line::from(spans)), left);
    frame.render_widget(Paragraph::new(keys).right_aligned().dim(), right);
}

fn popup(frame: &mut Frame, width: u16, height: u16) -> Rect {
    let [area] = Layout::horizontal([Constraint::Length(width)]).flex(Flex::Center).areas(frame.area());
    let [area] = Layout::vertical([Constraint::Length(height)]).flex(Flex::Center).areas(area);
    frame.render_widget(Clear, area);
    area
}

fn draw_help(frame: &mut Frame) {
    let area = popup(frame, 76, KEYMAP.len() as u16 + 2);
    let lines: Vec<Line> = KEYMAP
        .iter()
        .map(|g| Line::from(vec![Span::styled(format!("{:>16}  ", g.keys), Style::new().bold()), Span::raw(g.what)]))
        .collect();
    let block = Block::new().borders(Borders::ALL).title(" Keys · any key closes ");
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_confirm(frame: &mut Frame, what: &str) {
    let area = popup(frame, 56, 3);
    let block = Block::new().borders(Borders::ALL).title(" Quit? ");
    let text = format!("{what} is running. Stop it and quit? (y/n)");
    frame.render_widget(Paragraph::new(text).block(block), area);
}
