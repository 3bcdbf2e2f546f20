//! Plain data that several layers share (the catalog stores it, jobs make it, frontends show it),
//! kept here so no lower layer has to import a higher one to name it.

mod device;
mod fingerprint;
mod labels;
mod metrics;
mod path_text;
mod printable;
mod probe;
mod role;
mod run;
mod step;
mod time;
mod transcript;

pub use device::{parse_device, DeviceSpec, UnknownDevice};
pub use fingerprint::Fingerprint;
pub use labels::short_labels;
pub use metrics::{pct, ClassAccuracy, Confused, EpochMetrics, FitSettings};
pub use path_text::{path_text, serialize_path, text_path};
pub use printable::{printable, printable_lines};
pub use probe::Probe;
pub use role::{ModelNote, Role};
pub use run::RunStatus;
pub use step::{StageRate, StageRates, Step};
pub use time::{clock, short_duration};
pub use transcript::{language_told, word_error_rate, Segment, Transcript};
