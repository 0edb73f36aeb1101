//! `invlab eval RUN`: re-evaluates a run's checkpoint without retraining. The model is rebuilt
//! from the run's config, its weights loaded from `checkpoint.ot`, and the test set (rebuilt
//! from the config as the run built it, checked against the class sizes `run.json` recorded)
//! scored raw and under two post-hoc corrections: logit adjustment by the training prior, and
//! tau-normalised classifier weights. eKLD is measured under the run's eval settings with
//! `--set eval.…` overrides (another transform, budget or sampling). Everything is written to
//! `RUN/eval-<name>/` (`invlab_core::evaluation`); the front end adds the figures.

use std::path::PathBuf;
use std::time::Instant;

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::data::prepare::prepare;
use crate::device;
use crate::error::EngineError;
use crate::generative::munit::Generator;
use crate::models::{Classifier, Head};
use crate::torch_seed::with_torch_seed;
use crate::worker::{
    data, evaluate::InvarianceInputs, generator::measure_coverage as measure_run_coverage,
    head_kind,
};
use invlab_core::config::{Augment, EkldTransform, RunConfig};
use invlab_core::device::DeviceRequest;
use invlab_core::evaluation::{self as plain, Confusion, Corrected, EvalRecord, Logits};
use invlab_core::nuisance_coverage::{self, NuisanceCoverage, NuisanceMeasure};
use invlab_core::records::RunInfo;
use invlab_core::rundir::{now_secs, RunDir, RunRecord};

/// What to evaluate and how.
#[derive(Debug, Clone, Default)]
pub struct EvalRequest {
    pub run_dir: PathBuf,
    /// The folder's name (`eval-<name>`); default from the overrides (`evaluation::default_name`).
    pub name: Option<String>,
    /// `eval.KEY=VALUE` overrides of the run's eval settings (other sections are refused:
    /// they would describe another model or data).
    pub overrides: Vec<String>,
    /// Logit-adjustment taus; empty = `DEFAULT_TAUS`.
    pub taus: Vec<f64>,
    /// tau-normalisation exponents; empty = `DEFAULT_NORM_TAUS`.
    pub norm_taus: Vec<f64>,
    /// Device instead of the config's.
    pub device: Option<DeviceRequest>,
    /// Skip eKLD (accuracy, calibration and corrections only: seconds instead of minutes).
    pub skip_invariance: bool,
    /// libtorch threads for the calling thread (the lab's share of the cores); `None`: on the
    /// CPU the run's own count (`run.json`), else as is.
    pub threads: Option<usize>,
}

/// What an evaluation is doing, for progress lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalStep {
    LoadingData,
    Scoring,
    Invariance,
    Writing,
}

impl EvalStep {
    pub fn describe(self) -> &'static str {
        match self {
            EvalStep::LoadingData => "loading the data",
            EvalStep::Scoring => "scoring the test set",
            EvalStep::Invariance => "measuring eKLD",
            EvalStep::Writing => "writing",
        }
    }
}

/// Why an evaluation did not produce its folder.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The run directory, its checkpoint or an override cannot be used as given.
    #[error("{0}")]
    BadInput(String),
    /// Something failed while evaluating (libtorch, a write).
    #[error("{0}")]
    Failed(String),
    #[error("stopped before the evaluation was written")]
    Stopped,
}

impl From<EngineError> for EvalError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Config(_)
            | EngineError::Data(_)
            | EngineError::Resume(_)
            | EngineError::Unusable(_)
            | EngineError::TooBig(_)
            | EngineError::Device(_) => EvalError::BadInput(e.to_string()),
            other => EvalError::Failed(other.to_string()),
        }
    }
}

impl From<tch::TchError> for EvalError {
    fn from(e: tch::TchError) -> Self {
        EngineError::from(e).into()
    }
}

/// The evaluation, written, with where.
#[derive(Debug, Clone)]
pub struct EvalOutput {
    pub dir: PathBuf,
    pub record: EvalRecord,
    pub confusion: Confusion,
    /// The folder's lock (`RUN/.eval-<name>.lock`): two evaluations of one name never write
    /// one folder at once. Held until the front end has finished the folder and drops this.
    pub lock: Option<std::sync::Arc<invlab_core::lock::RunLock>>,
}

/// The run's config with `overrides` applied to its eval section (and only there).
fn config_with(run: &RunDir, overrides: &[String]) -> Result<RunConfig, EvalError> {
    let config = run
        .read_config()
        .map_err(|e| EvalError::BadInput(e.to_string()))?;
    if overrides.is_empty() {
        return Ok(config);
    }
    if let Some(bad) = overrides
        .iter()
        .find(|o| !o.trim_start().starts_with("eval."))
    {
        return Err(EvalError::BadInput(format!(
            "--set {bad}: invlab eval changes only eval.* settings (the checkpoint fixes the model and data); \
             e.g. --set eval.ekld_transform=bg"
        )));
    }
    let text = config
        .to_toml()
        .map_err(|e| EvalError::Failed(format!("writing the config as TOML: {e}")))?;
    let source = run.file("config.toml").display().to_string();
    RunConfig::from_toml_str(&text, &source, overrides)
        .map_err(|e| EvalError::BadInput(e.to_string()))
}

/// Copies the rows of a CPU float tensor into a vector.
fn rows_of(t: &Tensor) -> Result<Vec<f32>, EvalError> {
    Ok(Vec::<f32>::try_from(
        t.to_kind(Kind::Float).to_device(Device::Cpu).flatten(0, -1),
    )?)
}

/// Evaluates the run's checkpoint as `request` says and writes its tables into
/// `RUN/eval-<name>/`; the caller adds the figures and then `eval.json`, the mark of a complete
/// folder (`invlab_report::finish_eval_folder`). `progress` is told each step; `stop` is polled
/// between forward batches. A panic inside libtorch (a CUDA out-of-memory on a shared GPU)
/// comes back as `Failed`, as it does from a run's worker.
pub fn evaluate(
    request: &EvalRequest,
    progress: &dyn Fn(EvalStep),
    stop: &dyn Fn() -> bool,
) -> Result<EvalOutput, EvalError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        evaluate_unguarded(request, progress, stop)
    }))
    .unwrap_or_else(|panic| {
        Err(EvalError::Failed(format!(
            "internal error: {}",
            crate::error::short_torch_text(&crate::worker::panic_text(&panic))
        )))
    })
}

/// Identity of a file's current contents, as far as metadata tells: a checkpoint replaced
/// (renamed over) while it was read changes it.
fn file_stamp(path: &std::path::Path) -> Option<(u64, u64, std::time::SystemTime)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.ino(), m.len(), m.modified().ok()?))
}

/// The fields of `config` outside `eval.*` that differ from `recorded` (what `run.json` says
/// the run trained with).
fn changed_fields(config: &RunConfig, recorded: &RunConfig) -> Vec<String> {
    let (now, then) = (config.flat(), recorded.flat());
    let mut keys: Vec<&String> = now.keys().chain(then.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| !k.starts_with("eval.") && *k != "device" && now.get(*k) != then.get(*k))
        .cloned()
        .collect()
}

/// The run as `invlab eval` finds it, checked: its directory, the folder's name, the config
/// (with the eval overrides), the checkpoint and the record of what the run trained with.
struct OpenedRun {
    run: RunDir,
    name: String,
    config: RunConfig,
    checkpoint: PathBuf,
    checkpoint_epoch: usize,
    on_disk: RunRecord,
    info: RunInfo,
}

/// Opens the run and refuses what cannot be scored: no checkpoint, no `run.json`, a
/// `config.toml` edited since the run (eval settings aside).
fn open_run(request: &EvalRequest) -> Result<OpenedRun, EvalError> {
    // `invlab eval .` names the run by its folder, not "".
    let run_dir = std::fs::canonicalize(&request.run_dir).unwrap_or(request.run_dir.clone());
    let run = RunDir::open(&run_dir).map_err(|e| {
        EvalError::BadInput(format!(
            "{}: not a run directory: {e}",
            request.run_dir.display()
        ))
    })?;
    let name = match &request.name {
        Some(n) => {
            invlab_core::config::check_run_name(n)
                .map_err(|e| EvalError::BadInput(format!("--name {n}: {e}")))?;
            n.clone()
        }
        None => plain::default_name(&request.overrides, request.skip_invariance),
    };
    let config = config_with(&run, &request.overrides)?;
    let checkpoint = run.file("checkpoint.ot");
    let checkpoint_epoch = match run.read_checkpoint_epoch() {
        Some(epoch) if epoch > 0 && checkpoint.is_file() => epoch,
        _ => {
            return Err(EvalError::BadInput(format!(
                "{} has no checkpoint to evaluate (the run ended before its first checkpoint, or checkpoint.ot is missing)",
                run.path.display()
            )))
        }
    };
    let on_disk = run
        .load()
        .map_err(|e| EvalError::BadInput(format!("{}: {e}", run.path.display())))?;
    let info = on_disk.info.clone().ok_or_else(|| {
        EvalError::BadInput(format!(
            "{} is missing or unreadable: without it the checkpoint cannot be checked against what the run trained",
            run.file("run.json").display()
        ))
    })?;
    // config.toml must still say what the run trained with (run.json's copy), eval aside.
    let changed = changed_fields(&config, &info.config);
    if !changed.is_empty() {
        return Err(EvalError::BadInput(format!(
            "{} differs from what the run trained with (run.json) in {}: restore it to evaluate this checkpoint",
            run.file("config.toml").display(),
            changed.join(", ")
        )));
    }
    Ok(OpenedRun {
        run,
        name,
        config,
        checkpoint,
        checkpoint_epoch,
        on_disk,
        info,
    })
}

/// The run's classifier with the checkpoint's weights. The weights and the epoch they belong
/// to must be one checkpoint: a live run may replace it meanwhile (checkpoint.ot first, then
/// checkpoint.json), which is refused.
fn load_model(
    opened: &OpenedRun,
    data: &data::DeviceData,
    classes: usize,
    device: Device,
) -> Result<(VarStore, Classifier), EvalError> {
    let (run, checkpoint) = (&opened.run, &opened.checkpoint);
    let mut vs = VarStore::new(device);
    // Initialised under the torch-seed lock like a run's model (the values are replaced by
    // the checkpoint's), so that this draw never interleaves with a run's initialisation.
    let model = with_torch_seed(0, || {
        Classifier::new(
            &vs.root(),
            opened.config.model.arch,
            data.channels,
            data.size,
            classes as i64,
            head_kind(&opened.config),
        )
    });
    let stamp = file_stamp(checkpoint);
    vs.load(checkpoint).map_err(|e| {
        EvalError::BadInput(format!(
            "{}: cannot load the checkpoint ({}); is it corrupt, or no longer the model config.toml describes?",
            checkpoint.display(),
            crate::error::short_torch_text(&e.to_string())
        ))
    })?;
    vs.freeze();
    let json_time = std::fs::metadata(run.file("checkpoint.json"))
        .and_then(|m| m.modified())
        .ok();
    let replaced = file_stamp(checkpoint) != stamp
        || run.read_checkpoint_epoch() != Some(opened.checkpoint_epoch)
        || matches!((stamp, json_time), (Some((_, _, ot)), Some(json)) if ot > json);
    if replaced {
        return Err(EvalError::BadInput(format!(
            "{}: the run wrote a new checkpoint while it was read; evaluate again",
            checkpoint.display()
        )));
    }
    Ok((vs, model))
}

/// The generator the run used (`generator.json`), from its cache entry.
fn load_generator(
    opened: &OpenedRun,
    device: Device,
    channels: i64,
) -> Result<(VarStore, Generator), EvalError> {
    let record = opened.on_disk.generator.as_ref().ok_or_else(|| {
        EvalError::BadInput(format!(
            "{}: eval.ekld_transform = \"generator\" needs a GIT run's generator (generator.json)",
            opened.run.path.display()
        ))
    })?;
    let path = record.cache_dir.join("generator.ot");
    let mut gvs = VarStore::new(device);
    let net = Generator::new(&(gvs.root() / "a"), &record.inputs.spec, channels);
    gvs.load(&path).map_err(|e| {
        EvalError::BadInput(format!(
            "{}: cannot load the run's generator ({e}); was the generator cache removed?",
            path.display()
        ))
    })?;
    gvs.freeze();
    Ok((gvs, net))
}

/// A GIT run's coverage diagnostic, measured as the run measured it. A run made before the
/// diagnostic gets its run-directory copy now (the same function of its generator, seed and
/// data), so that `invlab report` finds it where it finds every other run's.
fn measure_coverage(
    opened: &OpenedRun,
    generator: &Generator,
    data: &data::DeviceData,
    train_sizes: &[usize],
) -> Result<Option<NuisanceCoverage>, EvalError> {
    let Some(c) = measure_run_coverage(generator, data, train_sizes, &opened.config) else {
        return Ok(None);
    };
    let path = opened.run.file(nuisance_coverage::FILE);
    if !path.exists() {
        opened
            .run
            .write_generator_coverage(&c)
            .map_err(|e| EvalError::Failed(format!("writing {}: {e}", path.display())))?;
    }
    Ok(Some(c))
}

/// The test set's logits, raw and (one matrix per head) with each tau-normalised head, in
/// forward batches; `stop` is polled between them.
fn test_logits(
    model: &Classifier,
    data: &data::DeviceData,
    normalized_heads: &[Tensor],
    classes: usize,
    stop: &dyn Fn() -> bool,
) -> Result<(Vec<f32>, Vec<Vec<f32>>), EvalError> {
    let n = data.test.size()[0];
    let mut raw = Vec::with_capacity(n as usize * classes);
    let mut normalized: Vec<Vec<f32>> = vec![Vec::new(); normalized_heads.len()];
    let mut start = 0;
    while start < n {
        if stop() {
            return Err(EvalError::Stopped);
        }
        let len = (crate::metrics::FORWARD_BATCH as i64).min(n - start);
        let batch = data.normalize(&data.test.narrow(0, start, len));
        let (logits, per_tau) = tch::no_grad(|| {
            let features = model.backbone.forward_t(&batch, false);
            let logits = model.head.logits(&features);
            // Kang et al.'s classifier: the normalised weights alone, no bias.
            let per_tau = normalized_heads
                .iter()
                .map(|w| features.matmul(&w.tr()))
                .collect::<Vec<_>>();
            (logits, per_tau)
        });
        raw.extend(rows_of(&logits)?);
        for (out, l) in normalized.iter_mut().zip(&per_tau) {
            out.extend(rows_of(l)?);
        }
        start += len;
    }
    Ok((raw, normalized))
}

/// The taus asked for, or the defaults.
fn or_default(asked: &[f64], default: &[f64]) -> Vec<f64> {
    if asked.is_empty() {
        default.to_vec()
    } else {
        asked.to_vec()
    }
}

/// Every row of the evaluation's table: the raw logits' scores and confusion, the post-hoc
/// logit adjustment at each tau (the training set's prior), and each tau-normalised head's.
struct Scored {
    raw: plain::Scores,
    confusion: Confusion,
    logit_adjusted: Vec<Corrected>,
    tau_normalized: Vec<Corrected>,
}

fn score_all(
    raw: Logits,
    normalized: &[Vec<f32>],
    taus: &[f64],
    norm_taus: &[f64],
    labels: &[i64],
    train_sizes: &[usize],
) -> Scored {
    let classes = raw.classes;
    let (raw_scores, confusion) = plain::score(raw, labels, train_sizes);
    let prior = plain::log_prior(train_sizes);
    let logit_adjusted = taus
        .iter()
        .map(|&tau| {
            let adjusted = plain::logit_adjusted(raw, &prior, tau);
            let values = Logits {
                values: &adjusted,
                classes,
            };
            let (scores, _) = plain::score(values, labels, train_sizes);
            Corrected { tau, scores }
        })
        .collect();
    let tau_normalized = norm_taus
        .iter()
        .zip(normalized)
        .map(|(&tau, values)| {
            let (scores, _) = plain::score(Logits { values, classes }, labels, train_sizes);
            Corrected { tau, scores }
        })
        .collect();
    Scored {
        raw: raw_scores,
        confusion,
        logit_adjusted,
        tau_normalized,
    }
}

fn evaluate_unguarded(
    request: &EvalRequest,
    progress: &dyn Fn(EvalStep),
    stop: &dyn Fn() -> bool,
) -> Result<EvalOutput, EvalError> {
    let started = Instant::now();
    let opened = open_run(request)?;
    let (run, config, info) = (&opened.run, &opened.config, &opened.info);
    super::worker::fits_in_memory(config)?;
    let device =
        device::resolve(request.device.unwrap_or(config.device)).map_err(EngineError::from)?;
    super::worker::fits_on_gpu(config, device)?;
    // libtorch's intra-op setting is per OS thread: this one's alone. On the CPU, by default
    // the run's own count, so that the arithmetic (and so eKLD) is the run's.
    let cpu_default = (device == Device::Cpu)
        .then_some(info.cpu_threads)
        .flatten();
    if let Some(threads) = request.threads.or(cpu_default) {
        tch::set_num_threads(threads.max(1) as i32);
    }
    // Before any output is computed: the folder can be written (a read-only run directory
    // fails now, not after minutes of eKLD).
    let dir = plain::eval_dir(&run.path, &opened.name);
    let lock = invlab_core::lock::RunLock::acquire(&run.path, &format!("eval-{}", opened.name))
        .map_err(|e| match e {
            invlab_core::lock::LockError::Held { holder, .. } => EvalError::BadInput(format!(
                "{}: another evaluation is writing it ({holder}); wait for it, or choose another --name",
                dir.display()
            )),
            other => EvalError::Failed(other.to_string()),
        })?;
    plain::begin(&dir)
        .map_err(|e| EvalError::Failed(format!("preparing {}: {e}", dir.display())))?;
    let _deterministic = crate::determinism::Deterministic::for_run(config.train.deterministic);
    progress(EvalStep::LoadingData);
    let prepared = prepare(config).map_err(EngineError::from)?;
    // The class prior and the groups must be those of the training set the run trained on.
    if info.train_sizes != prepared.train_sizes
        || info.test_sizes != prepared.test_sizes
        || info.class_names != prepared.class_names
    {
        return Err(EvalError::BadInput(format!(
            "{}: the dataset now gives other classes or class sizes than run.json records; \
             the checkpoint cannot be scored against it",
            run.path.display()
        )));
    }
    let device_data = data::upload(&prepared, config, device)?;
    let (_vs, model) = load_model(&opened, &device_data, prepared.num_classes, device)?;
    let train_sizes = &prepared.train_sizes;

    // The generator: required when eKLD is asked under it; for a GIT run's coverage
    // diagnostic, used when its cache entry is still there.
    let git_run = opened.on_disk.generator.is_some()
        && config.method.augment == Augment::Git
        && NuisanceMeasure::of(config.data.transform).is_some();
    let mut generator_coverage_note = None;
    let generator =
        if !request.skip_invariance && config.ekld_transform() == EkldTransform::Generator {
            Some(load_generator(&opened, device, device_data.channels)?)
        } else if git_run {
            match load_generator(&opened, device, device_data.channels) {
                Ok(loaded) => Some(loaded),
                Err(e) => {
                    generator_coverage_note = Some(format!("coverage not measured: {e}"));
                    None
                }
            }
        } else {
            None
        };
    let generator_coverage = match &generator {
        Some((_, net)) if git_run => measure_coverage(&opened, net, &device_data, train_sizes)?,
        _ => None,
    };

    progress(EvalStep::Scoring);
    let classes = prepared.num_classes;
    let taus = or_default(&request.taus, &plain::DEFAULT_TAUS);
    let norm_taus = or_default(&request.norm_taus, &plain::DEFAULT_NORM_TAUS);
    // tau-normalisation (Kang et al. 2020) of the linear head; a cosine head's weights are
    // unit vectors already.
    let (normalized_heads, norm_note) = match &model.head {
        Head::Linear(linear) => (
            norm_taus
                .iter()
                .map(|&tau| tau_normalized(&linear.ws, tau))
                .collect::<Vec<_>>(),
            None,
        ),
        Head::Cosine { .. } => (
            Vec::new(),
            Some("the cosine (LDAM) head's class weights are unit vectors already: tau-normalisation changes nothing".to_string()),
        ),
    };
    let (raw, normalized) = test_logits(&model, &device_data, &normalized_heads, classes, stop)?;
    let labels = &device_data.test_labels;
    let raw_logits = Logits {
        values: &raw,
        classes,
    };
    let scored = score_all(
        raw_logits,
        &normalized,
        &taus,
        &norm_taus,
        labels,
        train_sizes,
    );
    let (raw_scores, confusion) = (scored.raw, scored.confusion);
    // The run's own accuracy after this epoch, class by class: equal unless the checkpoint,
    // the data or the arithmetic (device, threads) differ from what the run had.
    let matches_run = opened
        .on_disk
        .epochs
        .get(opened.checkpoint_epoch - 1)
        .map(|m| m.per_class_accuracy == raw_scores.per_class_accuracy);
    let posthoc_note = rebalanced(config).map(|how| {
        format!(
            "this model was trained {how}: its logits already lean toward the tail, and subtracting tau x ln(training prior) corrects a second time (tau near 0 may suit it better)"
        )
    });

    let invariance = if request.skip_invariance {
        None
    } else {
        progress(EvalStep::Invariance);
        let inputs = InvarianceInputs {
            config,
            data: &device_data,
            train_sizes,
            generator: generator.as_ref().map(|(_, g)| g),
        };
        // The final estimate's draws for this epoch: for a finished run evaluated with its own
        // eval settings on its device and thread count, the eKLD it reported at the end.
        let logits_of = |x: &Tensor| model.logits(&device_data.normalize(x));
        let measured = inputs.measure(opened.checkpoint_epoch - 1, true, &logits_of, stop);
        Some(measured.ok_or(EvalError::Stopped)?)
    };

    progress(EvalStep::Writing);
    let record = EvalRecord {
        name: opened.name.clone(),
        run_id: run.id(),
        checkpoint_epoch: opened.checkpoint_epoch,
        total_epochs: info.total_epochs,
        overrides: request.overrides.clone(),
        eval: config.eval.clone(),
        device: device::describe(device),
        invlab_version: env!("CARGO_PKG_VERSION").to_string(),
        libtorch_version: crate::build_info::libtorch_version().to_string(),
        created: now_secs(),
        seconds: started.elapsed().as_secs_f64(),
        test_images: labels.len(),
        class_names: prepared.class_names.clone(),
        train_sizes: prepared.train_sizes.clone(),
        test_sizes: prepared.test_sizes.clone(),
        raw: raw_scores,
        logit_adjusted: scored.logit_adjusted,
        tau_normalized: scored.tau_normalized,
        tau_normalized_note: norm_note,
        posthoc_note,
        matches_run,
        invariance,
        generator_coverage,
        generator_coverage_note,
    };
    plain::write_tables(&dir, &record, &confusion)
        .map_err(|e| EvalError::Failed(format!("writing {}: {e}", dir.display())))?;
    Ok(EvalOutput {
        dir,
        record,
        confusion,
        lock: lock.map(std::sync::Arc::new),
    })
}

/// Kang et al.'s tau-normalised weights: each class's weight vector (a row of a
/// `classes x features` matrix) divided by its L2 norm to the power `tau`.
pub(crate) fn tau_normalized(weights: &Tensor, tau: f64) -> Tensor {
    let norms = weights.norm_scalaropt_dim(2, [1], true).clamp_min(1e-12);
    weights / norms.pow_tensor_scalar(tau)
}

/// How a method already trains toward a balanced prior, if it does (logit adjustment by the
/// training prior then corrects twice).
fn rebalanced(config: &RunConfig) -> Option<&'static str> {
    use invlab_core::config::{Loss, Rule};
    match (config.method.loss, config.method.rule) {
        (Loss::BalancedSoftmax | Loss::LogitAdjusted, _) => Some("with a prior-adjusted loss"),
        (Loss::Ldam, _) => Some("with LDAM's class-size margins"),
        (_, Rule::None) => None,
        (_, Rule::Crt) => Some("with a class-balanced classifier stage (cRT)"),
        (_, _) => Some("with class re-balancing (resampling or re-weighting)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tau_normalisation_divides_each_class_row_by_its_norm_to_the_tau() {
        // Two classes: norms 5 and 1.
        let w = Tensor::from_slice(&[3.0f32, 4.0, 0.0, 1.0]).view([2, 2]);
        let half = Vec::<f32>::try_from(tau_normalized(&w, 0.5).flatten(0, -1)).unwrap();
        let s5 = 5f32.sqrt();
        for (got, want) in half.iter().zip([3.0 / s5, 4.0 / s5, 0.0, 1.0]) {
            assert!((got - want).abs() < 1e-6, "{half:?}");
        }
        let full = Vec::<f32>::try_from(tau_normalized(&w, 1.0).flatten(0, -1)).unwrap();
        assert_eq!(full, vec![0.6, 0.8, 0.0, 1.0]);
        let none = Vec::<f32>::try_from(tau_normalized(&w, 0.0).flatten(0, -1)).unwrap();
        assert_eq!(none, vec![3.0, 4.0, 0.0, 1.0]);
    }

    #[test]
    fn re_balancing_methods_are_named_for_the_logit_adjustment_note() {
        use invlab_core::config::{Loss, Rule};
        let mut c = RunConfig::default();
        c.method.loss = Loss::Ce;
        c.method.rule = Rule::None;
        assert_eq!(rebalanced(&c), None);
        c.method.rule = Rule::Drs;
        assert!(rebalanced(&c).is_some());
        c.method.rule = Rule::None;
        c.method.loss = Loss::BalancedSoftmax;
        assert!(rebalanced(&c).is_some());
    }
}
