//! The real terminal's side of the dashboard: key and mouse events that can be paused while the
//! video player has the terminal, and handing the screen over and back.

use super::Handover;
use crate::images::Graphics;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture, Event, EventStream};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen,
};
use futures::{Stream, StreamExt};
use ratatui_image::picker::ProtocolType;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

/// The event reader, absent while the terminal is lent out (crossterm's reader would otherwise
/// take keys meant for the player), and who waits for it to come back.
#[derive(Default)]
struct Slot {
    reader: Option<EventStream>,
    waiting: Option<Waker>,
}

/// Terminal events, paused while the terminal is lent out.
pub struct Events(Arc<Mutex<Slot>>);

/// Lends the terminal out and takes it back, pausing [`Events`] meanwhile.
pub struct Lender(Arc<Mutex<Slot>>);

/// The terminal's events and the lender that pauses them.
pub fn events() -> (Events, Lender) {
    let slot = Arc::new(Mutex::new(Slot { reader: Some(EventStream::new()), waiting: None }));
    (Events(slot.clone()), Lender(slot))
}

impl Stream for Events {
    type Item = std::io::Result<Event>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.reader.as_mut() {
            Some(reader) => reader.poll_next_unpin(cx),
            None => {
                slot.waiting = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Handover for Lender {
    fn suspend(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).reader = None;
        execute!(std::io::stdout(), DisableMouseCapture, LeaveAlternateScreen)?;
        disable_raw_mode()
    }

    fn resume(&mut self) -> std::io::Result<()> {
        enable_raw_mode()?;
        execute!(std::io::stdout(), EnterAlternateScreen, Clear(ClearType::All), EnableMouseCapture)?;
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        slot.reader = Some(EventStream::new());
        if let Some(w) = slot.waiting.take() {
            w.wake();
        }
        Ok(())
    }
}

/// Turns mouse reporting on or off.
pub fn mouse(on: bool) -> std::io::Result<()> {
    if on {
        execute!(std::io::stdout(), EnableMouseCapture)
    } else {
        execute!(std::io::stdout(), DisableMouseCapture)
    }
}

/// The graphics mode the picker settled on.
pub fn graphics_of(protocol: ProtocolType) -> Graphics {
    match protocol {
        ProtocolType::Kitty => Graphics::Kitty,
        ProtocolType::Sixel => Graphics::Sixel,
        ProtocolType::Iterm2 => Graphics::Iterm2,
        ProtocolType::Halfblocks => Graphics::Halfblocks,
    }
}
