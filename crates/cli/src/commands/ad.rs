//! `acrylic ad user …` and `acrylic ad group …` — az's `ad user`/`ad group`
//! commands over the directory's Graph-shaped API (`/v1.0/users`,
//! `/v1.0/groups`), with the sign-in's token. `ad app …` and `ad sp …`
//! (#4) are in [`super::ad_app`] and [`super::ad_sp`]. The server decides who may
//! do what (directory roles at scope `/`); its refusals name the missing
//! permission and are shown as they come.
//!
//! `--id` takes an object id or a UPN; `--group` an object id or a display
//! name (as az resolves it); `--member-id` an object id or a UPN.

use std::io::Read as _;

use anyhow::{Context as _, Result};
use reqwest::Method;
use serde_json::{Value, json};

use super::{Context, Session};
use crate::client::CliError;
use crate::output::{Column, Output, col};

#[derive(Debug, clap::Subcommand)]
pub enum AdCommand {
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage security groups and their members.
    Group {
        #[command(subcommand)]
        command: GroupCommand,
    },
    /// Manage application registrations.
    App {
        #[command(subcommand)]
        command: super::ad_app::AppCommand,
    },
    /// Manage service principals and their credentials.
    Sp {
        #[command(subcommand)]
        command: super::ad_sp::SpCommand,
    },
}

#[derive(Debug, clap::Args)]
pub struct PasswordArgs {
    /// The password (8+ characters, three of: lower-case, upper-case,
    /// digits, symbols).
    #[arg(long, conflicts_with = "password_stdin")]
    password: Option<String>,
    /// Read the password from stdin.
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Create {
        #[arg(long)]
        display_name: String,
        /// `name@<tenant domain>`.
        #[arg(long)]
        user_principal_name: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// Create the account disabled (`--account-enabled false`).
        #[arg(long, value_name = "true|false", default_value_t = true, action = clap::ArgAction::Set)]
        account_enabled: bool,
    },
    /// List users.
    List {
        /// Only the user with this UPN.
        #[arg(long)]
        upn: Option<String>,
        /// Only users whose display name starts with this.
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Show a user.
    Show {
        /// Object id or UPN.
        #[arg(long)]
        id: String,
    },
    /// Update a user's display name or enable/disable the account
    /// (disabling signs it out everywhere).
    Update {
        #[arg(long)]
        id: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long, value_name = "true|false")]
        account_enabled: Option<bool>,
    },
    /// Delete a user (its sessions and group memberships go with it).
    Delete {
        #[arg(long)]
        id: String,
    },
    /// Set a new password (generated and printed if none is given); signs
    /// the user out everywhere.
    ResetPassword {
        #[arg(long)]
        id: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Sign the user out everywhere: every refresh token and registry
    /// credential obtained through a sign-in stops working.
    RevokeSessions {
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum GroupCommand {
    /// Create a security group.
    Create {
        #[arg(long)]
        display_name: String,
        #[arg(long)]
        mail_nickname: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// List groups.
    List {
        /// Only groups whose display name starts with this.
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Show a group.
    Show {
        /// Object id or display name.
        #[arg(short, long)]
        group: String,
    },
    /// Delete a group.
    Delete {
        #[arg(short, long)]
        group: String,
    },
    /// Manage a group's members.
    Member {
        #[command(subcommand)]
        command: MemberCommand,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum MemberCommand {
    /// Add a user or group to a group.
    Add {
        #[arg(short, long)]
        group: String,
        /// Object id (or a user's UPN).
        #[arg(long)]
        member_id: String,
    },
    /// Remove a member from a group.
    Remove {
        #[arg(short, long)]
        group: String,
        #[arg(long)]
        member_id: String,
    },
    /// List a group's direct members.
    List {
        #[arg(short, long)]
        group: String,
    },
}

pub async fn run(ctx: &Context, cmd: AdCommand) -> Result<Option<Output>> {
    let s = ctx.session()?;
    match cmd {
        AdCommand::User { command } => user(&s, command).await,
        AdCommand::Group { command } => group(&s, command).await,
        AdCommand::App { command } => super::ad_app::run(&s, command).await,
        AdCommand::Sp { command } => super::ad_sp::run(&s, command).await,
    }
}

async fn user(s: &Session, cmd: UserCommand) -> Result<Option<Output>> {
    match cmd {
        UserCommand::Create {
            display_name,
            user_principal_name,
            password,
            account_enabled,
        } => {
            let password = read_password(password)?
                .ok_or_else(|| CliError::Usage("pass --password or --password-stdin".into()))?;
            let nickname = user_principal_name
                .split('@')
                .next()
                .unwrap_or_default()
                .to_owned();
            let body = json!({
                "accountEnabled": account_enabled,
                "displayName": display_name,
                "mailNickname": nickname,
                "userPrincipalName": user_principal_name,
                "passwordProfile": {"forceChangePasswordNextSignIn": false, "password": password},
            });
            let v = s
                .graph(Method::POST, "/v1.0/users", &[], Some(&body))
                .await?;
            Ok(Some(Output::new(clean(v), user_columns())))
        }
        UserCommand::List { upn, display_name } => {
            let filter = match (upn, display_name) {
                (Some(u), _) => Some(format!("userPrincipalName eq '{}'", quote(&u))),
                (None, Some(d)) => Some(format!("startswith(displayName,'{}')", quote(&d))),
                (None, None) => None,
            };
            let q: Vec<(&str, &str)> = filter.iter().map(|f| ("$filter", f.as_str())).collect();
            let v = s.graph(Method::GET, "/v1.0/users", &q, None).await?;
            Ok(Some(Output::new(values(v), user_columns())))
        }
        UserCommand::Show { id } => {
            let v = s.graph(Method::GET, &user_path(&id), &[], None).await?;
            Ok(Some(Output::new(clean(v), user_columns())))
        }
        UserCommand::Update {
            id,
            display_name,
            account_enabled,
        } => {
            let mut body = serde_json::Map::new();
            if let Some(d) = display_name {
                body.insert("displayName".into(), Value::from(d));
            }
            if let Some(e) = account_enabled {
                body.insert("accountEnabled".into(), Value::from(e));
            }
            if body.is_empty() {
                return Err(CliError::Usage(
                    "nothing to update: pass --display-name or --account-enabled true|false".into(),
                )
                .into());
            }
            s.graph(
                Method::PATCH,
                &user_path(&id),
                &[],
                Some(&Value::Object(body)),
            )
            .await?;
            Ok(None)
        }
        UserCommand::Delete { id } => {
            s.graph(Method::DELETE, &user_path(&id), &[], None).await?;
            Ok(None)
        }
        UserCommand::ResetPassword { id, password } => {
            let (password, generated) = match read_password(password)? {
                Some(p) => (p, false),
                None => (generate_password(), true),
            };
            let body = json!({"passwordProfile": {"forceChangePasswordNextSignIn": false, "password": password}});
            s.graph(Method::PATCH, &user_path(&id), &[], Some(&body))
                .await?;
            if generated {
                return Ok(Some(Output::new(
                    json!({"id": id, "password": password}),
                    vec![col("Id", "id"), col("Password", "password")],
                )));
            }
            Ok(None)
        }
        UserCommand::RevokeSessions { id } => {
            s.graph(
                Method::POST,
                &format!("{}/revokeSignInSessions", user_path(&id)),
                &[],
                None,
            )
            .await?;
            Ok(None)
        }
    }
}

async fn group(s: &Session, cmd: GroupCommand) -> Result<Option<Output>> {
    match cmd {
        GroupCommand::Create {
            display_name,
            mail_nickname,
            description,
        } => {
            let mut body = json!({
                "displayName": display_name,
                "mailNickname": mail_nickname,
                "mailEnabled": false,
                "securityEnabled": true,
            });
            if let (Some(d), Some(o)) = (description, body.as_object_mut()) {
                o.insert("description".into(), Value::from(d));
            }
            let v = s
                .graph(Method::POST, "/v1.0/groups", &[], Some(&body))
                .await?;
            Ok(Some(Output::new(clean(v), group_columns())))
        }
        GroupCommand::List { display_name } => {
            let filter = display_name.map(|d| format!("startswith(displayName,'{}')", quote(&d)));
            let q: Vec<(&str, &str)> = filter.iter().map(|f| ("$filter", f.as_str())).collect();
            let v = s.graph(Method::GET, "/v1.0/groups", &q, None).await?;
            Ok(Some(Output::new(values(v), group_columns())))
        }
        GroupCommand::Show { group } => {
            let id = group_id(s, &group).await?;
            let v = s
                .graph(Method::GET, &format!("/v1.0/groups/{id}"), &[], None)
                .await?;
            Ok(Some(Output::new(clean(v), group_columns())))
        }
        GroupCommand::Delete { group } => {
            let id = group_id(s, &group).await?;
            s.graph(Method::DELETE, &format!("/v1.0/groups/{id}"), &[], None)
                .await?;
            Ok(None)
        }
        GroupCommand::Member { command } => member(s, command).await,
    }
}

async fn member(s: &Session, cmd: MemberCommand) -> Result<Option<Output>> {
    match cmd {
        MemberCommand::Add { group, member_id } => {
            let id = group_id(s, &group).await?;
            let member = object_id(s, &member_id).await?;
            let body = json!({
                "@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{member}")
            });
            s.graph(
                Method::POST,
                &format!("/v1.0/groups/{id}/members/$ref"),
                &[],
                Some(&body),
            )
            .await?;
            Ok(None)
        }
        MemberCommand::Remove { group, member_id } => {
            let id = group_id(s, &group).await?;
            let member = object_id(s, &member_id).await?;
            s.graph(
                Method::DELETE,
                &format!("/v1.0/groups/{id}/members/{member}/$ref"),
                &[],
                None,
            )
            .await?;
            Ok(None)
        }
        MemberCommand::List { group } => {
            let id = group_id(s, &group).await?;
            let v = s
                .graph(
                    Method::GET,
                    &format!("/v1.0/groups/{id}/members"),
                    &[],
                    None,
                )
                .await?;
            Ok(Some(Output::new(
                values(v),
                vec![
                    col("DisplayName", "displayName"),
                    col("UserPrincipalName", "userPrincipalName"),
                    col("Type", "@odata.type"),
                    col("Id", "id"),
                ],
            )))
        }
    }
}

fn user_path(id: &str) -> String {
    // UPNs are safe in a path segment except for the characters a UPN's
    // local part may hold that URLs treat specially.
    let encoded: String = id
        .chars()
        .map(|c| match c {
            '#' => "%23".to_owned(),
            '?' => "%3F".to_owned(),
            '/' => "%2F".to_owned(),
            '%' => "%25".to_owned(),
            c => c.to_string(),
        })
        .collect();
    format!("/v1.0/users/{encoded}")
}

/// An object id as is; a UPN resolved to the user's id.
async fn object_id(s: &Session, id_or_upn: &str) -> Result<String> {
    if uuid::Uuid::parse_str(id_or_upn).is_ok() {
        return Ok(id_or_upn.to_owned());
    }
    let v = s
        .graph(Method::GET, &user_path(id_or_upn), &[], None)
        .await?
        .unwrap_or(Value::Null);
    v.get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .context("the user has no id")
}

/// A group's object id, from an id or its display name (exactly one
/// group must have it).
async fn group_id(s: &Session, group: &str) -> Result<String> {
    if uuid::Uuid::parse_str(group).is_ok() {
        return Ok(group.to_owned());
    }
    let filter = format!("displayName eq '{}'", quote(group));
    let v = s
        .graph(
            Method::GET,
            "/v1.0/groups",
            &[("$filter", filter.as_str())],
            None,
        )
        .await?
        .unwrap_or(Value::Null);
    let ids: Vec<String> = v
        .get("value")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|g| g.get("id").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    match ids.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(CliError::Usage(format!("no group is named '{group}'")).into()),
        _ => Err(CliError::Usage(format!(
            "{} groups are named '{group}': pass the object id with --group",
            ids.len()
        ))
        .into()),
    }
}

/// A value inside OData single quotes.
pub(super) fn quote(s: &str) -> String {
    s.replace('\'', "''")
}

/// A Graph entity without its `@odata.*` annotations (az prints them
/// stripped too).
pub(super) fn clean(v: Option<Value>) -> Value {
    let mut v = v.unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.retain(|k, _| !k.starts_with("@odata.context"));
    }
    v
}

/// The `value` array of a Graph collection.
pub(super) fn values(v: Option<Value>) -> Value {
    let list = v
        .and_then(|v| v.get("value").cloned())
        .unwrap_or_else(|| Value::Array(Vec::new()));
    match list {
        Value::Array(items) => Value::Array(items.into_iter().map(|i| clean(Some(i))).collect()),
        other => other,
    }
}

fn user_columns() -> Vec<Column> {
    vec![
        col("DisplayName", "displayName"),
        col("UserPrincipalName", "userPrincipalName"),
        col("AccountEnabled", "accountEnabled"),
        col("Id", "id"),
    ]
}

fn group_columns() -> Vec<Column> {
    vec![
        col("DisplayName", "displayName"),
        col("MailNickname", "mailNickname"),
        col("Id", "id"),
    ]
}

fn read_password(args: PasswordArgs) -> Result<Option<String>> {
    if let Some(p) = args.password {
        return Ok(Some(p));
    }
    if args.password_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading the password from stdin")?;
        return Ok(Some(s.trim_end_matches(['\r', '\n']).to_owned()));
    }
    Ok(None)
}

/// A random password meeting the directory's complexity rule: 122 random
/// bits (a UUIDv4) plus one character of each class.
fn generate_password() -> String {
    format!("Ac1-{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(quote("O'Brien"), "O''Brien");
        assert_eq!(user_path("a#b@c.d"), "/v1.0/users/a%23b@c.d");
        let p = generate_password();
        assert!(p.len() >= 16 && p.chars().any(|c| c.is_ascii_uppercase()));
        assert_ne!(p, generate_password());
        assert_eq!(
            clean(Some(
                json!({"@odata.context": "x", "@odata.type": "y", "id": "1"})
            )),
            json!({"@odata.type": "y", "id": "1"})
        );
        assert_eq!(
            values(Some(json!({"value": [{"@odata.context": "x", "id": "1"}]}))),
            json!([{"id": "1"}])
        );
    }
}
