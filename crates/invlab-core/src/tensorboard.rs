//! A TensorBoard event file in every run directory (`events.out.tfevents.invlab`), so runs
//! open in TensorBoard (and in W&B or aim, which read the same files) beside everything else a
//! researcher trains.
//!
//! The file is a function of the run directory: it is rebuilt from the typed run record after
//! every epoch (and once more when the figures are written) and replaced atomically, like every
//! other file of the directory. A resumed run therefore never shows the epochs it redid twice.
//! Rebuilding keeps what is already there byte for byte (the wall times are anchored on the
//! file's first record), so a TensorBoard that re-reads the file sees only new records at its
//! end.
//!
//! Records use TensorFlow's framing (length, masked CRC-32C of the length, data, masked
//! CRC-32C of the data); the messages are `prost`-encoded from the field numbers of
//! TensorBoard's own protos (`tensorboard/compat/proto/{event,summary}.proto`,
//! `plugins/hparams/plugin_data.proto`).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use prost::Message;

use crate::atomic::write_atomic;
use crate::generator::Losses;
use crate::records::{EpochMetrics, RunInfo};
use crate::rundir::{RunDir, RunRecord, Status};
use crate::summary::group_means;

/// The event file's name in a run directory (TensorBoard reads any file with "tfevents" in its
/// name).
pub const FILE: &str = "events.out.tfevents.invlab";

/// The figures written beside the run (by the report crate's post-run step), as images.
const FIGURES: [&str; 2] = ["ekld_vs_size", "curves"];

mod proto {
    //! The messages of TensorBoard's protos that invlab writes (field numbers as there).

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Event {
        #[prost(double, tag = "1")]
        pub wall_time: f64,
        #[prost(int64, tag = "2")]
        pub step: i64,
        #[prost(oneof = "What", tags = "3, 5")]
        pub what: Option<What>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum What {
        #[prost(string, tag = "3")]
        FileVersion(String),
        #[prost(message, tag = "5")]
        Summary(Summary),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Summary {
        #[prost(message, repeated, tag = "1")]
        pub value: Vec<Value>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Value {
        #[prost(string, tag = "1")]
        pub tag: String,
        #[prost(message, optional, tag = "9")]
        pub metadata: Option<SummaryMetadata>,
        #[prost(oneof = "Kind", tags = "2, 4")]
        pub value: Option<Kind>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        #[prost(float, tag = "2")]
        SimpleValue(f32),
        #[prost(message, tag = "4")]
        Image(Image),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Image {
        #[prost(int32, tag = "1")]
        pub height: i32,
        #[prost(int32, tag = "2")]
        pub width: i32,
        /// 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA.
        #[prost(int32, tag = "3")]
        pub colorspace: i32,
        #[prost(bytes = "vec", tag = "4")]
        pub encoded_image_string: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SummaryMetadata {
        #[prost(message, optional, tag = "1")]
        pub plugin_data: Option<PluginData>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PluginData {
        #[prost(string, tag = "1")]
        pub plugin_name: String,
        #[prost(bytes = "vec", tag = "2")]
        pub content: Vec<u8>,
    }

    /// `tensorboard.hparams.HParamsPluginData`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct HParamsPluginData {
        #[prost(int32, tag = "1")]
        pub version: i32,
        #[prost(oneof = "HParamsData", tags = "3, 4")]
        pub data: Option<HParamsData>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum HParamsData {
        #[prost(message, tag = "3")]
        SessionStartInfo(SessionStartInfo),
        #[prost(message, tag = "4")]
        SessionEndInfo(SessionEndInfo),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SessionStartInfo {
        #[prost(btree_map = "string, message", tag = "1")]
        pub hparams: std::collections::BTreeMap<String, prost_types::Value>,
        #[prost(string, tag = "4")]
        pub group_name: String,
        #[prost(double, tag = "5")]
        pub start_time_secs: f64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SessionEndInfo {
        /// `tensorboard.hparams.Status`: 1 success, 2 failure, 3 running.
        #[prost(int32, tag = "1")]
        pub status: i32,
        #[prost(double, tag = "2")]
        pub end_time_secs: f64,
    }
}

/// TensorFlow's masked CRC-32C (a CRC of data that holds CRCs is itself weak, so it is
/// rotated and offset).
fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    (crc.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// One TFRecord: length, its masked CRC, the data, the data's masked CRC.
fn push_record(out: &mut Vec<u8>, data: &[u8]) {
    let len = (data.len() as u64).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc(data).to_le_bytes());
}

/// The first record is the `file_version` event: a few dozen bytes.
const MAX_FIRST_RECORD: u64 = 1024;

/// Figures larger than this are left out of the file (invlab's are ~50-150 kB).
const MAX_FIGURE_BYTES: u64 = 16 << 20;

/// The wall time of the file's first record, when the file is a regular file that starts with
/// one. Only that record is read: a FIFO in the file's place is never opened, and a length
/// field that lies is never allocated.
fn first_wall_time(path: &Path) -> Option<f64> {
    use std::io::Read;
    let mut file = crate::text_file::open_regular(path).ok()?;
    let mut header = [0u8; 12];
    file.read_exact(&mut header).ok()?;
    let len = u64::from_le_bytes(header[..8].try_into().ok()?);
    if len > MAX_FIRST_RECORD {
        return None;
    }
    let mut data = vec![0u8; len as usize];
    file.read_exact(&mut data).ok()?;
    proto::Event::decode(data.as_slice())
        .ok()
        .map(|e| e.wall_time)
}

/// A figure's PNG bytes, when it is a regular file of at most [`MAX_FIGURE_BYTES`].
fn read_figure(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    crate::text_file::open_regular(path)
        .ok()?
        .take(MAX_FIGURE_BYTES + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    (bytes.len() as u64 <= MAX_FIGURE_BYTES).then_some(bytes)
}

fn scalar(tag: impl Into<String>, value: f64) -> proto::Value {
    proto::Value {
        tag: tag.into(),
        metadata: None,
        value: Some(proto::Kind::SimpleValue(value as f32)),
    }
}

fn hparams_value(tag: &str, data: proto::HParamsData) -> proto::Value {
    let content = proto::HParamsPluginData {
        version: 0,
        data: Some(data),
    }
    .encode_to_vec();
    proto::Value {
        tag: tag.into(),
        metadata: Some(proto::SummaryMetadata {
            plugin_data: Some(proto::PluginData {
                plugin_name: "hparams".into(),
                content,
            }),
        }),
        value: None,
    }
}

/// The config as flat `section.key` -> value pairs (the HParams view's columns); arrays and
/// other non-scalars as their TOML text.
fn flat_config(record: &RunRecord) -> BTreeMap<String, prost_types::Value> {
    use prost_types::value::Kind;
    let mut out = BTreeMap::new();
    let Ok(text) = record.config.to_toml() else {
        return out;
    };
    let Ok(table) = text.parse::<toml::Table>() else {
        return out;
    };
    fn walk(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, prost_types::Value>) {
        for (key, value) in table {
            let name = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            let kind = match value {
                toml::Value::Table(inner) => {
                    walk(&name, inner, out);
                    continue;
                }
                toml::Value::String(s) => Kind::StringValue(s.clone()),
                toml::Value::Integer(i) => Kind::NumberValue(*i as f64),
                toml::Value::Float(f) => Kind::NumberValue(*f),
                toml::Value::Boolean(b) => Kind::BoolValue(*b),
                other => Kind::StringValue(other.to_string()),
            };
            out.insert(name, prost_types::Value { kind: Some(kind) });
        }
    }
    walk("", &table, &mut out);
    out
}

/// A class's tag suffix: zero-padded label (so classes sort in label order) and its name.
fn class_tag(info: Option<&RunInfo>, class: usize, classes: usize) -> String {
    let width = classes.saturating_sub(1).to_string().len();
    let name = info
        .and_then(|i| i.class_names.get(class))
        .map(|n| n.replace(|c: char| c.is_whitespace() || c == '/', "_"))
        .unwrap_or_default();
    if name.is_empty() {
        format!("{class:0width$}")
    } else {
        format!("{class:0width$}_{name}")
    }
}

/// One epoch's scalars: the headline figures, and per class accuracy and eKLD.
fn epoch_values(m: &EpochMetrics, info: Option<&RunInfo>) -> Vec<proto::Value> {
    let mut v = vec![
        scalar("loss/train", m.train_loss),
        scalar("accuracy/train", m.train_accuracy),
        scalar("accuracy/test", m.test_accuracy),
        scalar("accuracy/balanced", m.balanced_accuracy),
        scalar("lr", m.lr),
        scalar("time/train_seconds", m.train_seconds),
        scalar("time/eval_seconds", m.eval_seconds),
    ];
    for (group, value) in [
        ("many", m.groups.many),
        ("medium", m.groups.medium),
        ("few", m.groups.few),
    ] {
        if let Some(value) = value {
            v.push(scalar(format!("accuracy/{group}"), value));
        }
    }
    if let Some(generated) = m.generated_images {
        v.push(scalar("git/generated_images", generated as f64));
    }
    let classes = m.per_class_accuracy.len();
    for (c, &acc) in m.per_class_accuracy.iter().enumerate() {
        v.push(scalar(
            format!("per_class/accuracy/{}", class_tag(info, c, classes)),
            acc,
        ));
    }
    if let Some(inv) = &m.invariance {
        if let Some(info) = info {
            let [many, medium, few] = group_means(&inv.ekld, &info.train_sizes);
            for (group, value) in [("many", many), ("medium", medium), ("few", few)] {
                if let Some(value) = value {
                    v.push(scalar(format!("ekld/{group}"), value));
                }
            }
        }
        if !inv.ekld.is_empty() {
            let mean = inv.ekld.iter().sum::<f64>() / inv.ekld.len() as f64;
            v.push(scalar("ekld/mean", mean));
        }
        if let Some(rho) = inv.spearman_size_ekld {
            v.push(scalar("ekld/spearman_size_ekld", rho));
        }
        for (c, &e) in inv.ekld.iter().enumerate() {
            v.push(scalar(
                format!(
                    "per_class/ekld/{}",
                    class_tag(info, c, classes.max(inv.ekld.len()))
                ),
                e,
            ));
        }
    }
    v
}

fn generator_values(l: &Losses) -> Vec<proto::Value> {
    let mut v = vec![
        scalar("generator/dis", l.dis),
        scalar("generator/gan", l.gan),
        scalar("generator/recon_x", l.recon_x),
        scalar("generator/recon_s", l.recon_s),
        scalar("generator/recon_c", l.recon_c),
    ];
    for (tag, value) in [
        ("generator/recon_s_a", l.recon_s_a),
        ("generator/recon_s_b", l.recon_s_b),
    ] {
        if let Some(value) = value {
            v.push(scalar(tag, value));
        }
    }
    v
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.get(..8)? != b"\x89PNG\r\n\x1a\n" || bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let be = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    Some((be(16)?, be(20)?))
}

/// The event file's bytes for `record` (whose directory may hold the figures as PNG), with
/// wall times counted from `start` (seconds since the epoch).
fn events(record: &RunRecord, start: f64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut push = |wall_time: f64, step: i64, what: proto::What| {
        let event = proto::Event {
            wall_time,
            step,
            what: Some(what),
        };
        push_record(&mut out, &event.encode_to_vec());
    };
    let summary = |value: Vec<proto::Value>| proto::What::Summary(proto::Summary { value });
    push(start, 0, proto::What::FileVersion("brain.Event:2".into()));
    push(
        start,
        0,
        summary(vec![hparams_value(
            "_hparams_/session_start_info",
            proto::HParamsData::SessionStartInfo(proto::SessionStartInfo {
                hparams: flat_config(record),
                group_name: String::new(),
                start_time_secs: start,
            }),
        )]),
    );
    // The generator's iterations come first (GIT trains it before the classifier's epochs).
    let mut clock = start;
    let losses = &record.generator_losses;
    let generator_seconds = record.generator.as_ref().map_or(0.0, |g| g.seconds);
    let per_iteration = generator_seconds / losses.len().max(1) as f64;
    for l in losses {
        clock += per_iteration;
        push(clock, l.iteration as i64, summary(generator_values(l)));
    }
    let info = record.info.as_ref();
    let mut last_epoch = 0;
    for m in &record.epochs {
        clock += m.train_seconds + m.eval_seconds;
        last_epoch = m.epoch as i64;
        push(clock, last_epoch, summary(epoch_values(m, info)));
    }
    if let Some(s) = &record.summary {
        let status = match s.status {
            Status::Finished => 1,
            Status::Failed => 2,
            _ => 0,
        };
        push(
            clock,
            last_epoch,
            summary(vec![hparams_value(
                "_hparams_/session_end_info",
                proto::HParamsData::SessionEndInfo(proto::SessionEndInfo {
                    status,
                    end_time_secs: clock,
                }),
            )]),
        );
        let images: Vec<proto::Value> = FIGURES
            .iter()
            .filter_map(|stem| {
                let bytes = read_figure(&record.dir.join(format!("{stem}.png")))?;
                let (width, height) = png_size(&bytes)?;
                Some(proto::Value {
                    tag: format!("figures/{stem}"),
                    metadata: None,
                    value: Some(proto::Kind::Image(proto::Image {
                        height: height as i32,
                        width: width as i32,
                        colorspace: 4,
                        encoded_image_string: bytes,
                    })),
                })
            })
            .collect();
        if !images.is_empty() {
            push(clock, last_epoch, summary(images));
        }
    }
    out
}

/// Rebuilds the run directory's event file from what the directory holds; returns its path.
pub fn write(run: &RunDir) -> io::Result<PathBuf> {
    let record = run.load().map_err(io::Error::other)?;
    let path = run.path.join(FILE);
    let elapsed: f64 = record
        .epochs
        .iter()
        .map(|m| m.train_seconds + m.eval_seconds)
        .sum::<f64>()
        + record.generator.as_ref().map_or(0.0, |g| g.seconds);
    let start = first_wall_time(&path).unwrap_or_else(|| crate::heartbeat::now_seconds() - elapsed);
    write_atomic(&path, &events(&record, start))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TensorFlow's CRC-32C check values: "123456789" has CRC 0xE3069283 (the Castagnoli
    /// check value); masking rotates right by 15 and adds 0xA282EAD8.
    #[test]
    #[allow(clippy::manual_rotate)] // TensorFlow's masking as its source writes it, not ours
    fn records_use_the_masked_crc32c_framing() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        let crc: u32 = 0xe306_9283;
        assert_eq!(
            masked_crc(b"123456789"),
            ((crc >> 15) | (crc << 17)).wrapping_add(0xa282_ead8)
        );
        let mut out = Vec::new();
        push_record(&mut out, b"abc");
        assert_eq!(out.len(), 8 + 4 + 3 + 4);
        assert_eq!(&out[..8], &3u64.to_le_bytes());
        assert_eq!(&out[8..12], &masked_crc(&3u64.to_le_bytes()).to_le_bytes());
        assert_eq!(&out[12..15], b"abc");
        assert_eq!(&out[15..], &masked_crc(b"abc").to_le_bytes());
    }

    /// Rebuilt after another epoch, the file keeps its earlier bytes as a prefix (a reader
    /// that re-reads it sees only the new records), and a resumed run that redid an epoch has
    /// it once: the file follows metrics.jsonl, not the attempts.
    #[test]
    fn rebuilding_appends_and_follows_the_metrics() {
        use crate::config::RunConfig;
        use crate::fixtures;
        let tmp = tempfile::tempdir().unwrap();
        let config = RunConfig::default();
        let run = RunDir::create(tmp.path(), "tb").unwrap();
        run.write_config(&config).unwrap();
        let info = fixtures::run_info(&config, "tb", run.path.clone());
        run.write_info(&info).unwrap();
        let epochs: Vec<EpochMetrics> = (1..=3).map(|e| fixtures::epoch(&info, e, 0.5)).collect();
        run.write_metrics(&epochs[..2]).unwrap();
        let path = write(&run).unwrap();
        let first = std::fs::read(&path).unwrap();
        run.write_metrics(&epochs).unwrap();
        write(&run).unwrap();
        let second = std::fs::read(&path).unwrap();
        assert!(second.len() > first.len() && second.starts_with(&first));
        // Count the epoch events by decoding every record.
        let steps = |bytes: &[u8]| {
            let mut at = 0;
            let mut steps = Vec::new();
            while at < bytes.len() {
                let len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
                let data = &bytes[at + 12..at + 12 + len];
                assert_eq!(
                    &bytes[at + 12 + len..at + 16 + len],
                    &masked_crc(data).to_le_bytes()
                );
                let event = proto::Event::decode(data).unwrap();
                if let Some(proto::What::Summary(s)) = &event.what {
                    if s.value.iter().any(|v| v.tag == "accuracy/balanced") {
                        steps.push(event.step);
                    }
                }
                at += 16 + len;
            }
            steps
        };
        assert_eq!(steps(&second), vec![1, 2, 3]);
        // A resume that redid epoch 3 rewrites metrics.jsonl with one epoch 3: so does the file.
        run.write_metrics(&epochs).unwrap();
        write(&run).unwrap();
        assert_eq!(steps(&std::fs::read(&path).unwrap()), vec![1, 2, 3]);
    }

    /// Hostile files where the event file and a figure belong: a FIFO is never opened (the
    /// rebuild would block): in the event file's place it is refused by name, as every run file
    /// is (`write_atomic` replaces only regular files); as a figure it is left out. A first
    /// record whose length field says u64::MAX is neither allocated nor panics on.
    #[test]
    fn a_fifo_or_a_lying_length_in_the_runs_files_does_not_block_or_panic() {
        use crate::config::RunConfig;
        use crate::fixtures;
        let tmp = tempfile::tempdir().unwrap();
        let config = RunConfig::default();
        let run = RunDir::create(tmp.path(), "tb").unwrap();
        run.write_config(&config).unwrap();
        let info = fixtures::run_info(&config, "tb", run.path.clone());
        run.write_info(&info).unwrap();
        let last = fixtures::epoch(&info, 1, 0.5);
        run.write_metrics(std::slice::from_ref(&last)).unwrap();
        // Finished, so the rebuild reads the figures too.
        let summary = fixtures::summary(&info, &last, &fixtures::invariance(&info, 1, 0.5));
        run.write_summary(&summary).unwrap();
        for path in [run.file(FILE), run.file("ekld_vs_size.png")] {
            let made = std::process::Command::new("mkfifo").arg(&path).status();
            if !made.is_ok_and(|s| s.success()) {
                crate::fixtures::skip(
                    "a_fifo_or_a_lying_length_in_the_runs_files_does_not_block_or_panic",
                    "mkfifo is not available",
                );
                return;
            }
        }
        let dir = run.path.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(write(&RunDir { path: dir }).map(|_| ())).unwrap());
        let result = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the rebuild blocked on a FIFO");
        let err = result.unwrap_err().to_string();
        assert!(err.contains(FILE) && err.contains("a FIFO"), "{err}");
        // Without the FIFO in its place the file is written, the FIFO figure left out.
        std::fs::remove_file(run.file(FILE)).unwrap();
        write(&run).unwrap();
        assert!(std::fs::metadata(run.file(FILE)).unwrap().is_file());
        // A first record whose length field lies.
        let mut lying = u64::MAX.to_le_bytes().to_vec();
        lying.extend_from_slice(&[0u8; 64]);
        std::fs::write(run.file(FILE), lying).unwrap();
        write(&run).unwrap();
        // Rebuilt: it starts with a readable first record again.
        assert!(first_wall_time(&run.file(FILE)).is_some());
    }

    #[test]
    fn png_size_reads_the_header_and_refuses_other_bytes() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&720u32.to_be_bytes());
        png.extend_from_slice(&440u32.to_be_bytes());
        assert_eq!(png_size(&png), Some((720, 440)));
        assert_eq!(png_size(b"GIF89a"), None);
    }
}
