//! The mouse: where the last frame drew what can be clicked (tabs, list rows), and what a click
//! or the wheel there asks for. Everything the mouse does, a key does too.

use super::action::{Action, Pane};
use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

/// Rows of a list as last drawn: `area` holds them from its top line, the first being item
/// `offset`, and `len` items in all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowArea {
    pub area: Rect,
    pub offset: usize,
    pub len: usize,
}

impl RowArea {
    /// The item drawn at (`column`, `row`), if any.
    pub fn index_at(&self, column: u16, row: u16) -> Option<usize> {
        if !self.area.contains(Position { x: column, y: row }) {
            return None;
        }
        let i = self.offset + (row - self.area.y) as usize;
        (i < self.len).then_some(i)
    }

    /// Whether (`column`, `row`) is over the list at all.
    pub fn holds(&self, column: u16, row: u16) -> bool {
        self.area.contains(Position { x: column, y: row })
    }
}

/// Which list of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Library,
    Runs,
    QueryVideos,
    Results,
}

/// What the last frame drew where.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Areas {
    /// Each tab's columns on the first line: (from, to exclusive, pane).
    pub tabs: Vec<(u16, u16, Pane)>,
    pub lists: Vec<(List, RowArea)>,
}

/// What a mouse event asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Click {
    Tab(Pane),
    /// Select item `index` of a list (and act on it, as Enter does, when it was selected already).
    Row(List, usize),
    /// The wheel over a list: `Action::Up` or `Action::Down` in it.
    Scroll(List, Action),
}

impl Areas {
    /// Where the tabs of `titles` lie when drawn from column `x` with one-column padding on each
    /// side and a one-column divider (ratatui's `Tabs`).
    pub fn lay_tabs(&mut self, x: u16, titles: &[(Pane, &str)]) {
        self.tabs.clear();
        let mut at = x;
        for (pane, title) in titles {
            let width = title.chars().count() as u16 + 2;
            self.tabs.push((at, at + width, *pane));
            at += width + 1;
        }
    }

    /// What `ev` asks for, from where things were drawn.
    pub fn click(&self, ev: &MouseEvent) -> Option<Click> {
        let (x, y) = (ev.column, ev.row);
        match ev.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if y == 0 {
                    return self.tabs.iter().find(|(a, b, _)| (*a..*b).contains(&x)).map(|t| Click::Tab(t.2));
                }
                self.lists.iter().find_map(|(list, rows)| rows.index_at(x, y).map(|i| Click::Row(*list, i)))
            }
            MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
                let way = if ev.kind == MouseEventKind::ScrollUp { Action::Up } else { Action::Down };
                self.lists.iter().find(|(_, rows)| rows.holds(x, y)).map(|(list, _)| Click::Scroll(*list, way))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn at(kind: MouseEventKind, column: u16, row: u16) -> MouseEvent {
        MouseEvent { kind, column, row, modifiers: KeyModifiers::NONE }
    }

    #[test]
    fn clicks_find_tabs_and_rows_and_the_wheel_finds_the_list_under_it() {
        let mut areas = Areas::default();
        areas.lay_tabs(0, &[(Pane::Library, "1 Library"), (Pane::Training, "2 Training")]);
        let rows = RowArea { area: Rect::new(2, 5, 20, 3), offset: 4, len: 6 };
        areas.lists.push((List::Library, rows));
        let down = MouseEventKind::Down(MouseButton::Left);
        assert_eq!(areas.click(&at(down, 3, 0)), Some(Click::Tab(Pane::Library)));
        assert_eq!(areas.click(&at(down, 12, 0)), Some(Click::Tab(Pane::Training)));
        assert_eq!(areas.click(&at(down, 11, 0)), None, "the divider");
        assert_eq!(areas.click(&at(down, 5, 6)), Some(Click::Row(List::Library, 5)));
        assert_eq!(areas.click(&at(down, 5, 7)), None, "past the last item");
        assert_eq!(
            areas.click(&at(MouseEventKind::ScrollDown, 5, 7)),
            Some(Click::Scroll(List::Library, Action::Down))
        );
        assert_eq!(areas.click(&at(MouseEventKind::ScrollUp, 40, 7)), None);
    }
}
