//! The loaded ONNX Runtime: one library and one environment per process (an
//! `ort` limit), plus what `zoo runtime info` reports about them.

use std::sync::{Mutex, OnceLock};

use ort::ep::{self, ExecutionProvider};
use ort::session::Session;
use serde::Serialize;

use crate::cuda::{self, DriverHint};
use crate::error::{OrtError, Result};
use crate::provision::{Flavor, Found, RuntimeLocation, provider_file};

/// A tiny Identity model: zoo builds a session on it to see whether an execution
/// provider really works, which registration alone does not prove.
const PROBE_MODEL: &[u8] = include_bytes!("probe.onnx");

#[derive(Debug)]
pub struct Runtime {
    location: RuntimeLocation,
    env: ort::environment::Environment,
    version: String,
    /// Result of loading the NVIDIA libraries, done once, on first CUDA use.
    cuda_libs: OnceLock<std::result::Result<(), String>>,
}

static LOADED: Mutex<Option<&'static Runtime>> = Mutex::new(None);

/// Load the library at `location` and create the process's environment. A second
/// call with the same library returns the same runtime; another library is an
/// error, since a process cannot unload ONNX Runtime.
pub fn load(location: RuntimeLocation) -> Result<&'static Runtime> {
    let mut slot = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(rt) = *slot {
        if rt.location.library == location.library {
            return Ok(rt);
        }
        return Err(OrtError::AlreadyLoaded {
            loaded: rt.location.library.clone(),
            wanted: location.library,
        });
    }
    let load_err = |message: String| OrtError::Load {
        path: location.library.clone(),
        message,
    };
    // `init_from` reports a bad path or version as an error; letting `ort` find
    // the library by itself would panic instead.
    let env = ort::init_from(&location.library)
        .map_err(|e| load_err(e.to_string()))?
        .with_name("zoo")
        .with_telemetry(false)
        .build()
        .map_err(|e| load_err(e.to_string()))?;
    let version = location
        .version
        .clone()
        .or_else(|| version_from_build_info(ort::info()))
        .unwrap_or_else(|| "unknown".to_owned());
    let rt: &'static Runtime = Box::leak(Box::new(Runtime {
        location,
        env,
        version,
        cuda_libs: OnceLock::new(),
    }));
    *slot = Some(rt);
    Ok(rt)
}

/// `1.31.1` from `ORT Build Info: git-branch=rel-1.31.1, ...`.
fn version_from_build_info(info: &str) -> Option<String> {
    let start = info.find("rel-")? + 4;
    let rest = &info[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    (end > 0).then(|| rest[..end].to_owned())
}

/// Names of the execution providers ONNX Runtime knows, to ask which this build
/// has. `ort` exposes availability per provider type, so each name gets a marker
/// type that only answers `is_available` (never registered).
macro_rules! provider_probes {
    ($($ty:ident = $name:literal),* $(,)?) => {
        $(
            struct $ty;
            impl ExecutionProvider for $ty {
                const NAME: &'static str = $name;
                fn register(&self, _: &mut ort::session::builder::SessionBuilder) -> ort::Result<()> {
                    Err(ort::Error::new("zoo only probes this provider"))
                }
            }
        )*
        fn available_providers() -> Vec<String> {
            let mut out = Vec::new();
            $( if $ty::is_available().unwrap_or(false) { out.push($name.to_owned()); } )*
            out
        }
    };
}

provider_probes! {
    ProbeTensorrt = "TensorrtExecutionProvider",
    ProbeNvTensorRtRtx = "NvTensorRTRTXExecutionProvider",
    ProbeCuda = "CUDAExecutionProvider",
    ProbeMigraphx = "MIGraphXExecutionProvider",
    ProbeRocm = "ROCMExecutionProvider",
    ProbeOpenvino = "OpenVINOExecutionProvider",
    ProbeDnnl = "DnnlExecutionProvider",
    ProbeQnn = "QNNExecutionProvider",
    ProbeDml = "DmlExecutionProvider",
    ProbeCoreml = "CoreMLExecutionProvider",
    ProbeWebgpu = "WebGpuExecutionProvider",
    ProbeXnnpack = "XnnpackExecutionProvider",
    ProbeAzure = "AzureExecutionProvider",
    ProbeCpu = "CPUExecutionProvider",
}

impl Runtime {
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn location(&self) -> &RuntimeLocation {
        &self.location
    }

    pub(crate) fn env(&self) -> &ort::environment::Environment {
        &self.env
    }

    /// Whether this build of ONNX Runtime includes the CUDA execution provider.
    pub fn has_cuda_provider(&self) -> bool {
        ep::CUDA::is_available().unwrap_or(false)
    }

    /// Make the CUDA provider loadable: for zoo's own CUDA runtime, load the NVIDIA
    /// libraries it ships; a library from `ORT_DYLIB_PATH` relies on the system's.
    pub(crate) fn prepare_cuda(&self) -> std::result::Result<(), String> {
        self.cuda_libs
            .get_or_init(|| {
                if !self.has_cuda_provider() {
                    let fix = if self.location.found == Found::EnvVar {
                        "point ORT_DYLIB_PATH at a GPU build, or unset it and run `zoo runtime install --cuda`"
                    } else {
                        "run `zoo runtime install --cuda`"
                    };
                    return Err(format!(
                        "the ONNX Runtime at {} has no CUDA execution provider ({fix})",
                        self.location.library.display()
                    ));
                }
                // Without a driver nothing below can work; say that, not which
                // library happened to fail first.
                if let DriverHint::Absent(why) = cuda::driver_hint() {
                    return Err(why);
                }
                if self.location.found == Found::EnvVar {
                    return Ok(());
                }
                cuda::preload(self.location.dir())
            })
            .clone()
    }

    /// Build a session on the probe model with CUDA on `device_id`, failing
    /// instead of falling back to CPU: the only reliable test that CUDA works.
    pub fn probe_cuda(&self, device_id: u32) -> std::result::Result<(), String> {
        if let DriverHint::Absent(why) = cuda::driver_hint() {
            return Err(why);
        }
        self.prepare_cuda()?;
        let provider = ep::CUDA::default()
            .with_device_id(device_id as i32)
            .build()
            .error_on_failure();
        Session::builder(&self.env)
            .map_err(|e| e.to_string())?
            .with_execution_providers([provider])
            .map_err(|e| e.to_string())?
            .commit_from_memory(PROBE_MODEL)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// Everything `zoo runtime info` shows.
    pub fn info(&self) -> RuntimeInfo {
        let devices = self
            .env
            .devices()
            .map(|d| {
                let hw = d.hardware_device();
                DeviceInfo {
                    provider: d.ep().unwrap_or("?").to_owned(),
                    kind: format!("{:?}", hw.ty()),
                    vendor: hw.vendor().unwrap_or("?").to_owned(),
                    id: hw.id(),
                }
            })
            .collect();
        RuntimeInfo {
            version: self.version.clone(),
            flavor: self.location.flavor,
            library: self.location.library.display().to_string(),
            found: self.location.found,
            providers: available_providers(),
            devices,
            cuda: self.cuda_info(),
            build_info: ort::info().to_owned(),
        }
    }

    fn cuda_info(&self) -> CudaInfo {
        let driver = match cuda::driver_hint() {
            DriverHint::Gpus(n) => format!("{n} GPU(s) in /proc/driver/nvidia/gpus"),
            DriverHint::Present(node) => format!("{node} present"),
            DriverHint::Absent(why) => why,
        };
        match self.probe_cuda(0) {
            Ok(()) => CudaInfo {
                usable: true,
                devices: self.cuda_device_count(),
                driver,
                reason: None,
            },
            Err(reason) => CudaInfo {
                usable: false,
                devices: None,
                driver,
                reason: Some(reason),
            },
        }
    }

    /// CUDA devices as ONNX Runtime enumerates them through the provider's plugin
    /// interface, else as the driver lists them.
    fn cuda_device_count(&self) -> Option<usize> {
        let lib = self.location.dir().join(provider_file("cuda"));
        if self.env.register_ep_library("zoo-cuda", &lib).is_ok() {
            let n = self
                .env
                .devices()
                .filter(|d| d.ep().is_ok_and(|e| e == ep::CUDA::NAME))
                .count();
            if n > 0 {
                return Some(n);
            }
        }
        match cuda::driver_hint() {
            DriverHint::Gpus(n) => Some(n),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RuntimeInfo {
    pub version: String,
    pub flavor: Flavor,
    pub library: String,
    pub found: Found,
    /// Execution providers compiled into this build.
    pub providers: Vec<String>,
    /// Devices ONNX Runtime discovered, per provider.
    pub devices: Vec<DeviceInfo>,
    pub cuda: CudaInfo,
    pub build_info: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeviceInfo {
    pub provider: String,
    pub kind: String,
    pub vendor: String,
    pub id: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct CudaInfo {
    /// A session on the CUDA provider could be created.
    pub usable: bool,
    pub devices: Option<usize>,
    /// What zoo found of the NVIDIA driver.
    pub driver: String,
    /// Why CUDA is not usable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_parses_from_build_info() {
        let info = "ORT Build Info: git-branch=rel-1.31.1, git-commit-id=abc, build type=Release";
        assert_eq!(version_from_build_info(info).as_deref(), Some("1.31.1"));
        assert_eq!(
            version_from_build_info("ORT Build Info: git-branch=main"),
            None
        );
    }
}
