//! Accelerator and host sampling on its own thread, about once a second (NVML averages
//! utilisation over up to a second; faster polling adds nothing). With no NVIDIA driver the
//! sampler reports CPU utilisation and this process's memory instead.

use std::sync::mpsc::Sender;
use std::time::Duration;

use super::event::AppEvent;

#[derive(Debug, Clone, PartialEq)]
pub struct NvidiaSample {
    pub index: u32,
    pub name: String,
    /// `None` where the device does not report it (e.g. utilisation on MIG instances).
    pub utilization: Option<u32>,
    pub memory_used: Option<u64>,
    pub memory_total: Option<u64>,
    pub temperature: Option<u32>,
    pub power_mw: Option<u32>,
    pub power_limit_mw: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostSample {
    pub cpu_percent: f32,
    pub cores: usize,
    pub process_memory: u64,
    pub total_memory: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GpuSample {
    /// One entry per NVIDIA device; empty without NVML.
    pub gpus: Vec<NvidiaSample>,
    /// Why there is no GPU reading (detail), when there is none.
    pub no_gpu_reason: Option<String>,
    pub host: HostSample,
}

/// Starts the sampler thread; it ends when the receiver is gone.
pub fn spawn_sampler(tx: Sender<AppEvent>, period: Duration) {
    let _ = std::thread::Builder::new()
        .name("invlab-gpu".into())
        .spawn(move || {
            let nvml = nvml_wrapper::Nvml::init();
            let reason = nvml.as_ref().err().map(|e| match e {
                nvml_wrapper::error::NvmlError::LibloadingError(_) => {
                    "NVIDIA driver library libnvidia-ml not found".to_string()
                }
                other => format!("NVML: {other}"),
            });
            if let Some(r) = &reason {
                tracing::info!("GPU sampling off: {r}");
            }
            let mut sys = sysinfo::System::new().ok();
            let pid = sysinfo::get_current_pid().ok();
            loop {
                let gpus = match &nvml {
                    Ok(nvml) => sample_nvml(nvml),
                    Err(_) => Vec::new(),
                };
                let host = sys
                    .as_mut()
                    .map(|s| sample_host(s, pid))
                    .unwrap_or_default();
                let no_gpu_reason = match (&reason, gpus.is_empty()) {
                    (Some(r), _) => Some(r.clone()),
                    (None, true) => Some("NVML sees no device".into()),
                    _ => None,
                };
                let sample = GpuSample {
                    gpus,
                    no_gpu_reason,
                    host,
                };
                if tx.send(AppEvent::Gpu(sample)).is_err() {
                    return;
                }
                std::thread::sleep(period);
            }
        });
}

fn sample_nvml(nvml: &nvml_wrapper::Nvml) -> Vec<NvidiaSample> {
    use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
    let count = nvml.device_count().unwrap_or(0);
    (0..count)
        .filter_map(|i| {
            let d = nvml.device_by_index(i).ok()?;
            let mem = d.memory_info().ok();
            Some(NvidiaSample {
                index: i,
                name: d.name().unwrap_or_else(|_| format!("GPU {i}")),
                utilization: d.utilization_rates().ok().map(|u| u.gpu),
                memory_used: mem.as_ref().map(|m| m.used),
                memory_total: mem.as_ref().map(|m| m.total),
                temperature: d.temperature(TemperatureSensor::Gpu).ok(),
                power_mw: d.power_usage().ok(),
                power_limit_mw: d.enforced_power_limit().ok(),
            })
        })
        .collect()
}

fn sample_host(sys: &mut sysinfo::System, pid: Option<sysinfo::Pid>) -> HostSample {
    sys.refresh_cpu_usage();
    sys.refresh_memory();
    let mut process_memory = 0;
    if let Some(pid) = pid {
        sys.refresh_processes(sysinfo::ProcessesToUpdate::Some(&[pid]), true);
        process_memory = sys.process(pid).map(|p| p.memory()).unwrap_or(0);
    }
    HostSample {
        cpu_percent: sys.global_cpu_usage(),
        cores: sys.cpus().len(),
        process_memory,
        total_memory: sys.total_memory(),
    }
}
