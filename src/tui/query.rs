//! The query pane: pick a library video (`/` filters by title), type lyrics (`l`) or describe a
//! look (`d`, in the vision-text space; with lyrics, fused); the results
//! table (rank, title, fused, visual, lyrics, a flag on likely duplicates), limited to a folder
//! with `i`; the selected result's query frame beside its matched frame with timestamps, and its
//! matched lyric lines; `+`/`-` re-weight and re-rank live.

use super::mouse::{List, RowArea};
use crate::pipeline::QueryAnswer;
use crate::search::{rerank, Hit, Weights};
use image::DynamicImage;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, ListItem, ListState, Paragraph, Row, Table, Wrap};
use ratatui::Frame;
use ratatui_image::picker::Picker;
use ratatui_image::protocol::StatefulProtocol;
use ratatui_image::{Resize, StatefulImage};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// Which list the arrow keys move in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    #[default]
    Videos,
    Results,
}

/// The inline images of the selected result.
#[derive(Default)]
pub struct Previews {
    pub query: Option<StatefulProtocol>,
    pub matched: Option<StatefulProtocol>,
}

/// The selected result's best frame match: the query frame beside the matched one.
pub struct BestPair<'a> {
    pub query: Option<&'a DynamicImage>,
    pub query_t: f64,
    pub matched: Option<&'a DynamicImage>,
    pub match_t: f64,
    pub similarity: f32,
}

/// What the query pane shows.
#[derive(Default)]
pub struct QueryState {
    /// Library videos that can be queried: (id, title).
    pub videos: Vec<(i64, String)>,
    pub filter: String,
    pub selected_video: usize,
    pub focus: Focus,
    pub weights: Weights,
    pub answer: Option<QueryAnswer>,
    pub selected_hit: usize,
    /// The query being answered, if one is.
    pub pending: Option<String>,
    pub previews: Previews,
    /// The library video the answer was asked with, if it was one.
    pub asked_video: Option<i64>,
    /// The description and the lyrics the query was typed with, where it was (`d`, `l`).
    pub description: Option<String>,
    pub lyrics: Option<String>,
    /// Only results under this folder are shown (empty: all).
    pub scope: String,
    /// Each library video's file, by id (for the scope and the player).
    pub paths: HashMap<i64, PathBuf>,
    /// Pairs marked not duplicates (lower id first): their duplicate flag is not shown.
    pub decided: HashSet<(i64, i64)>,
    /// Visual similarity from which a result is flagged as a likely duplicate.
    pub duplicate_threshold: f32,
}

impl QueryState {
    /// Videos whose title contains the filter (case-insensitive).
    pub fn filtered(&self) -> Vec<&(i64, String)> {
        let f = self.filter.to_lowercase();
        self.videos.iter().filter(|(_, t)| t.to_lowercase().contains(&f)).collect()
    }

    /// The video the selection is on.
    pub fn chosen_video(&self) -> Option<(i64, String)> {
        self.filtered().get(self.selected_video).map(|v| (*v).clone())
    }

    /// The results shown: all of them, or those under the scope folder.
    pub fn hits(&self) -> Vec<&Hit> {
        let all = self.answer.as_ref().map(|a| a.results.results.as_slice()).unwrap_or_default();
        let folder = crate::pipeline::expand_home(self.scope.trim());
        all.iter()
            .filter(|h| self.scope.trim().is_empty() || self.paths.get(&h.id).is_some_and(|p| p.starts_with(&folder)))
            .collect()
    }

    pub fn selected(&self) -> Option<&Hit> {
        self.hits().get(self.selected_hit).copied()
    }

    /// Whether `hit` is a duplicate of the query video by the rule `similar` and `dupes` share
    /// (a copy or an excerpt by sound or frames, or frames alike at the threshold) and nobody
    /// said it is not.
    pub fn likely_duplicate(&self, hit: &Hit) -> bool {
        let asked = self.asked_video.filter(|_| self.answer.is_some());
        crate::search::relation::duplicate(hit.relation.as_ref(), hit.visual, self.duplicate_threshold)
            && asked.is_some_and(|q| !crate::catalog::is_decided(&self.decided, q, hit.id))
    }

    /// Moves weight between visual and lyrics by `delta` (visual + lyrics stays 1) and re-ranks.
    pub fn shift_weight(&mut self, delta: f32) {
        let visual = ((self.weights.visual + delta) * 10.0).round().clamp(0.0, 10.0) / 10.0;
        self.weights = Weights { visual, lyrics: ((1.0 - visual) * 10.0).round() / 10.0 };
        let keep = self.selected().map(|h| h.id);
        if let Some(a) = &mut self.answer {
            rerank(&mut a.results, self.weights);
        }
        self.selected_hit = keep.and_then(|id| self.hits().iter().position(|h| h.id == id)).unwrap_or(0);
    }

    /// The selected result's best frame match.
    pub fn best_pair(&self) -> Option<BestPair<'_>> {
        let a = self.answer.as_ref()?;
        let hit = self.selected()?;
        let best = hit.best_frame()?;
        let query = a
            .query_frames
            .iter()
            .min_by(|x, y| (x.0 - best.query_t).abs().total_cmp(&(y.0 - best.query_t).abs()))
            .and_then(|(_, img)| img.as_ref());
        Some(BestPair {
            query,
            query_t: best.query_t,
            matched: a.matches.get(&best.match_file),
            match_t: best.match_t,
            similarity: best.similarity,
        })
    }

    /// Rebuilds the inline images for the selected result.
    pub fn refresh_previews(&mut self, picker: Option<&Picker>) {
        self.previews = Previews::default();
        let Some(picker) = picker else { return };
        let (query, matched) = match self.best_pair() {
            Some(p) => (p.query.cloned(), p.matched.cloned()),
            None => (None, None),
        };
        self.previews.query = query.map(|i| picker.new_resize_protocol(i));
        self.previews.matched = matched.map(|i| picker.new_resize_protocol(i));
    }
}

fn score(v: Option<f32>) -> String {
    v.map(|v| format!("{v:.3}")).unwrap_or_else(|| "-".into())
}

/// Draws the pane; returns where its lists' rows went (the video list, the results).
pub fn draw(frame: &mut Frame, area: Rect, s: &mut QueryState, images: bool) -> Vec<(List, RowArea)> {
    let list_width = if area.width >= 100 { 30 } else { 22 };
    let [left, right] = Layout::horizontal([Constraint::Length(list_width), Constraint::Min(20)]).areas(area);
    let mut lists = Vec::new();
    lists.extend(draw_videos(frame, left, s).map(|rows| (List::QueryVideos, rows)));
    let wanted = s.hits().len() as u16 + 4;
    let results_height = wanted.clamp(5, (right.height * 45 / 100).max(5));
    let [results, preview] = Layout::vertical([Constraint::Length(results_height), Constraint::Min(6)]).areas(right);
    lists.extend(draw_results(frame, results, s).map(|rows| (List::Results, rows)));
    draw_preview(frame, preview, s, images);
    lists
}

fn draw_videos(frame: &mut Frame, area: Rect, s: &QueryState) -> Option<RowArea> {
    let title = if s.filter.is_empty() { " Query: a video ".to_string() } else { format!(" /{} ", s.filter) };
    let focused = s.focus == Focus::Videos;
    let block = Block::new().borders(Borders::ALL).title(title).border_style(if focused {
        Style::new().fg(Color::Cyan)
    } else {
        Style::new()
    });
    let items: Vec<ListItem> = s.filtered().iter().map(|(_, t)| ListItem::new(t.clone())).collect();
    if items.is_empty() {
        let text = if s.videos.is_empty() { "No ingested videos yet." } else { "No title matches the filter." };
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }).block(block), area);
        return None;
    }
    let (inner, len) = (block.inner(area), items.len());
    let list =
        ratatui::widgets::List::new(items).block(block).highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = ListState::default().with_selected(Some(s.selected_video));
    frame.render_stateful_widget(list, area, &mut state);
    Some(RowArea { area: inner, offset: state.offset(), len })
}

fn draw_results(frame: &mut Frame, area: Rect, s: &QueryState) -> Option<RowArea> {
    let scope = if s.scope.trim().is_empty() { String::new() } else { format!(" in {}", s.scope.trim()) };
    let label = match (&s.pending, &s.answer) {
        (Some(q), _) => format!(" Searching with {q}… "),
        (None, Some(a)) => {
            // The query cut at a word where the title would run past the border, the space kept.
            let tail = format!("{scope} ({}) ", a.results.space);
            let room = usize::from(area.width).saturating_sub(" Most similar to ".len() + tail.chars().count() + 4);
            format!(" Most similar to {}{tail}", super::errors::cut_at_word(&a.results.query, room))
        }
        (None, None) => " Results ".to_string(),
    };
    let focused = s.focus == Focus::Results;
    let block = Block::new()
        .borders(Borders::ALL)
        .title(label)
        .title_bottom(
            Line::from(format!(" visual {:.1} · lyrics {:.1}  (+/- to shift) ", s.weights.visual, s.weights.lyrics))
                .right_aligned(),
        )
        .border_style(if focused { Style::new().fg(Color::Cyan) } else { Style::new() });
    if s.answer.is_none() {
        let text =
            "Enter searches with the selected video; l types lyrics; d describes a look; ← → move between lists.";
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }).block(block), area);
        return None;
    }
    let hits = s.hits();
    let inner = block.inner(area);
    // The header takes the first line inside the border; the table shows rows from the top.
    let rows_area = Rect { y: inner.y + 1, height: inner.height.saturating_sub(1), ..inner };
    let len = hits.len();
    // A column for the relations, where any result has one.
    let relation_width = hits
        .iter()
        .filter_map(|h| h.relation.as_ref())
        .map(|r| r.in_brief().chars().count().max("Relation".len()))
        .max()
        .unwrap_or(0) as u16;
    let rows = hits.iter().enumerate().map(|(i, h)| {
        let title = if s.likely_duplicate(h) { format!("{} ≈dup", h.title) } else { h.title.clone() };
        let mut cells = vec![Cell::from((i + 1).to_string()), Cell::from(title)];
        if relation_width > 0 {
            cells.push(Cell::from(h.relation.as_ref().map(|r| r.in_brief()).unwrap_or_default()));
        }
        cells.extend([
            Cell::from(format!("{:.3}", h.score)).bold(),
            Cell::from(score(h.visual)),
            Cell::from(score(h.lyrics)),
        ]);
        let row = Row::new(cells);
        if i == s.selected_hit && focused {
            row.style(Style::new().add_modifier(Modifier::REVERSED))
        } else if i == s.selected_hit {
            row.style(Style::new().add_modifier(Modifier::UNDERLINED))
        } else {
            row
        }
    });
    let (mut widths, mut header) = (vec![Constraint::Length(4), Constraint::Min(12)], vec!["#", "Title"]);
    if relation_width > 0 {
        widths.push(Constraint::Length(relation_width));
        header.push("Relation");
    }
    widths.extend([Constraint::Length(7); 3]);
    header.extend(["Fused", "Visual", "Lyrics"]);
    let header = Row::new(header).bold();
    let table = Table::new(rows, widths).header(header).block(block);
    frame.render_widget(table, area);
    Some(RowArea { area: rows_area, offset: 0, len })
}

fn draw_preview(frame: &mut Frame, area: Rect, s: &mut QueryState, images: bool) {
    let Some(BestPair { query_t: qt, match_t: mt, similarity: sim, .. }) = s.best_pair() else {
        let block = Block::new().borders(Borders::ALL).title(" Match ");
        frame.render_widget(block, area);
        return;
    };
    let lines: Vec<Line> = s
        .selected()
        .map(|h| {
            h.lines
                .iter()
                .flat_map(|l| {
                    vec![
                        Line::from(vec![Span::raw("query: ").dim(), Span::raw(format!("\"{}\"", l.query_text))]),
                        Line::from(vec![
                            Span::raw(format!("{:.1}–{:.1}s: ", l.match_start, l.match_end)).dim(),
                            Span::raw(format!("\"{}\"", l.match_text)),
                        ]),
                        Line::from(format!("similarity {:.2}", l.similarity)).dim(),
                    ]
                })
                .chain(h.lyrics_left_out().map(|why| Line::from(format!("lyrics not counted: {why}")).yellow()))
                .collect()
        })
        .unwrap_or_default();
    let title = s.selected().map(|h| h.title.clone()).unwrap_or_default();
    // Frames side by side, as tall as a 16:9 frame of that width in half blocks (two pixels a
    // cell), and the matched lyrics below them.
    let image_rows = (area.width / 2).saturating_sub(2) as f32 * 9.0 / 32.0;
    let frames_height = (image_rows.ceil() as u16 + 2).clamp(4, area.height.saturating_sub(4).max(4));
    let [frames, words] = Layout::vertical([Constraint::Length(frames_height), Constraint::Min(3)]).areas(area);
    let [q, m] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(frames);
    // A description has words where a query frame would be.
    let words_asked = s.description.clone().filter(|_| s.answer.is_some() && s.previews.query.is_none());
    let qtitle = if words_asked.is_some() { " described as ".to_string() } else { format!(" query @ {qt:.1}s ") };
    let no_image = || vec![Line::from("(no image)").dim()];
    let query_text = match words_asked {
        Some(words) => {
            let mut text = vec![Line::from(format!("\"{words}\""))];
            if let Some(lyrics) = &s.lyrics {
                text.extend([Line::from(""), Line::from(format!("with lyrics \"{lyrics}\"")).dim()]);
            }
            text
        }
        None => no_image(),
    };
    let qblock = Block::new().borders(Borders::ALL).title(qtitle);
    let mblock = Block::new().borders(Borders::ALL).title(format!(" {title} @ {mt:.1}s · {sim:.2} "));
    for (block, rect, proto, text) in
        [(qblock, q, &mut s.previews.query, query_text), (mblock, m, &mut s.previews.matched, no_image())]
    {
        let inner = block.inner(rect);
        frame.render_widget(block, rect);
        match proto {
            Some(p) if images => frame.render_stateful_widget(
                StatefulImage::default().resize(Resize::Scale(Some(image::imageops::FilterType::Triangle))),
                inner,
                p,
            ),
            _ => frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), inner),
        }
    }
    let text = if lines.is_empty() {
        vec![Line::from("No lyrics matched (an instrumental, or no text model).").dim()]
    } else {
        lines
    };
    let wblock = Block::new().borders(Borders::ALL).title(" Matched lyrics · Enter: full-screen ").title_bottom(
        Line::from(format!(
            " {} ",
            super::keys::hint_within(super::action::Pane::Query, usize::from(words.width).saturating_sub(4))
        ))
        .right_aligned(),
    );
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }).block(wblock), words);
}
