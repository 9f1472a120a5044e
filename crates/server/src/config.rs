//! Configuration (being written, #2).
/// `acrylic serve` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {}
/// The parsed configuration.
pub struct Config;
