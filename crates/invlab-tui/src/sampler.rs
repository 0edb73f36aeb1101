//! Accelerator and host sampling, about once a second (NVML averages utilisation over up to a
//! second; faster polling adds nothing). With no NVIDIA driver the sampler reports CPU
//! utilisation and this process's memory instead. Plain and blocking: the runtime calls it off
//! its event loop (`spawn_blocking`) on a timer.

#[derive(Debug, Clone, PartialEq)]
pub struct NvidiaSample {
    /// NVML's index (PCI bus order, all devices of the machine).
    pub index: u32,
    /// The CUDA ordinal runs of this process see it as (`cuda:N`), given
    /// `CUDA_VISIBLE_DEVICES`; `None` when it is hidden from this process.
    pub cuda: Option<usize>,
    pub uuid: Option<String>,
    pub name: String,
    /// `None` where the device does not report it (e.g. utilisation on MIG instances).
    pub utilization: Option<u32>,
    pub memory_used: Option<u64>,
    pub memory_total: Option<u64>,
    pub temperature: Option<u32>,
    pub power_mw: Option<u32>,
    pub power_limit_mw: Option<u32>,
    /// Compute processes on the device and their GPU memory (NVML's per-process figures).
    pub processes: Vec<GpuProcess>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpuProcess {
    pub pid: u32,
    /// Bytes; `None` where the driver does not tell (e.g. without permission).
    pub memory: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostSample {
    pub cpu_percent: f32,
    pub cores: usize,
    pub process_memory: u64,
    pub total_memory: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SystemSample {
    /// One entry per NVIDIA device; empty without NVML.
    pub gpus: Vec<NvidiaSample>,
    /// Why there is no GPU reading (detail), when there is none.
    pub no_gpu_reason: Option<String>,
    pub host: HostSample,
}

/// Holds the NVML handle (costly to create: one per process) and the host counters.
pub struct Sampler {
    nvml: Option<nvml_wrapper::Nvml>,
    /// Why there is no NVML, when there is none.
    reason: Option<String>,
    sys: Option<sysinfo::System>,
    pid: Option<sysinfo::Pid>,
}

impl Sampler {
    /// Loads NVML if the driver is there (blocking: it opens a library).
    pub fn new() -> Sampler {
        let (nvml, reason) = match nvml_wrapper::Nvml::init() {
            Ok(n) => (Some(n), None),
            Err(nvml_wrapper::error::NvmlError::LibloadingError(_)) => (
                None,
                Some("NVIDIA driver library libnvidia-ml not found".to_string()),
            ),
            Err(other) => (None, Some(format!("NVML: {other}"))),
        };
        if let Some(r) = &reason {
            tracing::info!("GPU sampling off: {r}");
        }
        Sampler {
            nvml,
            reason,
            sys: sysinfo::System::new().ok(),
            pid: sysinfo::get_current_pid().ok(),
        }
    }

    /// One reading of every GPU and of the host (quick, but blocking).
    pub fn sample(&mut self) -> SystemSample {
        let gpus = self.nvml.as_ref().map(sample_nvml).unwrap_or_default();
        let host = self
            .sys
            .as_mut()
            .map(|s| sample_host(s, self.pid))
            .unwrap_or_default();
        let no_gpu_reason = match (&self.reason, gpus.is_empty()) {
            (Some(r), _) => Some(r.clone()),
            (None, true) => Some("NVML sees no device".into()),
            _ => None,
        };
        SystemSample {
            gpus,
            no_gpu_reason,
            host,
        }
    }
}

impl Default for Sampler {
    fn default() -> Sampler {
        Sampler::new()
    }
}

fn sample_nvml(nvml: &nvml_wrapper::Nvml) -> Vec<NvidiaSample> {
    use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
    use nvml_wrapper::enums::device::UsedGpuMemory;
    let count = nvml.device_count().unwrap_or(0);
    let mut samples: Vec<NvidiaSample> = (0..count)
        .filter_map(|i| {
            let d = nvml.device_by_index(i).ok()?;
            let mem = d.memory_info().ok();
            let processes = d
                .running_compute_processes()
                .unwrap_or_default()
                .into_iter()
                .map(|p| GpuProcess {
                    pid: p.pid,
                    memory: match p.used_gpu_memory {
                        UsedGpuMemory::Used(bytes) => Some(bytes),
                        UsedGpuMemory::Unavailable => None,
                    },
                })
                .collect();
            Some(NvidiaSample {
                index: i,
                cuda: None,
                uuid: d.uuid().ok(),
                processes,
                name: d.name().unwrap_or_else(|_| format!("GPU {i}")),
                utilization: d.utilization_rates().ok().map(|u| u.gpu),
                memory_used: mem.as_ref().map(|m| m.used),
                memory_total: mem.as_ref().map(|m| m.total),
                temperature: d.temperature(TemperatureSensor::Gpu).ok(),
                power_mw: d.power_usage().ok(),
                power_limit_mw: d.enforced_power_limit().ok(),
            })
        })
        .collect();
    let uuids: Vec<Option<String>> = samples.iter().map(|s| s.uuid.clone()).collect();
    let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok();
    for (s, cuda) in samples.iter_mut().zip(invlab_core::device::cuda_ordinals(
        visible.as_deref(),
        &uuids,
    )) {
        s.cuda = cuda;
    }
    samples
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
