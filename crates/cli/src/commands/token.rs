//! `acrylic acr token create|update|list|show|delete` and `acrylic acr
//! token credential generate|delete` — az's `acr token` commands over the
//! ARM control plane (acr-auth.md §6.4, §6.7).
//!
//! - `create` PUTs the token with its scope map — `--scope-map S`, or
//!   `--repository REPO ACTION…`, which first creates the scope map
//!   `<token>-scope-map` described `Created by token: <token>` as az does —
//!   then, unless `--no-passwords`, asks `generateCredentials` for both
//!   passwords and prints them with the token. They are shown this once:
//!   the server keeps only hashes.
//! - `credential generate` replaces one password (`--password1`,
//!   `--password2`) or both, with an optional expiry (`--expiration-in-days
//!   N` or `--expiration DATE`); `credential delete` PATCHes the token
//!   listing only the passwords that survive (az's way).
//! - Output is az's shape: the ARM resource with `properties` flattened and
//!   `resourceGroup` from the id; every password entry carries `value`
//!   (null except right after generation). Passwords that expire within 30
//!   days are warned about on stderr whenever a token is shown.

use anyhow::{Context as _, Result};
use reqwest::Method;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time};

use super::acr;
use super::scope_map::{self, RegistryRef};
use super::{Context, Session};
use crate::client::CliError;
use crate::output::{Column, Output, col, computed};

/// How far ahead an expiry is warned about.
const WARN_WITHIN_DAYS: i64 = 30;

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Create a token and print its passwords (shown only this once).
    Create {
        #[command(flatten)]
        reg: RegistryRef,
        /// The token's name, its username at the registry (5–50 letters,
        /// digits and '-').
        #[arg(short, long)]
        name: String,
        /// The scope map that says what the token may do.
        #[arg(
            long,
            conflicts_with = "repository",
            required_unless_present = "repository"
        )]
        scope_map: Option<String>,
        /// A repository and its actions (content/read, content/write,
        /// content/delete, metadata/read, metadata/write), repeatable:
        /// creates the scope map `<name>-scope-map`.
        #[arg(long = "repository", num_args = 2.., value_names = ["REPOSITORY", "ACTIONS"], action = clap::ArgAction::Append)]
        repository: Vec<String>,
        #[arg(long, value_enum)]
        status: Option<Status>,
        #[command(flatten)]
        expiration: Expiration,
        /// Create the token without passwords (generate them later with
        /// `acrylic acr token credential generate`).
        #[arg(long, conflicts_with_all = ["expiration_in_days", "expiration"])]
        no_passwords: bool,
    },
    /// Change a token's status or scope map.
    Update {
        #[command(flatten)]
        reg: RegistryRef,
        #[arg(short, long)]
        name: String,
        #[arg(long, value_enum)]
        status: Option<Status>,
        #[arg(long)]
        scope_map: Option<String>,
    },
    /// List the registry's tokens.
    List {
        #[command(flatten)]
        reg: RegistryRef,
    },
    /// Show a token (never its password values).
    Show {
        #[command(flatten)]
        reg: RegistryRef,
        #[arg(short, long)]
        name: String,
    },
    /// Delete a token: its passwords stop working at once.
    Delete {
        #[command(flatten)]
        reg: RegistryRef,
        #[arg(short, long)]
        name: String,
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        yes: bool,
    },
    /// Generate or delete a token's passwords.
    Credential {
        #[command(subcommand)]
        command: CredentialCommand,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum CredentialCommand {
    /// Generate new values for password1, password2, or (by default) both.
    Generate {
        #[command(flatten)]
        reg: RegistryRef,
        #[arg(short, long)]
        name: String,
        #[command(flatten)]
        which: WhichPassword,
        #[command(flatten)]
        expiration: Expiration,
    },
    /// Delete password1 and/or password2.
    Delete {
        #[command(flatten)]
        reg: RegistryRef,
        #[arg(short, long)]
        name: String,
        #[command(flatten)]
        which: WhichPassword,
    },
}

#[derive(Debug, Clone, Copy, clap::Args)]
pub struct WhichPassword {
    /// password1.
    #[arg(long)]
    password1: bool,
    /// password2.
    #[arg(long)]
    password2: bool,
}

impl WhichPassword {
    fn names(self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.password1 {
            v.push("password1");
        }
        if self.password2 {
            v.push("password2");
        }
        v
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct Expiration {
    /// The passwords expire this many days from now.
    #[arg(long, conflicts_with = "expiration")]
    expiration_in_days: Option<u32>,
    /// The passwords expire at this time: RFC 3339 (`2027-01-31T12:00:00Z`)
    /// or a date (`2027-01-31`, midnight UTC).
    #[arg(long)]
    expiration: Option<String>,
}

impl Expiration {
    /// The expiry to send, RFC 3339, if any.
    fn expiry(&self, now: OffsetDateTime) -> Result<Option<String>> {
        let at = match (&self.expiration_in_days, &self.expiration) {
            (Some(days), _) => {
                if *days == 0 {
                    return Err(
                        CliError::Usage("--expiration-in-days must be at least 1".into()).into(),
                    );
                }
                now + Duration::days(i64::from(*days))
            }
            (None, Some(text)) => parse_expiration(text)?,
            (None, None) => return Ok(None),
        };
        Ok(Some(at.format(&Rfc3339).context("formatting the expiry")?))
    }
}

/// RFC 3339, `YYYY-MM-DDTHH:MM:SS` (UTC) or `YYYY-MM-DD` (midnight UTC).
pub fn parse_expiration(text: &str) -> Result<OffsetDateTime> {
    let t = text.trim();
    if let Ok(at) = OffsetDateTime::parse(t, &Rfc3339) {
        return Ok(at);
    }
    let date_fmt = time::macros::format_description!("[year]-[month]-[day]");
    let datetime_fmt =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    if let Ok(at) = PrimitiveDateTime::parse(t, &datetime_fmt) {
        return Ok(at.assume_utc());
    }
    if let Ok(d) = Date::parse(t, &date_fmt) {
        return Ok(PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_utc());
    }
    Err(CliError::Usage(format!(
        "--expiration {t:?}: use an RFC 3339 time (2027-01-31T12:00:00Z) or a date (2027-01-31)"
    ))
    .into())
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Status {
    #[value(name = "enabled")]
    Enabled,
    #[value(name = "disabled")]
    Disabled,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Enabled => "enabled",
            Status::Disabled => "disabled",
        }
    }
}

pub async fn run(ctx: &Context, cmd: TokenCommand) -> Result<Option<Output>> {
    let s = ctx.session()?;
    match cmd {
        TokenCommand::Create {
            reg,
            name,
            scope_map,
            repository,
            status,
            expiration,
            no_passwords,
        } => {
            create(
                &s,
                &reg,
                &name,
                scope_map,
                &repository,
                status,
                &expiration,
                no_passwords,
            )
            .await
        }
        TokenCommand::Update {
            reg,
            name,
            status,
            scope_map,
        } => {
            if status.is_none() && scope_map.is_none() {
                return Err(CliError::Usage(
                    "nothing to update: pass --status enabled|disabled or --scope-map".into(),
                )
                .into());
            }
            let registry = reg.path(&s).await?;
            let mut props = serde_json::Map::new();
            if let Some(st) = status {
                props.insert("status".into(), Value::from(st.as_str()));
            }
            if let Some(m) = scope_map {
                props.insert(
                    "scopeMapId".into(),
                    Value::String(format!("{registry}/scopeMaps/{m}")),
                );
            }
            let v = s
                .arm(
                    Method::PATCH,
                    &format!("{registry}/tokens/{name}"),
                    Some(&json!({ "properties": props })),
                )
                .await?
                .unwrap_or(Value::Null);
            Ok(Some(Output::new(flatten(v), columns())))
        }
        TokenCommand::List { reg } => {
            let path = format!("{}/tokens", reg.path(&s).await?);
            let v = s
                .arm(Method::GET, &path, None)
                .await?
                .unwrap_or(Value::Null);
            let list = scope_map::list(v, flatten);
            if let Value::Array(items) = &list {
                for t in items {
                    warn_expiring(t, &reg.registry);
                }
            }
            Ok(Some(Output::new(list, columns())))
        }
        TokenCommand::Show { reg, name } => {
            let path = format!("{}/tokens/{name}", reg.path(&s).await?);
            let v = flatten(
                s.arm(Method::GET, &path, None)
                    .await?
                    .unwrap_or(Value::Null),
            );
            warn_expiring(&v, &reg.registry);
            Ok(Some(Output::new(v, columns())))
        }
        TokenCommand::Delete { reg, name, yes } => {
            if !yes {
                acr::confirm(&format!(
                    "Are you sure you want to delete the token '{name}'? Its passwords stop working at once."
                ))?;
            }
            let path = format!("{}/tokens/{name}", reg.path(&s).await?);
            s.arm(Method::DELETE, &path, None).await?;
            Ok(None)
        }
        TokenCommand::Credential {
            command:
                CredentialCommand::Generate {
                    reg,
                    name,
                    which,
                    expiration,
                },
        } => {
            let registry = reg.path(&s).await?;
            let names = which.names();
            let name_arg = match names.as_slice() {
                [one] => Some(*one),
                _ => None,
            };
            let v = generate(
                &s,
                &registry,
                &name,
                name_arg,
                expiration.expiry(OffsetDateTime::now_utc())?,
            )
            .await?;
            eprintln!(
                "WARNING: Please store your generated credentials safely: they cannot be shown again."
            );
            Ok(Some(Output::new(v, credential_columns())))
        }
        TokenCommand::Credential {
            command: CredentialCommand::Delete { reg, name, which },
        } => {
            let delete = which.names();
            if delete.is_empty() {
                return Err(CliError::Usage(
                    "pass --password1 and/or --password2: the passwords to delete".into(),
                )
                .into());
            }
            let path = format!("{}/tokens/{name}", reg.path(&s).await?);
            let current = s
                .arm(Method::GET, &path, None)
                .await?
                .unwrap_or(Value::Null);
            // ARM deletes the passwords a PATCH does not list.
            let keep: Vec<Value> = current
                .pointer("/properties/credentials/passwords")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| p.get("name").and_then(Value::as_str))
                .filter(|n| !delete.contains(n))
                .map(|n| json!({ "name": n }))
                .collect();
            let body = json!({"properties": {"credentials": {"passwords": keep}}});
            let v = s
                .arm(Method::PATCH, &path, Some(&body))
                .await?
                .unwrap_or(Value::Null);
            Ok(Some(Output::new(flatten(v), columns())))
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn create(
    s: &Session,
    reg: &RegistryRef,
    name: &str,
    scope_map: Option<String>,
    repository: &[String],
    status: Option<Status>,
    expiration: &Expiration,
    no_passwords: bool,
) -> Result<Option<Output>> {
    // Checked before anything is created.
    let expiry = expiration.expiry(OffsetDateTime::now_utc())?;
    let registry = reg.path(s).await?;
    let map = match scope_map {
        Some(m) => m,
        None => {
            let actions = scope_map::actions_of(repository)?;
            let default = format!("{name}-scope-map");
            if default.len() > 50 {
                return Err(CliError::Usage(format!(
                    "the scope map '{default}' that --repository would create is longer than 50 characters: \
                     use a shorter token name, or create a scope map and pass --scope-map"
                ))
                .into());
            }
            let exists = s
                .arm(
                    Method::GET,
                    &format!("{registry}/scopeMaps/{default}"),
                    None,
                )
                .await;
            match exists {
                Ok(_) => {
                    return Err(CliError::Usage(format!(
                        "the default scope map '{default}' already exists: pass --scope-map {default} to use it, \
                         or change it with `acrylic acr scope-map update`"
                    ))
                    .into());
                }
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(e),
            }
            scope_map::put(
                s,
                reg,
                &default,
                &actions,
                Some(&format!("Created by token: {name}")),
            )
            .await?;
            default
        }
    };
    let mut properties = json!({ "scopeMapId": format!("{registry}/scopeMaps/{map}") });
    if let (Some(st), Some(p)) = (status, properties.as_object_mut()) {
        p.insert("status".into(), Value::from(st.as_str()));
    }
    let token_path = format!("{registry}/tokens/{name}");
    let created = s
        .arm(
            Method::PUT,
            &token_path,
            Some(&json!({ "properties": properties })),
        )
        .await?
        .unwrap_or(Value::Null);
    let mut token = flatten(created);
    if no_passwords {
        return Ok(Some(Output::new(token, columns())));
    }
    let generated = generate(s, &registry, name, None, expiry).await?;
    if let Some(creds) = token.get_mut("credentials").and_then(Value::as_object_mut) {
        creds.insert(
            "passwords".into(),
            generated.get("passwords").cloned().unwrap_or(Value::Null),
        );
        creds.insert(
            "username".into(),
            generated.get("username").cloned().unwrap_or(Value::Null),
        );
    }
    let login_server = s
        .arm(Method::GET, &registry, None)
        .await
        .ok()
        .flatten()
        .and_then(|r| {
            r.pointer("/properties/loginServer")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| reg.registry.clone());
    eprintln!(
        "WARNING: Please store your generated credentials safely: they cannot be shown again. \
         Meanwhile you can use them through \"docker login {login_server} -u {name} -p <password1>\"."
    );
    Ok(Some(Output::new(token, columns())))
}

/// `POST …/generateCredentials` for one password or both.
async fn generate(
    s: &Session,
    registry: &str,
    token: &str,
    name: Option<&str>,
    expiry: Option<String>,
) -> Result<Value> {
    let mut body = json!({ "tokenId": format!("{registry}/tokens/{token}") });
    if let Some(o) = body.as_object_mut() {
        if let Some(n) = name {
            o.insert("name".into(), Value::from(n));
        }
        if let Some(e) = expiry {
            o.insert("expiry".into(), Value::String(e));
        }
    }
    Ok(s.arm(
        Method::POST,
        &format!("{registry}/generateCredentials"),
        Some(&body),
    )
    .await?
    .unwrap_or(Value::Null))
}

fn is_not_found(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<CliError>(),
        Some(CliError::Arm { status: 404, .. })
    )
}

/// A token as az prints it: flattened, each password with a `value`.
pub fn flatten(v: Value) -> Value {
    let mut t = scope_map::flatten_with(v, &[]);
    if let Some(passwords) = t
        .pointer_mut("/credentials/passwords")
        .and_then(Value::as_array_mut)
    {
        for p in passwords.iter_mut().filter_map(Value::as_object_mut) {
            p.entry("value").or_insert(Value::Null);
            p.entry("expiry").or_insert(Value::Null);
        }
    }
    t
}

/// Warns on stderr about a password that expired or expires within 30
/// days, naming the command that renews it.
fn warn_expiring(token: &Value, registry: &str) {
    let name = token
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let now = OffsetDateTime::now_utc();
    for p in token
        .pointer("/credentials/passwords")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(which), Some(expiry)) = (
            p.get("name").and_then(Value::as_str),
            p.get("expiry")
                .and_then(Value::as_str)
                .and_then(|e| OffsetDateTime::parse(e, &Rfc3339).ok()),
        ) else {
            continue;
        };
        let renew = format!(
            "acrylic acr token credential generate --name {name} --registry {registry} --{which}"
        );
        if expiry <= now {
            eprintln!(
                "WARNING: the {which} of token {name} expired at {}; renew it with `{renew}`",
                expiry.format(&Rfc3339).unwrap_or_default()
            );
        } else if expiry - now <= Duration::days(WARN_WITHIN_DAYS) {
            eprintln!(
                "WARNING: the {which} of token {name} expires at {} (in {} days); renew it with `{renew}`",
                expiry.format(&Rfc3339).unwrap_or_default(),
                (expiry - now).whole_days()
            );
        }
    }
}

/// The name of the scope map a token's `scopeMapId` names.
fn scope_map_name(row: &Value) -> String {
    row.get("scopeMapId")
        .and_then(Value::as_str)
        .and_then(|id| id.rsplit('/').next())
        .unwrap_or_default()
        .to_owned()
}

fn expiry_of(row: &Value, which: &str) -> String {
    row.pointer("/credentials/passwords")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(which))
        .map(|p| match p.get("expiry").and_then(Value::as_str) {
            Some(e) => e.to_owned(),
            None => "never".to_owned(),
        })
        .unwrap_or_default()
}

/// `az acr token list -o table` columns.
fn columns() -> Vec<Column> {
    vec![
        col("NAME", "name"),
        computed("SCOPE MAP", scope_map_name),
        computed("PASSWORD1 EXPIRY", |r| expiry_of(r, "password1")),
        computed("PASSWORD2 EXPIRY", |r| expiry_of(r, "password2")),
        col("STATUS", "status"),
        col("CREATION DATE", "creationDate"),
    ]
}

fn value_of(row: &Value, which: &str) -> String {
    row.get("passwords")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(which))
        .and_then(|p| p.get("value").and_then(Value::as_str))
        .unwrap_or_default()
        .to_owned()
}

/// `credential generate -o table` columns.
fn credential_columns() -> Vec<Column> {
    vec![
        col("USERNAME", "username"),
        computed("PASSWORD1", |r| value_of(r, "password1")),
        computed("PASSWORD2", |r| value_of(r, "password2")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expirations_parse() {
        let at = |s: &str| parse_expiration(s).ok().map(|t| t.unix_timestamp());
        assert_eq!(at("2027-01-31T12:00:00Z"), Some(1_801_396_800));
        assert_eq!(at("2027-01-31T12:00:00"), Some(1_801_396_800));
        assert_eq!(at("2027-01-31"), Some(1_801_353_600));
        assert_eq!(at("2027-01-31T13:00:00+01:00"), Some(1_801_396_800));
        assert!(parse_expiration("next week").is_err());
        let now = OffsetDateTime::now_utc();
        let e = Expiration {
            expiration_in_days: Some(30),
            expiration: None,
        };
        let got = e
            .expiry(now)
            .expect("valid")
            .and_then(|s| OffsetDateTime::parse(&s, &Rfc3339).ok());
        assert_eq!(got.map(|t| (t - now).whole_days()), Some(30));
        let zero = Expiration {
            expiration_in_days: Some(0),
            expiration: None,
        };
        assert!(zero.expiry(now).is_err());
    }

    #[test]
    fn tokens_flatten_with_password_values() {
        let arm = json!({
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r/tokens/t1",
            "name": "t1",
            "type": "Microsoft.ContainerRegistry/registries/tokens",
            "properties": {
                "scopeMapId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r/scopeMaps/_repositories_pull",
                "status": "enabled",
                "credentials": {"certificates": [], "passwords": [{"name": "password1", "creationTime": "2026-01-01T00:00:00Z"}]},
            },
        });
        let t = flatten(arm);
        assert_eq!(t["status"], "enabled");
        assert_eq!(t["resourceGroup"], "rg");
        assert_eq!(t["credentials"]["passwords"][0]["value"], Value::Null);
        assert_eq!(t["credentials"]["passwords"][0]["expiry"], Value::Null);
        assert_eq!(scope_map_name(&t), "_repositories_pull");
        assert_eq!(expiry_of(&t, "password1"), "never");
        assert_eq!(expiry_of(&t, "password2"), "");
    }
}
