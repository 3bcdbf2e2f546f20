//! Choosing the device models run on: `auto` takes the first CUDA device when this build has
//! CUDA and one answers; each device is opened once per process and shared by every model.

use crate::error::{Error, Remedy, Result};
pub use crate::types::{parse_device, DeviceSpec};
use candle_core::Device;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// Whether this binary was built with the `cuda` feature.
pub const CUDA_BUILD: bool = cfg!(feature = "cuda");

/// The device `spec` names, and how it was chosen, for `reelmatch models` and the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    /// `cpu` or `cuda:N`.
    pub name: String,
    /// Why: "auto: …" for `auto`, empty when the user named the device.
    pub why: String,
}

impl std::fmt::Display for Chosen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.why.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{} ({})", self.name, self.why)
        }
    }
}

/// Opens the device `spec` names (once per process: later calls share it).
pub fn device(spec: DeviceSpec) -> Result<Device> {
    Ok(open(spec)?.0)
}

/// The device a configured name (`models.device`) stands for, in a word: `cpu`, `cuda:0`, or
/// `cuda:0 unavailable`.
pub fn label(configured: &str) -> String {
    match describe_configured(configured) {
        Ok(chosen) => chosen.name,
        Err(_) => format!("{} unavailable", configured.trim()),
    }
}

/// The device a configured name (`models.device`) stands for, with how it was chosen.
pub fn describe_configured(configured: &str) -> Result<Chosen> {
    describe(parse_device(configured)?)
}

/// The device `spec` names, with how it was chosen.
pub fn describe(spec: DeviceSpec) -> Result<Chosen> {
    Ok(open(spec)?.1)
}

fn open(spec: DeviceSpec) -> Result<(Device, Chosen)> {
    match spec {
        DeviceSpec::Cpu => Ok((Device::Cpu, Chosen { name: "cpu".into(), why: String::new() })),
        DeviceSpec::Cuda(n) => {
            if !CUDA_BUILD {
                return Err(Error::not_ready(
                    format!("cuda:{n} was asked for, but this reelmatch was built without CUDA"),
                    Remedy::CudaBuild,
                ));
            }
            let dev = cuda(n).map_err(|e| Error::not_ready(format!("cannot use cuda:{n}: {e}"), Remedy::UseCpu))?;
            Ok((dev, Chosen { name: format!("cuda:{n}"), why: String::new() }))
        }
        DeviceSpec::Auto => {
            if !CUDA_BUILD {
                return Ok((Device::Cpu, Chosen { name: "cpu".into(), why: "auto: a build without CUDA".into() }));
            }
            match cuda(0) {
                Ok(dev) => Ok((dev, Chosen { name: "cuda:0".into(), why: "auto: a CUDA device answered".into() })),
                Err(e) => {
                    tracing::info!("no CUDA device answered ({e}); models run on the CPU");
                    Ok((Device::Cpu, Chosen { name: "cpu".into(), why: "auto: no CUDA device answered".into() }))
                }
            }
        }
    }
}

/// CUDA device `n`, opened on first use; an answer (device or failure) is kept for the process.
fn cuda(n: usize) -> std::result::Result<Device, String> {
    static OPENED: OnceLock<Mutex<HashMap<usize, std::result::Result<Device, String>>>> = OnceLock::new();
    let mut opened = OPENED.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    opened.entry(n).or_insert_with(|| Device::new_cuda(n).map_err(|e| first_line(&e.to_string()))).clone()
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices() {
        assert_eq!(parse_device("cpu").unwrap(), DeviceSpec::Cpu);
        assert_eq!(parse_device("auto").unwrap(), DeviceSpec::Auto);
        assert_eq!(parse_device("cuda").unwrap(), DeviceSpec::Cuda(0));
        assert_eq!(parse_device("cuda:1").unwrap(), DeviceSpec::Cuda(1));
        assert!(parse_device("tpu").unwrap_err().to_string().contains("`tpu`"));
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn a_cpu_build_says_how_to_get_cuda() {
        let e = device(DeviceSpec::Cuda(0)).unwrap_err();
        let text = format!("{e}");
        assert!(text.contains("built without CUDA"), "{text}");
        assert!(e.to_string().contains("cuda:0"), "{text}");
        assert_eq!(describe(DeviceSpec::Auto).unwrap().to_string(), "cpu (auto: a build without CUDA)");
        assert!(device(DeviceSpec::Auto).unwrap().is_cpu());
    }
}
