//! The composition root (being written, #2).
use crate::config::ServeArgs;
/// Runs `acrylic serve`.
pub fn run(_args: ServeArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
