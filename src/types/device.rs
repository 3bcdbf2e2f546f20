//! The device models run on, as the user names it.

/// A device as the user names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSpec {
    /// The first CUDA device when this build has CUDA and one answers, else the CPU.
    Auto,
    Cpu,
    Cuda(usize),
}

/// A device name that is neither `auto`, `cpu` nor `cuda:N`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown device `{0}`; use `auto`, `cpu` or `cuda:N`")]
pub struct UnknownDevice(pub String);

/// Parses `auto`, `cpu` or `cuda:N` (`cuda` alone means `cuda:0`).
pub fn parse_device(s: &str) -> Result<DeviceSpec, UnknownDevice> {
    match s.trim() {
        "auto" => Ok(DeviceSpec::Auto),
        "cpu" => Ok(DeviceSpec::Cpu),
        "cuda" => Ok(DeviceSpec::Cuda(0)),
        other => other
            .strip_prefix("cuda:")
            .and_then(|n| n.parse().ok())
            .map(DeviceSpec::Cuda)
            .ok_or_else(|| UnknownDevice(other.to_string())),
    }
}
