//! The device a run asks for, as written in a config (`device = "..."`). Resolving it to a real
//! libtorch device is the engine's job (`invlab_engine::device`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What the user asked for in `device = "..."`. Serialized as the words it is parsed from:
/// `auto`, `cpu`, `cuda`, `cuda:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DeviceRequest {
    /// The first CUDA device when one is usable, else the CPU.
    #[default]
    Auto,
    Cpu,
    /// `cuda` (`None`: the first device) or `cuda:N`.
    Cuda(Option<usize>),
}

/// A device word that is none of `auto`, `cpu`, `cuda`, `cuda:N`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a device; expected one of auto, cpu, cuda, cuda:N")]
pub struct DeviceParseError {
    /// The text as given (trimmed).
    pub text: String,
}

impl DeviceRequest {
    /// Parses `auto`, `cpu`, `cuda` (or `gpu`) or `cuda:N`, ignoring surrounding blanks.
    pub fn parse(text: &str) -> Result<DeviceRequest, DeviceParseError> {
        match text.trim() {
            "auto" => Ok(DeviceRequest::Auto),
            "cpu" => Ok(DeviceRequest::Cpu),
            "cuda" | "gpu" => Ok(DeviceRequest::Cuda(None)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse::<usize>().ok())
                .map(|n| DeviceRequest::Cuda(Some(n)))
                .ok_or_else(|| DeviceParseError {
                    text: other.to_string(),
                }),
        }
    }

    /// The CUDA device index asked for (`cuda` is device 0); `None` for `auto` and `cpu`.
    pub fn cuda_index(self) -> Option<usize> {
        match self {
            DeviceRequest::Cuda(n) => Some(n.unwrap_or(0)),
            DeviceRequest::Auto | DeviceRequest::Cpu => None,
        }
    }
}

impl FromStr for DeviceRequest {
    type Err = DeviceParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        DeviceRequest::parse(text)
    }
}

impl fmt::Display for DeviceRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceRequest::Auto => f.write_str("auto"),
            DeviceRequest::Cpu => f.write_str("cpu"),
            DeviceRequest::Cuda(None) => f.write_str("cuda"),
            DeviceRequest::Cuda(Some(n)) => write!(f, "cuda:{n}"),
        }
    }
}

impl Serialize for DeviceRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DeviceRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        DeviceRequest::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The CUDA ordinal of each NVML device (in NVML order, with its UUID), given
/// `CUDA_VISIBLE_DEVICES`. Under Slurm (which sets it) `cuda:0` is generally not NVML device 0:
/// entries are NVML indices or UUIDs (`GPU-…`, prefixes allowed, as CUDA accepts them), in the
/// order CUDA numbers them; CUDA stops at the first entry it cannot use, and so does this.
/// Unset: CUDA sees every device, numbered as NVML does (true with `CUDA_DEVICE_ORDER=PCI_BUS_ID`,
/// and on nodes of identical GPUs). MIG instances (`MIG-…`) are not mapped.
pub fn cuda_ordinals(visible: Option<&str>, uuids: &[Option<String>]) -> Vec<Option<usize>> {
    let Some(visible) = visible else {
        return (0..uuids.len()).map(Some).collect();
    };
    let mut ordinals = vec![None; uuids.len()];
    for (ordinal, entry) in visible.split(',').map(str::trim).enumerate() {
        let device = if entry.starts_with("GPU-") {
            uuids
                .iter()
                .position(|u| u.as_deref().is_some_and(|u| u.starts_with(entry)))
        } else {
            entry.parse::<usize>().ok().filter(|&i| i < uuids.len())
        };
        match device {
            Some(d) if ordinals[d].is_none() => ordinals[d] = Some(ordinal),
            _ => break,
        }
    }
    ordinals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_typos_are_refused() {
        for word in ["auto", "cpu", "cuda", "cuda:0", "cuda:7"] {
            let d = DeviceRequest::parse(word).unwrap();
            assert_eq!(d.to_string(), word);
            let json = serde_json::to_string(&d).unwrap();
            assert_eq!(json, format!("\"{word}\""));
            assert_eq!(serde_json::from_str::<DeviceRequest>(&json).unwrap(), d);
        }
        assert_eq!(
            DeviceRequest::parse(" gpu ").unwrap(),
            DeviceRequest::Cuda(None)
        );
        assert_eq!(DeviceRequest::parse("cuda").unwrap().cuda_index(), Some(0));
        let e = DeviceRequest::parse("cuda:7x").unwrap_err().to_string();
        assert_eq!(
            e,
            "\"cuda:7x\" is not a device; expected one of auto, cpu, cuda, cuda:N"
        );
        assert!(serde_json::from_str::<DeviceRequest>("\"tpu\"").is_err());
    }

    fn uuids() -> Vec<Option<String>> {
        ["GPU-aaaa-0", "GPU-bbbb-1", "GPU-cccc-2", "GPU-dddd-3"]
            .iter()
            .map(|u| Some(u.to_string()))
            .collect()
    }

    #[test]
    fn cuda_ordinals_follow_cuda_visible_devices() {
        let u = uuids();
        // Unset: every device, in NVML order.
        assert_eq!(
            cuda_ordinals(None, &u),
            vec![Some(0), Some(1), Some(2), Some(3)]
        );
        // Slurm gave this job NVML devices 2 and 3: cuda:0 is NVML 2.
        assert_eq!(
            cuda_ordinals(Some("2,3"), &u),
            vec![None, None, Some(0), Some(1)]
        );
        // By UUID (a prefix is enough), in the listed order.
        assert_eq!(
            cuda_ordinals(Some("GPU-dddd,GPU-aaaa-0"), &u),
            vec![Some(1), None, None, Some(0)]
        );
        // CUDA stops at the first entry it cannot use; nothing visible with an empty list.
        assert_eq!(
            cuda_ordinals(Some("1,9,2"), &u),
            vec![None, Some(0), None, None]
        );
        assert_eq!(cuda_ordinals(Some(""), &u), vec![None; 4]);
        assert_eq!(
            cuda_ordinals(Some("1,1"), &u),
            vec![None, Some(0), None, None]
        );
    }
}
