//! `acrylic kubelet-credential-provider <node-config> [--ca-cert F]`
//! (issue #5 §4, acr-auth.md §7.2): the kubelet's exec credential-provider
//! plugin, `credentialprovider.kubelet.k8s.io/v1` on stdin/stdout, in the
//! manner of cloud-provider-azure's `acr-credential-provider`.
//!
//! It reads the node configuration (`acrylic aks get-node-config`) and a
//! `CredentialProviderRequest`; for an image whose registry matches the
//! configuration's `registryNamePatterns` it returns credentials:
//! - kubelet identity: a directory token for the kubelet identity from the
//!   managed-identity grant (the node credential), exchanged at the
//!   registry for a refresh token: username
//!   `00000000-0000-0000-0000-000000000000`, that token as the password,
//!   `cacheKeyType: Registry`, and a `cacheDuration` five minutes shorter
//!   than the token's life (at most an hour);
//! - service principal: its `appId` and secret (no network call).
//!
//! An image that does not match gets an empty `auth`. Errors go to stderr
//! with exit code 1.
//!
//! A cluster operator's `CredentialProviderConfig`
//! (`kubelet.config.k8s.io/v1`, kubelet `--image-credential-provider-config`,
//! with `--image-credential-provider-bin-dir` holding the binary):
//!
//! ```yaml
//! apiVersion: kubelet.config.k8s.io/v1
//! kind: CredentialProviderConfig
//! providers:
//!   - name: acrylic
//!     apiVersion: credentialprovider.kubelet.k8s.io/v1
//!     matchImages: ["*.acrylic.localhost:5000"]
//!     defaultCacheDuration: 10m
//!     args: [kubelet-credential-provider, /etc/kubernetes/acrylic-node.json,
//!            --ca-cert, /etc/kubernetes/acrylic-ca.pem]
//! ```

use std::io::Read as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};

use super::acr_login::{exchange, probe};
use crate::registry_creds::NULL_GUID;

const API_VERSION: &str = "credentialprovider.kubelet.k8s.io/v1";
const ACR_AUDIENCE: &str = "https://containerregistry.azure.net";

#[derive(Debug, clap::Args)]
pub struct ProviderArgs {
    /// The node configuration file (`acrylic aks get-node-config`).
    pub node_config: PathBuf,
    /// The server's CA certificate (PEM), when it is not publicly trusted.
    #[arg(long)]
    pub ca_cert: Option<PathBuf>,
}

pub fn run(args: ProviderArgs) -> Result<()> {
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(&args.node_config)
            .with_context(|| format!("reading {}", args.node_config.display()))?,
    )
    .with_context(|| format!("{} is not JSON", args.node_config.display()))?;
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("reading the CredentialProviderRequest from stdin")?;
    let request: Value = serde_json::from_str(&input).context("the request is not JSON")?;
    if request["kind"] != "CredentialProviderRequest" || request["apiVersion"] != API_VERSION {
        bail!("expected a {API_VERSION} CredentialProviderRequest");
    }
    let image = request["image"]
        .as_str()
        .context("the request names no image")?;
    let registry = registry_of(image);
    let patterns: Vec<&str> = config["registryNamePatterns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !patterns.iter().any(|p| matches(p, &registry)) {
        return respond(json!({}), "0s");
    }

    if config["useManagedIdentityExtension"] == true {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (refresh, life) = rt.block_on(managed_identity(&config, &registry, &args))?;
        let cache = (life - 300).clamp(0, 3600);
        respond(
            json!({ registry.clone(): {"username": NULL_GUID, "password": refresh} }),
            &format!("{}m{}s", cache / 60, cache % 60),
        )
    } else {
        let client = config["aadClientId"].as_str().context("aadClientId")?;
        let secret = config["aadClientSecret"]
            .as_str()
            .context("aadClientSecret")?;
        respond(
            json!({ registry.clone(): {"username": client, "password": secret} }),
            "60m",
        )
    }
}

fn respond(auth: Value, cache_duration: &str) -> Result<()> {
    let response = json!({
        "kind": "CredentialProviderResponse",
        "apiVersion": API_VERSION,
        "cacheKeyType": "Registry",
        "cacheDuration": cache_duration,
        "auth": auth,
    });
    println!("{response}");
    Ok(())
}

/// The registry host of an image reference (`host[:port]/repo:tag`).
fn registry_of(image: &str) -> String {
    image
        .split('/')
        .next()
        .unwrap_or(image)
        .to_ascii_lowercase()
}

/// kubelet's `matchImages` globs, for the host part: label by label, `*`
/// matching one whole label (or a prefix within it); the port, if any,
/// must be equal.
fn matches(pattern: &str, host: &str) -> bool {
    let (p_host, p_port) = pattern
        .split_once(':')
        .map_or((pattern, None), |(h, p)| (h, Some(p)));
    let (h_host, h_port) = host
        .split_once(':')
        .map_or((host, None), |(h, p)| (h, Some(p)));
    if p_port != h_port {
        return false;
    }
    let p_labels: Vec<&str> = p_host.split('.').collect();
    let h_labels: Vec<&str> = h_host.split('.').collect();
    p_labels.len() == h_labels.len()
        && p_labels.iter().zip(&h_labels).all(|(p, h)| {
            if let Some(prefix) = p.strip_suffix('*') {
                h.starts_with(&prefix.to_ascii_lowercase())
            } else {
                p.eq_ignore_ascii_case(h)
            }
        })
}

/// A registry refresh token for the kubelet identity, and its life in
/// seconds.
async fn managed_identity(
    config: &Value,
    registry: &str,
    args: &ProviderArgs,
) -> Result<(String, i64)> {
    let field = |k: &str| {
        config[k]
            .as_str()
            .with_context(|| format!("the node configuration has no {k}"))
    };
    let authority = field("activeDirectoryAuthorityHost")?
        .trim_end_matches('/')
        .to_owned();
    let tenant = field("tenantId")?;
    let mut b = reqwest::Client::builder().timeout(Duration::from_secs(30));
    if let Some(path) = &args.ca_cert {
        let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        b = b.tls_certs_only(
            reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("{} is not a PEM certificate", path.display()))?,
        );
    }
    let http = b.build()?;
    let resp = http
        .post(format!("{authority}/{tenant}/oauth2/managedidentity/token"))
        .form(&[
            ("resource_id", field("acrylicClusterId")?),
            ("credential", field("acrylicNodeCredential")?),
            ("client_id", field("userAssignedIdentityID")?),
            ("resource", ACR_AUDIENCE),
        ])
        .send()
        .await
        .with_context(|| format!("reaching the directory at {authority}"))?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .context("the directory's answer is not JSON")?;
    if !status.is_success() {
        bail!(
            "the directory refused the kubelet identity's token: {}",
            body["error_description"]
                .as_str()
                .unwrap_or("no reason given")
        );
    }
    let token = body["access_token"].as_str().context("no access_token")?;
    let scheme = url::Url::parse(&authority)
        .context("activeDirectoryAuthorityHost is not a URL")?
        .scheme()
        .to_owned();
    let challenge = probe(&http, &scheme, registry).await?;
    let refresh = exchange(&http, &challenge, registry, token, tenant).await?;
    let life = refresh_life(&refresh).unwrap_or(3 * 3600);
    Ok((refresh, life))
}

/// Seconds until a JWT's `exp`, read without verifying it.
fn refresh_life(jwt: &str) -> Option<i64> {
    use base64::Engine as _;
    let part = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()?;
    let exp = serde_json::from_slice::<Value>(&bytes).ok()?["exp"].as_i64()?;
    Some(exp - time::OffsetDateTime::now_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_hosts_match_kubelet_globs() {
        assert_eq!(
            registry_of("Reg.acrylic.localhost:5000/app:1"),
            "reg.acrylic.localhost:5000"
        );
        assert!(matches(
            "*.acrylic.localhost:5000",
            "reg.acrylic.localhost:5000"
        ));
        assert!(!matches(
            "*.acrylic.localhost:5000",
            "reg.acrylic.localhost:5001"
        ));
        assert!(!matches(
            "*.acrylic.localhost:5000",
            "reg.acrylic.localhost"
        ));
        assert!(!matches("*.acrylic.localhost", "a.b.acrylic.localhost"));
        assert!(!matches("*.acrylic.localhost", "reg.evil.localhost"));
        assert!(matches("127.0.0.1:5000", "127.0.0.1:5000"));
    }
}
