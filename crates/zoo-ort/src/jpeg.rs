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

    fn decode(bytes: &[u8]) -> Result<Option<RgbImage>, String> {
        super::decode(bytes, &DecodeBudget::default()).map(|d| d.map(|(image, _)| image))
    }

    #[test]
    fn decodes_a_jpeg_to_rgb() {
        let image = decode(&encode(33, 17)).unwrap().unwrap();
        assert_eq!(image.dimensions(), (33, 17));
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
}
