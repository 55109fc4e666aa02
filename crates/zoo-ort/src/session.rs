//! Choosing a device, opening sessions, and caching optimized models.
//!
//! ONNX Runtime quietly runs on CPU when a requested GPU provider fails to load.
//! zoo never lets that happen unnoticed: CUDA is registered with
//! `error_on_failure`, an explicit `--device cuda` that fails is an error, and
//! `auto` falling back to CPU says so on stderr; every session reports the
//! provider it actually got.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use ort::ep;
use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use serde::Serialize;

use crate::cuda::{self, DriverHint};
use crate::error::{OrtError, Result};
use crate::provision::{self, Flavor, RuntimeLocation};
use crate::runtime::{self, Runtime};
use crate::wheel::sha256_file;

/// Where to run: `auto` (CUDA when usable, else CPU), `cpu`, `cuda` or `cuda:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    #[default]
    Auto,
    Cpu,
    Cuda(u32),
}

impl FromStr for Device {
    type Err = OrtError;
    fn from_str(s: &str) -> Result<Device> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "auto" => Ok(Device::Auto),
            "cpu" => Ok(Device::Cpu),
            "cuda" | "gpu" => Ok(Device::Cuda(0)),
            _ => lower
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(Device::Cuda)
                .ok_or_else(|| OrtError::BadDevice(s.to_owned())),
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Auto => f.write_str("auto"),
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// The execution provider a session really runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum Provider {
    Cpu,
    Cuda { device: u32 },
}

impl Provider {
    /// ONNX Runtime's name for the provider.
    pub fn ort_name(self) -> &'static str {
        match self {
            Provider::Cpu => "CPUExecutionProvider",
            Provider::Cuda { .. } => "CUDAExecutionProvider",
        }
    }

    /// Short tag used in cache file names.
    fn tag(self) -> String {
        match self {
            Provider::Cpu => "cpu".to_owned(),
            Provider::Cuda { device } => format!("cuda{device}"),
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Provider::Cpu => f.write_str("CPUExecutionProvider"),
            Provider::Cuda { device } => write!(f, "CUDAExecutionProvider (device {device})"),
        }
    }
}

/// How the optimized-model cache served a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheUse {
    /// Loaded a previously optimized model.
    Hit,
    /// Optimized the model now and saved it for next time.
    Written,
    /// Caching disabled, or the model could not be saved (e.g. over 2 GB).
    Off,
}

#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub device: Device,
    /// Intra-op threads; `None` uses every core.
    pub threads: Option<usize>,
    /// Directory of optimized models to reuse (`None` disables the cache).
    /// Default: `$ZOO_HOME/cache/sessions`.
    pub cache: Option<PathBuf>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            device: Device::Auto,
            threads: None,
            cache: Some(zoo_env::cache_dir().join("sessions")),
        }
    }
}

/// A loaded runtime plus the device and thread settings sessions are opened with.
#[derive(Debug)]
pub struct Engine {
    runtime: &'static Runtime,
    device: Device,
    threads: usize,
    cache: Option<PathBuf>,
    decoders: bool,
}

pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Engine {
    /// Find (or install) the runtime `options.device` needs and load it.
    pub fn new(options: EngineOptions) -> Result<Engine> {
        let location = match options.device {
            Device::Cpu => cpu_location()?,
            Device::Cuda(_) => cuda_location(options.device)?,
            Device::Auto => auto_location()?,
        };
        Engine::with_runtime(runtime::load(location)?, options)
    }

    /// An engine on a runtime already loaded (e.g. with [`crate::load`]).
    pub fn with_runtime(runtime: &'static Runtime, options: EngineOptions) -> Result<Engine> {
        if let Device::Cuda(_) = options.device {
            runtime
                .prepare_cuda()
                .map_err(|reason| OrtError::DeviceUnavailable {
                    device: options.device.to_string(),
                    reason,
                })?;
        }
        Ok(Engine {
            runtime,
            device: options.device,
            threads: options.threads.unwrap_or_else(default_threads).max(1),
            cache: options.cache,
            decoders: false,
        })
    }

    /// Sessions opened from now on feed on decoder threads ([`Self::decode_workers`])
    /// that need CPU time of their own. Idle ONNX Runtime threads spin by
    /// default (the lowest latency between parallel sections); where decoders
    /// get no cores of their own (inference takes every core, or CUDA runs the
    /// model and every core decodes), spinning threads would take the decoders'
    /// time, so they sleep instead: on 2 cores about 10% more images/s.
    pub fn set_decoders(&mut self, decoders: bool) {
        self.decoders = decoders;
    }

    /// Decoding threads to pair with a session on `provider`. On CUDA the CPU has
    /// nothing else to do, so every core decodes (the GPU outruns a few
    /// decoders). On CPU, cores that inference leaves free (`--threads` below the
    /// core count) go to decoding; otherwise a quarter of the cores, at most 4,
    /// since decoding a photo costs a few milliseconds and inference on it tens.
    pub fn decode_workers(&self, provider: Provider) -> usize {
        let cores = default_threads();
        match provider {
            Provider::Cuda { .. } => cores,
            Provider::Cpu if self.threads < cores => cores - self.threads,
            Provider::Cpu => (cores / 4).clamp(1, 4),
        }
    }

    /// Whether idle intra-op threads of a session on `provider` spin.
    fn spins(&self, provider: Provider) -> bool {
        let decoders_need_these_cores = match provider {
            Provider::Cuda { .. } => true,
            Provider::Cpu => self.threads >= default_threads(),
        };
        !(self.decoders && decoders_need_these_cores)
    }

    pub fn runtime(&self) -> &'static Runtime {
        self.runtime
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Open `model`. `sha256` (the card's digest) names the optimized-model cache
    /// entry; without it the file is hashed.
    pub fn open(&self, model: &Path, sha256: Option<&str>) -> Result<ModelSession> {
        let digest = match sha256 {
            Some(d) => d.to_ascii_lowercase(),
            None => sha256_file(model)?,
        };
        match self.device {
            Device::Cpu => self.open_on(model, &digest, Provider::Cpu),
            Device::Cuda(n) => self
                .open_on(model, &digest, Provider::Cuda { device: n })
                .map_err(|e| OrtError::DeviceUnavailable {
                    device: self.device.to_string(),
                    reason: e.to_string(),
                }),
            Device::Auto => {
                let cuda_possible = self.runtime.has_cuda_provider()
                    && !matches!(cuda::driver_hint(), DriverHint::Absent(_))
                    && self.runtime.prepare_cuda().is_ok();
                if cuda_possible {
                    match self.open_on(model, &digest, Provider::Cuda { device: 0 }) {
                        Ok(s) => return Ok(s),
                        Err(e) => eprintln!("zoo: CUDA is not usable ({e}); running on CPU"),
                    }
                }
                self.open_on(model, &digest, Provider::Cpu)
            }
        }
    }

    fn builder(&self, provider: Provider) -> Result<SessionBuilder> {
        let ctx = "configuring the session";
        let mut b = Session::builder(self.runtime.env())
            .map_err(OrtError::ort(ctx))?
            .with_intra_threads(self.threads)
            .map_err(OrtError::ort(ctx))?
            .with_inter_threads(1)
            .map_err(OrtError::ort(ctx))?
            .with_intra_op_spinning(self.spins(provider))
            .map_err(OrtError::ort(ctx))?;
        if let Provider::Cuda { device } = provider {
            self.runtime
                .prepare_cuda()
                .map_err(|reason| OrtError::DeviceUnavailable {
                    device: format!("cuda:{device}"),
                    reason,
                })?;
            // TF32 off: ONNX Runtime may default to TensorFloat-32 convolutions and
            // matrix products, which keep 10 mantissa bits and moved open_nsfw's
            // probabilities by up to 9e-4 against CPU; zoo promises float32 results.
            let cuda = ep::CUDA::default()
                .with_device_id(device as i32)
                .with_tf32(false)
                .build()
                .error_on_failure();
            b = b
                .with_execution_providers([cuda])
                .map_err(OrtError::ort("registering the CUDA execution provider"))?;
        }
        Ok(b)
    }

    fn open_on(&self, model: &Path, digest: &str, provider: Provider) -> Result<ModelSession> {
        let load_err = |e: ort::Error| OrtError::Model {
            path: model.to_owned(),
            message: e.message().to_owned(),
        };
        let Some(dir) = &self.cache else {
            let session = self
                .builder(provider)?
                .with_optimization_level(GraphOptimizationLevel::All)
                .map_err(OrtError::ort("configuring the session"))?
                .commit_from_file(model)
                .map_err(load_err)?;
            return Ok(ModelSession::new(session, provider, CacheUse::Off));
        };
        let cached = dir.join(cache_file_name(digest, self.runtime.version(), provider));
        if cached.is_file() {
            // Already optimized: running the optimizers again would only cost time.
            let hit = self
                .builder(provider)?
                .with_optimization_level(GraphOptimizationLevel::Disable)
                .map_err(OrtError::ort("configuring the session"))?
                .commit_from_file(&cached);
            match hit {
                Ok(session) => return Ok(ModelSession::new(session, provider, CacheUse::Hit)),
                // A damaged cache entry is rebuilt, not fatal.
                Err(_) => {
                    let _ = std::fs::remove_file(&cached);
                }
            }
        }
        let optimized = |b: SessionBuilder| {
            b.with_optimization_level(GraphOptimizationLevel::All)
                .map_err(OrtError::ort("configuring the session"))
        };
        let written = std::fs::create_dir_all(dir).ok().and_then(|()| {
            // ONNX Runtime writes the file while committing; a unique temporary name
            // and a rename afterwards keep concurrent zoo processes from reading
            // half-written models.
            let nonce = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let tmp = dir.join(format!(
                ".{}.{}-{nonce}.tmp",
                cached.file_name()?.to_string_lossy(),
                std::process::id()
            ));
            let session = optimized(self.builder(provider).ok()?)
                .ok()?
                .with_optimized_model_path(&tmp)
                .ok()?
                .commit_from_file(model);
            match session {
                Ok(s) if std::fs::rename(&tmp, &cached).is_ok() => Some(s),
                Ok(s) => {
                    let _ = std::fs::remove_file(&tmp);
                    Some(s)
                }
                Err(_) => {
                    let _ = std::fs::remove_file(&tmp);
                    None
                }
            }
        });
        if let Some(session) = written {
            let state = if cached.is_file() {
                CacheUse::Written
            } else {
                CacheUse::Off
            };
            return Ok(ModelSession::new(session, provider, state));
        }
        // Saving failed (models over 2 GB cannot be serialized, the cache may be
        // read-only): open without the cache, and surface the real load error.
        let session = optimized(self.builder(provider)?)?
            .commit_from_file(model)
            .map_err(load_err)?;
        Ok(ModelSession::new(session, provider, CacheUse::Off))
    }
}

fn cpu_location() -> Result<RuntimeLocation> {
    if let Some(env) = provision::locate(Flavor::Cpu)? {
        return Ok(env);
    }
    // The GPU build runs on CPU just as well; reuse it rather than download.
    match provision::installed(Flavor::Cuda) {
        Some(found) => Ok(found),
        None => provision::ensure(Flavor::Cpu),
    }
}

fn cuda_location(device: Device) -> Result<RuntimeLocation> {
    if let Some(found) = provision::locate(Flavor::Cuda)? {
        return Ok(found);
    }
    // Refuse before downloading ~1.5 GB of CUDA libraries a machine cannot use.
    if let DriverHint::Absent(reason) = cuda::driver_hint() {
        return Err(OrtError::DeviceUnavailable {
            device: device.to_string(),
            reason: format!("{reason}; use --device cpu or auto"),
        });
    }
    provision::ensure(Flavor::Cuda)
}

fn auto_location() -> Result<RuntimeLocation> {
    if zoo_env::ort_dylib_path().is_some() {
        return cpu_location();
    }
    let driver = !matches!(cuda::driver_hint(), DriverHint::Absent(_));
    if driver && let Some(found) = provision::installed(Flavor::Cuda) {
        return Ok(found);
    }
    cpu_location()
}

/// `<model sha256>-<ort version>-<provider>.onnx`: a new runtime or provider
/// never reuses a model optimized for another.
/// The digest naming what ONNX Runtime runs: the model file's sha256, or,
/// when the graph reads tensors from external-data files, a sha256 over its
/// digest and theirs: those bytes are part of the model, and a cache keyed on
/// the graph file alone would serve one model's weights for another's.
pub fn graph_digest(model_sha256: &str, external_data_sha256: &[&str]) -> String {
    if external_data_sha256.is_empty() {
        return model_sha256.to_ascii_lowercase();
    }
    use sha2::Digest;
    let mut sorted = external_data_sha256.to_vec();
    sorted.sort_unstable();
    let mut hasher = sha2::Sha256::new();
    hasher.update(model_sha256.to_ascii_lowercase().as_bytes());
    for d in sorted {
        hasher.update(b"\n");
        hasher.update(d.to_ascii_lowercase().as_bytes());
    }
    hex::encode(hasher.finalize())
}

pub fn cache_file_name(digest: &str, ort_version: &str, provider: Provider) -> String {
    format!("{digest}-{ort_version}-{}.onnx", provider.tag())
}

/// Name, element type and shape (`-1` for dynamic) of a model input or output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<i64>,
}

/// A float32 model output, copied out of the session.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// An open session and the provider it runs on.
#[derive(Debug)]
pub struct ModelSession {
    pub(crate) session: Session,
    provider: Provider,
    cache: CacheUse,
    inputs: Vec<TensorInfo>,
    outputs: Vec<TensorInfo>,
}

fn describe(outlets: &[ort::value::Outlet]) -> Vec<TensorInfo> {
    outlets
        .iter()
        .map(|o| TensorInfo {
            name: o.name().to_owned(),
            dtype: o.dtype().tensor_type().map_or_else(
                || "non-tensor".to_owned(),
                |t| format!("{t:?}").to_ascii_lowercase(),
            ),
            shape: o
                .dtype()
                .tensor_shape()
                .map(|s| s.to_vec())
                .unwrap_or_default(),
        })
        .collect()
}

impl ModelSession {
    fn new(session: Session, provider: Provider, cache: CacheUse) -> ModelSession {
        let inputs = describe(session.inputs());
        let outputs = describe(session.outputs());
        ModelSession {
            session,
            provider,
            cache,
            inputs,
            outputs,
        }
    }

    pub fn provider(&self) -> Provider {
        self.provider
    }

    pub fn cache(&self) -> CacheUse {
        self.cache
    }

    pub fn inputs(&self) -> &[TensorInfo] {
        &self.inputs
    }

    pub fn outputs(&self) -> &[TensorInfo] {
        &self.outputs
    }

    pub fn input(&self, name: &str) -> Option<&TensorInfo> {
        self.inputs.iter().find(|i| i.name == name)
    }

    /// Run with float32 inputs given as (name, shape, data) and return every
    /// output that is a float32 tensor, as (name, shape, data). For tests and
    /// tools that feed exact tensors (the parity checks do).
    pub fn run_f32(&mut self, inputs: &[(&str, &[usize], &[f32])]) -> Result<Vec<OutputTensor>> {
        let mut values = Vec::with_capacity(inputs.len());
        for (name, shape, data) in inputs {
            let t = ort::value::TensorRef::from_array_view((shape.to_vec(), *data))
                .map_err(OrtError::ort(format!("input '{name}'")))?;
            values.push((name.to_string(), t));
        }
        let outputs = self
            .session
            .run(values)
            .map_err(OrtError::ort("running the model"))?;
        let mut out = Vec::new();
        for (name, value) in outputs.iter() {
            if let Ok((shape, data)) = value.try_extract_tensor::<f32>() {
                out.push(OutputTensor {
                    name: name.to_owned(),
                    shape: shape.iter().map(|&d| d as usize).collect(),
                    data: data.to_vec(),
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn graph_digest_covers_external_data() {
        let model = "ab".repeat(32);
        let (w1, w2) = ("01".repeat(32), "02".repeat(32));
        assert_eq!(graph_digest(&model, &[]), model);
        let one = graph_digest(&model, &[&w1]);
        assert_ne!(one, model);
        assert_ne!(
            one,
            graph_digest(&model, &[&w2]),
            "other weights, other entry"
        );
        assert_eq!(
            graph_digest(&model, &[&w1, &w2]),
            graph_digest(&model.to_uppercase(), &[&w2, &w1]),
            "order and case do not matter"
        );
    }

    use super::*;

    #[test]
    fn device_parses() {
        assert_eq!("auto".parse::<Device>().unwrap(), Device::Auto);
        assert_eq!("CPU".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!("cuda".parse::<Device>().unwrap(), Device::Cuda(0));
        assert_eq!("cuda:3".parse::<Device>().unwrap(), Device::Cuda(3));
        assert!("cuda:x".parse::<Device>().is_err());
        assert!("tpu".parse::<Device>().is_err());
        assert_eq!(Device::Cuda(1).to_string(), "cuda:1");
    }
}
