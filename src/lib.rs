//! reelmatch: find the music videos in a library most similar to a given one.
//!
//! The library every frontend drives: the CLI (`cli`), the dashboard and the tests all call
//! the same functions here. Data flows one way: video file → probe → frames + audio → catalog.

pub mod backend;
pub mod blocking;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod demo;
pub mod error;
pub mod events;
pub mod export;
pub mod images;
pub mod ingest;
pub mod kernels;
pub mod launch;
pub mod library;
pub mod lock;
pub mod media;
pub mod ml;
pub mod pipeline;
pub mod play;
pub mod playlist;
pub mod redact;
pub mod rng;
pub mod save;
pub mod scan;
pub mod search;
pub mod shared;
pub mod store;
pub mod synth;
pub mod train;
pub mod tui;
pub mod types;

pub use config::Config;
pub use error::{Error, Result};
pub use events::{Cancel, Event, EventSink};
pub use library::Library;

/// Prepares the process for model work: sets `RAYON_NUM_THREADS` (which Candle and image
/// processing read) from the machine's available parallelism, unless the user has set it, and
/// keeps large freed buffers in the process. Call before any work starts.
pub fn init_process(threads: Option<usize>) {
    keep_large_allocations();
    if let Some(n) = threads {
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    } else if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
}

/// Model layers allocate and free buffers of tens of megabytes per batch; glibc hands each back
/// to the kernel and the next one costs a page fault per 4 KiB (measured: the kernel's share of a
/// ResNet-50 benchmark fell from 16% to 7% with this). Freed memory up to 512 MiB stays mapped.
fn keep_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator thresholds; it is called before any work starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}
