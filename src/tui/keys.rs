//! The dashboard's one keymap: every binding with where it applies, what it does and how it is
//! described. The key handler, the `?` overlay and each pane's hint line are all read from it.

use super::action::{Action, Pane};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every pane.
    Global,
    /// One pane (looked up before the global bindings).
    In(Pane),
}

/// One key and what it does.
#[derive(Debug, Clone, Copy)]
pub struct Bind {
    pub scope: Scope,
    pub key: KeyCode,
    pub action: Action,
    /// The pane hint's words for it and their place in the hint (`None`: not hinted).
    pub hint: Option<(u8, &'static str)>,
}

/// A line of the help overlay and the bindings it describes.
pub struct Group {
    pub keys: &'static str,
    pub what: &'static str,
    pub binds: &'static [Bind],
}

const fn bind(scope: Scope, key: KeyCode, action: Action) -> Bind {
    Bind { scope, key, action, hint: None }
}

const fn hinted(scope: Scope, key: KeyCode, action: Action, place: u8, words: &'static str) -> Bind {
    Bind { scope, key, action, hint: Some((place, words)) }
}

use KeyCode::{BackTab, Char, Down, Enter, Esc, Left, Right, Tab, Up};
use Scope::{Global, In};
const LIBRARY: Scope = In(Pane::Library);
const TRAINING: Scope = In(Pane::Training);
const QUERY: Scope = In(Pane::Query);

/// Every binding outside prompts and overlays, in the order the help overlay lists them.
pub const KEYMAP: &[Group] = &[
    Group {
        keys: "Tab / Shift-Tab",
        what: "next / previous pane",
        binds: &[bind(Global, Tab, Action::NextPane), bind(Global, BackTab, Action::PrevPane)],
    },
    Group {
        keys: "1 2 3",
        what: "library, training, query pane",
        binds: &[
            bind(Global, Char('1'), Action::Show(Pane::Library)),
            bind(Global, Char('2'), Action::Show(Pane::Training)),
            bind(Global, Char('3'), Action::Show(Pane::Query)),
        ],
    },
    Group {
        keys: "↑ ↓ / k j",
        what: "move the selection",
        binds: &[
            bind(Global, Up, Action::Up),
            bind(Global, Down, Action::Down),
            bind(Global, Char('k'), Action::Up),
            bind(Global, Char('j'), Action::Down),
        ],
    },
    Group {
        keys: "Enter",
        what: "inspect a video · run a query · full-screen preview",
        binds: &[hinted(LIBRARY, Enter, Action::Select, 3, "inspect"), bind(Global, Enter, Action::Select)],
    },
    Group {
        keys: "s",
        what: "stop ingest or training (resumable) · query: playlist",
        binds: &[
            hinted(TRAINING, Char('s'), Action::Stop, 2, "stop"),
            hinted(QUERY, Char('s'), Action::SavePlaylist, 3, "playlist"),
            bind(Global, Char('s'), Action::Stop),
        ],
    },
    Group {
        keys: "a / r",
        what: "library: add a folder (Tab completes) / retry a video",
        binds: &[
            hinted(LIBRARY, Char('a'), Action::AddFolder, 1, "add folder"),
            hinted(LIBRARY, Char('r'), Action::Reingest, 2, "retry"),
        ],
    },
    Group {
        keys: "t / p",
        what: "training: start a run / choose the preset",
        binds: &[
            hinted(TRAINING, Char('t'), Action::StartTraining, 1, "train"),
            hinted(TRAINING, Char('p'), Action::NextPreset, 3, "preset"),
        ],
    },
    Group {
        keys: "/ / l / d",
        what: "query: filter by title / type lyrics / describe a look",
        binds: &[
            bind(QUERY, Char('/'), Action::Filter),
            bind(QUERY, Char('l'), Action::TypeLyrics),
            bind(QUERY, Char('d'), Action::Describe),
        ],
    },
    Group {
        keys: "← →",
        what: "query: move between videos and results",
        binds: &[
            bind(QUERY, Left, Action::Left),
            bind(QUERY, Char('h'), Action::Left),
            bind(QUERY, Right, Action::Right),
        ],
    },
    Group {
        keys: "o / O",
        what: "query: play the match at its moment / the query (mpv)",
        binds: &[
            hinted(QUERY, Char('o'), Action::PlayMatch, 1, "play"),
            hinted(QUERY, Char('O'), Action::PlayQuery, 2, "play query"),
        ],
    },
    Group {
        keys: "i / x",
        what: "query: only results in a folder / not a duplicate",
        binds: &[
            hinted(QUERY, Char('i'), Action::Scope, 4, "in folder"),
            hinted(QUERY, Char('x'), Action::NotDuplicate, 5, "not a dup"),
        ],
    },
    Group {
        keys: "+ / -",
        what: "query: more visual / more lyrics weight, re-ranked live",
        binds: &[
            bind(QUERY, Char('+'), Action::MoreVisual),
            bind(QUERY, Char('='), Action::MoreVisual),
            bind(QUERY, Char('-'), Action::MoreLyrics),
        ],
    },
    Group {
        keys: "e",
        what: "every error in full (closing clears the status bar)",
        binds: &[bind(Global, Char('e'), Action::ShowErrors)],
    },
    Group { keys: "?", what: "show or hide this help", binds: &[bind(Global, Char('?'), Action::ToggleHelp)] },
    Group {
        keys: "q / Esc",
        what: "quit (asks first while work runs)",
        binds: &[bind(Global, Char('q'), Action::Quit), bind(Global, Esc, Action::Quit)],
    },
];

fn binds() -> impl Iterator<Item = &'static Bind> {
    KEYMAP.iter().flat_map(|g| g.binds.iter())
}

/// What `key` does in `pane` (pane bindings first, then global ones); Ctrl-C always quits.
pub fn action(pane: Pane, key: KeyEvent) -> Option<Action> {
    if key.code == Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        return Some(Action::Quit);
    }
    let find = |scope: Scope| binds().find(|b| b.scope == scope && b.key == key.code).map(|b| b.action);
    find(In(pane)).or_else(|| find(Global))
}

/// How a key is written in hints.
fn key_name(key: KeyCode) -> String {
    match key {
        Char(c) => c.to_string(),
        Enter => "Enter".into(),
        Esc => "Esc".into(),
        Tab => "Tab".into(),
        other => format!("{other:?}"),
    }
}

/// The hint line of `pane`: its hinted keys, as `a add folder · r retry · Enter inspect`.
pub fn hint(pane: Pane) -> String {
    let mut hints: Vec<(u8, String)> = binds()
        .filter(|b| b.scope == In(pane))
        .filter_map(|b| b.hint.map(|(place, words)| (place, format!("{} {words}", key_name(b.key)))))
        .collect();
    hints.sort();
    hints.into_iter().map(|(_, h)| h).collect::<Vec<_>>().join(" · ")
}

/// The hint line of `pane` in at most `width` characters: its first hints that fit, then
/// `· ? more` where some were left out (the help overlay lists every key).
pub fn hint_within(pane: Pane, width: usize) -> String {
    let full = hint(pane);
    if full.chars().count() <= width {
        return full;
    }
    const MORE: &str = " · ? more";
    let mut kept = String::new();
    for part in full.split(" · ") {
        let with = if kept.is_empty() { part.to_string() } else { format!("{kept} · {part}") };
        if with.chars().count() + MORE.chars().count() > width {
            break;
        }
        kept = with;
    }
    if kept.is_empty() {
        "? keys".to_string()
    } else {
        format!("{kept}{MORE}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pane_keys_win_over_global_ones_and_hints_come_from_the_table() {
        let key = |c| KeyEvent::new(Char(c), KeyModifiers::NONE);
        assert_eq!(action(Pane::Library, key('a')), Some(Action::AddFolder));
        assert_eq!(action(Pane::Query, key('a')), None);
        assert_eq!(action(Pane::Query, key('h')), Some(Action::Left));
        assert_eq!(action(Pane::Training, key('s')), Some(Action::Stop));
        assert_eq!(action(Pane::Library, KeyEvent::new(Char('c'), KeyModifiers::CONTROL)), Some(Action::Quit));
        assert_eq!(hint(Pane::Library), "a add folder · r retry · Enter inspect");
        assert_eq!(hint(Pane::Training), "t train · s stop · p preset");
        assert_eq!(hint(Pane::Query), "o play · O play query · s playlist · i in folder · x not a dup");
        assert_eq!(action(Pane::Query, key('s')), Some(Action::SavePlaylist));
        assert_eq!(action(Pane::Library, key('s')), Some(Action::Stop));
        assert_eq!(hint_within(Pane::Query, 100), hint(Pane::Query));
        assert_eq!(
            hint_within(Pane::Query, 43),
            "o play · O play query · s playlist · ? more",
            "the first keys kept whole"
        );
        assert_eq!(hint_within(Pane::Query, 5), "? keys");
    }
}
