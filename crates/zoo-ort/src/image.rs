//! Image preprocessing: decode, resize, center-crop, normalise, lay out.
//!
//! Classifiers are trained on images resized by Pillow (torchvision's default
//! backend, and what most model cards' reference code uses), so the resize here
//! reproduces Pillow's antialiased bilinear filter exactly: the same coefficient
//! formula, the same 22-bit fixed-point arithmetic, the horizontal pass first with
//! its result rounded to 8 bits, then the vertical pass. A model then sees the same
//! pixels in zoo as in its Python reference, not merely similar ones.
//!
//! Only the output pixels inside the crop are computed; each output pixel of a
//! separable resize depends on nothing else, so this is exact and saves the work
//! on the pixels the crop throws away.

use std::path::Path;

use image::RgbImage;
use zoo_registry::card::{ChannelOrder, ImagePreprocessing, Layout};

use crate::budget::{DecodeBudget, Reservation};

/// How the image is brought to `resize` before the crop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeMode {
    /// The shorter side becomes `resize`, keeping the aspect ratio (torchvision
    /// `Resize(int)`): the longer side is `floor(resize * long / short)`.
    ShorterSide,
    /// Both sides become `resize`, ignoring the aspect ratio.
    Exact,
}

/// Everything needed to turn an image into one model input.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSpec {
    pub resize: u32,
    pub crop: u32,
    pub mode: ResizeMode,
    /// Per-channel mean and std, in output channel order, in scaled pixel space.
    pub mean: [f32; 3],
    pub std: [f32; 3],
    /// Pixels (0..=255) are multiplied by this before mean and std apply.
    pub scale: f32,
    pub bgr: bool,
    pub nhwc: bool,
}

impl From<&ImagePreprocessing> for ImageSpec {
    fn from(p: &ImagePreprocessing) -> ImageSpec {
        ImageSpec {
            resize: p.resize,
            crop: p.crop,
            mode: match p.resize_mode {
                zoo_registry::card::ResizeMode::ShorterSide => ResizeMode::ShorterSide,
                zoo_registry::card::ResizeMode::Exact => ResizeMode::Exact,
            },
            mean: p.mean,
            std: p.std,
            scale: p.scale,
            bgr: p.channel_order == ChannelOrder::Bgr,
            nhwc: p.layout == Layout::Nhwc,
        }
    }
}

impl ImageSpec {
    /// Floats per image.
    pub fn len(&self) -> usize {
        3 * self.crop as usize * self.crop as usize
    }

    pub fn is_empty(&self) -> bool {
        self.crop == 0
    }

    /// The input tensor shape for `batch` images.
    pub fn shape(&self, batch: usize) -> [usize; 4] {
        let c = self.crop as usize;
        if self.nhwc {
            [batch, c, c, 3]
        } else {
            [batch, 3, c, c]
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        // Checked here too, where the buffers are allocated: a fine-tuned model's
        // card or a user catalog may not have been through `zoo registry check`.
        zoo_registry::check_image_sizes(self.resize, self.crop)?;
        if self.std.iter().any(|s| *s == 0.0 || !s.is_finite()) {
            return Err("preprocessing std must be non-zero".to_owned());
        }
        Ok(())
    }

    /// Output value for each (output channel, byte value): `(v * scale - mean) / std`,
    /// computed once so the per-pixel work is a table lookup.
    fn lut(&self) -> [[f32; 256]; 3] {
        let mut lut = [[0f32; 256]; 3];
        for (c, table) in lut.iter_mut().enumerate() {
            for (v, slot) in table.iter_mut().enumerate() {
                *slot = (v as f32 * self.scale - self.mean[c]) / self.std[c];
            }
        }
        lut
    }
}

/// An image's pixels and the share of the decode budget they hold until dropped.
#[derive(Debug)]
pub struct Decoded<'b> {
    pub image: RgbImage,
    _held: Reservation<'b>,
}

/// Decode an image file (JPEG, PNG, WebP; the format is sniffed from the bytes)
/// to 8-bit RGB. Alpha is dropped and grey replicated, as Pillow's `convert("RGB")`.
/// JPEGs go through libjpeg-turbo's code, as in Pillow (see [`crate::jpeg`]).
/// The file is read only if it is a regular file of at most
/// [`zoo_fs::limits::IMAGE_FILE_BYTES`], and decoded only if its pixels fit the
/// default [`DecodeBudget`].
pub fn decode(path: &Path) -> Result<RgbImage, String> {
    decode_within(path, &DecodeBudget::default()).map(|d| d.image)
}

/// [`decode`], reserving the decoded image's memory from `budget` (shared by the
/// decoder threads of a run) for as long as the result is kept.
pub fn decode_within<'b>(path: &Path, budget: &'b DecodeBudget) -> Result<Decoded<'b>, String> {
    let bytes =
        zoo_fs::read_bounded(path, zoo_fs::limits::IMAGE_FILE_BYTES).map_err(|e| e.to_string())?;
    decode_bytes_within(&bytes, budget)
}

pub fn decode_bytes(bytes: &[u8]) -> Result<RgbImage, String> {
    decode_bytes_within(bytes, &DecodeBudget::default()).map(|d| d.image)
}

/// The dimensions come from the header first; nothing is allocated for the
/// pixels until the budget has admitted them.
pub fn decode_bytes_within<'b>(
    bytes: &[u8],
    budget: &'b DecodeBudget,
) -> Result<Decoded<'b>, String> {
    // CMYK and YCCK JPEGs (rare; print workflows) go on to the image crate.
    if crate::jpeg::is_jpeg(bytes)
        && let Some((image, held)) = crate::jpeg::decode(bytes, budget)?
    {
        return Ok(Decoded { image, _held: held });
    }
    let reader = || {
        let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| e.to_string())?;
        if reader.format().is_none() {
            return Err("not a JPEG, PNG or WebP image".to_owned());
        }
        Ok(reader)
    };
    let (width, height) = reader()?.into_dimensions().map_err(|e| e.to_string())?;
    let held = budget.reserve(width as u64, height as u64)?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(held.bytes);
    let mut reader = reader()?;
    reader.limits(limits);
    let image = reader.decode().map_err(|e| e.to_string())?.into_rgb8();
    Ok(Decoded { image, _held: held })
}

/// Sizes after the resize step, (width, height).
pub fn resized_size(width: u32, height: u32, spec: &ImageSpec) -> (usize, usize) {
    let r = spec.resize as usize;
    let (w, h) = (width as usize, height as usize);
    match spec.mode {
        ResizeMode::Exact => (r, r),
        ResizeMode::ShorterSide if w <= h => (r, r * h / w),
        ResizeMode::ShorterSide => (r * w / h, r),
    }
}

/// Offset of a centered crop, rounding half to even as Python's `round` does in
/// torchvision's `center_crop`.
fn crop_offset(size: usize, crop: usize) -> usize {
    let twice = size - crop;
    let half = twice / 2;
    if twice % 2 == 1 && half % 2 == 1 {
        half + 1
    } else {
        half
    }
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Fixed-point filter taps for a run of output pixels along one axis.
#[derive(Debug)]
struct Taps {
    /// Per output pixel: first input index and tap count.
    bounds: Vec<(usize, usize)>,
    /// `stride` weights per output pixel, zero-padded.
    weights: Vec<i32>,
    stride: usize,
}

/// Pillow's coefficients for the triangle (bilinear) filter, widened by the
/// downscale factor so that shrinking averages over every input pixel (antialias).
fn taps(in_size: usize, out_size: usize, first: usize, count: usize) -> Taps {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filterscale; // the triangle filter's support is 1.0
    let stride = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(count);
    let mut weights = vec![0i32; count * stride];
    let mut k = vec![0f64; stride];
    for (i, xx) in (first..first + count).enumerate() {
        let center = (xx as f64 + 0.5) * scale;
        // `as` truncates toward zero, like the C casts these mirror.
        let xmin = ((center - support + 0.5) as isize).max(0) as usize;
        let xmax = ((center + support + 0.5) as isize).min(in_size as isize) as usize;
        let n = xmax.saturating_sub(xmin);
        let mut total = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(n) {
            let d = ((x + xmin) as f64 - center + 0.5) / filterscale;
            let w = (1.0 - d.abs()).max(0.0);
            *kx = w;
            total += w;
        }
        let row = &mut weights[i * stride..(i + 1) * stride];
        for x in 0..n {
            let w = if total != 0.0 { k[x] / total } else { k[x] };
            let f = w * (1u32 << PRECISION_BITS) as f64;
            row[x] = if f < 0.0 {
                (f - 0.5) as i32
            } else {
                (f + 0.5) as i32
            };
        }
        bounds.push((xmin, n));
    }
    Taps {
        bounds,
        weights,
        stride,
    }
}

#[inline]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Reusable scratch memory, one per worker thread.
#[derive(Debug, Default)]
pub struct Scratch {
    rows: Vec<u8>,
    crop: Vec<u8>,
}

/// Horizontal pass: for `rows` rows of `src` (RGB, `src_w` pixels wide), one
/// output pixel per tap set, reading input columns `xmin - shift ..`.
fn hpass(src: &[u8], src_w: usize, rows: usize, taps: &Taps, shift: usize, out: &mut [u8]) {
    let ow = taps.bounds.len();
    let half = 1i32 << (PRECISION_BITS - 1);
    for r in 0..rows {
        let line = &src[r * src_w * 3..(r + 1) * src_w * 3];
        let dst = &mut out[r * ow * 3..(r + 1) * ow * 3];
        for (x, &(xmin, n)) in taps.bounds.iter().enumerate() {
            let k = &taps.weights[x * taps.stride..x * taps.stride + n];
            let px = &line[(xmin - shift) * 3..(xmin - shift + n) * 3];
            let (mut r0, mut g0, mut b0) = (half, half, half);
            for (p, &kw) in px.chunks_exact(3).zip(k) {
                r0 += p[0] as i32 * kw;
                g0 += p[1] as i32 * kw;
                b0 += p[2] as i32 * kw;
            }
            dst[x * 3] = clip8(r0);
            dst[x * 3 + 1] = clip8(g0);
            dst[x * 3 + 2] = clip8(b0);
        }
    }
}

/// Vertical pass: one output row per tap set, over columns `col0..col0 + cols`
/// of `src` (RGB, `src_w` wide), reading input rows `ymin - shift ..`.
fn vpass(
    src: &[u8],
    src_w: usize,
    col0: usize,
    cols: usize,
    taps: &Taps,
    shift: usize,
    out: &mut [u8],
) {
    let half = 1i32 << (PRECISION_BITS - 1);
    let mut acc = vec![0i32; cols * 3];
    for (y, &(ymin, n)) in taps.bounds.iter().enumerate() {
        acc.fill(half);
        let k = &taps.weights[y * taps.stride..y * taps.stride + n];
        for (j, &kw) in k.iter().enumerate() {
            let row = ymin - shift + j;
            let line = &src[(row * src_w + col0) * 3..(row * src_w + col0 + cols) * 3];
            for (a, &p) in acc.iter_mut().zip(line) {
                *a += p as i32 * kw;
            }
        }
        for (o, &a) in out[y * cols * 3..(y + 1) * cols * 3].iter_mut().zip(&acc) {
            *o = clip8(a);
        }
    }
}

/// The input range a set of taps reads.
fn span(t: &Taps) -> (usize, usize) {
    let lo = t.bounds.iter().map(|b| b.0).min().unwrap_or(0);
    let hi = t.bounds.iter().map(|b| b.0 + b.1).max().unwrap_or(lo);
    (lo, hi)
}

/// Resize + center-crop `img` to `crop`x`crop` RGB bytes in `scratch.crop`.
fn resize_crop(img: &RgbImage, spec: &ImageSpec, scratch: &mut Scratch) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (tw, th) = resized_size(img.width(), img.height(), spec);
    let c = spec.crop as usize;
    let (x0, y0) = (crop_offset(tw, c), crop_offset(th, c));
    let src = img.as_raw();
    let ht = (tw != w).then(|| taps(w, tw, x0, c));
    let vt = (th != h).then(|| taps(h, th, y0, c));
    let (tmp, out) = (&mut scratch.rows, &mut scratch.crop);
    out.clear();
    out.resize(c * c * 3, 0);

    // Pillow (since 13.0) runs the vertical pass first when the height shrinks
    // by more than twice what the width does; the order changes the rounding of
    // the 8-bit intermediate, so it is followed exactly.
    let vertical_first = th < h && (h - th) as isize > 2 * (w as isize - tw as isize);
    if vertical_first {
        let vt = vt.as_ref().expect("height changes");
        let (col_lo, col_hi) = ht.as_ref().map_or((x0, x0 + c), span);
        match &ht {
            Some(ht) => {
                tmp.clear();
                tmp.resize(c * (col_hi - col_lo) * 3, 0);
                vpass(src, w, col_lo, col_hi - col_lo, vt, 0, tmp);
                hpass(tmp, col_hi - col_lo, c, ht, col_lo, out);
            }
            None => vpass(src, w, col_lo, c, vt, 0, out),
        }
        return;
    }
    let (row_lo, row_hi) = vt.as_ref().map_or((y0, y0 + c), span);
    let rows = &src[row_lo * w * 3..row_hi * w * 3];
    match (&ht, &vt) {
        (Some(ht), Some(vt)) => {
            tmp.clear();
            tmp.resize((row_hi - row_lo) * c * 3, 0);
            hpass(rows, w, row_hi - row_lo, ht, 0, tmp);
            vpass(tmp, c, 0, c, vt, row_lo, out);
        }
        (Some(ht), None) => hpass(rows, w, c, ht, 0, out),
        (None, Some(vt)) => vpass(src, w, x0, c, vt, 0, out),
        (None, None) => {
            for (r, y) in (y0..y0 + c).enumerate() {
                out[r * c * 3..(r + 1) * c * 3]
                    .copy_from_slice(&src[(y * w + x0) * 3..(y * w + x0 + c) * 3]);
            }
        }
    }
}

/// Turn a decoded image into one model input, written into `out` (`spec.len()`
/// floats) in the spec's channel order and layout.
pub fn preprocess(img: &RgbImage, spec: &ImageSpec, scratch: &mut Scratch, out: &mut [f32]) {
    assert_eq!(out.len(), spec.len(), "output buffer size");
    resize_crop(img, spec, scratch);
    let lut = spec.lut();
    let plane = spec.crop as usize * spec.crop as usize;
    // Source RGB channel feeding each output channel.
    let order: [usize; 3] = if spec.bgr { [2, 1, 0] } else { [0, 1, 2] };
    let px = scratch.crop.chunks_exact(3);
    if spec.nhwc {
        for (o, p) in out.chunks_exact_mut(3).zip(px) {
            for oc in 0..3 {
                o[oc] = lut[oc][p[order[oc]] as usize];
            }
        }
    } else {
        let (c0, rest) = out.split_at_mut(plane);
        let (c1, c2) = rest.split_at_mut(plane);
        for (i, p) in px.enumerate() {
            c0[i] = lut[0][p[order[0]] as usize];
            c1[i] = lut[1][p[order[1]] as usize];
            c2[i] = lut[2][p[order[2]] as usize];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(resize: u32, crop: u32) -> ImageSpec {
        ImageSpec {
            resize,
            crop,
            mode: ResizeMode::ShorterSide,
            mean: [0.0; 3],
            std: [1.0; 3],
            scale: 1.0,
            bgr: false,
            nhwc: true,
        }
    }

    #[test]
    fn shorter_side_keeps_aspect_ratio() {
        let s = spec(256, 224);
        assert_eq!(resized_size(640, 480, &s), (341, 256));
        assert_eq!(resized_size(480, 640, &s), (256, 341));
        assert_eq!(resized_size(100, 100, &s), (256, 256));
        let e = ImageSpec {
            mode: ResizeMode::Exact,
            ..s
        };
        assert_eq!(resized_size(640, 480, &e), (256, 256));
    }

    #[test]
    fn crop_offset_rounds_half_to_even() {
        assert_eq!(crop_offset(256, 224), 16);
        assert_eq!(crop_offset(341, 224), 58); // round(58.5) == 58
        assert_eq!(crop_offset(343, 224), 60); // round(59.5) == 60
    }

    #[test]
    fn taps_sum_to_one_in_fixed_point() {
        for (i, o) in [(640, 256), (100, 256), (257, 256), (4000, 224)] {
            let t = taps(i, o, 0, o);
            for (x, &(_, n)) in t.bounds.iter().enumerate() {
                let s: i32 = t.weights[x * t.stride..x * t.stride + n].iter().sum();
                assert!(
                    (s - (1 << PRECISION_BITS)).abs() <= n as i32,
                    "{i}->{o} at {x}: {s}"
                );
            }
        }
    }

    #[test]
    fn uniform_image_stays_uniform_and_is_normalised() {
        let img = RgbImage::from_pixel(300, 200, image::Rgb([10, 20, 30]));
        let s = ImageSpec {
            mean: [1.0, 2.0, 3.0],
            std: [2.0, 2.0, 2.0],
            bgr: true,
            nhwc: false,
            ..spec(8, 4)
        };
        let mut out = vec![0f32; s.len()];
        preprocess(&img, &s, &mut Scratch::default(), &mut out);
        // BGR planes: (30-1)/2, (20-2)/2, (10-3)/2.
        assert!(out[..16].iter().all(|&v| v == 14.5));
        assert!(out[16..32].iter().all(|&v| v == 9.0));
        assert!(out[32..].iter().all(|&v| v == 3.5));
    }

    #[test]
    fn same_size_is_a_plain_crop() {
        let img = RgbImage::from_fn(6, 6, |x, y| image::Rgb([(x * 10) as u8, (y * 10) as u8, 7]));
        let s = spec(6, 4);
        let mut out = vec![0f32; s.len()];
        preprocess(&img, &s, &mut Scratch::default(), &mut out);
        // NHWC, offset 1: first pixel is source (1, 1).
        assert_eq!(&out[..3], &[10.0, 10.0, 7.0]);
        assert_eq!(&out[out.len() - 3..], &[40.0, 40.0, 7.0]);
    }

    /// A valid 16x16 JPEG whose SOF0 header claims `side`x`side` pixels.
    fn jpeg_claiming(side: u16) -> Vec<u8> {
        let mut jpeg = Vec::new();
        RgbImage::from_pixel(16, 16, image::Rgb([9, 99, 199]))
            .write_to(
                &mut std::io::Cursor::new(&mut jpeg),
                image::ImageFormat::Jpeg,
            )
            .unwrap();
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        jpeg[sof + 5..sof + 7].copy_from_slice(&side.to_be_bytes());
        jpeg[sof + 7..sof + 9].copy_from_slice(&side.to_be_bytes());
        jpeg
    }

    #[test]
    fn images_too_large_for_the_decode_budget_are_refused_before_decoding() {
        let bomb = jpeg_claiming(13000);
        assert!(bomb.len() < 1024);
        let started = std::time::Instant::now();
        let e = decode_bytes(&bomb).unwrap_err();
        assert!(e.contains("13000x13000 pixels") && e.contains("MiB"), "{e}");
        // Refused from the header: no half-gigabyte buffer was filled.
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // The same for the image crate's formats, from their headers.
        let mut png = Vec::new();
        RgbImage::new(4, 4)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        // IHDR width and height at bytes 16..24.
        png[16..20].copy_from_slice(&60000u32.to_be_bytes());
        png[20..24].copy_from_slice(&60000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        let e = decode_bytes(&png).unwrap_err();
        assert!(e.contains("60000x60000 pixels"), "{e}");
        // A small budget still decodes what fits.
        let small = DecodeBudget::new(16 * 16 * crate::budget::BYTES_PER_PIXEL);
        let ok = jpeg_claiming(16);
        assert_eq!(decode_bytes_within(&ok, &small).unwrap().image.width(), 16);
    }

    /// PNG's chunk checksum (CRC-32, polynomial 0xEDB88320).
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[cfg(unix)]
    #[test]
    fn devices_are_not_read_as_images() {
        let e = decode(Path::new("/dev/zero")).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn sizes_past_the_limit_are_refused_before_allocating() {
        for (resize, crop) in [(60000, 224), (60000, 60000), (4097, 4097)] {
            let e = spec(resize, crop).validate().unwrap_err();
            assert!(e.contains("larger than 4096"), "{e}");
        }
        assert!(spec(4096, 4096).validate().is_ok());
    }

    #[test]
    fn corrupt_bytes_are_an_error() {
        assert!(decode_bytes(b"definitely not an image").is_err());
        let mut png = Vec::new();
        RgbImage::new(4, 4)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        png.truncate(png.len() / 2);
        assert!(decode_bytes(&png).is_err());
    }
}
