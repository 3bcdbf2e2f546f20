//! Keeps slow reads off the dashboard's drawing thread: the event loop marks its thread, and
//! the catalog and filesystem reads that jobs do check they are not on it. In debug builds (and
//! so in the tests that drive the dashboard) such a read panics, naming what was attempted;
//! in release builds it is logged.

use std::cell::Cell;

thread_local! {
    static DRAWING: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as the one that draws, until the guard is dropped.
pub fn mark_drawing_thread() -> DrawingThread {
    DRAWING.with(|d| d.set(true));
    DrawingThread(())
}

/// While alive, this thread is the drawing thread.
pub struct DrawingThread(());

impl Drop for DrawingThread {
    fn drop(&mut self) {
        DRAWING.with(|d| d.set(false));
    }
}

/// Call before a read that may block (SQLite, a folder listing, an image file): `what` names it.
pub fn off_drawing_thread(what: &str) {
    if DRAWING.with(Cell::get) {
        debug_assert!(false, "the dashboard's drawing thread tried to {what}; run it as a job");
        tracing::warn!("the dashboard's drawing thread tried to {what}");
    }
}
