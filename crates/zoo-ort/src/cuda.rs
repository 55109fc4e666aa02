//! What the CUDA execution provider needs besides ONNX Runtime itself.
//!
//! `libonnxruntime_providers_cuda.so` carries no RUNPATH, and cuDNN opens its
//! sub-libraries by bare name, so neither would find the NVIDIA libraries zoo keeps
//! in its runtime directory. Loading them first, by full path and in dependency
//! order, makes every later lookup by soname hit the copy already in the process.

use std::path::Path;

/// Libraries loaded before the CUDA provider, dependencies first. `install`
/// refuses a CUDA runtime missing any of them.
pub(crate) const PRELOAD: &[&str] = &[
    "libcudart.so.13",
    "libcublasLt.so.13",
    "libcublas.so.13",
    "libcurand.so.10",
    "libnvJitLink.so.13",
    "libcufft.so.12",
    "libnvrtc.so.13",
    "libcudnn_graph.so.9",
    "libcudnn_ops.so.9",
    "libcudnn_heuristic.so.9",
    "libcudnn_adv.so.9",
    "libcudnn_cnn.so.9",
    "libcudnn_engines_precompiled.so.9",
    "libcudnn_engines_runtime_compiled.so.9",
    "libcudnn_engines_tensor_ir.so.9",
    "libcudnn_ext.so.9",
    "libcudnn.so.9",
];

/// Load the NVIDIA libraries of a zoo CUDA runtime directory into the process.
/// The nvrtc builtins library is versioned by CUDA minor (`libnvrtc-builtins.so.13.5`)
/// so it is found by prefix, and loaded before nvrtc, which opens it by name.
pub(crate) fn preload(dir: &Path) -> Result<(), String> {
    let mut names: Vec<String> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut builtins: Vec<String> = rd
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("libnvrtc-builtins.so"))
            .collect();
        builtins.sort();
        names.extend(builtins);
    }
    names.extend(PRELOAD.iter().map(|s| s.to_string()));
    for name in names {
        let path = dir.join(&name);
        ort::util::preload_dylib(&path).map_err(|e| {
            // libloading keeps dlerror()'s text (which library is missing) in the source.
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            let hint = if text.contains("libcuda.so") {
                " (libcuda.so.1 comes with the NVIDIA driver, which is not installed)"
            } else {
                ""
            };
            format!("cannot load {}: {text}{hint}", path.display())
        })?;
    }
    Ok(())
}

/// Evidence of an NVIDIA driver, checked before zoo downloads the CUDA runtime
/// (about 1.5 GB) for a machine that could never use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverHint {
    /// GPUs listed by the driver under /proc/driver/nvidia/gpus.
    Gpus(usize),
    /// A driver device node exists but does not list GPUs (e.g. WSL's /dev/dxg).
    Present(String),
    /// No trace of a driver; the string says where zoo looked.
    Absent(String),
}

pub fn driver_hint() -> DriverHint {
    if let Ok(rd) = std::fs::read_dir("/proc/driver/nvidia/gpus") {
        let n = rd.filter_map(|e| e.ok()).count();
        if n > 0 {
            return DriverHint::Gpus(n);
        }
    }
    for node in ["/dev/nvidia0", "/dev/dxg"] {
        if Path::new(node).exists() {
            return DriverHint::Present(node.to_owned());
        }
    }
    DriverHint::Absent(
        "no NVIDIA driver found (no GPUs in /proc/driver/nvidia/gpus, no /dev/nvidia0 or /dev/dxg)"
            .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preload_failure_names_the_library_and_the_loader_reason() {
        let dir = tempfile::tempdir().unwrap();
        let err = preload(dir.path()).unwrap_err();
        assert!(err.contains("libcudart.so.13"), "{err}");
        assert!(err.contains("No such file"), "{err}");
    }
}
