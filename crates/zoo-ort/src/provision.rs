//! Finding and installing the ONNX Runtime shared library.
//!
//! zoo does not link ONNX Runtime: it loads `libonnxruntime` at run time from
//! `ORT_DYLIB_PATH`, else from its own runtime directory, which it fills from the
//! official PyPI wheels. pip does the downloading so that the user's index, mirror,
//! proxy and certificate settings apply unchanged; zoo only opens the wheel, checks
//! every extracted file against the wheel's RECORD, and moves the result into place
//! with a rename so a crash never leaves a half-installed runtime behind.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::{OrtError, Result};
use crate::wheel::{ExtractedFile, Wheel, sha256_file};

/// The ONNX Runtime release zoo installs and is built against (`ort` API 31).
pub const ORT_VERSION: &str = "1.31.1";

/// Manifest file written into each installed runtime directory.
pub const MANIFEST: &str = "zoo-runtime.json";

/// Which build of ONNX Runtime: the CPU wheel, or the GPU wheel plus the NVIDIA
/// CUDA 13 / cuDNN 9 libraries it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    Cpu,
    Cuda,
}

impl Flavor {
    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::Cpu => "cpu",
            Flavor::Cuda => "cuda",
        }
    }

    /// The pip requirements for this flavor. The CUDA set mirrors the `cuda` and
    /// `cudnn` extras that onnxruntime-gpu 1.31.1 declares in its METADATA, plus
    /// what those pull in (cuBLAS via cuDNN, nvJitLink via cuFFT); the `~=` ranges
    /// are the wheel's own, pinned to the CUDA 13 major the build links against.
    pub fn requirements(self) -> Vec<String> {
        match self {
            Flavor::Cpu => vec![format!("onnxruntime=={ORT_VERSION}")],
            Flavor::Cuda => {
                let mut reqs = vec![format!("onnxruntime-gpu=={ORT_VERSION}")];
                reqs.extend(
                    [
                        "nvidia-cuda-runtime~=13.0",
                        "nvidia-cuda-nvrtc~=13.0",
                        "nvidia-cublas~=13.0",
                        "nvidia-cufft~=12.0",
                        "nvidia-curand~=10.0",
                        "nvidia-nvjitlink~=13.0",
                        "nvidia-cudnn-cu13~=9.0",
                    ]
                    .map(str::to_owned),
                );
                reqs
            }
        }
    }
}

impl std::fmt::Display for Flavor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the runtime library was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Found {
    /// `ORT_DYLIB_PATH` named it.
    EnvVar,
    /// zoo's runtime directory already held it.
    Installed,
    /// Installed by this process.
    JustInstalled,
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Found::EnvVar => "ORT_DYLIB_PATH",
            Found::Installed => "zoo runtime directory",
            Found::JustInstalled => "installed just now",
        })
    }
}

/// A wheel an installed runtime came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WheelSource {
    pub file: String,
    pub sha256: String,
    pub size: u64,
}

/// What `zoo-runtime.json` records about an installed runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: String,
    pub flavor: Flavor,
    /// File name of the main library within the runtime directory.
    pub library: String,
    pub requirements: Vec<String>,
    pub wheels: Vec<WheelSource>,
    pub files: Vec<ExtractedFile>,
}

/// A runtime library on disk, ready to be loaded.
#[derive(Debug, Clone, Serialize)]
pub struct RuntimeLocation {
    /// Version from the manifest or the file name; `None` for an `ORT_DYLIB_PATH`
    /// library whose name does not say (the loaded library reports it).
    pub version: Option<String>,
    pub flavor: Flavor,
    pub library: PathBuf,
    pub found: Found,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Manifest>,
}

impl RuntimeLocation {
    pub fn dir(&self) -> &Path {
        self.library.parent().unwrap_or(Path::new("."))
    }
}

/// Where zoo installs a flavor: `$ZOO_HOME/runtime/onnxruntime-1.31.1-{cpu|cuda}`.
pub fn install_dir(flavor: Flavor) -> PathBuf {
    Installer::default().dir(flavor)
}

/// `ORT_DYLIB_PATH` when set, else an intact zoo install of `flavor`, else `None`.
pub fn locate(flavor: Flavor) -> Result<Option<RuntimeLocation>> {
    if let Some(path) = zoo_env::ort_dylib_path() {
        return RuntimeLocation::from_library(path).map(Some);
    }
    Ok(installed(flavor))
}

impl RuntimeLocation {
    /// A library named explicitly, as by `ORT_DYLIB_PATH` (and reported so).
    pub fn from_library(path: PathBuf) -> Result<RuntimeLocation> {
        if !path.is_file() {
            return Err(OrtError::DylibMissing { path });
        }
        // The GPU build keeps its CUDA provider next to the main library.
        let flavor = if path.with_file_name(provider_file("cuda")).is_file() {
            Flavor::Cuda
        } else {
            Flavor::Cpu
        };
        Ok(RuntimeLocation {
            version: version_from_file_name(&path),
            flavor,
            library: path,
            found: Found::EnvVar,
            manifest: None,
        })
    }
}

/// The runtime `zoo runtime info` describes, without installing anything:
/// `ORT_DYLIB_PATH`, else the CUDA install on a machine with an NVIDIA driver,
/// else the CPU install, else the CUDA install.
pub fn best_installed() -> Result<Option<RuntimeLocation>> {
    if let Some(path) = zoo_env::ort_dylib_path() {
        return RuntimeLocation::from_library(path).map(Some);
    }
    let driver = !matches!(
        crate::cuda::driver_hint(),
        crate::cuda::DriverHint::Absent(_)
    );
    let cuda = installed(Flavor::Cuda);
    if driver && cuda.is_some() {
        return Ok(cuda);
    }
    Ok(installed(Flavor::Cpu).or(cuda))
}

/// An intact zoo install of `flavor` in zoo's runtime directory.
pub fn installed(flavor: Flavor) -> Option<RuntimeLocation> {
    Installer::default().installed(flavor)
}

/// Find the runtime, installing it when missing; says so in one line on stderr
/// because the download is large and the user did not ask for it explicitly.
pub fn ensure(flavor: Flavor) -> Result<RuntimeLocation> {
    if let Some(found) = locate(flavor)? {
        return Ok(found);
    }
    eprintln!(
        "zoo: ONNX Runtime {ORT_VERSION} ({flavor}) is not installed; installing it into {} with pip (once)",
        install_dir(flavor).display()
    );
    install(flavor, &mut |_| {})
}

/// Download the wheels with pip, extract and verify the libraries, write the
/// manifest, and rename the result into place (replacing any previous install).
/// `progress` receives one short line per step.
pub fn install(flavor: Flavor, progress: &mut dyn FnMut(&str)) -> Result<RuntimeLocation> {
    if zoo_env::offline() {
        let flag = if flavor == Flavor::Cuda {
            " --cuda"
        } else {
            ""
        };
        return Err(OrtError::Offline { flag });
    }
    Installer::default().install(flavor, progress)
}

/// Installs runtimes under `root`, running pip with extra environment variables.
/// [`install`] is this with zoo's runtime directory and pip's own configuration;
/// the fields let tests and tools install elsewhere, e.g. from a local wheel
/// directory with `PIP_NO_INDEX=1 PIP_FIND_LINKS=<dir>`.
#[derive(Debug, Clone)]
pub struct Installer {
    pub root: PathBuf,
    pub pip_env: Vec<(String, String)>,
}

impl Default for Installer {
    fn default() -> Self {
        Installer {
            root: zoo_env::runtime_dir(),
            pip_env: Vec::new(),
        }
    }
}

impl Installer {
    /// Where this installer puts `flavor`.
    pub fn dir(&self, flavor: Flavor) -> PathBuf {
        self.root
            .join(format!("onnxruntime-{ORT_VERSION}-{flavor}"))
    }

    /// An install whose manifest is readable and whose files all exist at their
    /// recorded sizes (a cheap check on every run; digests were verified at
    /// install time).
    pub fn installed(&self, flavor: Flavor) -> Option<RuntimeLocation> {
        let dir = self.dir(flavor);
        let text = std::fs::read_to_string(dir.join(MANIFEST)).ok()?;
        let manifest: Manifest = serde_json::from_str(&text).ok()?;
        let intact = manifest.files.iter().all(|f| {
            std::fs::metadata(dir.join(&f.path)).is_ok_and(|m| m.is_file() && m.len() == f.size)
        });
        if !intact || manifest.flavor != flavor {
            return None;
        }
        Some(RuntimeLocation {
            version: Some(manifest.version.clone()),
            flavor,
            library: dir.join(&manifest.library),
            found: Found::Installed,
            manifest: Some(manifest),
        })
    }

    /// See [`install`]; this does not consult offline mode.
    pub fn install(
        &self,
        flavor: Flavor,
        progress: &mut dyn FnMut(&str),
    ) -> Result<RuntimeLocation> {
        let root = &self.root;
        std::fs::create_dir_all(root).map_err(|e| OrtError::io(root, e))?;
        // Staging inside the runtime directory keeps the final rename on one filesystem.
        let staging = tempfile::Builder::new()
            .prefix(".install-")
            .tempdir_in(root)
            .map_err(|e| OrtError::io(root, e))?;
        let wheels_dir = staging.path().join("wheels");
        let stage = staging.path().join("runtime");
        for d in [&wheels_dir, &stage] {
            std::fs::create_dir_all(d).map_err(|e| OrtError::io(d, e))?;
        }

        let requirements = flavor.requirements();
        progress(&format!("downloading {} with pip", requirements.join(" ")));
        pip_download(&requirements, &wheels_dir, &self.pip_env)?;
        let (wheels, files) = extract_wheels(flavor, &wheels_dir, &stage, progress)?;

        let library = files
            .iter()
            .map(|f| f.path.clone())
            .find(|p| is_main_library(p))
            .ok_or_else(|| OrtError::BadWheel {
                wheel: wheels.first().map(|w| w.file.clone()).unwrap_or_default(),
                message: "no libonnxruntime shared library inside".to_owned(),
            })?;
        if flavor == Flavor::Cuda {
            let required = std::iter::once(provider_file("cuda"))
                .chain(crate::cuda::PRELOAD.iter().map(|s| s.to_string()));
            for name in required {
                if !files.iter().any(|f| f.path == name) {
                    let all: Vec<&str> = wheels.iter().map(|w| w.file.as_str()).collect();
                    return Err(OrtError::BadWheel {
                        wheel: all.join(", "),
                        message: format!("{name} is missing from the downloaded wheels"),
                    });
                }
            }
        }

        let manifest = Manifest {
            version: ORT_VERSION.to_owned(),
            flavor,
            library: library.clone(),
            requirements,
            wheels,
            files,
        };
        let manifest_path = stage.join(MANIFEST);
        let json = serde_json::to_string_pretty(&manifest).expect("manifest serializes");
        std::fs::write(&manifest_path, json).map_err(|e| OrtError::io(&manifest_path, e))?;

        let target = self.dir(flavor);
        if target.exists() {
            // Move the old install into staging, where dropping `staging` deletes it.
            let old = staging.path().join("old");
            std::fs::rename(&target, &old).map_err(|e| OrtError::io(&target, e))?;
        }
        if let Err(e) = std::fs::rename(&stage, &target) {
            // Another zoo process may have finished the same install first.
            if let Some(found) = self.installed(flavor) {
                return Ok(found);
            }
            return Err(OrtError::io(&target, e));
        }
        progress(&format!("installed into {}", target.display()));
        Ok(RuntimeLocation {
            version: Some(ORT_VERSION.to_owned()),
            flavor,
            library: target.join(library),
            found: Found::JustInstalled,
            manifest: Some(manifest),
        })
    }
}

/// Extract and verify what `flavor` needs from every wheel in `wheels_dir`.
fn extract_wheels(
    flavor: Flavor,
    wheels_dir: &Path,
    stage: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<(Vec<WheelSource>, Vec<ExtractedFile>)> {
    let mut wheel_paths: Vec<PathBuf> = std::fs::read_dir(wheels_dir)
        .map_err(|e| OrtError::io(wheels_dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    wheel_paths.sort();
    let mut wheels = Vec::new();
    let mut files = Vec::new();
    for path in &wheel_paths {
        let mut wheel = Wheel::open(path)?;
        progress(&format!("verifying {}", wheel.name()));
        for member in wheel.members() {
            if let Some(file_name) = wanted(flavor, &member) {
                files.push(wheel.extract(&member, stage, &file_name)?);
            }
        }
        let size = std::fs::metadata(path)
            .map_err(|e| OrtError::io(path, e))?
            .len();
        wheels.push(WheelSource {
            file: wheel.name().to_owned(),
            sha256: sha256_file(path)?,
            size,
        });
    }
    Ok((wheels, files))
}

/// The file name to extract `member` to, when the runtime needs it.
fn wanted(flavor: Flavor, member: &str) -> Option<String> {
    let (dir, name) = member.rsplit_once('/')?;
    if dir == "onnxruntime/capi" {
        let keep = is_main_library(name)
            || name.starts_with(&provider_stem("shared"))
            || (flavor == Flavor::Cuda && name.starts_with(&provider_stem("cuda")));
        return keep.then(|| name.to_owned());
    }
    // NVIDIA wheels keep their libraries in nvidia/<component>/lib/. The runtime
    // directory is flat so cuDNN's `$ORIGIN` RUNPATH finds its sub-libraries and
    // cuBLAS; BLAS/FFTW compatibility shims are never used by ONNX Runtime.
    if flavor == Flavor::Cuda && dir.starts_with("nvidia/") && dir.ends_with("/lib") {
        let skip = name.starts_with("libnvblas") || name.starts_with("libcufftw");
        return (name.contains(".so") && !skip).then(|| name.to_owned());
    }
    None
}

fn is_main_library(name: &str) -> bool {
    if cfg!(windows) {
        name == "onnxruntime.dll"
    } else if cfg!(target_os = "macos") {
        name.starts_with("libonnxruntime.") && name.ends_with(".dylib")
    } else {
        name.starts_with("libonnxruntime.so.")
    }
}

fn provider_stem(which: &str) -> String {
    if cfg!(windows) {
        format!("onnxruntime_providers_{which}")
    } else {
        format!("libonnxruntime_providers_{which}")
    }
}

/// File name of an ONNX Runtime provider library (`shared`, `cuda`, ...).
pub(crate) fn provider_file(which: &str) -> String {
    format!("{}{}", provider_stem(which), std::env::consts::DLL_SUFFIX)
}

/// `1.31.1` from `libonnxruntime.so.1.31.1` or `libonnxruntime.1.31.1.dylib`.
fn version_from_file_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let rest = name
        .strip_prefix("libonnxruntime.so.")
        .or_else(|| name.strip_prefix("libonnxruntime.")?.strip_suffix(".dylib"))?;
    let ok = rest.split('.').count() == 3 && rest.split('.').all(|p| p.parse::<u32>().is_ok());
    ok.then(|| rest.to_owned())
}

/// `ZOO_PYTHON -m pip` when the user chose an interpreter (as PyPI sources do),
/// else the first of `python3 -m pip`, `pip3`, `pip` that runs.
fn find_pip() -> Result<Vec<String>> {
    let chosen = zoo_env::python().map(|p| vec![p, "-m".to_owned(), "pip".to_owned()]);
    let defaults = [&["python3", "-m", "pip"][..], &["pip3"], &["pip"]]
        .map(|argv| argv.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let candidates: Vec<Vec<String>> = match chosen {
        Some(argv) => vec![argv],
        None => defaults.into(),
    };
    for argv in candidates {
        let ok = Command::new(&argv[0])
            .args(&argv[1..])
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Ok(argv);
        }
    }
    Err(OrtError::NoPip {
        version: ORT_VERSION.to_owned(),
    })
}

/// `pip download --no-deps --only-binary=:all:` the exact requirements. The
/// native libraries do not depend on the Python version, so when the local
/// interpreter has no matching wheel (a very new Python), retry for CPython 3.12.
fn pip_download(requirements: &[String], dest: &Path, env: &[(String, String)]) -> Result<()> {
    let pip = find_pip()?;
    let run = |extra: &[&str]| -> Result<Option<OrtError>> {
        let mut cmd = Command::new(&pip[0]);
        cmd.args(&pip[1..])
            .args([
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "--no-input",
            ])
            .args(extra)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .arg("-d")
            .arg(dest)
            // Requirements are constants, but nothing after `--` could be an option anyway.
            .arg("--")
            .args(requirements);
        let shown = format!(
            "{} download --no-deps --only-binary=:all: {} {}",
            pip.join(" "),
            extra.join(" "),
            requirements.join(" ")
        );
        let out = cmd.output().map_err(|e| OrtError::io(&pip[0], e))?;
        if out.status.success() {
            return Ok(None);
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        Ok(Some(OrtError::PipFailed {
            command: shown.split_whitespace().collect::<Vec<_>>().join(" "),
            status: out.status.to_string(),
            stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        }))
    };
    match run(&[])? {
        None => Ok(()),
        Some(OrtError::PipFailed { stderr, .. }) if stderr.contains("No matching distribution") => {
            match run(&["--python-version", "3.12"])? {
                None => Ok(()),
                Some(e) => Err(e),
            }
        }
        Some(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_runtime_members() {
        let cpu = Flavor::Cpu;
        assert_eq!(
            wanted(cpu, "onnxruntime/capi/libonnxruntime.so.1.31.1").as_deref(),
            Some("libonnxruntime.so.1.31.1")
        );
        assert!(wanted(cpu, "onnxruntime/capi/libonnxruntime_providers_shared.so").is_some());
        assert!(
            wanted(
                cpu,
                "onnxruntime/capi/onnxruntime_pybind11_state.cpython-311-x86_64-linux-gnu.so"
            )
            .is_none()
        );
        assert!(wanted(cpu, "onnxruntime/capi/libonnxruntime_providers_cuda.so").is_none());
        assert!(wanted(cpu, "nvidia/cu13/lib/libcudart.so.13").is_none());
        let cuda = Flavor::Cuda;
        assert!(wanted(cuda, "onnxruntime/capi/libonnxruntime_providers_cuda.so").is_some());
        assert!(
            wanted(
                cuda,
                "onnxruntime/capi/libonnxruntime_providers_tensorrt.so"
            )
            .is_none()
        );
        assert_eq!(
            wanted(cuda, "nvidia/cudnn/lib/libcudnn_ops.so.9").as_deref(),
            Some("libcudnn_ops.so.9")
        );
        assert!(wanted(cuda, "nvidia/cu13/lib/libnvblas.so.13").is_none());
        assert!(wanted(cuda, "nvidia/cu13/include/cuda.h").is_none());
    }

    #[test]
    fn version_from_library_name() {
        assert_eq!(
            version_from_file_name(Path::new("/x/libonnxruntime.so.1.31.1")).as_deref(),
            Some("1.31.1")
        );
        assert_eq!(
            version_from_file_name(Path::new("libonnxruntime.1.22.0.dylib")).as_deref(),
            Some("1.22.0")
        );
        assert_eq!(version_from_file_name(Path::new("libonnxruntime.so")), None);
    }
}
