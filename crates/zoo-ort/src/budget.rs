//! The memory all decoder threads together may spend on decoded images.
//!
//! A JPEG of a few hundred bytes can claim 13000x13000 pixels: decoding it takes
//! half a gigabyte for the pixels and as much again for libjpeg's coefficient
//! buffers, per decoder thread. Each decode first reserves its image's estimated
//! memory (from the header's dimensions, before anything is allocated) from one
//! budget shared by the decoders of a run: an image too large for the whole budget
//! is refused (an error for that input only), and one that fits waits until
//! others have released enough, so the total stays bounded however many decoders
//! run, and ordinary photos still decode on every thread.

use std::sync::{Condvar, Mutex};

/// Total memory the decoders of one run may hold in decoded images.
pub const DECODE_MEMORY_BYTES: u64 = 1 << 30;

/// Estimated peak bytes per pixel while decoding: 3 for the RGB result, up to 6
/// for libjpeg's coefficient buffers of a progressive JPEG (two bytes per sample,
/// three full-resolution components) or the image crate's 16-bit RGBA buffer.
pub const BYTES_PER_PIXEL: u64 = 9;

/// A pool of bytes that decodes reserve and release.
#[derive(Debug)]
pub struct DecodeBudget {
    total: u64,
    used: Mutex<u64>,
    released: Condvar,
}

/// Memory held for one decode, returned to the budget on drop.
#[derive(Debug)]
pub struct Reservation<'a> {
    budget: &'a DecodeBudget,
    pub bytes: u64,
}

impl Default for DecodeBudget {
    fn default() -> DecodeBudget {
        DecodeBudget::new(DECODE_MEMORY_BYTES)
    }
}

impl DecodeBudget {
    pub fn new(total: u64) -> DecodeBudget {
        DecodeBudget {
            total,
            used: Mutex::new(0),
            released: Condvar::new(),
        }
    }

    /// The largest image (in pixels) this budget admits at all.
    pub fn max_pixels(&self) -> u64 {
        self.total / BYTES_PER_PIXEL
    }

    /// Reserves the memory to decode a `width`x`height` image, waiting while
    /// other decodes hold too much of the budget. An image larger than the whole
    /// budget is an error naming its size and the limit.
    pub fn reserve(&self, width: u64, height: u64) -> Result<Reservation<'_>, String> {
        let pixels = width.saturating_mul(height);
        let bytes = pixels.saturating_mul(BYTES_PER_PIXEL);
        if bytes > self.total {
            return Err(format!(
                "{width}x{height} pixels would take about {} MiB to decode, more than the {} MiB \
                 zoo allows for decoding images ({} megapixels at most); shrink the image",
                bytes >> 20,
                self.total >> 20,
                self.max_pixels() / 1_000_000
            ));
        }
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used + bytes > self.total {
            used = self.released.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += bytes;
        Ok(Reservation {
            budget: self,
            bytes,
        })
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut used = self.budget.used.lock().unwrap_or_else(|e| e.into_inner());
        *used -= self.bytes;
        self.budget.released.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_large_for_the_whole_budget_is_refused_at_once() {
        let budget = DecodeBudget::default();
        let e = budget.reserve(13_000, 13_000).unwrap_err();
        assert!(e.contains("13000x13000") && e.contains("1024 MiB"), "{e}");
        assert!(budget.reserve(4000, 3000).is_ok());
    }

    #[test]
    fn reservations_wait_for_each_other_and_are_returned() {
        let budget = DecodeBudget::new(100 * BYTES_PER_PIXEL);
        let first = budget.reserve(10, 6).unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| budget.reserve(10, 6).map(|r| r.bytes));
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(!waiter.is_finished(), "the second must wait for the first");
            drop(first);
            assert_eq!(waiter.join().unwrap().unwrap(), 60 * BYTES_PER_PIXEL);
        });
        assert_eq!(*budget.used.lock().unwrap(), 0);
    }
}
