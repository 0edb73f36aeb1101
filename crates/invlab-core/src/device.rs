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
}
