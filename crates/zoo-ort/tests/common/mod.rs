//! Shared helpers for zoo-ort's integration tests: finding an ONNX Runtime to
//! load, fixtures, deterministic test images, and the Python reference.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use zoo_ort::{Runtime, RuntimeLocation};
use zoo_registry::Card;
use zoo_test_support::skip;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn support(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(name)
}

/// The library tests load: `ORT_DYLIB_PATH`, else zoo's installed CPU runtime,
/// else the one inside the Python onnxruntime package.
fn find_library() -> Option<PathBuf> {
    if let Some(p) = zoo_env::ort_dylib_path() {
        return Some(p);
    }
    if let Some(found) = zoo_ort::provision::installed(zoo_ort::Flavor::Cpu) {
        return Some(found.library);
    }
    let out = python(&[
        "-c",
        "import onnxruntime, os; print(os.path.join(os.path.dirname(onnxruntime.__file__), 'capi', 'libonnxruntime.so.' + onnxruntime.__version__))",
    ])?;
    let p = PathBuf::from(out.trim());
    p.is_file().then_some(p)
}

/// The process's runtime, or `None` after [`skip::missing`] when none is found.
pub fn runtime() -> Option<&'static Runtime> {
    static RT: OnceLock<Option<&'static Runtime>> = OnceLock::new();
    let rt = *RT.get_or_init(|| {
        let lib = find_library()?;
        let loc = RuntimeLocation::from_library(lib).ok()?;
        Some(zoo_ort::load(loc).expect("load ONNX Runtime"))
    });
    skip::require(
        rt,
        "an ONNX Runtime library",
        "set ORT_DYLIB_PATH, run `zoo runtime install`, or install the onnxruntime Python package (scripts/test.sh does all of it)",
    )
}

/// Run the tests' Python (`ZOO_PYTHON`) with `args`; stdout on success.
pub fn python(args: &[&str]) -> Option<String> {
    skip::python_output(args)
}

/// Whether the tests' Python imports every module; [`skip::missing`] if not.
pub fn python_has(modules: &[&str]) -> bool {
    let packages: Vec<&str> = modules
        .iter()
        .map(|m| match *m {
            "PIL" => "pillow",
            "sklearn" => "scikit-learn",
            m => m,
        })
        .collect();
    skip::python_has(modules, &packages)
}

/// Run tests/support/reference.py and parse its JSON output.
pub fn reference(args: &[&str]) -> serde_json::Value {
    let script = support("reference.py");
    let out = skip::python_command()
        .arg(&script)
        .args(args)
        .output()
        .expect("run the tests' Python (ZOO_PYTHON)");
    assert!(
        out.status.success(),
        "reference.py {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("reference.py prints JSON")
}

pub fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .expect("read tensor")
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

pub fn write_f32(path: &Path, data: &[f32]) {
    let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).expect("write tensor");
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// A small deterministic PRNG (xorshift64*), so test data never depends on a
/// crate's random stream.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    pub fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + (self.next() % (hi - lo) as u64) as u32
    }
}

/// A natural-looking test picture: a smooth colour gradient, soft-edged
/// ellipses and blocks, and sensor-like noise. Deterministic in `seed`.
pub fn picture(seed: u64, width: u32, height: u32) -> image::RgbImage {
    let mut rng = Rng::new(seed);
    let tint = [rng.unit(), rng.unit(), rng.unit()];
    let mut img = image::RgbImage::from_fn(width, height, |x, y| {
        let (u, v) = (x as f32 / width as f32, y as f32 / height as f32);
        image::Rgb([
            (255.0 * tint[0] * u) as u8,
            (255.0 * tint[1] * v) as u8,
            (255.0 * tint[2] * (u + v) / 2.0) as u8,
        ])
    });
    for _ in 0..8 {
        let (cx, cy) = (rng.range(0, width) as f32, rng.range(0, height) as f32);
        let (rx, ry) = (
            rng.range(10, width / 2 + 11) as f32,
            rng.range(10, height / 2 + 11) as f32,
        );
        let colour = [
            rng.range(0, 256) as f32,
            rng.range(0, 256) as f32,
            rng.range(0, 256) as f32,
        ];
        for (x, y, p) in img.enumerate_pixels_mut() {
            let d = ((x as f32 - cx) / rx).powi(2) + ((y as f32 - cy) / ry).powi(2);
            let a = (1.2 - d).clamp(0.0, 1.0) * 0.8;
            for c in 0..3 {
                p[c] = (p[c] as f32 * (1.0 - a) + colour[c] * a) as u8;
            }
        }
    }
    for p in img.pixels_mut() {
        for c in 0..3 {
            let n = (rng.unit() - 0.5) * 24.0;
            p[c] = (p[c] as f32 + n).clamp(0.0, 255.0) as u8;
        }
    }
    img
}

/// Write a set of test pictures (PNG and JPEG, assorted shapes) into `dir`.
pub fn write_pictures(dir: &Path) -> Vec<PathBuf> {
    let sizes = [
        (320, 240),
        (240, 320),
        (500, 500),
        (97, 131),
        (640, 427),
        (256, 256),
    ];
    let mut paths = Vec::new();
    for (i, (w, h)) in sizes.into_iter().enumerate() {
        let img = picture(i as u64 + 1, w, h);
        let png = dir.join(format!("pic{i}.png"));
        img.save(&png).expect("save png");
        paths.push(png);
        let jpg = dir.join(format!("pic{i}.jpg"));
        let mut f = std::fs::File::create(&jpg).expect("create jpg");
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut f, 90)
            .encode_image(&img)
            .expect("encode jpeg");
        paths.push(jpg);
    }
    paths
}

/// A card from YAML, with the boilerplate fields filled in.
pub fn card(name: &str, task: &str, io_yaml: &str) -> Card {
    let yaml = format!(
        "schema: 1\nname: {name}\nversion: '1'\nfamily: test\ntask: {task}\narchitecture: test\n\
         description: test model\nlicense:\n  id: MIT\nopenness:\n  class: open\nprovenance: {{}}\n{io_yaml}"
    );
    serde_yaml::from_str(&yaml).expect("test card parses")
}
