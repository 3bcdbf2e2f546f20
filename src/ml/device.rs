//! Choosing the device models run on.

use crate::error::{Error, Remedy, Result};
pub use crate::types::{parse_device, DeviceSpec};
use candle_core::Device;

/// Opens the device; CUDA needs a build with the `cuda` feature of candle.
pub fn device(spec: DeviceSpec) -> Result<Device> {
    match spec {
        DeviceSpec::Cpu => Ok(Device::Cpu),
        DeviceSpec::Cuda(n) => {
            Device::new_cuda(n).map_err(|e| Error::not_ready(format!("cannot use cuda:{n} ({e})"), Remedy::UseCpu))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices() {
        assert_eq!(parse_device("cpu").unwrap(), DeviceSpec::Cpu);
        assert_eq!(parse_device("cuda:1").unwrap(), DeviceSpec::Cuda(1));
        assert!(parse_device("tpu").unwrap_err().to_string().contains("`tpu`"));
    }
}
