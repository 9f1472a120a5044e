//! `acrylic`: the server (`acrylic serve`) and the az-shaped CLI, one binary.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "acrylic", version, about = "A self-hosted OCI registry with Azure Container Registry's authentication")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(acrylic_server::config::ServeArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => acrylic_server::run(args),
    }
}
