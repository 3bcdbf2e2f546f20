//! The training pane: live loss per step and accuracy per epoch, top-10 class and macro accuracy
//! as big numbers, per-class test accuracy as sorted bars (the 10 best highlighted), progress
//! with an ETA, and the past runs.

use super::mouse::RowArea;
use super::widgets::{pct, short_duration, text_bar, BigText};
use crate::events::Event;
use crate::pipeline::RunDetail;
use crate::types::{EpochMetrics, RunStatus};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{
    Axis, Bar, BarChart, BarGroup, Block, Borders, Cell, Chart, Dataset, GraphType, Paragraph, Row, Table, Wrap,
};
use ratatui::Frame;

/// Points kept for the loss curve; older ones are merged in pairs beyond this.
const MAX_POINTS: usize = 2000;

pub use crate::pipeline::RunItem;

/// What the training pane shows.
#[derive(Debug, Clone, Default)]
pub struct TrainingState {
    pub run: Option<i64>,
    pub classes: usize,
    pub epochs: u32,
    pub first_epoch: u32,
    pub steps_per_epoch: u64,
    /// Steps taken since this pane saw the run start.
    pub steps_seen: u64,
    pub epoch: u32,
    /// (step, loss), merged in pairs when there are many.
    pub losses: Vec<(f64, f64)>,
    pub history: Vec<EpochMetrics>,
    /// Augmented views computed: (done, total).
    pub augment: Option<(u32, u32)>,
    pub running: bool,
    pub ended: Option<RunStatus>,
    pub runs: Vec<RunItem>,
    pub selected_run: usize,
    /// Presets to train with; `preset` is the chosen one.
    pub presets: Vec<String>,
    pub preset: usize,
    /// The stored run last asked for (so it is read once).
    pub requested: Option<i64>,
    /// The last start stopped to ask before a long computation of augmented views; `t` says yes.
    pub confirm_views: bool,
}

impl TrainingState {
    /// Applies a job event; true when the runs list should be reloaded.
    pub fn on_event(&mut self, event: &Event) -> bool {
        match event {
            Event::AugmentProgress { done, total } => {
                self.running = true;
                self.augment = Some((*done, *total));
                false
            }
            Event::TrainStarted { run, classes, first_epoch, epochs, steps_per_epoch, .. } => {
                *self = TrainingState {
                    run: Some(*run),
                    classes: classes.len(),
                    epochs: *epochs,
                    first_epoch: *first_epoch,
                    steps_per_epoch: *steps_per_epoch,
                    epoch: *first_epoch,
                    running: true,
                    augment: self.augment,
                    runs: std::mem::take(&mut self.runs),
                    presets: std::mem::take(&mut self.presets),
                    preset: self.preset,
                    selected_run: 0,
                    ..TrainingState::default()
                };
                true
            }
            Event::TrainStep { epoch, step, loss, .. } => {
                self.epoch = *epoch;
                self.steps_seen += 1;
                self.losses.push((*step as f64, *loss as f64));
                if self.losses.len() > MAX_POINTS {
                    self.losses = self
                        .losses
                        .chunks(2)
                        .map(|p| (p[0].0, p.iter().map(|x| x.1).sum::<f64>() / p.len() as f64))
                        .collect();
                }
                false
            }
            Event::TrainEpoch { metrics, .. } => {
                self.history.retain(|m| m.epoch != metrics.epoch);
                self.history.push(metrics.clone());
                true
            }
            Event::TrainFinished { status, .. } => {
                self.running = false;
                self.ended = Some(*status);
                true
            }
            _ => false,
        }
    }

    /// A run was asked for: the last run's figures leave at once (they would read as this
    /// run's until it starts), and the pane says it is starting.
    pub fn starting(&mut self) {
        *self = TrainingState {
            running: true,
            runs: std::mem::take(&mut self.runs),
            selected_run: self.selected_run,
            presets: std::mem::take(&mut self.presets),
            preset: self.preset,
            confirm_views: self.confirm_views,
            ..TrainingState::default()
        };
    }

    /// The stored run the pane should show: the one selected in the runs list, unless a run is going.
    pub fn wanted(&self) -> Option<i64> {
        if self.running {
            return None;
        }
        self.runs.get(self.selected_run).map(|r| r.id).filter(|id| Some(*id) != self.run)
    }

    /// Takes the runs list read again. A stored run on show whose epochs or state changed since
    /// (another machine trains it on a shared catalog) is read again.
    pub fn set_runs(&mut self, runs: Vec<RunItem>) {
        let item = |list: &[RunItem], id| list.iter().find(|r| r.id == id).map(|r| (r.epochs, r.status.clone()));
        if let Some(id) = self.run.filter(|_| !self.running) {
            if item(&self.runs, id) != item(&runs, id) {
                (self.run, self.requested) = (None, None);
            }
        }
        self.runs = runs;
        self.selected_run = self.selected_run.min(self.runs.len().saturating_sub(1));
    }

    /// Shows a stored run: its loss curve, accuracy per epoch, numbers and bars.
    pub fn show(&mut self, detail: RunDetail) {
        if self.running {
            return;
        }
        let RunDetail { run, history, steps } = detail;
        let id = run.id;
        let epochs = if run.settings.epochs > 0 { run.settings.epochs } else { run.epochs_done };
        let per_epoch = steps.iter().filter(|s| s.1 == 1).count() as u64;
        let mut losses: Vec<(f64, f64)> = steps.iter().map(|s| (s.0 as f64, s.2 as f64)).collect();
        while losses.len() > MAX_POINTS {
            losses = losses.chunks(2).map(|p| (p[0].0, p.iter().map(|x| x.1).sum::<f64>() / p.len() as f64)).collect();
        }
        self.run = Some(id);
        self.classes = run.classes.len();
        self.epochs = epochs;
        self.first_epoch = 1;
        self.steps_per_epoch = per_epoch;
        self.steps_seen = steps.len() as u64;
        self.epoch = run.epochs_done;
        self.losses = losses;
        self.history = history;
        self.augment = None;
        self.running = false;
        self.ended = Some(run.status);
    }

    /// Steps left and the seconds they should take, from the last epoch's pace.
    pub fn eta_seconds(&self) -> Option<f64> {
        let last = self.history.last()?;
        let per_step = last.seconds / self.steps_per_epoch.max(1) as f64;
        let total = (self.epochs + 1).saturating_sub(self.first_epoch) as u64 * self.steps_per_epoch;
        Some(total.saturating_sub(self.steps_seen) as f64 * per_step)
    }

    pub fn preset_name(&self) -> &str {
        self.presets.get(self.preset).map(String::as_str).unwrap_or("default")
    }
}

/// Draws the pane.
/// Draws the pane; returns where the runs' rows went, when they are shown.
pub fn draw(frame: &mut Frame, area: Rect, s: &TrainingState) -> Option<RowArea> {
    let title = match (s.run, s.running, s.ended) {
        (Some(run), true, _) => format!(" Training · run {run} · running "),
        (Some(run), false, Some(status)) => format!(" Training · run {run} · {} ", status.as_str()),
        _ => " Training ".to_string(),
    };
    let block = Block::new().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let runs_height = if inner.height >= 22 { (s.runs.len() as u16 + 2).clamp(3, 7) } else { 0 };
    let [progress, charts, numbers, runs] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(6),
        Constraint::Length(6),
        Constraint::Length(runs_height),
    ])
    .areas(inner);
    draw_progress(frame, progress, s);
    if s.run.is_none() && s.history.is_empty() {
        let text = if s.augment.is_some() {
            "Computing augmented views of the train frames (random affine, blur, flip) through the backbone; \
             they are cached, so later runs start at once."
        } else {
            "No run yet. Press t to train a classifier over the library's frame features \
             (p chooses the preset); s stops it, keeping what it learnt."
        };
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), charts);
    } else {
        let [loss, acc] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(charts);
        draw_loss(frame, loss, s);
        draw_accuracy(frame, acc, s);
        draw_numbers(frame, numbers, s);
    }
    (runs.height > 0).then(|| draw_runs(frame, runs, s))
}

fn draw_progress(frame: &mut Frame, area: Rect, s: &TrainingState) {
    let lead = match (s.running, s.augment, s.run) {
        (true, Some((done, total)), None) => {
            format!("augmenting {} {done}/{total} views   ", text_bar(done as f64 / total.max(1) as f64, 12))
        }
        (_, _, Some(_)) => {
            let total_steps = (s.epochs + 1).saturating_sub(s.first_epoch) as u64 * s.steps_per_epoch;
            let step_in_epoch =
                s.steps_seen.saturating_sub((s.epoch.saturating_sub(s.first_epoch)) as u64 * s.steps_per_epoch);
            let eta = match (s.running, s.eta_seconds()) {
                (true, Some(e)) => format!(" · ETA {}", short_duration(e)),
                (true, None) => " · ETA after epoch 1".into(),
                _ => String::new(),
            };
            format!(
                "epoch {}/{} · step {}/{} {}{eta}   ",
                s.epoch,
                s.epochs,
                step_in_epoch.min(s.steps_per_epoch),
                s.steps_per_epoch,
                text_bar(s.steps_seen as f64 / total_steps.max(1) as f64, 12)
            )
        }
        (true, None, None) => "starting a run…   ".to_string(),
        _ => String::new(),
    };
    // The keys take the room the progress leaves, whole hints only, with the preset's name
    // after `p preset` where it all fits.
    let full = format!("{}: {}", super::keys::hint(super::action::Pane::Training), s.preset_name());
    let room = usize::from(area.width).saturating_sub(lead.chars().count());
    let keys = match full.chars().count() <= room {
        true => full,
        false => super::keys::hint_within(super::action::Pane::Training, room),
    };
    frame.render_widget(Paragraph::new(format!("{lead}{keys}")), area);
}

fn draw_loss(frame: &mut Frame, area: Rect, s: &TrainingState) {
    let hi = s.losses.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-6);
    let last = s.losses.last().map_or(1.0, |p| p.0).max(1.0);
    let data = [Dataset::default()
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(Style::new().fg(Color::Cyan))
        .data(&s.losses)];
    let chart = Chart::new(data.to_vec())
        .block(Block::new().borders(Borders::ALL).title(" Loss per step "))
        .x_axis(Axis::default().bounds([0.0, last]).labels(["0".to_string(), format!("{}", last as u64)]))
        .y_axis(Axis::default().bounds([0.0, hi]).labels(["0".to_string(), format!("{hi:.2}")]));
    frame.render_widget(chart, area);
}

fn draw_accuracy(frame: &mut Frame, area: Rect, s: &TrainingState) {
    let train: Vec<(f64, f64)> = s.history.iter().map(|m| (m.epoch as f64, m.train_accuracy)).collect();
    let test: Vec<(f64, f64)> = s.history.iter().filter_map(|m| m.test_accuracy.map(|a| (m.epoch as f64, a))).collect();
    let last = s.epochs.max(2) as f64;
    let data = vec![
        Dataset::default()
            .name("train")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Blue))
            .data(&train),
        Dataset::default()
            .name("test")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Yellow))
            .data(&test),
    ];
    let chart = Chart::new(data)
        .block(Block::new().borders(Borders::ALL).title(" Accuracy per epoch "))
        .x_axis(Axis::default().bounds([1.0, last]).labels(["1".to_string(), format!("{}", last as u32)]))
        .y_axis(Axis::default().bounds([0.0, 1.0]).labels(["0%", "100%"]));
    frame.render_widget(chart, area);
}

fn draw_numbers(frame: &mut Frame, area: Rect, s: &TrainingState) {
    let last = s.history.last();
    let wide = area.width >= 90;
    let number_width = if wide { 24 } else { 14 };
    let [top10, macro_area, bars] =
        Layout::horizontal([Constraint::Length(number_width), Constraint::Length(number_width), Constraint::Min(10)])
            .areas(area);
    for (a, title, v, color) in [
        (top10, " Top-10 ", last.and_then(|m| m.top10_class_accuracy), Color::Green),
        (macro_area, " Macro (all) ", last.and_then(|m| m.macro_accuracy), Color::White),
    ] {
        let block = Block::new().borders(Borders::ALL).title(title);
        let inner = block.inner(a);
        frame.render_widget(block, a);
        // "100%" rather than "100.0%", so the big digits fit.
        let text = match v {
            Some(v) if v >= 0.9995 => "100%".to_string(),
            other => pct(other),
        };
        if wide && inner.height >= 4 {
            frame.render_widget(BigText { text: &text, style: Style::new().fg(color) }, inner);
        } else {
            let p = Paragraph::new(vec![Line::from(""), Line::from(text).bold().fg(color).centered()]);
            frame.render_widget(p, inner);
        }
    }
    let block = Block::new().borders(Borders::ALL).title(" Test accuracy per class (10 best green) ");
    let Some(m) = last else {
        frame.render_widget(block, bars);
        return;
    };
    let inner = block.inner(bars);
    frame.render_widget(block, bars);
    let n = m.per_class.len().max(1) as u16;
    let width = (inner.width / n).saturating_sub(1).clamp(1, 8);
    let titles: Vec<&str> = m.per_class.iter().map(|c| c.title.as_str()).collect();
    let labels = super::widgets::short_labels(&titles, usize::from(width));
    let data: Vec<Bar> = m
        .per_class
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let color = if i < 10 { Color::Green } else { Color::DarkGray };
            let label = labels[i].clone();
            let bar = Bar::default()
                .value((c.accuracy * 100.0).round() as u64)
                .text_value(String::new())
                .style(Style::new().fg(color));
            if width >= 3 {
                bar.label(Line::from(label))
            } else {
                bar
            }
        })
        .collect();
    let chart = BarChart::default().data(BarGroup::default().bars(&data)).bar_width(width).bar_gap(1).max(100);
    frame.render_widget(chart, inner);
}

fn draw_runs(frame: &mut Frame, area: Rect, s: &TrainingState) -> RowArea {
    let header = Row::new(["Run", "Status", "Epochs", "Classes", "Settings", "Test", "Top-10", "Macro"]).bold();
    let rows = s.runs.iter().enumerate().map(|(i, r)| {
        let id = format!("{}{}", if r.active { "*" } else { " " }, r.id);
        let row = Row::new(vec![
            Cell::from(id),
            Cell::from(r.status.clone()),
            Cell::from(r.epochs.to_string()),
            Cell::from(r.classes.to_string()),
            Cell::from(r.settings.clone()),
            Cell::from(pct(r.test_accuracy)),
            Cell::from(pct(r.top10)),
            Cell::from(pct(r.macro_accuracy)),
        ]);
        if i == s.selected_run {
            row.style(Style::new().add_modifier(Modifier::REVERSED))
        } else {
            row
        }
    });
    let widths = [5, 8, 6, 7, 18, 7, 7, 7].map(Constraint::Length);
    let table = Table::new(rows, widths)
        .header(header)
        .block(Block::new().borders(Borders::TOP).title(" Runs (* active for queries · ↑ ↓ shows one) "));
    frame.render_widget(table, area);
    // Below the top border and the header.
    let rows = Rect { y: area.y + 2, height: area.height.saturating_sub(2), ..area };
    RowArea { area: rows, offset: 0, len: s.runs.len() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: i64, status: &str, epochs: u32) -> RunItem {
        RunItem {
            id,
            status: status.into(),
            epochs,
            classes: 3,
            settings: String::new(),
            test_accuracy: None,
            top10: None,
            macro_accuracy: None,
            active: false,
        }
    }

    /// A run on show that another machine trains on is read again as its epochs come in; one
    /// that did not change is not.
    #[test]
    fn a_run_trained_elsewhere_is_read_again_when_it_moves() {
        let mut s = TrainingState::default();
        s.set_runs(vec![item(4, "running", 1)]);
        assert_eq!(s.wanted(), Some(4));
        (s.run, s.requested) = (Some(4), Some(4));
        s.set_runs(vec![item(4, "running", 1)]);
        assert_eq!((s.wanted(), s.requested), (None, Some(4)), "unchanged: shown as it is");
        s.set_runs(vec![item(4, "running", 2)]);
        assert_eq!((s.wanted(), s.requested), (Some(4), None), "a new epoch: read again");
        (s.run, s.requested) = (Some(4), Some(4));
        s.set_runs(vec![item(5, "running", 0), item(4, "done", 2)]);
        assert_eq!(s.run, None, "it ended: read again");
    }
}
