//! Slots for running many experiments at once, shared by the lab and batch mode.
//!
//! A slot is a place a run can go: a device, and the number of libtorch intra-op threads the
//! run may use there. Every GPU offers `per_device` slots; the CPU offers `jobs` slots whose
//! threads split the cores (runs x threads <= cores), so parallel runs never oversubscribe the
//! machine. `Scheduler` hands queued work to free slots and takes slots back when runs end,
//! however they end: one failing or out-of-memory run frees its own slot and nothing else.
//!
//! Plain logic with no libtorch: the engine resolves `auto` to the visible GPUs, and the tests
//! here use fake devices.

use std::collections::VecDeque;
use std::fmt;

use crate::device::{DeviceParseError, DeviceRequest};

/// Where one run goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// `Cpu` or `Cuda(Some(n))` from `plan_slots`; `Auto` defers to the run's config (the
    /// lab's slots, which set the threads only).
    pub device: DeviceRequest,
    /// libtorch intra-op threads for the run's worker thread.
    pub threads: usize,
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let device = match self.device {
            DeviceRequest::Cuda(n) => format!("cuda:{}", n.unwrap_or(0)),
            DeviceRequest::Cpu | DeviceRequest::Auto => "cpu".into(),
        };
        write!(
            f,
            "{device}, {} thread{}",
            self.threads,
            if self.threads == 1 { "" } else { "s" }
        )
    }
}

/// What the user asked for: `--devices`, `--jobs`, `--per-device`, `--threads`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlotRequest {
    /// Concrete devices (`cpu`, `cuda:N`); empty means the CPU.
    pub devices: Vec<DeviceRequest>,
    /// Runs at a time; `None`: every GPU slot, or one run on the CPU.
    pub jobs: Option<usize>,
    /// Runs sharing one GPU (default 1). Ignored on the CPU, where `jobs` decides.
    pub per_device: Option<usize>,
    /// Intra-op threads per run; `None`: the cores split evenly between the runs.
    pub threads: Option<usize>,
}

/// A slot request that cannot be met.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    #[error("--jobs must be at least 1")]
    NoJobs,
    #[error("--per-device must be at least 1")]
    NoPerDevice,
    #[error("--threads must be at least 1")]
    NoThreads,
    #[error("cuda:{0} is named twice in --devices")]
    Repeated(usize),
    #[error("--devices cannot mix cpu with GPUs; run the CPU share as its own command")]
    Mixed,
    /// More than any machine runs at once: a typo, and a huge list of slots (or of libtorch
    /// threads) would only exhaust memory.
    #[error("{flag} {value} is more than invlab runs at once (at most {MAX_AT_ONCE})")]
    TooMany { flag: &'static str, value: usize },
}

/// The most runs at once, runs per GPU, or threads per run a request may ask for.
pub const MAX_AT_ONCE: usize = 1024;

/// The slots for a request on a machine with `cores` cores, and a warning when the request
/// oversubscribes the cores (explicit `--threads` may; the default never does).
pub fn plan_slots(
    request: &SlotRequest,
    cores: usize,
) -> Result<(Vec<Slot>, Option<String>), SlotError> {
    let cores = cores.max(1);
    if request.jobs == Some(0) {
        return Err(SlotError::NoJobs);
    }
    if request.per_device == Some(0) {
        return Err(SlotError::NoPerDevice);
    }
    if request.threads == Some(0) {
        return Err(SlotError::NoThreads);
    }
    for (flag, value) in [
        ("--jobs", request.jobs),
        ("--per-device", request.per_device),
        ("--threads", request.threads),
    ] {
        if let Some(value) = value.filter(|&v| v > MAX_AT_ONCE) {
            return Err(SlotError::TooMany { flag, value });
        }
    }
    let mut gpus: Vec<usize> = Vec::new();
    let mut cpu = false;
    for d in &request.devices {
        match d.cuda_index() {
            Some(n) if gpus.contains(&n) => return Err(SlotError::Repeated(n)),
            Some(n) => gpus.push(n),
            None => cpu = true,
        }
    }
    if cpu && !gpus.is_empty() {
        return Err(SlotError::Mixed);
    }
    let devices: Vec<DeviceRequest> = if gpus.is_empty() {
        let jobs = request.jobs.unwrap_or(1);
        vec![DeviceRequest::Cpu; jobs]
    } else {
        // Round-robin over the GPUs, so `--jobs` below the slot count spreads the runs.
        let per = request.per_device.unwrap_or(1);
        let all: Vec<DeviceRequest> = (0..per)
            .flat_map(|_| gpus.iter().map(|&n| DeviceRequest::Cuda(Some(n))))
            .collect();
        let jobs = request.jobs.unwrap_or(all.len()).min(all.len());
        all.into_iter().take(jobs).collect()
    };
    let runs = devices.len();
    let threads = request.threads.unwrap_or((cores / runs).max(1));
    let warning = (runs * threads > cores).then(|| {
        format!("{runs} runs x {threads} threads = {} threads on {cores} cores: the runs will slow each other down", runs * threads)
    });
    let slots = devices
        .into_iter()
        .map(|device| Slot { device, threads })
        .collect();
    Ok((slots, warning))
}

/// Why a `--devices` list does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceListError {
    #[error("auto cannot be part of a list")]
    AutoInList,
    #[error(transparent)]
    Device(#[from] DeviceParseError),
}

/// Parses `--devices`: `auto` (returned as `None`: the engine knows the visible GPUs), or a
/// comma-separated list of `cpu` / `cuda:N`.
pub fn parse_devices(text: &str) -> Result<Option<Vec<DeviceRequest>>, DeviceListError> {
    if text.trim() == "auto" {
        return Ok(None);
    }
    text.split(',')
        .map(|word| match DeviceRequest::parse(word)? {
            DeviceRequest::Cuda(n) => Ok(DeviceRequest::Cuda(Some(n.unwrap_or(0)))),
            DeviceRequest::Auto => Err(DeviceListError::AutoInList),
            d => Ok(d),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Hands queued work to free slots. `T` is whatever a front end queues (a sweep point, a lab
/// run); the scheduler never looks inside it.
#[derive(Debug)]
pub struct Scheduler<T> {
    slots: Vec<Slot>,
    busy: Vec<bool>,
    queue: VecDeque<T>,
}

impl<T> Scheduler<T> {
    pub fn new(slots: Vec<Slot>, work: impl IntoIterator<Item = T>) -> Scheduler<T> {
        Scheduler {
            busy: vec![false; slots.len()],
            slots,
            queue: work.into_iter().collect(),
        }
    }

    /// The next piece of work and the free slot (its index and what it offers) it goes to.
    pub fn assign(&mut self) -> Option<(usize, Slot, T)> {
        let free = self.busy.iter().position(|b| !b)?;
        let work = self.queue.pop_front()?;
        self.busy[free] = true;
        Some((free, self.slots[free], work))
    }

    /// A run on `slot` ended, whatever its outcome: the slot is free again.
    pub fn release(&mut self, slot: usize) {
        if let Some(b) = self.busy.get_mut(slot) {
            *b = false;
        }
    }

    /// Drops the work not yet started (a stop request) and returns how much there was.
    pub fn cancel_queued(&mut self) -> usize {
        let n = self.queue.len();
        self.queue.clear();
        n
    }

    pub fn running(&self) -> usize {
        self.busy.iter().filter(|b| **b).count()
    }

    /// Nothing queued and nothing running.
    pub fn is_done(&self) -> bool {
        self.queue.is_empty() && self.running() == 0
    }

    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpus(n: usize) -> Vec<DeviceRequest> {
        (0..n).map(|i| DeviceRequest::Cuda(Some(i))).collect()
    }

    #[test]
    fn cpu_slots_split_the_cores_and_never_oversubscribe_by_default() {
        let two = |jobs| SlotRequest {
            jobs: Some(jobs),
            ..Default::default()
        };
        let (slots, warning) = plan_slots(&SlotRequest::default(), 2).unwrap();
        assert_eq!(
            slots,
            vec![Slot {
                device: DeviceRequest::Cpu,
                threads: 2
            }]
        );
        assert!(warning.is_none());
        let (slots, warning) = plan_slots(&two(2), 2).unwrap();
        assert_eq!(slots.len(), 2);
        assert!(slots.iter().all(|s| s.threads == 1));
        assert!(warning.is_none());
        // More runs than cores: one thread each, and a warning that they compete.
        let (slots, warning) = plan_slots(&two(3), 2).unwrap();
        assert_eq!(slots.len(), 3);
        assert!(slots.iter().all(|s| s.threads == 1));
        assert!(warning
            .unwrap()
            .contains("3 runs x 1 threads = 3 threads on 2 cores"));
        // 16 cores, 3 runs: 5 threads each (15 <= 16).
        let (slots, _) = plan_slots(&two(3), 16).unwrap();
        assert!(slots.iter().all(|s| s.threads == 5));
        // Explicit threads are honoured, with the warning when they oversubscribe.
        let r = SlotRequest {
            jobs: Some(2),
            threads: Some(2),
            ..Default::default()
        };
        let (slots, warning) = plan_slots(&r, 2).unwrap();
        assert!(slots.iter().all(|s| s.threads == 2));
        assert!(warning.is_some());
    }

    #[test]
    fn gpu_slots_go_round_robin_with_per_device_sharing() {
        let r = SlotRequest {
            devices: gpus(4),
            per_device: Some(2),
            ..Default::default()
        };
        let (slots, _) = plan_slots(&r, 16).unwrap();
        assert_eq!(slots.len(), 8);
        let order: Vec<usize> = slots.iter().filter_map(|s| s.device.cuda_index()).collect();
        assert_eq!(order, vec![0, 1, 2, 3, 0, 1, 2, 3]);
        assert!(slots.iter().all(|s| s.threads == 2));
        // --jobs below the slot count spreads the runs over the GPUs first.
        let r = SlotRequest {
            devices: vec![DeviceRequest::Cuda(Some(0)), DeviceRequest::Cuda(Some(2))],
            per_device: Some(3),
            jobs: Some(3),
            ..Default::default()
        };
        let (slots, _) = plan_slots(&r, 6).unwrap();
        let order: Vec<usize> = slots.iter().filter_map(|s| s.device.cuda_index()).collect();
        assert_eq!(order, vec![0, 2, 0]);
        assert!(slots.iter().all(|s| s.threads == 2));
    }

    #[test]
    fn impossible_requests_are_refused_by_name() {
        let bad = |r: SlotRequest| plan_slots(&r, 4).unwrap_err().to_string();
        assert_eq!(
            bad(SlotRequest {
                jobs: Some(0),
                ..Default::default()
            }),
            "--jobs must be at least 1"
        );
        assert!(bad(SlotRequest {
            devices: vec![DeviceRequest::Cuda(Some(1)), DeviceRequest::Cuda(Some(1))],
            ..Default::default()
        })
        .contains("cuda:1 is named twice"));
        assert!(bad(SlotRequest {
            devices: vec![DeviceRequest::Cpu, DeviceRequest::Cuda(Some(0))],
            ..Default::default()
        })
        .contains("cannot mix"));
        assert_eq!(parse_devices("auto").unwrap(), None);
        assert_eq!(
            parse_devices("cuda:0, cuda:2").unwrap().unwrap(),
            vec![DeviceRequest::Cuda(Some(0)), DeviceRequest::Cuda(Some(2))]
        );
        assert_eq!(
            parse_devices("cuda").unwrap().unwrap(),
            vec![DeviceRequest::Cuda(Some(0))]
        );
        assert!(parse_devices("cuda:x")
            .unwrap_err()
            .to_string()
            .contains("\"cuda:x\""));
        assert_eq!(
            parse_devices("cpu,auto").unwrap_err(),
            DeviceListError::AutoInList
        );
        // Absurd sizes are refused before any list is built.
        for r in [
            SlotRequest {
                jobs: Some(usize::MAX),
                ..Default::default()
            },
            SlotRequest {
                devices: vec![DeviceRequest::Cuda(Some(0))],
                per_device: Some(1 << 40),
                ..Default::default()
            },
            SlotRequest {
                threads: Some(1_000_000),
                ..Default::default()
            },
        ] {
            assert!(bad(r).contains("is more than invlab runs at once"));
        }
    }

    /// Four fake GPUs, ten runs, one of which fails at once and one of which runs out of memory
    /// midway: every run gets a slot, no slot ever holds two runs, no GPU more than its share,
    /// and the failures end alone while the rest go on.
    #[test]
    fn a_failing_and_an_out_of_memory_run_end_alone_on_four_fake_gpus() {
        #[derive(Debug, Clone, Copy, PartialEq)]
        enum Fate {
            Finishes(u32),
            FailsAtOnce,
            OutOfMemoryAfter(u32),
        }
        let mut fates: Vec<Fate> = (0..10).map(|i| Fate::Finishes(2 + i % 3)).collect();
        fates[2] = Fate::FailsAtOnce;
        fates[5] = Fate::OutOfMemoryAfter(1);
        let r = SlotRequest {
            devices: gpus(4),
            ..Default::default()
        };
        let (slots, _) = plan_slots(&r, 8).unwrap();
        let mut s = Scheduler::new(slots, fates.iter().copied().enumerate());
        // (slot, run, ticks left, outcome)
        let mut active: Vec<(usize, usize, u32, &str)> = Vec::new();
        let mut outcomes = vec![""; 10];
        let mut peak = 0;
        for _tick in 0..100 {
            while let Some((slot, placed, (run, fate))) = s.assign() {
                assert!(
                    active.iter().all(|a| a.0 != slot),
                    "slot {slot} given twice"
                );
                assert_eq!(placed.device, DeviceRequest::Cuda(Some(slot)));
                let (ticks, outcome) = match fate {
                    Fate::Finishes(t) => (t, "finished"),
                    Fate::FailsAtOnce => (0, "failed"),
                    Fate::OutOfMemoryAfter(t) => (t, "out of memory"),
                };
                active.push((slot, run, ticks, outcome));
            }
            peak = peak.max(s.running());
            assert!(s.running() <= 4);
            for a in active.iter_mut() {
                a.2 = a.2.saturating_sub(1);
            }
            for (slot, run, _, outcome) in active.iter().filter(|a| a.2 == 0) {
                outcomes[*run] = outcome;
                s.release(*slot);
            }
            active.retain(|a| a.2 > 0);
            if s.is_done() {
                break;
            }
        }
        assert!(s.is_done());
        assert_eq!(peak, 4);
        assert_eq!(outcomes[2], "failed");
        assert_eq!(outcomes[5], "out of memory");
        let finished = outcomes.iter().filter(|o| **o == "finished").count();
        assert_eq!(finished, 8, "{outcomes:?}");
    }

    #[test]
    fn cancelling_drops_only_the_queue() {
        let (slots, _) = plan_slots(&SlotRequest::default(), 1).unwrap();
        let mut s = Scheduler::new(slots, [1, 2, 3]);
        let (slot, _, first) = s.assign().unwrap();
        assert_eq!(first, 1);
        assert!(s.assign().is_none(), "one slot, one run");
        assert_eq!(s.cancel_queued(), 2);
        assert!(!s.is_done());
        s.release(slot);
        assert!(s.is_done());
        assert_eq!(s.slots()[0].to_string(), "cpu, 1 thread".to_string());
    }
}
