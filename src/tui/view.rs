//! Drawing the dashboard from its state: tabs, banner, the current pane, the prompt or status bar,
//! and the overlays (help, quit confirmation, video inspector, full-screen preview). Draws into any ratatui backend,
//! so tests render it into `TestBackend`.

use super::app::{App, FullPreview, Pane, PromptKind};
use super::keys::KEYMAP;
use super::mouse::List;
use super::{errors, library, query, training};
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Tabs};
use ratatui::Frame;
use ratatui_image::{Resize, StatefulImage};

/// Draws the whole dashboard.
pub fn draw(frame: &mut Frame, app: &mut App) {
    // Banners wrap (never cut mid-sentence), up to a third of the screen.
    let banners: Vec<String> = app.banner.iter().map(|b| format!("⚠ {b}")).collect();
    let banner_height = errors::wrapped_height(&banners, frame.area().width).min(frame.area().height / 3);
    let [header, banner, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner_height),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_tabs(frame, header, app);
    let lines: Vec<Line> = banners.into_iter().map(|b| Line::from(b).fg(Color::Yellow)).collect();
    frame.render_widget(Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: true }), banner);
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
    if app.errors.open {
        errors::draw(frame, body.inner(ratatui::layout::Margin { horizontal: 2, vertical: 1 }), &app.errors);
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
    let lines = errors::wrapped_height(std::slice::from_ref(&preview.caption), area.width).max(2);
    let [caption, picture] = Layout::vertical([Constraint::Length(lines), Constraint::Min(1)]).areas(area);
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
    let lib = Paragraph::new(format!("reelmatch · {}", app.library_path)).right_aligned().dim();
    frame.render_widget(lib, right);
}

fn draw_prompt(frame: &mut Frame, area: Rect, kind: PromptKind, text: &str) {
    let (label, hint) = match kind {
        PromptKind::AddFolder => ("add folder: ", "  (Tab completes · Enter ingests · Esc cancels)"),
        PromptKind::Filter => ("filter: /", "  (Enter keeps · Esc clears)"),
        PromptKind::Lyrics => ("lyrics: ", "  (Enter searches · Esc cancels)"),
        PromptKind::Describe => ("describe: ", "  (Enter searches the frames by these words · Esc cancels)"),
        PromptKind::Scope => ("results in folder: ", "  (Tab completes · Enter keeps · empty shows all)"),
    };
    let line =
        Line::from(vec![Span::raw(label).bold(), Span::raw(text.to_string()), Span::raw("▏"), Span::raw(hint).dim()]);
    frame.render_widget(Paragraph::new(line), area);
}

/// The running job, the status and the newest error, each cut after a word where the line is
/// too short (`e` shows every error in full).
fn draw_status(frame: &mut Frame, area: Rect, app: &App) {
    let keys = match (app.device.is_empty(), app.last_error().is_some()) {
        (true, false) => "? help  q quit".to_string(),
        (true, true) => "e errors  ? help  q quit".to_string(),
        (false, false) => format!("{}  ? help  q quit", app.device),
        (false, true) => format!("{}  e errors  ? help  q quit", app.device),
    };
    let [left, right] =
        Layout::horizontal([Constraint::Min(10), Constraint::Length(keys.chars().count() as u16 + 3)]).areas(area);
    let mut spans = Vec::new();
    let mut room = usize::from(left.width);
    if let Some(job) = app.job {
        let running = format!("● {} running  ", job.name());
        room = room.saturating_sub(running.chars().count());
        spans.push(Span::styled(running, Style::new().fg(Color::Yellow)));
    }
    match app.last_error() {
        Some(e) => {
            const LABEL: &str = "  ·  last error: ";
            let status_room = (room / 3).max(12).min(app.status.chars().count());
            let status = errors::cut_at_word(&app.status, status_room);
            let error_room = room.saturating_sub(status.chars().count() + LABEL.chars().count());
            spans.push(Span::raw(status));
            spans.push(Span::raw(LABEL));
            spans.push(Span::styled(errors::cut_at_word(e, error_room), Style::new().fg(Color::Red)));
        }
        None => spans.push(Span::raw(errors::cut_at_word(&app.status, room))),
    }
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
