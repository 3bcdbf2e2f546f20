//! What the dashboard does around a result — play it, save the ranking as a playlist, mark a
//! pair not duplicates — and what the mouse does: each turns into a [`Command`] or a state change.

use super::action::{Action, Pane};
use super::app::{App, Command};
use super::mouse::{Click, List};
use super::query::Focus;
use crossterm::event::MouseEvent;

impl App {
    /// `o` / `O`: the selected result from its matched moment, or the query video from the
    /// frame that matched it.
    pub(super) fn play(&mut self, query_side: bool) -> Option<Command> {
        self.again(super::errors::Origin::Play);
        let Some(hit) = self.query.selected().cloned() else {
            self.status = "no result selected: run a query first".into();
            return None;
        };
        let video_of = |id: i64| self.library.videos.iter().find(|v| v.id == id);
        let moment = if query_side {
            let Some(asked) = self.query.asked_video.and_then(video_of) else {
                self.status = "the query is not a library video, so there is nothing of it to play".into();
                return None;
            };
            crate::pipeline::query_moment(&hit, asked)
        } else {
            crate::pipeline::match_moment(&hit, video_of(hit.id)?)
        };
        self.status = format!("playing {}", moment.title);
        Some(Command::Play(moment))
    }

    /// `s` in the query pane: the ranking shown (in the scope, if one is set) as a playlist.
    pub(super) fn save_playlist(&mut self) -> Option<Command> {
        self.again(super::errors::Origin::Playlist);
        let answer = self.query.answer.as_ref()?;
        let entries = crate::pipeline::playlist_entries(self.query.hits(), &self.library.videos);
        let heading = crate::pipeline::playlist_heading(&answer.results);
        Some(Command::SavePlaylist { label: answer.results.query.clone(), heading, entries })
    }

    /// `x`: the selected result is not a duplicate of the query video.
    pub(super) fn not_duplicate(&mut self) -> Option<Command> {
        self.again(super::errors::Origin::Decision);
        let (Some(asked), Some(hit)) = (self.query.asked_video, self.query.selected()) else {
            self.status = "x marks a result of a library video's query as not its duplicate".into();
            return None;
        };
        Some(Command::NotDuplicate(asked, hit.id))
    }

    /// What a mouse event does: a click on a tab shows its pane, a click on a row selects it (a
    /// second click acts on it, as Enter), the wheel moves the selection of the list under it.
    pub fn mouse(&mut self, ev: MouseEvent) -> Option<Command> {
        let click = self.areas.click(&ev)?;
        if self.inspector.is_some() || self.preview.is_some() || self.show_help || self.errors.open {
            return matches!(click, Click::Row(..) | Click::Tab(_))
                .then(|| self.update(Action::CloseOverlay))
                .flatten();
        }
        if self.prompt.is_some() || self.confirm_quit {
            return None;
        }
        match click {
            Click::Tab(pane) => {
                self.pane = pane;
                None
            }
            Click::Scroll(list, way) => {
                self.focus(list);
                self.update(way)
            }
            Click::Row(list, index) => {
                self.focus(list);
                let current = match list {
                    List::Library => &mut self.library.selected,
                    List::Runs => &mut self.training.selected_run,
                    List::QueryVideos => &mut self.query.selected_video,
                    List::Results => &mut self.query.selected_hit,
                };
                let again = *current == index;
                *current = index;
                if list == List::Results {
                    self.query.refresh_previews(self.picker.as_ref());
                }
                if again && list != List::Runs {
                    self.select()
                } else {
                    None
                }
            }
        }
    }

    /// Makes `list` the one the arrow keys move in.
    fn focus(&mut self, list: List) {
        match list {
            List::Library => self.pane = Pane::Library,
            List::Runs => self.pane = Pane::Training,
            List::QueryVideos => (self.pane, self.query.focus) = (Pane::Query, Focus::Videos),
            List::Results => (self.pane, self.query.focus) = (Pane::Query, Focus::Results),
        }
    }
}
