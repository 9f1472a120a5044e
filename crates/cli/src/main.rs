//! `acrylic`: the server (`acrylic serve`) and the az-shaped CLI, one binary.
//!
//! Everything but `serve` is a client of the server's HTTP APIs only (the
//! directory's token endpoint and the ARM control plane), like az: it never
//! opens the data directory. Modules:
//! - `profile`: `profile.json` / `tokens.json` in the config directory;
//! - `registry_creds`: registry credentials in docker's and containers'
//!   auth files (`acrylic acr login`, erased by `acrylic logout`);
//! - `client`: HTTPS to the server, errors that name the fix;
//! - `output`: `-o json|table|tsv`;
//! - `commands`: one module per command group.
//!
//! Errors go to stderr as `ERROR: …` and the exit code is 1.

mod client;
mod commands;
mod output;
mod profile;
mod registry_creds;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::Format;

#[derive(Parser)]
#[command(
    name = "acrylic",
    version,
    about = "A self-hosted OCI registry with Azure Container Registry's authentication"
)]
struct Cli {
    /// Output format.
    #[arg(short, long, global = true, value_enum, default_value = "json")]
    output: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(acrylic_server::config::ServeArgs),
    /// Sign in to the acrylic directory (like `az login`).
    Login(commands::account::LoginArgs),
    /// Sign out: revoke and remove the stored sign-in, and erase the
    /// registry credentials `acrylic acr login` wrote.
    Logout,
    /// The signed-in account and its subscription.
    Account {
        #[command(subcommand)]
        command: commands::account::AccountCommand,
    },
    /// Manage container registries (like `az acr`).
    Acr {
        #[command(subcommand)]
        command: commands::acr::AcrCommand,
    },
    /// Manage the directory's users and groups (like `az ad`).
    Ad {
        #[command(subcommand)]
        command: commands::ad::AdCommand,
    },
    /// Manage role assignments and role definitions (like `az role`).
    Role {
        #[command(subcommand)]
        command: commands::role::RoleCommand,
    },
    /// Manage compute resources and their managed identities.
    Resource {
        #[command(subcommand)]
        command: commands::resource::ResourceCommand,
    },
    /// Manage user-assigned managed identities (like `az identity`).
    Identity {
        #[command(subcommand)]
        command: commands::identity::IdentityCommand,
    },
    /// Serve managed-identity tokens to a workload on this machine (IMDS and
    /// App Service protocols), with a resource's agent credential.
    IdentityAgent(commands::identity_agent::AgentArgs),
    /// The kubelet's image credential provider (credentialprovider.kubelet.k8s.io/v1
    /// on stdin/stdout), for a node of an acrylic cluster.
    KubeletCredentialProvider(commands::kubelet::ProviderArgs),
    /// Install `docker-credential-acrylic` (a link to this binary), and
    /// optionally register it for login servers in docker's and podman's
    /// configuration.
    InstallCredentialHelper(commands::credential_helper::InstallArgs),
    /// Manage clusters' registry access and node configuration (like `az aks`).
    Aks {
        #[command(subcommand)]
        command: commands::aks::AksCommand,
    },
}

fn main() -> ExitCode {
    // Invoked through a `docker-credential-acrylic` link (#5).
    if commands::credential_helper::invoked_as_helper() {
        return commands::credential_helper::main();
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => acrylic_server::run(args),
        Command::Login(args) => client_command(cli.output, |ctx| {
            Box::pin(commands::account::login(ctx, args))
        }),
        Command::Logout => {
            client_command(cli.output, |ctx| Box::pin(commands::account::logout(ctx)))
        }
        Command::Account { command } => client_command(cli.output, |ctx| {
            Box::pin(commands::account::run(ctx, command))
        }),
        Command::Acr { command } => {
            client_command(cli.output, |ctx| Box::pin(commands::acr::run(ctx, command)))
        }
        Command::Ad { command } => {
            client_command(cli.output, |ctx| Box::pin(commands::ad::run(ctx, command)))
        }
        Command::Role { command } => client_command(cli.output, |ctx| {
            Box::pin(commands::role::run(ctx, command))
        }),
        Command::Resource { command } => client_command(cli.output, |ctx| {
            Box::pin(commands::resource::run(ctx, command))
        }),
        Command::Identity { command } => client_command(cli.output, |ctx| {
            Box::pin(commands::identity::run(ctx, command))
        }),
        Command::IdentityAgent(args) => commands::identity_agent::run(args),
        Command::KubeletCredentialProvider(args) => commands::kubelet::run(args),
        Command::InstallCredentialHelper(args) => commands::credential_helper::install(args),
        Command::Aks { command } => {
            client_command(cli.output, |ctx| Box::pin(commands::aks::run(ctx, command)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            ExitCode::FAILURE
        }
    }
}

type CommandFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = anyhow::Result<Option<output::Output>>> + 'a>,
>;

/// Runs a client command on a small runtime and prints what it returns.
fn client_command(
    format: Format,
    f: impl for<'a> FnOnce(&'a commands::Context) -> CommandFuture<'a>,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let ctx = commands::Context::new()?;
    // An expired access token is renewed with the refresh token first, so
    // commands never see it expire (#3).
    rt.block_on(ctx.renew_expired());
    if let Some(out) = rt.block_on(f(&ctx))? {
        print!("{}", out.render(format));
    }
    Ok(())
}
