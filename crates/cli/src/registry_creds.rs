//! Registry credentials where docker, podman and skopeo read them, written
//! by `acrylic acr login` the way `az acr login` leaves them after running
//! `docker login` (acr-auth.md §3.2 "Identity-token evidence", §4.1), and
//! erased by `acrylic logout` ([`erase_all`]).
//!
//! Two files, each a JSON object whose other entries and keys are kept:
//! - Docker's `config.json` (`$DOCKER_CONFIG/config.json`, default
//!   `~/.docker/config.json`): `auths.<login server>` = `{"auth":
//!   base64("00000000-…:"), "identitytoken": <refresh token>}` after an
//!   exchange — docker then asks for access tokens with
//!   `grant_type=refresh_token` — or `{"auth": base64("<user>:<password>")}`
//!   for a username and password;
//! - containers' `auth.json` (`$REGISTRY_AUTH_FILE`, else
//!   `$XDG_RUNTIME_DIR/containers/auth.json`, else
//!   `/run/containers/<uid>/auth.json` — the file `podman login` writes and
//!   podman/skopeo read first, containers-auth.json(5)):
//!   `auths.<login server>` = `{"auth": base64("<user>:<secret>")}`, the
//!   secret being the refresh token for the null GUID.
//!
//! Which login servers were written, to which files and for which
//! username, is recorded in the CLI profile (`registryLogins`), so logout
//! erases exactly those entries — and leaves alone an entry someone has
//! since replaced with other credentials. No secret goes to the profile.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::profile::Store;

/// The username that says "the password is a registry refresh token"
/// (acr-auth.md §2.4).
pub const NULL_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// The profile key of the record.
const PROFILE_KEY: &str = "registryLogins";

/// What to store for a login server.
pub enum Secret {
    /// A registry refresh token from `/oauth2/exchange`, used with the null
    /// GUID.
    RefreshToken(String),
    /// A username and password (the admin user; repository tokens, #4).
    Password { username: String, password: String },
}

impl Secret {
    fn username(&self) -> &str {
        match self {
            Secret::RefreshToken(_) => NULL_GUID,
            Secret::Password { username, .. } => username,
        }
    }

    /// The Docker `config.json` entry.
    fn docker_entry(&self) -> Value {
        match self {
            Secret::RefreshToken(token) => json!({
                "auth": STANDARD.encode(format!("{NULL_GUID}:")),
                "identitytoken": token,
            }),
            Secret::Password { username, password } => json!({
                "auth": STANDARD.encode(format!("{username}:{password}")),
            }),
        }
    }

    /// The containers `auth.json` entry.
    fn containers_entry(&self) -> Value {
        let (user, secret) = match self {
            Secret::RefreshToken(token) => (NULL_GUID, token.as_str()),
            Secret::Password { username, password } => (username.as_str(), password.as_str()),
        };
        json!({ "auth": STANDARD.encode(format!("{user}:{secret}")) })
    }
}

/// One recorded login: where it was written and for whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recorded {
    pub login_server: String,
    pub username: String,
    pub files: Vec<PathBuf>,
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn docker_config_path() -> Result<PathBuf> {
    if let Some(dir) = env_path("DOCKER_CONFIG") {
        return Ok(dir.join("config.json"));
    }
    Ok(home()?.join(".docker").join("config.json"))
}

/// `$REGISTRY_AUTH_FILE`, else `$XDG_RUNTIME_DIR/containers/auth.json`,
/// else `/run/containers/<uid>/auth.json`: where `podman login` writes, and
/// what podman and skopeo read before `~/.config/containers/auth.json` — so
/// an entry written anywhere else could be shadowed by an older login.
pub fn containers_auth_path() -> Result<PathBuf> {
    use std::os::unix::fs::MetadataExt as _;
    if let Some(file) = env_path("REGISTRY_AUTH_FILE") {
        return Ok(file);
    }
    if let Some(dir) = env_path("XDG_RUNTIME_DIR") {
        return Ok(dir.join("containers").join("auth.json"));
    }
    let uid = fs::metadata("/proc/self")
        .context("finding this process's user id")?
        .uid();
    Ok(PathBuf::from(format!("/run/containers/{uid}/auth.json")))
}

/// Writes `secret` for `login_server` to both files and records it in the
/// profile. Returns the files written.
pub fn store(profile: &Store, login_server: &str, secret: &Secret) -> Result<Vec<PathBuf>> {
    let docker = docker_config_path()?;
    let files = [
        (docker.clone(), secret.docker_entry()),
        (containers_auth_path()?, secret.containers_entry()),
    ];
    let mut written = Vec::new();
    for (path, entry) in files {
        if written.contains(&path) {
            continue;
        }
        let mut doc = read_doc(&path)?;
        auths(&mut doc, &path)?.insert(login_server.to_owned(), entry);
        write_doc(&path, &doc)?;
        written.push(path);
    }
    if let Some(helper) = docker_helper(&read_doc(&docker)?, login_server) {
        eprintln!(
            "WARNING: {} names the credential helper `docker-credential-{helper}` for {login_server}; \
             docker asks the helper and not the entry written to the file",
            docker.display()
        );
    }
    let mut p = profile.load_profile()?.unwrap_or_default();
    let mut records = recorded(&p);
    records.retain(|r| !r.login_server.eq_ignore_ascii_case(login_server));
    records.push(Recorded {
        login_server: login_server.to_owned(),
        username: secret.username().to_owned(),
        files: written.clone(),
    });
    p.extra
        .insert(PROFILE_KEY.into(), serde_json::to_value(&records)?);
    profile.save_profile(&p)?;
    Ok(written)
}

/// Removes every entry `acrylic acr login` wrote and the profile still
/// records, where it still holds the recorded username; returns the login
/// servers erased. `acrylic logout` calls this.
pub fn erase_all(profile: &Store) -> Result<Vec<String>> {
    let Some(mut p) = profile.load_profile()? else {
        return Ok(Vec::new());
    };
    let records = recorded(&p);
    let mut erased = Vec::new();
    for r in &records {
        let mut any = false;
        for path in &r.files {
            any |= erase_entry(path, &r.login_server, &r.username)?;
        }
        if any {
            erased.push(r.login_server.clone());
        }
    }
    if p.extra.remove(PROFILE_KEY).is_some() {
        profile.save_profile(&p)?;
    }
    Ok(erased)
}

/// The logins the profile records (none if the key is absent or unreadable).
pub fn recorded(p: &crate::profile::Profile) -> Vec<Recorded> {
    p.extra
        .get(PROFILE_KEY)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

/// Removes `auths.<login server>` from `path` if its `auth` names
/// `username`; returns whether it did.
fn erase_entry(path: &Path, login_server: &str, username: &str) -> Result<bool> {
    if !path.exists() {
        return Ok(false);
    }
    let mut doc = read_doc(path)?;
    let map = auths(&mut doc, path)?;
    let ours = map
        .get(login_server)
        .and_then(|e| e.get("auth"))
        .and_then(Value::as_str)
        .and_then(|a| STANDARD.decode(a).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .is_some_and(|pair| pair.split_once(':').is_some_and(|(u, _)| u == username));
    if !ours {
        return Ok(false);
    }
    map.remove(login_server);
    write_doc(path, &doc)?;
    Ok(true)
}

/// The helper docker would ask for `login_server` instead of the file
/// (`credHelpers.<server>`, else `credsStore`).
fn docker_helper(doc: &Value, login_server: &str) -> Option<String> {
    doc.get("credHelpers")
        .and_then(|h| h.get(login_server))
        .or_else(|| doc.get("credsStore"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn home() -> Result<PathBuf> {
    env_path("HOME").context("cannot find the home directory: set HOME")
}

/// Points docker (`config.json`) and podman/skopeo (`auth.json`) at
/// `docker-credential-<helper>` for `login_server`
/// (`"credHelpers": {"<login server>": "<helper>"}`), keeping every other
/// entry. Returns the files written.
pub fn register_helper(login_server: &str, helper: &str) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for path in [docker_config_path()?, containers_auth_path()?] {
        let mut doc = read_doc(&path)?;
        let obj = doc
            .as_object_mut()
            .with_context(|| format!("{} is not a JSON object", path.display()))?;
        obj.entry("credHelpers")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .with_context(|| format!("`credHelpers` in {} is not a JSON object", path.display()))?
            .insert(login_server.to_owned(), Value::String(helper.to_owned()));
        write_doc(&path, &doc)?;
        written.push(path);
    }
    Ok(written)
}

/// The file's JSON object, or an empty one if there is no file.
fn read_doc(path: &Path) -> Result<Value> {
    match fs::read(path) {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(Value::Object(Map::new())),
        Ok(b) => {
            let v: Value = serde_json::from_slice(&b).with_context(|| {
                format!("{} is not valid JSON; fix or delete it", path.display())
            })?;
            if v.is_object() {
                Ok(v)
            } else {
                anyhow::bail!("{} is not a JSON object; fix or delete it", path.display())
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Object(Map::new())),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The document's `auths` object, created if missing.
fn auths<'a>(doc: &'a mut Value, path: &Path) -> Result<&'a mut Map<String, Value>> {
    let obj = doc
        .as_object_mut()
        .with_context(|| format!("{} is not a JSON object", path.display()))?;
    obj.entry("auths")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .with_context(|| format!("`auths` in {} is not a JSON object", path.display()))
}

/// Writes the document (mode 0600: it holds credentials) through a
/// temporary file and a rename, so readers never see half a file.
fn write_doc(path: &Path, doc: &Value) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "auth.json".into());
    let tmp = dir.join(format!(".{name}.acrylic.tmp"));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    let mut bytes = serde_json::to_vec_pretty(doc)?;
    bytes.push(b'\n');
    f.write_all(&bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_have_the_shapes_clients_read() {
        let rt = Secret::RefreshToken("a.b.c".into());
        assert_eq!(
            rt.docker_entry(),
            json!({
                "auth": "MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwOg==",
                "identitytoken": "a.b.c"
            })
        );
        assert_eq!(
            rt.containers_entry(),
            json!({"auth": STANDARD.encode(format!("{NULL_GUID}:a.b.c"))})
        );
        let pw = Secret::Password {
            username: "myreg".into(),
            password: "p:w".into(),
        };
        assert_eq!(
            pw.docker_entry(),
            json!({"auth": STANDARD.encode("myreg:p:w")})
        );
        assert_eq!(pw.username(), "myreg");
    }

    #[test]
    fn erase_keeps_other_entries_and_replaced_credentials() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("nested").join("config.json");
        let mut doc = json!({"credsStore": "", "auths": {"other.test": {"auth": "eDp5"}}});
        auths(&mut doc, &path)?.insert(
            "r.test:5000".into(),
            Secret::RefreshToken("t".into()).docker_entry(),
        );
        write_doc(&path, &doc)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path)?.permissions().mode() & 0o777, 0o600);
        }
        // Someone else's login for the same server is not ours to erase.
        assert!(!erase_entry(&path, "r.test:5000", "admin")?);
        assert!(erase_entry(&path, "r.test:5000", NULL_GUID)?);
        assert!(!erase_entry(&path, "r.test:5000", NULL_GUID)?);
        let after = read_doc(&path)?;
        assert_eq!(after["auths"], json!({"other.test": {"auth": "eDp5"}}));
        assert_eq!(after["credsStore"], "");
        assert!(!erase_entry(
            &dir.path().join("absent.json"),
            "r",
            NULL_GUID
        )?);
        Ok(())
    }

    #[test]
    fn helpers_are_found() {
        let doc = json!({"credsStore": "desktop", "credHelpers": {"r.test": "acrylic"}});
        assert_eq!(docker_helper(&doc, "r.test").as_deref(), Some("acrylic"));
        assert_eq!(docker_helper(&doc, "x.test").as_deref(), Some("desktop"));
        assert_eq!(docker_helper(&json!({}), "x"), None);
    }
}
