//! Device selection. One binary serves CPU-only and CUDA installs: the CUDA part of libtorch is
//! loaded at start-up when present (the linker's `--as-needed` drops it from the binary).
#![allow(unsafe_code)] // dlopen of libtorch_cuda.so through libc: each block says why it is sound.

use std::sync::Once;

use invlab_core::device::DeviceRequest;
use tch::Device;

static LOAD_CUDA: Once = Once::new();

/// Loads `libtorch_cuda.so` into the process if it can be loaded; a CPU-only install fails here
/// cleanly and the process goes on without CUDA. Idempotent.
pub fn load_cuda_backend() {
    LOAD_CUDA.call_once(|| {
        let dir = env!("INVLAB_LIBTORCH_LIB");
        let candidates = [
            format!("{dir}/libtorch_cuda.so"),
            "libtorch_cuda.so".to_string(),
        ];
        for path in candidates {
            let Ok(c_path) = std::ffi::CString::new(path) else {
                continue;
            };
            // SAFETY: dlopen with a valid C string; the handle is intentionally never closed.
            let handle =
                unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
            if !handle.is_null() {
                return;
            }
        }
    });
}

/// The CUDA devices this process can use (`--devices auto`), as `cuda:N` requests; empty on
/// a machine without a usable GPU or with a CPU-only libtorch.
pub fn visible_gpus() -> Vec<DeviceRequest> {
    load_cuda_backend();
    if !tch::Cuda::is_available() {
        return Vec::new();
    }
    (0..tch::Cuda::device_count().max(0) as usize)
        .map(|n| DeviceRequest::Cuda(Some(n)))
        .collect()
}

/// libtorch's intra-op thread count for a thread that never set one: the physical cores, or
/// `OMP_NUM_THREADS`. The scheduler splits this between parallel runs. Call it from a thread
/// that has not changed its own setting (the main thread).
pub fn default_threads() -> usize {
    tch::get_num_threads().max(1) as usize
}

/// Why a requested device cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("CUDA was asked for, but no CUDA device is usable (no NVIDIA driver, or a CPU-only libtorch: run the setup with --cuda)")]
    NoCuda,
    #[error("cuda:{asked} was asked for, but only {count} CUDA device(s) exist")]
    NoSuchDevice { asked: usize, count: usize },
}

/// Resolves a request to a usable device, or explains why it cannot.
pub(crate) fn resolve(request: DeviceRequest) -> Result<Device, DeviceError> {
    load_cuda_backend();
    match request {
        DeviceRequest::Cpu => Ok(Device::Cpu),
        DeviceRequest::Auto => Ok(Device::cuda_if_available()),
        DeviceRequest::Cuda(n) => {
            let n = n.unwrap_or(0);
            let count = tch::Cuda::device_count() as usize;
            if !tch::Cuda::is_available() || count == 0 {
                Err(DeviceError::NoCuda)
            } else if n >= count {
                Err(DeviceError::NoSuchDevice { asked: n, count })
            } else {
                Ok(Device::Cuda(n))
            }
        }
    }
}

/// Free bytes on CUDA device `cuda:ordinal`, from NVML (its NVML index found through
/// `CUDA_VISIBLE_DEVICES`, as the lab's GPU pane does); `None` where NVML is missing or does not
/// know the device: the check that uses it is then skipped, and a CUDA out-of-memory error
/// fails the run instead.
pub(crate) fn gpu_free_bytes(ordinal: usize) -> Option<u64> {
    let nvml = nvml_wrapper::Nvml::init().ok()?;
    let devices: Vec<_> = (0..nvml.device_count().ok()?)
        .map(|i| nvml.device_by_index(i).ok())
        .collect();
    let uuids: Vec<Option<String>> = devices
        .iter()
        .map(|d| d.as_ref().and_then(|d| d.uuid().ok()))
        .collect();
    let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok();
    let index = invlab_core::device::cuda_ordinals(visible.as_deref(), &uuids)
        .iter()
        .position(|&o| o == Some(ordinal))?;
    Some(devices[index].as_ref()?.memory_info().ok()?.free)
}

/// A short name such as `cpu` or `cuda:0`.
pub(crate) fn describe(device: Device) -> String {
    match device {
        Device::Cuda(n) => format!("cuda:{n}"),
        Device::Cpu => "cpu".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gpu_that_is_not_there_is_named() {
        assert_eq!(resolve(DeviceRequest::Cpu).unwrap(), Device::Cpu);
        let count = visible_gpus().len();
        match resolve(DeviceRequest::Cuda(Some(count))) {
            Err(DeviceError::NoCuda) => {
                assert_eq!(count, 0);
                assert!(DeviceError::NoCuda
                    .to_string()
                    .contains("no CUDA device is usable"));
            }
            Err(e @ DeviceError::NoSuchDevice { .. }) => {
                assert_eq!(
                    e,
                    DeviceError::NoSuchDevice {
                        asked: count,
                        count
                    }
                );
                assert!(e
                    .to_string()
                    .contains(&format!("only {count} CUDA device(s)")));
            }
            Ok(d) => panic!("cuda:{count} resolved to {d:?} with {count} GPUs visible"),
        }
    }
}
