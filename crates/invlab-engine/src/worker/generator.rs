//! GIT's generator phase: before the classifier's first epoch, reuse the cached generator for
//! this run's data and settings, or train one (pausable, stoppable, checkpointed, resumable)
//! and cache it; then hold it for the classifier's batches and the generator eKLD.

use std::time::Instant;

use tch::nn::VarStore;
use tch::{Device, Tensor};

use super::data::DeviceData;
use super::{Flow, Trainer};
use crate::error::{EngineError, EngineResult};
use crate::events::{Event, Phase};
use crate::generative::augment::{keep_probabilities, GitAugmenter};
use crate::generative::munit::Generator;
use crate::generative::samples::{pick_rows, sample_grid};
use crate::generative::training::MunitTraining;
use crate::generative::{cache, coverage};
use invlab_core::atomic::{save_atomic_with_room, write_atomic};
use invlab_core::config::{Augment, GenMode, RunConfig};
use invlab_core::generator::{GeneratorSpec, KeyInputs, Losses, SampleGrid};
use invlab_core::nuisance_coverage::{self, NuisanceCoverage};
use invlab_core::records::{GeneratorProgress, GeneratorRecord};
use invlab_core::rundir::Status;

/// Files of the generator phase in the run directory.
const TRAINING_CHECKPOINT: &str = "generator-training.ot";
const TRAINING_LOSSES: &str = "generator-losses.jsonl";
const RECORD: &str = "generator.json";
/// Generated columns of the sample grid, and its rows.
const SAMPLE_VARIANTS: usize = 7;
const SAMPLE_ROWS: usize = 6;

/// A generator ready for use, with what it is.
pub(super) struct LoadedGenerator {
    _vs: VarStore,
    pub net: Generator,
}

/// The run's generator key inputs.
pub(super) fn key_inputs(
    trainer_config: &invlab_core::config::RunConfig,
    digest: u64,
    channels: i64,
    size: i64,
) -> KeyInputs {
    KeyInputs::new(
        trainer_config,
        &GeneratorSpec::resolve(&trainer_config.git),
        digest,
        channels,
        size,
    )
}

/// libtorch's intra-op thread count for this thread (OpenMP's setting is per thread), restored
/// when dropped: the generator phase may train with fewer threads than the classifier.
struct CpuThreads {
    before: Option<i32>,
}

impl CpuThreads {
    fn limit(threads: usize, device: tch::Device) -> CpuThreads {
        if threads == 0 || device != tch::Device::Cpu {
            return CpuThreads { before: None };
        }
        let before = tch::get_num_threads();
        tch::set_num_threads(threads as i32);
        CpuThreads {
            before: Some(before),
        }
    }
}

impl Drop for CpuThreads {
    fn drop(&mut self) {
        if let Some(n) = self.before {
            tch::set_num_threads(n);
        }
    }
}

fn losses_jsonl(losses: &[Losses]) -> String {
    losses
        .iter()
        .filter_map(|l| serde_json::to_string(l).ok())
        .map(|l| l + "\n")
        .collect()
}

fn load_generator(
    spec: &GeneratorSpec,
    channels: i64,
    path: &std::path::Path,
    device: Device,
) -> EngineResult<LoadedGenerator> {
    let mut vs = VarStore::new(device);
    let net = Generator::new(&(vs.root() / "a"), spec, channels);
    vs.load(path).map_err(|e| EngineError::reading(path, e))?;
    vs.freeze();
    Ok(LoadedGenerator { _vs: vs, net })
}

/// Writes a sample grid as a PNG.
pub(super) fn write_samples_png(grid: &SampleGrid, path: &std::path::Path) -> EngineResult<()> {
    grid.to_picture()
        .write_png(path)
        .map_err(|e| EngineError::writing(path, e))
}

impl Trainer<'_> {
    /// The generator, cached or trained now. `None` when a stop arrived while training it.
    pub(super) fn prepare_generator(&mut self) -> EngineResult<Option<()>> {
        let Some(inputs) = self.generator_inputs.clone() else {
            // GIT's oracle control mixes by GIT's code, with no generator.
            if self.config.method.augment == Augment::GitOracle {
                self.git = Some(self.augmenter());
            }
            return Ok(Some(()));
        };
        let spec = inputs.spec.clone();
        spec.fits(self.data.size)
            .map_err(|e| EngineError::Unusable(e.to_string()))?;
        let key = inputs.key();
        let root = cache::cache_root(&self.config).ok_or_else(|| {
            EngineError::Unusable(
                "no data directory is known for the generator cache; set git.cache_dir".into(),
            )
        })?;
        let device = self.vs.device();
        let (dir, trained_here, seconds) = match cache::lookup(&root, &key) {
            Some(dir) => {
                self.emit(Event::Generator(Box::new(GeneratorProgress {
                    key: key.clone(),
                    iteration: spec.iterations,
                    iterations: spec.iterations,
                    losses: None,
                    seconds: 0.0,
                    started_at: spec.iterations,
                    from_cache: true,
                    samples: None,
                })));
                (dir, false, 0.0)
            }
            None => {
                let Some((dir, seconds)) = self.train_generator(&spec, &key, &inputs, &root)?
                else {
                    return Ok(None);
                };
                (dir, true, seconds)
            }
        };
        let loaded = load_generator(&spec, self.data.channels, &dir.join("generator.ot"), device)?;
        let record = GeneratorRecord {
            key,
            cache_dir: dir.clone(),
            trained_here,
            iterations: spec.iterations,
            seconds,
            inputs,
        };
        let text = serde_json::to_string_pretty(&record).unwrap_or_default() + "\n";
        write_atomic(&self.dir.file(RECORD), text.as_bytes())
            .map_err(|e| EngineError::writing(&self.dir.file(RECORD), e))?;
        for file in ["samples.png", "samples.json", "losses.jsonl"] {
            let target = self.dir.file(&format!("generator-{file}"));
            if dir.join(file).is_file() && !target.is_file() {
                let _ = std::fs::copy(dir.join(file), target);
            }
        }
        if self.config.method.augment == Augment::Git {
            self.git = Some(self.augmenter());
        }
        self.write_coverage(&loaded.net)?;
        self.generator = Some(loaded);
        Ok(Some(()))
    }

    /// The generator's coverage diagnostic, into the run directory and to the front end.
    fn write_coverage(&self, generator: &Generator) -> EngineResult<()> {
        let Some(coverage) =
            measure_coverage(generator, &self.data, &self.info.train_sizes, &self.config)
        else {
            return Ok(());
        };
        self.dir
            .write_generator_coverage(&coverage)
            .map_err(|e| EngineError::writing(&self.dir.file(nuisance_coverage::FILE), e))?;
        self.emit(Event::GeneratorCoverage(Box::new(coverage)));
        Ok(())
    }

    /// GIT's mixing as `[git]` configures it (for the generator, or the oracle control).
    fn augmenter(&self) -> GitAugmenter {
        let git = &self.config.git;
        let pool = match git.mode {
            GenMode::Pool => true,
            GenMode::Batch => false,
            GenMode::Auto => self.vs.device() == Device::Cpu,
        };
        let keep = git
            .weighted_gen
            .then(|| keep_probabilities(&self.info.train_sizes, git.weighted_gen_k));
        GitAugmenter::new(
            git.gen_fraction,
            keep,
            pool,
            self.config.train.decay_epochs[0],
            self.config.seed,
            self.config.train.batch_size,
        )
    }

    fn save_generator_checkpoint(
        &self,
        training: &MunitTraining,
        losses: &[Losses],
    ) -> EngineResult<()> {
        let path = self.dir.file(TRAINING_CHECKPOINT);
        let state = training.state();
        let bytes = super::checkpoint::tensor_bytes(state.iter().map(|(_, t)| t));
        save_atomic_with_room(&path, bytes, |tmp| Tensor::save_multi(&state, tmp))
            .map_err(|e| EngineError::writing(&path, e))?;
        let losses_path = self.dir.file(TRAINING_LOSSES);
        write_atomic(&losses_path, losses_jsonl(losses).as_bytes())
            .map_err(|e| EngineError::writing(&losses_path, e))?;
        self.generator_iteration.set(Some(training.iteration));
        Ok(())
    }

    fn sample(&self, training: &MunitTraining) -> SampleGrid {
        let picked = pick_rows(
            &self.data.train_by_class,
            &self.info.train_sizes,
            SAMPLE_ROWS,
        );
        let labels: Vec<String> = picked
            .iter()
            .map(|&(c, _)| {
                format!(
                    "{} ({} images)",
                    self.info.class_names.get(c).cloned().unwrap_or_default(),
                    self.info.train_sizes[c]
                )
            })
            .collect();
        sample_grid(
            &training.gen_a,
            &self.data.train,
            &picked,
            &labels,
            SAMPLE_VARIANTS,
            self.config.seed,
        )
    }

    /// Trains the generator from scratch or from this run's checkpoint, then caches it.
    /// Returns the cache entry and the training seconds; `None` when stopped.
    fn train_generator(
        &mut self,
        spec: &GeneratorSpec,
        key: &str,
        inputs: &KeyInputs,
        root: &std::path::Path,
    ) -> EngineResult<Option<(std::path::PathBuf, f64)>> {
        self.emit(Event::Phase(Phase::Generator));
        let device = self.vs.device();
        let _threads = CpuThreads::limit(spec.cpu_threads, device);
        let mut training = MunitTraining::new(spec, self.data.channels, self.config.seed, device);
        let checkpoint = self.dir.file(TRAINING_CHECKPOINT);
        let mut losses = Vec::new();
        if checkpoint.is_file() {
            let saved = Tensor::load_multi_with_device(&checkpoint, device)
                .map_err(|e| EngineError::reading(&checkpoint, e))?;
            training
                .load_state(&saved)
                .map_err(|e| EngineError::Resume(format!("{}: {e}", checkpoint.display())))?;
            losses = invlab_core::generator::read_losses(&self.dir.file(TRAINING_LOSSES));
            losses.truncate(training.iteration);
        }
        let started_at = training.iteration;
        let t0 = Instant::now();
        let progress =
            |training: &MunitTraining, losses: &[Losses], samples: Option<SampleGrid>| {
                GeneratorProgress {
                    key: key.to_string(),
                    iteration: training.iteration,
                    iterations: spec.iterations,
                    losses: losses.last().copied(),
                    seconds: t0.elapsed().as_secs_f64(),
                    started_at,
                    from_cache: false,
                    samples,
                }
            };
        self.emit(Event::Generator(Box::new(progress(
            &training,
            &losses,
            Some(self.sample(&training)),
        ))));
        let mut last_report = Instant::now();
        while training.iteration < spec.iterations {
            if let Flow::Stop = self.check_controls()? {
                self.save_generator_checkpoint(&training, &losses)?;
                return Ok(None);
            }
            let step = training.step(&self.data.train, &self.data.train_by_class);
            if !(step.dis.is_finite() && step.gan.is_finite() && step.recon_x.is_finite()) {
                return Err(EngineError::Unusable(format!(
                    "the generator's training diverged at iteration {} (losses {step:?}); try a smaller git.lr",
                    step.iteration
                )));
            }
            losses.push(step);
            let every = self.config.git.sample_every.max(1);
            let done = training.iteration == spec.iterations;
            if training.iteration.is_multiple_of(every) || done {
                // A checkpoint with every sample grid: a killed run loses at most that much.
                self.save_generator_checkpoint(&training, &losses)?;
                self.write_state(Status::Running)?;
                let grid = self.sample(&training);
                self.emit(Event::Generator(Box::new(progress(
                    &training,
                    &losses,
                    Some(grid),
                ))));
                last_report = Instant::now();
            } else if last_report.elapsed().as_millis() >= 200 {
                self.emit(Event::Generator(Box::new(progress(
                    &training, &losses, None,
                ))));
                last_report = Instant::now();
            }
        }
        let seconds = t0.elapsed().as_secs_f64();
        let grid = self.sample(&training);
        let weights: Vec<(String, Tensor)> = {
            let mut v: Vec<(String, Tensor)> = training
                .gen_vs
                .variables()
                .into_iter()
                .filter(|(name, _)| name.starts_with("a."))
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        let key_text = serde_json::to_string_pretty(inputs).unwrap_or_default() + "\n";
        let losses_text = losses_jsonl(&losses);
        let dir = cache::store(root, key, |tmp| {
            let write = |name: &str, text: &[u8]| {
                let path = tmp.join(name);
                std::fs::write(&path, text).map_err(|e| EngineError::writing(&path, e))
            };
            let weights_path = tmp.join("generator.ot");
            Tensor::save_multi(&weights, &weights_path)
                .map_err(|e| EngineError::writing(&weights_path, e))?;
            write("key.json", key_text.as_bytes())?;
            write("losses.jsonl", losses_text.as_bytes())?;
            // The grid as data too, so the lab can show it for runs read back from disk.
            let grid_text = serde_json::to_string(&grid)
                .map_err(|e| EngineError::writing(&tmp.join("samples.json"), e))?;
            write("samples.json", grid_text.as_bytes())?;
            write_samples_png(&grid, &tmp.join("samples.png"))
        })?;
        let _ = std::fs::remove_file(&checkpoint);
        self.generator_iteration.set(None);
        Ok(Some((dir, seconds)))
    }
}

/// The coverage diagnostic of `generator` on a run's training images as the run holds them on
/// its device (`data.train` as stored, transformed once; `data.train_raw` untransformed), seeded
/// by the run's seed. `None` for a transform without a measure, or a run that keeps no
/// untransformed images. The generator phase and `invlab eval` both measure through this.
pub(crate) fn measure_coverage(
    generator: &Generator,
    data: &DeviceData,
    train_sizes: &[usize],
    config: &RunConfig,
) -> Option<NuisanceCoverage> {
    coverage::measure(
        generator,
        &data.train,
        data.train_raw.as_ref()?,
        &data.train_by_class,
        train_sizes,
        config.data.transform,
        config.seed,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generators_thread_limit_holds_on_its_thread_only_and_is_restored() {
        let elsewhere = tch::get_num_threads();
        let (limited_tx, limited_rx) = std::sync::mpsc::channel();
        let (checked_tx, checked_rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::spawn(move || {
            let before = tch::get_num_threads();
            {
                let _limit = CpuThreads::limit(1, tch::Device::Cpu);
                assert_eq!(tch::get_num_threads(), 1);
                // A limit of 0 leaves the setting alone.
                let _none = CpuThreads::limit(0, tch::Device::Cpu);
                assert_eq!(tch::get_num_threads(), 1);
                limited_tx.send(()).unwrap();
                checked_rx.recv().unwrap();
            }
            assert_eq!(tch::get_num_threads(), before);
        });
        // While the worker is limited, this thread keeps its own count.
        limited_rx.recv().unwrap();
        assert_eq!(tch::get_num_threads(), elsewhere);
        checked_tx.send(()).unwrap();
        worker.join().unwrap();
    }
}
