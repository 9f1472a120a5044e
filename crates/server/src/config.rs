//! Configuration of `acrylic serve`: the flags, the layering and the typed
//! [`Config`] the composition root receives.
//!
//! One precedence, lowest first (STYLE §6, as lldap does it with figment):
//! built-in defaults → TOML file (`--config FILE` or `ACRYLIC_CONFIG`) →
//! `ACRYLIC_*` environment variables → command-line flags. Every key is
//! documented in `docs/configuration.md`. Unknown keys in the TOML file are
//! rejected; environment variables with the `ACRYLIC_` prefix that are not
//! configuration keys (`ACRYLIC_CONFIG_DIR`, the CLI's) are left alone.
//!
//! Parsed once at start-up into domain types (a `SocketAddr`, an absolute
//! data directory, a TLS mode); nothing reads configuration later.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Value};
use serde::{Deserialize, Serialize};

/// The default data directory (relative to the working directory).
pub const DEFAULT_DATA_DIR: &str = "./acrylic-data";
/// The default listener.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5000";
/// The default DNS suffix of registry login servers. `*.localhost` resolves to
/// loopback in most resolvers and browsers (RFC 6761 §6.3).
pub const DEFAULT_DOMAIN: &str = "acrylic.localhost";
/// Prefix of configuration environment variables.
pub const ENV_PREFIX: &str = "ACRYLIC_";
/// Environment variable naming the TOML file (same as `--config`).
pub const ENV_CONFIG_FILE: &str = "ACRYLIC_CONFIG";

/// `acrylic serve` arguments. Every flag is optional: an absent flag leaves
/// the value of the lower layers (TOML file, environment, defaults).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// TOML configuration file [env: ACRYLIC_CONFIG].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory: metadata database, blobs, TLS material, master key
    /// [env: ACRYLIC_DATA_DIR] [default: ./acrylic-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on, IP:PORT [env: ACRYLIC_LISTEN] [default: 127.0.0.1:5000].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// DNS suffix of registry login servers, `<registry>.<domain>`
    /// [env: ACRYLIC_DOMAIN] [default: acrylic.localhost].
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,
    /// PEM certificate chain to serve instead of the generated one
    /// [env: ACRYLIC_TLS_CERT].
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert [env: ACRYLIC_TLS_KEY].
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP (no TLS). Registry clients and Azure SDKs refuse it
    /// outside loopback [env: ACRYLIC_INSECURE_HTTP].
    #[arg(long)]
    pub insecure_http: bool,
    /// PostgreSQL URL (postgres://…) instead of the embedded SQLite database
    /// [env: ACRYLIC_DATABASE_URL].
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Log format [env: ACRYLIC_LOG_FORMAT] [default: text].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `acrylic_server=debug,info`
    /// [env: ACRYLIC_LOG_LEVEL] [default: info].
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// An extra listener, IP:PORT, serving the same app over the same TLS
    /// — e.g. `127.0.0.1:443` for MSAL's user-realm probe, which always
    /// goes to port 443 [env: ACRYLIC_USERREALM_LISTEN].
    #[arg(long, value_name = "ADDR")]
    pub userrealm_listen: Option<String>,
}

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// How the listener speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// A local CA and a server certificate generated in `<data-dir>/tls`.
    Generated,
    /// Certificates supplied by the operator.
    Files { cert: PathBuf, key: PathBuf },
    /// Plain HTTP (`insecure_http`).
    Off,
}

/// A database URL. Its `Debug`/`Display` hide the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }
    /// The URL with its password, for the store only.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// The URL with any password replaced by `***`, for logs.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.0) {
            Ok(mut u) if u.password().is_some() => {
                // set_password fails only for URLs that cannot have one,
                // which a URL with a password is not.
                let _ = u.set_password(Some("***"));
                u.to_string()
            }
            Ok(_) => self.0.clone(),
            // Unparseable: show nothing that could be a secret.
            Err(_) => "<unparseable database url>".into(),
        }
    }
    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres://") || self.0.starts_with("postgresql://")
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// The parsed configuration of `acrylic serve`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Absolute data directory.
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// DNS suffix of registry login servers (lowercase).
    pub domain: String,
    pub tls: Tls,
    /// `None`: SQLite at `<data_dir>/meta.db`.
    pub database_url: Option<DatabaseUrl>,
    pub log_format: LogFormat,
    pub log_level: String,
    /// Where the first start writes the CLI profile (`acrylic serve` uses
    /// `$ACRYLIC_CONFIG_DIR/profile.json` or `~/.acrylic/profile.json`);
    /// `None` writes none. Not a configuration key: it belongs to the user
    /// running the CLI, not to the server's configuration.
    pub profile: Option<PathBuf>,
    /// An extra listener serving the same app with the same TLS, for
    /// MSAL's user-realm probe on port 443 (clients.md "The directory").
    pub userrealm_listen: Option<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("configuration: {0}")]
    Layers(Box<figment::Error>),
    #[error("configuration key `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The keys, exactly as they appear in the TOML file; the environment
/// variable is `ACRYLIC_` + the key in upper case.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Keys {
    data_dir: PathBuf,
    listen: String,
    domain: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tls_cert: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tls_key: Option<PathBuf>,
    insecure_http: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    database_url: Option<String>,
    /// A file holding the database URL (secrets accept a value or a file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    database_url_file: Option<PathBuf>,
    log_format: LogFormat,
    log_level: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    userrealm_listen: Option<String>,
}

/// Keys read from the environment; `insecure_http` is the only non-string.
const KEYS: &[&str] = &[
    "data_dir",
    "listen",
    "domain",
    "tls_cert",
    "tls_key",
    "insecure_http",
    "database_url",
    "database_url_file",
    "log_format",
    "log_level",
    "userrealm_listen",
];

impl Default for Keys {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            listen: DEFAULT_LISTEN.into(),
            domain: DEFAULT_DOMAIN.into(),
            tls_cert: None,
            tls_key: None,
            insecure_http: false,
            database_url: None,
            database_url_file: None,
            log_format: LogFormat::Text,
            log_level: "info".into(),
            userrealm_listen: None,
        }
    }
}

impl Config {
    /// Defaults with the given data directory: generated TLS, SQLite.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        Self {
            data_dir: std::path::absolute(&data_dir).unwrap_or(data_dir),
            listen: SocketAddr::from(([127, 0, 0, 1], 5000)),
            domain: DEFAULT_DOMAIN.into(),
            tls: Tls::Generated,
            database_url: None,
            log_format: LogFormat::Text,
            log_level: "info".into(),
            profile: None,
            userrealm_listen: None,
        }
    }

    /// Layers defaults, the TOML file, the process environment and `args`.
    pub fn load(args: &ServeArgs) -> Result<Self, ConfigError> {
        Self::load_from(args, std::env::vars())
    }

    /// [`Config::load`] with an explicit environment (for tests: the process
    /// environment is shared by every test thread).
    pub fn load_from(
        args: &ServeArgs,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = env.into_iter().collect();
        let file = args.config.clone().or_else(|| {
            env.iter()
                .find(|(k, _)| k == ENV_CONFIG_FILE)
                .map(|(_, v)| PathBuf::from(v))
        });
        let mut figment = Figment::from(Serialized::defaults(Keys::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError::MissingFile(file));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment
            .merge(Serialized::defaults(env_layer(env)))
            .merge(Serialized::defaults(flag_layer(args)));
        let keys: Keys = figment
            .extract()
            .map_err(|e| ConfigError::Layers(Box::new(e)))?;
        Self::from_keys(keys)
    }

    fn from_keys(k: Keys) -> Result<Self, ConfigError> {
        let listen: SocketAddr = k.listen.parse().map_err(|_| ConfigError::Invalid {
            key: "listen",
            reason: format!(
                "`{}` is not IP:PORT (e.g. 127.0.0.1:5000 or [::]:443)",
                k.listen
            ),
        })?;
        let domain = validate_domain(&k.domain)?;
        let userrealm_listen = match &k.userrealm_listen {
            Some(a) if !a.is_empty() => {
                Some(a.parse::<SocketAddr>().map_err(|_| ConfigError::Invalid {
                    key: "userrealm_listen",
                    reason: format!("`{a}` is not IP:PORT (e.g. 127.0.0.1:443)"),
                })?)
            }
            _ => None,
        };
        let tls = match (k.insecure_http, k.tls_cert, k.tls_key) {
            (true, None, None) => Tls::Off,
            (true, _, _) => {
                return Err(ConfigError::Invalid {
                    key: "insecure_http",
                    reason: "cannot be combined with tls_cert/tls_key".into(),
                });
            }
            (false, Some(cert), Some(key)) => Tls::Files {
                cert: absolute(cert),
                key: absolute(key),
            },
            (false, None, None) => Tls::Generated,
            (false, Some(_), None) => {
                return Err(ConfigError::Invalid {
                    key: "tls_key",
                    reason: "tls_cert is set, so tls_key must be too".into(),
                });
            }
            (false, None, Some(_)) => {
                return Err(ConfigError::Invalid {
                    key: "tls_cert",
                    reason: "tls_key is set, so tls_cert must be too".into(),
                });
            }
        };
        let database_url = match (k.database_url, k.database_url_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid {
                    key: "database_url_file",
                    reason: "set database_url or database_url_file, not both".into(),
                });
            }
            (Some(url), None) => Some(url),
            (None, Some(path)) => Some(
                std::fs::read_to_string(&path)
                    .map_err(|source| ConfigError::Io { path, source })?
                    .trim()
                    .to_owned(),
            ),
            (None, None) => None,
        };
        let database_url = database_url.filter(|u| !u.is_empty()).map(DatabaseUrl::new);
        if let Some(url) = &database_url
            && !url.is_postgres()
            && !url.expose().starts_with("sqlite:")
        {
            return Err(ConfigError::Invalid {
                key: "database_url",
                reason: format!("`{url}` is neither postgres://… nor sqlite:…"),
            });
        }
        Ok(Self {
            data_dir: absolute(k.data_dir),
            listen,
            domain,
            tls,
            database_url,
            log_format: k.log_format,
            log_level: k.log_level,
            profile: None,
            userrealm_listen,
        })
    }

    /// The metadata database: the configured URL, or SQLite in the data
    /// directory (created if missing).
    pub fn database(&self) -> DatabaseUrl {
        match &self.database_url {
            Some(u) => u.clone(),
            None => DatabaseUrl::new(format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("meta.db").display()
            )),
        }
    }

    /// Whether plain HTTP is served on a non-loopback address (worth a loud
    /// warning: credentials travel in clear text).
    pub fn is_exposed_plain_http(&self) -> bool {
        self.tls == Tls::Off && !self.listen.ip().is_loopback()
    }
}

fn absolute(p: PathBuf) -> PathBuf {
    std::path::absolute(&p).unwrap_or(p)
}

fn validate_domain(d: &str) -> Result<String, ConfigError> {
    let d = d.trim_end_matches('.').to_ascii_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if ok {
        Ok(d)
    } else {
        Err(ConfigError::Invalid {
            key: "domain",
            reason: format!("`{d}` is not a DNS name (letters, digits and '-', dot-separated)"),
        })
    }
}

/// `ACRYLIC_<KEY>` variables for known keys. Strings stay strings (so
/// `[::1]:5000` is not read as an array); `insecure_http` is parsed as a
/// value so `true`/`false` work.
fn env_layer(env: Vec<(String, String)>) -> Dict {
    let mut dict = Dict::new();
    for (k, v) in env {
        let Some(key) = k.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let key = key.to_ascii_lowercase();
        if !KEYS.contains(&key.as_str()) {
            continue;
        }
        let value = if key == "insecure_http" {
            v.parse::<Value>().unwrap_or_else(|never| match never {})
        } else {
            Value::from(v)
        };
        dict.insert(key, value);
    }
    dict
}

/// The flags given on the command line, and only those.
fn flag_layer(a: &ServeArgs) -> Dict {
    let mut dict = Dict::new();
    let path = |p: &Path| Value::from(p.to_string_lossy().into_owned());
    if let Some(v) = &a.data_dir {
        dict.insert("data_dir".into(), path(v));
    }
    if let Some(v) = &a.listen {
        dict.insert("listen".into(), Value::from(v.clone()));
    }
    if let Some(v) = &a.domain {
        dict.insert("domain".into(), Value::from(v.clone()));
    }
    if let Some(v) = &a.tls_cert {
        dict.insert("tls_cert".into(), path(v));
    }
    if let Some(v) = &a.tls_key {
        dict.insert("tls_key".into(), path(v));
    }
    if a.insecure_http {
        dict.insert("insecure_http".into(), Value::from(true));
    }
    if let Some(v) = &a.database_url {
        dict.insert("database_url".into(), Value::from(v.clone()));
    }
    if let Some(v) = a.log_format {
        let s = match v {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        };
        dict.insert("log_format".into(), Value::from(s));
    }
    if let Some(v) = &a.log_level {
        dict.insert("log_level".into(), Value::from(v.clone()));
    }
    if let Some(v) = &a.userrealm_listen {
        dict.insert("userrealm_listen".into(), Value::from(v.clone()));
    }
    dict
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn toml(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("acrylic.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn defaults_apply_without_any_layer() {
        let c = Config::load_from(&ServeArgs::default(), env(&[])).unwrap();
        assert_eq!(c.listen, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(c.domain, "acrylic.localhost");
        assert_eq!(c.tls, Tls::Generated);
        assert!(c.data_dir.is_absolute() && c.data_dir.ends_with("acrylic-data"));
        assert_eq!(c.log_format, LogFormat::Text);
        assert!(c.database().expose().starts_with("sqlite://"));
        assert!(c.database().expose().contains("meta.db"));
    }

    #[test]
    fn precedence_is_toml_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = toml(
            dir.path(),
            "listen = \"127.0.0.1:6001\"\ndomain = \"from-toml.test\"\nlog_level = \"debug\"\nlog_format = \"json\"\n",
        );
        let args = ServeArgs {
            config: Some(file.clone()),
            ..Default::default()
        };
        // TOML alone beats the defaults.
        let c = Config::load_from(&args, env(&[])).unwrap();
        assert_eq!(c.listen.port(), 6001);
        assert_eq!(c.domain, "from-toml.test");
        assert_eq!(c.log_format, LogFormat::Json);

        // The environment beats TOML, key by key.
        let e = env(&[
            ("ACRYLIC_LISTEN", "127.0.0.1:6002"),
            ("ACRYLIC_DOMAIN", "from-env.test"),
        ]);
        let c = Config::load_from(&args, e.clone()).unwrap();
        assert_eq!(c.listen.port(), 6002);
        assert_eq!(c.domain, "from-env.test");
        assert_eq!(
            c.log_level, "debug",
            "keys not in the environment keep the TOML value"
        );

        // A flag beats the environment.
        let args = ServeArgs {
            listen: Some("127.0.0.1:6003".into()),
            ..args
        };
        let c = Config::load_from(&args, e).unwrap();
        assert_eq!(c.listen.port(), 6003);
        assert_eq!(c.domain, "from-env.test");
    }

    #[test]
    fn config_file_can_come_from_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = toml(dir.path(), "domain = \"via-env-file.test\"\n");
        let c = Config::load_from(
            &ServeArgs::default(),
            env(&[("ACRYLIC_CONFIG", file.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(c.domain, "via-env-file.test");
    }

    #[test]
    fn unknown_toml_keys_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let file = toml(dir.path(), "listne = \"127.0.0.1:1\"\n");
        let args = ServeArgs {
            config: Some(file),
            ..Default::default()
        };
        let err = Config::load_from(&args, env(&[])).unwrap_err().to_string();
        assert!(err.contains("listne"), "{err}");
    }

    #[test]
    fn unrelated_acrylic_variables_are_ignored() {
        let c = Config::load_from(
            &ServeArgs::default(),
            env(&[("ACRYLIC_CONFIG_DIR", "/x"), ("ACRYLIC_SOMETHING", "y")]),
        )
        .unwrap();
        assert_eq!(c.domain, DEFAULT_DOMAIN);
    }

    #[test]
    fn missing_config_file_is_an_error() {
        let args = ServeArgs {
            config: Some("/nonexistent/acrylic.toml".into()),
            ..Default::default()
        };
        assert!(matches!(
            Config::load_from(&args, env(&[])),
            Err(ConfigError::MissingFile(_))
        ));
    }

    #[test]
    fn tls_modes_and_conflicts() {
        let c = Config::load_from(
            &ServeArgs::default(),
            env(&[("ACRYLIC_INSECURE_HTTP", "true")]),
        )
        .unwrap();
        assert_eq!(c.tls, Tls::Off);
        assert!(!c.is_exposed_plain_http());

        let c = Config::load_from(
            &ServeArgs {
                insecure_http: true,
                listen: Some("0.0.0.0:5000".into()),
                ..Default::default()
            },
            env(&[]),
        )
        .unwrap();
        assert!(c.is_exposed_plain_http());

        let c = Config::load_from(
            &ServeArgs::default(),
            env(&[
                ("ACRYLIC_TLS_CERT", "/c.pem"),
                ("ACRYLIC_TLS_KEY", "/k.pem"),
            ]),
        )
        .unwrap();
        assert_eq!(
            c.tls,
            Tls::Files {
                cert: "/c.pem".into(),
                key: "/k.pem".into()
            }
        );

        let only_cert = Config::load_from(
            &ServeArgs::default(),
            env(&[("ACRYLIC_TLS_CERT", "/c.pem")]),
        );
        assert!(matches!(
            only_cert,
            Err(ConfigError::Invalid { key: "tls_key", .. })
        ));
        let both = Config::load_from(
            &ServeArgs {
                insecure_http: true,
                ..Default::default()
            },
            env(&[
                ("ACRYLIC_TLS_CERT", "/c.pem"),
                ("ACRYLIC_TLS_KEY", "/k.pem"),
            ]),
        );
        assert!(matches!(
            both,
            Err(ConfigError::Invalid {
                key: "insecure_http",
                ..
            })
        ));
    }

    #[test]
    fn invalid_values_name_the_key() {
        let bad_listen = Config::load_from(
            &ServeArgs::default(),
            env(&[("ACRYLIC_LISTEN", "localhost")]),
        );
        assert!(matches!(
            bad_listen,
            Err(ConfigError::Invalid { key: "listen", .. })
        ));
        let bad_domain = Config::load_from(
            &ServeArgs::default(),
            env(&[("ACRYLIC_DOMAIN", "a_b.test")]),
        );
        assert!(matches!(
            bad_domain,
            Err(ConfigError::Invalid { key: "domain", .. })
        ));
        let bad_db = Config::load_from(
            &ServeArgs::default(),
            env(&[("ACRYLIC_DATABASE_URL", "mysql://x")]),
        );
        assert!(matches!(
            bad_db,
            Err(ConfigError::Invalid {
                key: "database_url",
                ..
            })
        ));
    }

    #[test]
    fn userrealm_listener_is_optional_and_validated() {
        let c = Config::load_from(&ServeArgs::default(), env(&[])).unwrap();
        assert_eq!(c.userrealm_listen, None);
        let c = Config::load_from(
            &ServeArgs::default(),
            env(&[("ACRYLIC_USERREALM_LISTEN", "127.0.0.1:443")]),
        )
        .unwrap();
        assert_eq!(c.userrealm_listen, Some("127.0.0.1:443".parse().unwrap()));
        let c = Config::load_from(
            &ServeArgs {
                userrealm_listen: Some("[::1]:8443".into()),
                ..Default::default()
            },
            env(&[("ACRYLIC_USERREALM_LISTEN", "127.0.0.1:443")]),
        )
        .unwrap();
        assert_eq!(c.userrealm_listen, Some("[::1]:8443".parse().unwrap()));
        let bad = Config::load_from(
            &ServeArgs::default(),
            env(&[("ACRYLIC_USERREALM_LISTEN", "localhost:443")]),
        );
        assert!(matches!(
            bad,
            Err(ConfigError::Invalid {
                key: "userrealm_listen",
                ..
            })
        ));
    }

    #[test]
    fn ipv6_listen_from_env_stays_a_string() {
        let c = Config::load_from(
            &ServeArgs::default(),
            env(&[("ACRYLIC_LISTEN", "[::1]:5001")]),
        )
        .unwrap();
        assert_eq!(c.listen, "[::1]:5001".parse().unwrap());
    }

    #[test]
    fn database_password_is_redacted_in_debug() {
        let dir = tempfile::tempdir().unwrap();
        let secret_file = dir.path().join("db-url");
        std::fs::write(
            &secret_file,
            "postgres://acr:s3cr3t-pw@db.example:5432/registry\n",
        )
        .unwrap();
        let c = Config::load_from(
            &ServeArgs::default(),
            env(&[("ACRYLIC_DATABASE_URL_FILE", secret_file.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(
            c.database().expose(),
            "postgres://acr:s3cr3t-pw@db.example:5432/registry"
        );
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cr3t-pw"), "{debug}");
        assert!(debug.contains("db.example"), "{debug}");
    }
}
