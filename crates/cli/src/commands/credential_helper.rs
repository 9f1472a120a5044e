//! `docker-credential-acrylic` (issue #5 §4, acr-auth.md §7.4): docker's
//! credential-helper protocol, served by this binary when it is invoked
//! under that name (an install step links it: `ln -s acrylic
//! docker-credential-acrylic`), so docker, podman and skopeo pull through
//! `"credHelpers": {"<login server>": "acrylic"}` with no stored secret.
//!
//! - `get`: stdin is the server URL; stdout `{"ServerURL", "Username":
//!   "<token>", "Secret": <a fresh registry refresh token>}` obtained from
//!   the current `acrylic login` (a user, a service principal, or a managed
//!   identity through its identity agent) through
//!   the registry's challenge and `/oauth2/exchange`, as `acrylic acr
//!   login` does. Without a usable sign-in: `credentials not found in
//!   native keychain` on stdout, exit 1 (docker then tries anonymously).
//! - `store` / `erase`: accepted and ignored — nothing is ever stored.
//! - `list`: `{}`.
//! - `version`: the version.
//!
//! Errors go to stdout with exit code 1, as the protocol says.

use std::io::{Read as _, Write as _};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use serde_json::json;

use super::Context;
use super::acr_login::{directory_token, exchange, probe, registry_client};

/// The name this binary answers the protocol under.
pub const HELPER_NAME: &str = "docker-credential-acrylic";
/// docker's "not found" message (docker-credential-helpers `credentials.go`).
const NOT_FOUND: &str = "credentials not found in native keychain";
/// The username that makes docker use `Secret` as an identity token.
const TOKEN_USERNAME: &str = "<token>";

/// `acrylic install-credential-helper`: the install step.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// Where to create the `docker-credential-acrylic` link (a directory on
    /// docker's, podman's and skopeo's PATH).
    #[arg(long, default_value = "/usr/local/bin")]
    pub dir: std::path::PathBuf,
    /// Also make docker, podman and skopeo use the helper for this login
    /// server (`credHelpers` in `config.json` and `auth.json`); repeatable.
    #[arg(long = "login-server")]
    pub login_servers: Vec<String>,
}

/// Links `<dir>/docker-credential-acrylic` to this binary (replacing a
/// stale link) and registers the helper for the given login servers.
pub fn install(args: InstallArgs) -> Result<()> {
    let exe = std::env::current_exe().context("finding this binary")?;
    let exe = exe.canonicalize().unwrap_or(exe);
    let link = args.dir.join(HELPER_NAME);
    match std::fs::symlink_metadata(&link) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::remove_file(&link).with_context(|| format!("replacing {}", link.display()))?
        }
        Ok(_) => anyhow::bail!(
            "{} exists and is not a link; remove it or pick another --dir",
            link.display()
        ),
        Err(_) => {}
    }
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    std::os::unix::fs::symlink(&exe, &link)
        .with_context(|| format!("linking {} to {}", link.display(), exe.display()))?;
    eprintln!("{} -> {}", link.display(), exe.display());
    for server in &args.login_servers {
        for file in crate::registry_creds::register_helper(server, "acrylic")? {
            eprintln!(
                "{server} uses docker-credential-acrylic in {}",
                file.display()
            );
        }
    }
    Ok(())
}

/// Whether the process was started as `docker-credential-acrylic`.
pub fn invoked_as_helper() -> bool {
    std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .is_some_and(|n| n == HELPER_NAME || n == format!("{HELPER_NAME}.exe"))
}

/// Runs the protocol with the process's arguments and stdin.
pub fn main() -> ExitCode {
    let action = std::env::args().nth(1).unwrap_or_default();
    let mut input = String::new();
    if matches!(action.as_str(), "get" | "store" | "erase")
        && std::io::stdin().read_to_string(&mut input).is_err()
    {
        return fail("cannot read stdin");
    }
    let out = match action.as_str() {
        "get" => match get(input.trim()) {
            Ok(Some(v)) => v,
            Ok(None) => return fail(NOT_FOUND),
            Err(e) => return fail(&format!("{e:#}")),
        },
        "store" | "erase" => String::new(),
        "list" => "{}".to_owned(),
        "version" => format!("{HELPER_NAME} {}", env!("CARGO_PKG_VERSION")),
        other => {
            return fail(&format!(
                "unknown credential action `{other}`: use get, store, erase, list or version"
            ));
        }
    };
    let mut stdout = std::io::stdout();
    if writeln!(stdout, "{out}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn fail(message: &str) -> ExitCode {
    println!("{message}");
    ExitCode::FAILURE
}

/// `host[:port]` of a server URL as docker passes it (`https://h:p/v2/`,
/// `h:p`, …), lowercased.
fn login_server(server_url: &str) -> String {
    let rest = server_url.split_once("://").map_or(server_url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_ascii_lowercase()
}

/// The credentials for `server_url`; `None` when there is no sign-in.
fn get(server_url: &str) -> Result<Option<String>> {
    if server_url.is_empty() {
        return Ok(None);
    }
    let host = login_server(server_url);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let ctx = Context::new()?;
    rt.block_on(ctx.renew_expired());
    let Ok(session) = ctx.session() else {
        return Ok(None);
    };
    let scheme = url::Url::parse(session.client.base_url())
        .context("the profile's server URL")?
        .scheme()
        .to_owned();
    let http = registry_client(session.profile.ca_cert.as_deref())?;
    let refresh = rt.block_on(async {
        let challenge = probe(&http, &scheme, &host).await?;
        let (token, tenant) = directory_token(&ctx, &session).await?;
        exchange(&http, &challenge, &host, &token, &tenant).await
    })?;
    Ok(Some(
        json!({"ServerURL": server_url, "Username": TOKEN_USERNAME, "Secret": refresh}).to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_servers_of_server_urls() {
        assert_eq!(
            login_server("https://Reg.acrylic.localhost:5000/v2/"),
            "reg.acrylic.localhost:5000"
        );
        assert_eq!(
            login_server("reg.acrylic.localhost:5000"),
            "reg.acrylic.localhost:5000"
        );
        assert_eq!(login_server("http://h"), "h");
    }
}
