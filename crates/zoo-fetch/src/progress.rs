//! How a pull reports what it is doing; the CLI draws bars or prints lines.

/// Called from several download threads at once.
pub trait Progress: Send + Sync {
    /// A file starts (or resumes, with `resumed` bytes already on disk).
    fn file_start(&self, path: &str, total: Option<u64>, resumed: u64);
    fn file_advance(&self, path: &str, bytes: u64);
    fn file_done(&self, path: &str, outcome: &str);
    /// Retries, fallbacks and trust-on-first-use notices.
    fn note(&self, message: &str);
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {
    fn file_start(&self, _: &str, _: Option<u64>, _: u64) {}
    fn file_advance(&self, _: &str, _: u64) {}
    fn file_done(&self, _: &str, _: &str) {}
    fn note(&self, _: &str) {}
}
