//! Image preprocessing for a converted classifier whose card has none, from the
//! checkpoint's own files: Transformers' `preprocessor_config.json`
//! (`size.shortest_edge`, `crop_pct`, `image_mean`, `image_std`) or timm's
//! `pretrained_cfg` in config.json (`input_size`, `crop_pct`, `mean`, `std`).
//! Both resize the shorter side to `crop / crop_pct`, then center-crop.

use std::path::Path;

use serde_json::Value;
use zoo_registry::card::{ChannelOrder, ImagePreprocessing, Layout, ResizeMode};

const MAX_JSON_BYTES: u64 = 1 << 20;
/// ImageNet statistics, the default of both libraries.
const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

fn read_json(path: &Path) -> Option<Value> {
    let bytes = zoo_fs::read_bounded(path, MAX_JSON_BYTES).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn triple(value: Option<&Value>) -> Option<[f32; 3]> {
    let list = value?.as_array()?;
    match list.as_slice() {
        [a, b, c] => Some([a.as_f64()? as f32, b.as_f64()? as f32, c.as_f64()? as f32]),
        _ => None,
    }
}

/// A sane side length in pixels.
fn side(value: f64) -> Option<u32> {
    (value.is_finite() && (1.0..=8192.0).contains(&value)).then_some(value.round() as u32)
}

pub fn image_preprocessing(dir: &Path) -> Option<ImagePreprocessing> {
    let (crop, crop_pct, mean, std) =
        if let Some(p) = read_json(&dir.join("preprocessor_config.json")) {
            let size = p.get("size");
            let crop = size
                .and_then(|s| s.get("shortest_edge").or_else(|| s.get("height")))
                .or(size.filter(|s| s.is_number()))
                .and_then(Value::as_f64)?;
            let crop = p
                .get("crop_size")
                .and_then(|c| c.get("height").or(Some(c)))
                .and_then(Value::as_f64)
                .unwrap_or(crop);
            let pct = p.get("crop_pct").and_then(Value::as_f64);
            (
                crop,
                pct,
                triple(p.get("image_mean")),
                triple(p.get("image_std")),
            )
        } else {
            let config = read_json(&dir.join("config.json"))?;
            let cfg = config.get("pretrained_cfg")?;
            let input = cfg.get("input_size")?.as_array()?;
            let crop = input.get(1)?.as_f64()?;
            let pct = cfg.get("crop_pct").and_then(Value::as_f64);
            (crop, pct, triple(cfg.get("mean")), triple(cfg.get("std")))
        };
    let pct = crop_pct.filter(|p| *p > 0.0 && *p <= 1.0).unwrap_or(1.0);
    Some(ImagePreprocessing {
        resize: side((crop / pct).floor())?,
        resize_mode: ResizeMode::ShorterSide,
        crop: side(crop)?,
        mean: mean.unwrap_or(IMAGENET_MEAN),
        std: std
            .filter(|s| s.iter().all(|v| *v > 0.0))
            .unwrap_or(IMAGENET_STD),
        scale: 1.0 / 255.0,
        channel_order: ChannelOrder::Rgb,
        layout: Layout::Nchw,
    })
}
