//! The dashboard's vocabulary: its panes, and the actions keys ask for.

/// The dashboard's panes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Library,
    Training,
    Query,
}

impl Pane {
    pub const ALL: [Pane; 3] = [Pane::Library, Pane::Training, Pane::Query];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Library => "1 Library",
            Pane::Training => "2 Training",
            Pane::Query => "3 Query",
        }
    }

    /// Its place in [`Pane::ALL`].
    pub fn index(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).expect("every pane is in ALL")
    }
}

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    ConfirmQuit,
    CancelQuit,
    NextPane,
    PrevPane,
    Show(Pane),
    Up,
    Down,
    Left,
    Right,
    ToggleHelp,
    /// Enter: inspect a video, run a query, or open a full-screen preview.
    Select,
    /// `s`: stop the running ingest or training cleanly.
    Stop,
    AddFolder,
    Reingest,
    StartTraining,
    NextPreset,
    Filter,
    TypeLyrics,
    /// `d`: describe a look in words.
    Describe,
    MoreVisual,
    MoreLyrics,
    /// `o`: play the selected result from its matched moment.
    PlayMatch,
    /// `O`: play the query video from the query frame that matched.
    PlayQuery,
    /// `s` in the query pane: save the ranking shown as an M3U playlist.
    SavePlaylist,
    /// `i`: show only results under a folder.
    Scope,
    /// `x`: the selected result is not a duplicate of the query video.
    NotDuplicate,
    Input(char),
    Backspace,
    Complete,
    Submit,
    CancelInput,
    CloseOverlay,
    /// `e`: every error of the session in full.
    ShowErrors,
}
