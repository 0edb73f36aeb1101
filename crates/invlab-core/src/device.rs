//! The device a run asks for, as written in a config (`device = "..."`). Resolving it to a real
//! libtorch device is the engine's job (`invlab_engine::device`).

/// What the user asked for in `device = "..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceRequest {
    Auto,
    Cpu,
    Cuda(usize),
}

/// Parses `auto`, `cpu`, `cuda` or `cuda:N`.
pub fn parse_device(text: &str) -> Result<DeviceRequest, String> {
    match text.trim() {
        "auto" => Ok(DeviceRequest::Auto),
        "cpu" => Ok(DeviceRequest::Cpu),
        "cuda" | "gpu" => Ok(DeviceRequest::Cuda(0)),
        other => other
            .strip_prefix("cuda:")
            .and_then(|n| n.parse::<usize>().ok())
            .map(DeviceRequest::Cuda)
            .ok_or_else(|| {
                format!("{other:?} is not a device; expected one of auto, cpu, cuda, cuda:N")
            }),
    }
}
