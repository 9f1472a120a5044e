//! `acrylic acr pull-secret create` — a Kubernetes image pull secret
//! (`kubernetes.io/dockerconfigjson`) for a registry, exactly as `kubectl
//! create secret docker-registry --dry-run=client -o yaml|json` writes it
//! (acr-auth.md §7.3).
//!
//! The credential is a repository token (`--token T --password-name
//! password1|password2`) or a service principal (`--service-principal
//! APPID`, #4 §1–2), with its password given by the caller (`--password`
//! or `--password-stdin`): ACR never shows a token password again. Before
//! writing anything the credential is tried at the registry's token
//! endpoint, as `docker login` would — a wrong, expired or disabled one
//! fails here, with the registry's own message, not later in a pod. With a
//! token and a sign-in, the token's metadata is read too: a missing
//! password slot is named, an expiry within 30 days is warned about.
//!
//! `.dockerconfigjson` is byte-for-byte kubectl's: Go's `json.Marshal` of
//! `{"auths":{"<server>":{"username","password","auth"}}}` (fields in that
//! order, `<`, `>`, `&`, U+2028 and U+2029 escaped as Go escapes them),
//! base64-encoded. The Secret prints with `-o yaml` (kubectl's key order)
//! or `-o json`.

use std::io::Read as _;

use anyhow::{Context as _, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Context;
use super::acr_login::{self, is_login_server};
use super::scope_map::RegistryRef;
use crate::client::CliError;
use crate::output::{Column, Output, col};

#[derive(Debug, clap::Subcommand)]
pub enum PullSecretCommand {
    /// Print a `kubernetes.io/dockerconfigjson` Secret for the registry
    /// (`-o yaml` for `kubectl apply -f -`).
    Create(CreateArgs),
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("who").required(true).args(["token", "service_principal"])))]
#[command(group(clap::ArgGroup::new("secret").required(true).args(["password", "password_stdin"])))]
pub struct CreateArgs {
    /// The registry's name, or its login server (`host[:port]`, no sign-in
    /// needed then).
    #[arg(short = 'r', long)]
    registry: String,
    /// Resource group (default: the registry is found by name).
    #[arg(short = 'g', long)]
    resource_group: Option<String>,
    /// A repository-scoped token of the registry (its name is the username).
    #[arg(long, requires = "password_name")]
    token: Option<String>,
    /// Which of the token's passwords `--password` is.
    #[arg(long, value_enum, requires = "token")]
    password_name: Option<PasswordName>,
    /// A service principal's application (client) id.
    #[arg(long, value_name = "APPID")]
    service_principal: Option<String>,
    /// The password (the token password, or the service principal's secret).
    #[arg(short, long)]
    password: Option<String>,
    /// Read the password from stdin.
    #[arg(long)]
    password_stdin: bool,
    /// The Secret's name (default: `<registry>-<username>`, lowercased).
    #[arg(long)]
    name: Option<String>,
    /// The Secret's namespace (default: none, kubectl's current one).
    #[arg(long)]
    namespace: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PasswordName {
    #[value(name = "password1")]
    Password1,
    #[value(name = "password2")]
    Password2,
}

impl PasswordName {
    fn as_str(self) -> &'static str {
        match self {
            PasswordName::Password1 => "password1",
            PasswordName::Password2 => "password2",
        }
    }
}

pub async fn run(ctx: &Context, cmd: PullSecretCommand) -> Result<Option<Output>> {
    match cmd {
        PullSecretCommand::Create(args) => create(ctx, args).await,
    }
}

async fn create(ctx: &Context, args: CreateArgs) -> Result<Option<Output>> {
    let username = match (&args.token, &args.service_principal) {
        (Some(t), _) => t.clone(),
        (None, Some(app)) => app.clone(),
        (None, None) => {
            return Err(CliError::Usage("pass --token or --service-principal".into()).into());
        }
    };
    let password = read_password(&args)?;
    if let Some(ns) = &args.namespace {
        check_dns_label(ns, "--namespace")?;
    }
    let name = match &args.name {
        Some(n) => n.clone(),
        None => default_name(&args.registry, &username),
    };
    check_dns_subdomain(&name, "--name")?;

    let profile = ctx.profile()?;
    let login_server = if is_login_server(&args.registry) {
        args.registry.to_ascii_lowercase()
    } else {
        let s = ctx.session()?;
        let reg = RegistryRef {
            registry: args.registry.clone(),
            resource_group: args.resource_group.clone(),
        };
        let path = reg.path(&s).await?;
        let registry = s
            .arm(Method::GET, &path, None)
            .await?
            .unwrap_or(Value::Null);
        let login_server = registry
            .pointer("/properties/loginServer")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("the registry {} has no login server", args.registry))?;
        if let (Some(token), Some(which)) = (&args.token, args.password_name) {
            check_token(&s, &path, token, which, &args.registry).await?;
        }
        login_server
    };

    // Try the credential where the kubelet will use it.
    let server = profile.server_url.clone().ok_or(CliError::NoServer)?;
    let scheme = url::Url::parse(&server)
        .with_context(|| format!("the profile's serverUrl {server:?} is not a URL"))?
        .scheme()
        .to_owned();
    let http = acr_login::registry_client(profile.ca_cert.as_deref())?;
    let challenge = acr_login::probe(&http, &scheme, &login_server).await?;
    let resp = http
        .get(&challenge.realm)
        .query(&[("service", challenge.service.as_str())])
        .basic_auth(&username, Some(&password))
        .send()
        .await
        .map_err(|e| {
            CliError::Usage(format!(
                "Could not connect to {} for registry '{login_server}': {}",
                challenge.realm,
                acr_login::chain(&e)
            ))
        })?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.bytes().await.unwrap_or_default();
        return Err(CliError::Usage(format!(
            "the registry '{login_server}' refused {username} ({}): {}. No secret was written",
            status.as_u16(),
            acr_login::acr_message(&body)
        ))
        .into());
    }
    // A service principal's secret ending within 30 days is warned about (#4).
    if let Some(app_id) = &args.service_principal {
        super::ad_sp::warn_secret_expiry(ctx, app_id, &password).await;
    }

    let secret = secret(
        &name,
        args.namespace.as_deref(),
        &login_server,
        &username,
        &password,
    );
    Ok(Some(Output::new(secret, columns())))
}

/// The Secret object; `-o yaml` prints its keys sorted, as kubectl does.
pub fn secret(
    name: &str,
    namespace: Option<&str>,
    server: &str,
    username: &str,
    password: &str,
) -> Value {
    let mut metadata = json!({"name": name, "creationTimestamp": null});
    if let (Some(ns), Some(m)) = (namespace, metadata.as_object_mut()) {
        m.insert("namespace".into(), Value::String(ns.to_owned()));
    }
    json!({
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": metadata,
        "data": {".dockerconfigjson": STANDARD.encode(docker_config_json(server, username, password))},
        "type": "kubernetes.io/dockerconfigjson",
    })
}

/// `{"auths":{"<server>":{"username","password","auth"}}}` exactly as
/// kubectl's Go `json.Marshal` writes it.
pub fn docker_config_json(server: &str, username: &str, password: &str) -> String {
    let auth = STANDARD.encode(format!("{username}:{password}"));
    format!(
        "{{\"auths\":{{{}:{{\"username\":{},\"password\":{},\"auth\":{}}}}}}}",
        go_json_string(server),
        go_json_string(username),
        go_json_string(password),
        go_json_string(&auth)
    )
}

/// A JSON string as Go's `encoding/json` writes it: `"` and `\` escaped,
/// `\b \f \n \r \t` short, other control characters and `<`, `>`, `&`,
/// U+2028, U+2029 as `\u00XX` / `\u2028` (HTML-safe escaping).
fn go_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// With a sign-in: the token exists, has the named password, and it has
/// not expired; an expiry within 30 days is warned about.
async fn check_token(
    s: &super::Session,
    registry_path: &str,
    token: &str,
    which: PasswordName,
    registry: &str,
) -> Result<()> {
    let t = s
        .arm(
            Method::GET,
            &format!("{registry_path}/tokens/{token}"),
            None,
        )
        .await?
        .unwrap_or(Value::Null);
    let generate = format!(
        "acrylic acr token credential generate --name {token} --registry {registry} --{}",
        which.as_str()
    );
    let entry = t
        .pointer("/properties/credentials/passwords")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(which.as_str()));
    let Some(entry) = entry else {
        return Err(CliError::Usage(format!(
            "the token {token} has no {}: generate one with `{generate}`",
            which.as_str()
        ))
        .into());
    };
    if t.pointer("/properties/status").and_then(Value::as_str) == Some("disabled") {
        return Err(CliError::Usage(format!(
            "the token {token} is disabled, so the secret would not work: enable it with \
             `acrylic acr token update --name {token} --registry {registry} --status enabled`"
        ))
        .into());
    }
    let expiry = entry
        .get("expiry")
        .and_then(Value::as_str)
        .and_then(|e| OffsetDateTime::parse(e, &Rfc3339).ok());
    if let Some(expiry) = expiry {
        let now = OffsetDateTime::now_utc();
        let at = expiry.format(&Rfc3339).unwrap_or_default();
        if expiry <= now {
            return Err(CliError::Usage(format!(
                "the {} of token {token} expired at {at}: generate a new one with `{generate}`",
                which.as_str()
            ))
            .into());
        }
        if expiry - now <= time::Duration::days(30) {
            eprintln!(
                "WARNING: the {} of token {token} expires at {at} (in {} days); pods pulling with this \
                 secret will fail after that. Renew it with `{generate}` and recreate the secret",
                which.as_str(),
                (expiry - now).whole_days()
            );
        }
    }
    Ok(())
}

fn read_password(args: &CreateArgs) -> Result<String> {
    if let Some(p) = &args.password {
        return Ok(p.clone());
    }
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .context("reading the password from stdin")?;
    Ok(s.trim_end_matches(['\r', '\n']).to_owned())
}

/// `<registry>-<username>`, lowercased, as a DNS subdomain.
fn default_name(registry: &str, username: &str) -> String {
    let registry = registry.split(['.', ':']).next().unwrap_or(registry);
    let raw = format!("{registry}-{username}").to_ascii_lowercase();
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    cleaned.trim_matches('-').chars().take(253).collect()
}

/// A Kubernetes object name (RFC 1123 subdomain).
fn check_dns_subdomain(s: &str, flag: &str) -> Result<()> {
    let ok = !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label);
    if ok {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "{flag} {s:?}: a Kubernetes name is lowercase letters, digits, '-' and '.', starting and \
             ending with a letter or digit, at most 253 characters"
        ))
        .into())
    }
}

/// A namespace (RFC 1123 label).
fn check_dns_label(s: &str, flag: &str) -> Result<()> {
    if is_dns_label(s) {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "{flag} {s:?}: a namespace is lowercase letters, digits and '-', starting and ending with \
             a letter or digit, at most 63 characters"
        ))
        .into())
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn columns() -> Vec<Column> {
    vec![
        col("NAME", "metadata/name"),
        col("NAMESPACE", "metadata/namespace"),
        col("TYPE", "type"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::yaml;

    #[test]
    fn dockerconfigjson_is_kubectls() {
        // kubectl 1.32: create secret docker-registry --docker-server=myreg.example:5000
        // --docker-username=tok1 --docker-password='p@ss"w' --dry-run=client -o yaml
        let s = secret("mysecret", None, "myreg.example:5000", "tok1", "p@ss\"w");
        assert_eq!(
            yaml(&s),
            "apiVersion: v1\ndata:\n  .dockerconfigjson: eyJhdXRocyI6eyJteXJlZy5leGFtcGxlOjUwMDAiOnsidXNlcm5hbWUiOiJ0b2sxIiwicGFzc3dvcmQiOiJwQHNzXCJ3IiwiYXV0aCI6ImRHOXJNVHB3UUhOekluYz0ifX19\n\
             kind: Secret\nmetadata:\n  creationTimestamp: null\n  name: mysecret\ntype: kubernetes.io/dockerconfigjson\n"
        );
        // Go's HTML-safe escapes, as kubectl writes them.
        assert_eq!(
            docker_config_json("localhost:5000", "tok-1", "a<b>&c\tz\u{2028}é\\"),
            r#"{"auths":{"localhost:5000":{"username":"tok-1","password":"a\u003cb\u003e\u0026c\tz\u2028é\\","auth":"dG9rLTE6YTxiPiZjCXrigKjDqVw="}}}"#
        );
        let with_ns = secret("s", Some("ns1"), "h", "u", "p");
        assert_eq!(with_ns["metadata"]["namespace"], "ns1");
        assert!(yaml(&with_ns).contains("  name: s\n  namespace: ns1\n"));
    }

    #[test]
    fn names_are_kubernetes_names() {
        assert_eq!(default_name("MyReg", "CI-Token"), "myreg-ci-token");
        assert_eq!(default_name("localhost:5000", "tok_1"), "localhost-tok-1");
        assert!(check_dns_subdomain("acr.pull-1", "--name").is_ok());
        for bad in ["", "Upper", "-lead", "trail-", "a..b", "sp ace"] {
            assert!(check_dns_subdomain(bad, "--name").is_err(), "{bad:?}");
        }
        assert!(check_dns_label("team-a", "--namespace").is_ok());
        assert!(check_dns_label("a.b", "--namespace").is_err());
        assert!(check_dns_label(&"a".repeat(64), "--namespace").is_err());
    }
}
