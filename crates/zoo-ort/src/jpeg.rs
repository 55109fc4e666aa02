//! JPEG decoding with libjpeg-turbo's own arithmetic.
//!
//! Why not the image crate's decoder: Pillow (what model cards' reference code and
//! torchvision use) decodes JPEGs with libjpeg-turbo, and the image crate's decoder
//! computes a different inverse DCT, colour conversion and, above all, chroma
//! upsampling: on real 4:2:0 photos pixels differed by up to 12 levels, which moved
//! open_nsfw's probabilities by up to 1.1e-2. mozjpeg is libjpeg-turbo's decoder
//! (same integer IDCT, same "fancy" triangle upsampling with its +8/+7 rounding,
//! same YCbCr tables), compiled from source by `cc` with no assembler needed, so
//! zoo sees the same pixels as Pillow, bit for bit, and decodes faster than before.
//!
//! libjpeg reports fatal errors through a callback that must not return; the error
//! manager here unwinds with the formatted message (mozjpeg is built with
//! `-fexceptions` for this) and [`decode`] catches it. A file cut short is a
//! warning to libjpeg, which pads the image with grey; Pillow refuses such files,
//! and so does zoo.

// The FFI surface is three callbacks and one init call; everything else goes
// through mozjpeg's safe API.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use image::RgbImage;
use mozjpeg::{ColorSpace, Decompress};

use crate::budget::{DecodeBudget, Reservation};
use mozjpeg_sys::{jpeg_common_struct, jpeg_error_mgr};

/// Pillow's `Image.MAX_IMAGE_PIXELS * 2`, above which Pillow refuses to decode
/// (a decompression bomb); zoo draws the line at the same size.
const MAX_PIXELS: usize = 2 * 89_478_485;

thread_local! {
    /// Set by the warning callback when the data ran out before the image did.
    static RAN_OUT: Cell<bool> = const { Cell::new(false) };
}

/// Whether `bytes` start like a JPEG file (SOI marker followed by another marker).
pub(crate) fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8, 0xFF])
}

/// A decoded image and the share of the decode budget it holds.
pub(crate) type Decoded<'b> = (RgbImage, Reservation<'b>);

/// Decode a JPEG to 8-bit RGB (grey replicated into the three channels, as
/// Pillow's `convert("RGB")`). `Ok(None)` for four-channel (CMYK/YCCK) files,
/// which libjpeg does not convert to RGB; the caller decodes those another way.
/// The memory is reserved from `budget` once the header gives the dimensions,
/// before libjpeg allocates anything for the pixels.
pub(crate) fn decode<'b>(
    bytes: &[u8],
    budget: &'b DecodeBudget,
) -> Result<Option<Decoded<'b>>, String> {
    RAN_OUT.with(|flag| flag.set(false));
    match catch_unwind(AssertUnwindSafe(|| decode_unguarded(bytes, budget))) {
        Ok(result) => result,
        Err(payload) => Err(match payload.downcast::<String>() {
            Ok(message) => format!("corrupt or unsupported JPEG: {message}"),
            // Not an unwind of ours: a real bug, so let it continue as one.
            Err(payload) => resume_unwind(payload),
        }),
    }
}

fn decode_unguarded<'b>(
    bytes: &[u8],
    budget: &'b DecodeBudget,
) -> Result<Option<Decoded<'b>>, String> {
    let decompress = Decompress::with_err(error_manager())
        .from_mem(bytes)
        .map_err(|e| e.to_string())?;
    if matches!(
        decompress.color_space(),
        ColorSpace::JCS_CMYK | ColorSpace::JCS_YCCK
    ) {
        return Ok(None);
    }
    let (width, height) = decompress.size();
    if width.saturating_mul(height) > MAX_PIXELS {
        return Err(format!(
            "{width}x{height} pixels is more than the {MAX_PIXELS} zoo (and Pillow) will decode"
        ));
    }
    let reservation = budget.reserve(width as u64, height as u64)?;
    let mut started = decompress.rgb().map_err(|e| e.to_string())?;
    let mut pixels = vec![0u8; width * height * 3];
    started
        .read_scanlines_into(&mut pixels)
        .map_err(|e| format!("reading the pixel data: {e}"))?;
    if RAN_OUT.with(Cell::get) {
        return Err("the JPEG data ends before the image does (truncated file)".to_owned());
    }
    // A missing end-of-image marker after complete pixel data is harmless.
    let _ = started.finish();
    let (w, h) = (width as u32, height as u32);
    RgbImage::from_raw(w, h, pixels)
        .map(|image| Some((image, reservation)))
        .ok_or_else(|| "decoded pixel buffer has the wrong size".to_owned())
}

fn error_manager() -> jpeg_error_mgr {
    // SAFETY: jpeg_std_error only fills in the struct it is given; an all-zero
    // jpeg_error_mgr (null pointers, None callbacks, zero counters) is valid input.
    let mut manager: jpeg_error_mgr = unsafe { std::mem::zeroed() };
    unsafe { mozjpeg_sys::jpeg_std_error(&mut manager) };
    manager.error_exit = Some(unwind_with_message);
    manager.emit_message = Some(note_warning);
    manager
}

/// libjpeg's fatal-error callback: must not return, so it unwinds to [`decode`].
extern "C-unwind" fn unwind_with_message(cinfo: &mut jpeg_common_struct) {
    let message = format_message(cinfo);
    // resume_unwind skips the panic hook: no "thread panicked" noise on stderr.
    resume_unwind(Box::new(message));
}

/// libjpeg's message callback: level -1 is a warning about corrupt data. Pillow
/// decodes through those, except running out of data, which it refuses.
extern "C-unwind" fn note_warning(cinfo: &mut jpeg_common_struct, level: std::os::raw::c_int) {
    // SAFETY: libjpeg calls this with its own, initialised cinfo whose `err`
    // points at the manager built in `error_manager`.
    let code = unsafe { (*cinfo.err).msg_code };
    if level == -1 && code == mozjpeg_sys::JWRN_JPEG_EOF {
        RAN_OUT.with(|flag| flag.set(true));
    }
}

fn format_message(cinfo: &mut jpeg_common_struct) -> String {
    let mut buffer = [0u8; 80];
    // SAFETY: `err` is the manager from `error_manager`; format_message writes at
    // most 80 bytes (JMSG_LENGTH_MAX) into the buffer. Its binding declares the
    // buffer as a shared reference although C writes to it, so it is called
    // through the same function type with a mutable one (identical ABI).
    unsafe {
        if let Some(format) = (*cinfo.err).format_message {
            type Writing = unsafe extern "C-unwind" fn(&mut jpeg_common_struct, &mut [u8; 80]);
            let format: Writing = std::mem::transmute::<
                unsafe extern "C-unwind" fn(&mut jpeg_common_struct, &[u8; 80]),
                Writing,
            >(format);
            format(cinfo, &mut buffer);
        }
    }
    let end = buffer.iter().position(|b| *b == 0).unwrap_or(buffer.len());
    let text = String::from_utf8_lossy(&buffer[..end]).into_owned();
    if text.is_empty() {
        "not a valid JPEG file".to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(width: u32, height: u32) -> Vec<u8> {
        let pixels: Vec<u8> = (0..width * height * 3)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode(&pixels, width, height, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    /// 2x2 solid blocks of 16x16 pixels (whole MCUs even with 4:2:0 chroma).
    const BLOCKS: [[u8; 3]; 4] = [
        [200, 30, 60],
        [20, 120, 240],
        [250, 250, 250],
        [10, 200, 90],
    ];

    fn block_of(x: u32, y: u32) -> usize {
        ((y / 16) * 2 + x / 16) as usize
    }

    /// Every pixel away from the block edges (where libjpeg's chroma upsampling
    /// blends neighbours, as Pillow's does) is within `tolerance` of its block.
    #[track_caller]
    fn assert_blocks(image: &RgbImage, want: impl Fn(usize) -> [u8; 3], tolerance: u8) {
        assert_eq!(image.dimensions(), (32, 32));
        for (x, y, p) in image.enumerate_pixels() {
            if !(4..12).contains(&(x % 16)) || !(4..12).contains(&(y % 16)) {
                continue;
            }
            let w = want(block_of(x, y));
            for c in 0..3 {
                assert!(
                    p[c].abs_diff(w[c]) <= tolerance,
                    "pixel ({x},{y}) is {:?}, its block {w:?}",
                    p.0
                );
            }
        }
    }

    fn decode(bytes: &[u8]) -> Result<Option<RgbImage>, String> {
        super::decode(bytes, &DecodeBudget::default()).map(|d| d.map(|(image, _)| image))
    }

    #[test]
    fn decodes_a_jpeg_to_rgb() {
        let image = decode(&encode(33, 17)).unwrap().unwrap();
        assert_eq!(image.dimensions(), (33, 17));

        // The pixel values, in RGB order.
        let source = RgbImage::from_fn(32, 32, |x, y| image::Rgb(BLOCKS[block_of(x, y)]));
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 100)
            .encode_image(&source)
            .unwrap();
        let image = decode(&bytes).unwrap().unwrap();
        assert_blocks(&image, |b| BLOCKS[b], 3);

        // Grey is replicated into the three channels.
        let grey =
            image::GrayImage::from_fn(32, 32, |x, y| image::Luma([BLOCKS[block_of(x, y)][0]]));
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 100)
            .encode_image(&grey)
            .unwrap();
        let image = decode(&bytes).unwrap().unwrap();
        assert!(image.pixels().all(|p| p[0] == p[1] && p[1] == p[2]));
        assert_blocks(&image, |b| [BLOCKS[b][0]; 3], 2);
    }

    /// A header announcing more pixels than Pillow decodes is refused before
    /// any pixel memory is allocated.
    #[test]
    fn a_decompression_bomb_is_refused_by_its_header() {
        let mut bytes = encode(32, 32);
        // The baseline frame header: FF C0, length, precision, height, width.
        let sof = bytes
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("a baseline SOF0 marker");
        // 20000 x 20000: within libjpeg's 65500 per side, 400 M pixels in all.
        bytes[sof + 5..sof + 9].copy_from_slice(&[0x4E, 0x20, 0x4E, 0x20]);
        let error = decode(&bytes).unwrap_err();
        assert!(
            error.contains("20000x20000 pixels is more than the 178956970"),
            "{error}"
        );
        // The same file with its real size decodes.
        bytes[sof + 5..sof + 9].copy_from_slice(&[0, 32, 0, 32]);
        assert_eq!(decode(&bytes).unwrap().unwrap().dimensions(), (32, 32));
    }

    #[test]
    fn a_cut_short_file_is_an_error_not_grey_padding() {
        let bytes = encode(64, 64);
        let error = decode(&bytes[..bytes.len() / 2]).unwrap_err();
        assert!(error.contains("truncated"), "{error}");
        // The flag does not leak into the next decode on this thread.
        assert!(decode(&bytes).is_ok());
    }

    #[test]
    fn garbage_after_the_signature_is_an_error_with_libjpeg_s_reason() {
        let mut bytes = vec![0xFF, 0xD8, 0xFF];
        bytes.extend_from_slice(&[0x42; 64]);
        let error = decode(&bytes).unwrap_err();
        assert!(
            error.starts_with("corrupt or unsupported JPEG: "),
            "{error}"
        );
        assert!(
            error.len() > "corrupt or unsupported JPEG: ".len(),
            "{error}"
        );
        assert!(is_jpeg(&bytes));
        assert!(!is_jpeg(b"\x89PNG\r\n"));
    }

    /// CMYK (print workflows) is not libjpeg's to convert: `decode` hands it on
    /// (`None`) and the image crate's decoder converts it as Pillow does Adobe
    /// CMYK files (stored inverted): R = (255 - C)(255 - K) / 255 on the inks.
    #[test]
    fn a_cmyk_jpeg_is_handed_on_and_decoded_to_rgb() {
        // Ink: red, blue, white (none), green; stored inverted (255 - ink).
        let ink: [[u8; 4]; 4] = [
            [0, 255, 255, 0],
            [255, 255, 0, 0],
            [0, 0, 0, 0],
            [255, 0, 255, 0],
        ];
        let mut pixels = Vec::new();
        for y in 0..32u32 {
            for x in 0..32u32 {
                pixels.extend(ink[block_of(x, y)].iter().map(|v| 255 - v));
            }
        }
        let mut compress = mozjpeg::Compress::new(ColorSpace::JCS_CMYK);
        compress.set_size(32, 32);
        compress.set_quality(100.0);
        let mut started = compress.start_compress(Vec::new()).unwrap();
        started.write_scanlines(&pixels).unwrap();
        let bytes = started.finish().unwrap();

        assert!(is_jpeg(&bytes));
        assert_eq!(
            decode(&bytes).unwrap(),
            None,
            "libjpeg does not convert CMYK"
        );
        let image = crate::image::decode_bytes(&bytes).unwrap();
        // Pillow's cmyk2rgb on the ink values (checked against Pillow 13 on
        // this very file: red, blue, white, green).
        let rgb = |b: usize| {
            let [c, m, y, k] = ink[b].map(u32::from);
            [c, m, y].map(|v| ((255 - v) * (255 - k) / 255) as u8)
        };
        assert_eq!(rgb(0), [255, 0, 0]);
        assert_blocks(&image, rgb, 3);
    }
}
