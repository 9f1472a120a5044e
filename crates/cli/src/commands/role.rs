//! `acrylic role assignment …` and `acrylic role definition …` — az's
//! `role` commands over the control plane's `Microsoft.Authorization`
//! endpoints (spec §6.7). The server decides who may assign or define
//! roles; its refusals (naming the missing permission and the scope) are
//! shown as they come.
//!
//! `--assignee` takes an object id, a UPN (resolved through the
//! directory's `/v1.0/users/{upn}`) or a group's display name; `--role` a
//! role name (resolved with `$filter=roleName eq '…'` at the scope, as az
//! does) or a role definition id. `--scope` defaults to the profile's
//! subscription; `--resource-group` means that group.

use std::io::Read as _;

use anyhow::{Context as _, Result};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{Context, Session};
use crate::client::CliError;
use crate::output::{Column, Output, col};

/// The `Microsoft.Authorization` api-version az uses for role assignments
/// with conditions.
const API_VERSION: &str = "2022-04-01";
const AUTHZ: &str = "providers/Microsoft.Authorization";

#[derive(Debug, clap::Subcommand)]
pub enum RoleCommand {
    /// Manage role assignments.
    Assignment {
        #[command(subcommand)]
        command: AssignmentCommand,
    },
    /// Manage role definitions.
    Definition {
        #[command(subcommand)]
        command: DefinitionCommand,
    },
}

#[derive(Debug, clap::Args)]
pub struct ScopeArgs {
    /// Scope: `/`, `/subscriptions/{sub}`, a resource group's id or a
    /// registry's id (default: the profile's subscription).
    #[arg(long)]
    scope: Option<String>,
    /// A resource group of the profile's subscription, as the scope.
    #[arg(short = 'g', long, conflicts_with = "scope")]
    resource_group: Option<String>,
}

/// az spells these `User`, `Group`, `ServicePrincipal`; the kebab-case
/// forms are accepted too.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PrincipalType {
    #[value(name = "User", alias = "user")]
    User,
    #[value(name = "Group", alias = "group")]
    Group,
    #[value(name = "ServicePrincipal", alias = "service-principal")]
    ServicePrincipal,
}

impl PrincipalType {
    fn as_str(self) -> &'static str {
        match self {
            PrincipalType::User => "User",
            PrincipalType::Group => "Group",
            PrincipalType::ServicePrincipal => "ServicePrincipal",
        }
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum AssignmentCommand {
    /// Assign a role to a user, group or service principal at a scope.
    Create {
        /// The object id, UPN or group name to assign the role to.
        #[arg(long)]
        assignee: String,
        /// The principal's kind, when the directory cannot tell (service
        /// principals).
        #[arg(long, value_enum)]
        assignee_principal_type: Option<PrincipalType>,
        /// Role name (e.g. AcrPull) or role definition id.
        #[arg(long)]
        role: String,
        #[command(flatten)]
        scope: ScopeArgs,
        /// ABAC condition on the repository name (registries in
        /// "RBAC Registry + ABAC Repository Permissions" mode).
        #[arg(long)]
        condition: Option<String>,
        /// Condition language version; only 2.0.
        #[arg(long, requires = "condition")]
        condition_version: Option<String>,
    },
    /// List role assignments (at the scope; `--all` adds those below it,
    /// `--include-inherited` those above).
    List {
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long)]
        role: Option<String>,
        #[command(flatten)]
        scope: ScopeArgs,
        /// Every assignment at, above or below the scope.
        #[arg(long)]
        all: bool,
        /// Also assignments above the scope.
        #[arg(long)]
        include_inherited: bool,
    },
    /// Delete role assignments, by id or by assignee, role and scope.
    Delete {
        /// Role assignment ids (`{scope}/providers/Microsoft.Authorization/roleAssignments/{name}`).
        #[arg(long, num_args = 1.., conflicts_with_all = ["assignee", "role"])]
        ids: Vec<String>,
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long)]
        role: Option<String>,
        #[command(flatten)]
        scope: ScopeArgs,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum DefinitionCommand {
    /// Create a custom role from az's JSON shape (`Name`, `Description`,
    /// `Actions`, `NotActions`, `DataActions`, `NotDataActions`,
    /// `AssignableScopes`).
    Create {
        /// The JSON, or `@file.json`.
        #[arg(long)]
        role_definition: String,
    },
    /// Change a custom role (found by `Id` or `Name` in the JSON).
    Update {
        #[arg(long)]
        role_definition: String,
    },
    /// List role definitions.
    List {
        /// Only the role of this name.
        #[arg(short, long)]
        name: Option<String>,
        /// Only custom roles.
        #[arg(long)]
        custom_role_only: bool,
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Show one role definition.
    Show {
        /// Role name or id.
        #[arg(short, long)]
        name: String,
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Delete a custom role (it must not be assigned).
    Delete {
        /// Role name or id.
        #[arg(short, long)]
        name: String,
        #[command(flatten)]
        scope: ScopeArgs,
    },
}

pub async fn run(ctx: &Context, cmd: RoleCommand) -> Result<Option<Output>> {
    let s = ctx.session()?;
    match cmd {
        RoleCommand::Assignment { command } => assignment(&s, command).await,
        RoleCommand::Definition { command } => definition(&s, command).await,
    }
}

// ---- assignments -------------------------------------------------------------

async fn assignment(s: &Session, cmd: AssignmentCommand) -> Result<Option<Output>> {
    match cmd {
        AssignmentCommand::Create {
            assignee,
            assignee_principal_type,
            role,
            scope,
            condition,
            condition_version,
        } => {
            let scope = scope_of(s, &scope)?;
            let principal = principal_id(s, &assignee).await?;
            let role_id = role_id(s, &scope, &role).await?;
            let mut properties = Map::new();
            properties.insert("roleDefinitionId".into(), json!(role_id));
            properties.insert("principalId".into(), json!(principal));
            if let Some(t) = assignee_principal_type {
                properties.insert("principalType".into(), json!(t.as_str()));
            }
            if let Some(c) = condition {
                properties.insert("condition".into(), json!(c));
                // az sends 2.0 when a condition has no version.
                properties.insert(
                    "conditionVersion".into(),
                    json!(condition_version.unwrap_or_else(|| "2.0".into())),
                );
            }
            let path = format!(
                "{}/{AUTHZ}/roleAssignments/{}",
                under(&scope),
                uuid::Uuid::new_v4()
            );
            let v = call(
                s,
                Method::PUT,
                &path,
                &[],
                Some(&json!({ "properties": properties })),
            )
            .await?
            .unwrap_or(Value::Null);
            let mut v = v;
            let wanted = role_id
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let names = role_names(s, &scope).await.unwrap_or_default();
            if let Some((_, name)) = names.iter().find(|(id, _)| *id == wanted)
                && let Some(o) = v.as_object_mut()
            {
                o.insert("roleDefinitionName".into(), json!(name));
            }
            Ok(Some(Output::new(v, assignment_columns())))
        }
        AssignmentCommand::List {
            assignee,
            role,
            scope,
            all,
            include_inherited,
        } => {
            let scope = scope_of(s, &scope)?;
            let found = assignments(
                s,
                &scope,
                assignee.as_deref(),
                role.as_deref(),
                all,
                include_inherited,
            )
            .await?;
            Ok(Some(Output::new(Value::Array(found), assignment_columns())))
        }
        AssignmentCommand::Delete {
            ids,
            assignee,
            role,
            scope,
        } => {
            let ids = if ids.is_empty() {
                if assignee.is_none() && role.is_none() && scope.scope.is_none() {
                    return Err(CliError::Usage(
                        "name what to delete: --ids, or --assignee/--role/--scope".into(),
                    )
                    .into());
                }
                let scope = scope_of(s, &scope)?;
                let found = assignments(
                    s,
                    &scope,
                    assignee.as_deref(),
                    role.as_deref(),
                    false,
                    false,
                )
                .await?;
                let ids: Vec<String> = found
                    .iter()
                    .filter_map(|a| a.get("id").and_then(Value::as_str).map(str::to_owned))
                    .collect();
                if ids.is_empty() {
                    return Err(CliError::Usage(
                        "No matched assignments were found to delete".into(),
                    )
                    .into());
                }
                ids
            } else {
                ids
            };
            let mut deleted = Vec::new();
            for id in ids {
                if let Some(v) = call(s, Method::DELETE, &id, &[], None).await? {
                    deleted.push(v);
                }
            }
            Ok(Some(Output::new(
                Value::Array(deleted),
                assignment_columns(),
            )))
        }
    }
}

/// The assignments at `scope` (and above with `inherited`, and below with
/// `all`), of `assignee` and `role` when given, with `roleDefinitionName`
/// added as az prints it.
async fn assignments(
    s: &Session,
    scope: &str,
    assignee: Option<&str>,
    role: Option<&str>,
    all: bool,
    inherited: bool,
) -> Result<Vec<Value>> {
    let mut filter: Vec<String> = Vec::new();
    if !all {
        filter.push("atScope()".into());
    }
    if let Some(a) = assignee {
        filter.push(format!("principalId eq '{}'", principal_id(s, a).await?));
    }
    let role_id = match role {
        Some(r) => Some(role_id(s, scope, r).await?),
        None => None,
    };
    let filter = filter.join(" and ");
    let mut query: Vec<(&str, &str)> = Vec::new();
    if !filter.is_empty() {
        query.push(("$filter", filter.as_str()));
    }
    let v = call(
        s,
        Method::GET,
        &format!("{}/{AUTHZ}/roleAssignments", under(scope)),
        &query,
        None,
    )
    .await?
    .unwrap_or(Value::Null);
    let names = role_names(s, scope).await.unwrap_or_default();
    let guid = |id: &str| {
        id.rsplit('/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    let mut out = Vec::new();
    for mut a in values(v) {
        let at = a["properties"]["scope"].as_str().unwrap_or_default();
        if !all && !inherited && !at.eq_ignore_ascii_case(scope) {
            continue;
        }
        let rid = a["properties"]["roleDefinitionId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if role_id.as_deref().is_some_and(|r| guid(r) != guid(&rid)) {
            continue;
        }
        if let Some((_, name)) = names.iter().find(|(id, _)| *id == guid(&rid))
            && let Some(o) = a.as_object_mut()
        {
            o.insert("roleDefinitionName".into(), json!(name));
        }
        out.push(a);
    }
    Ok(out)
}

// ---- definitions -------------------------------------------------------------

async fn definition(s: &Session, cmd: DefinitionCommand) -> Result<Option<Output>> {
    match cmd {
        DefinitionCommand::Create { role_definition } => {
            let az = read_json(&role_definition)?;
            let body = arm_definition(&az)?;
            let scope = first_scope(&body)?;
            let id = uuid::Uuid::new_v4();
            let path = format!("{}/{AUTHZ}/roleDefinitions/{id}", under(&scope));
            let v = call(s, Method::PUT, &path, &[], Some(&body))
                .await?
                .unwrap_or(Value::Null);
            Ok(Some(Output::new(v, definition_columns())))
        }
        DefinitionCommand::Update { role_definition } => {
            let az = read_json(&role_definition)?;
            let body = arm_definition(&az)?;
            let scope = first_scope(&body)?;
            let key = field(&az, "Id")
                .or_else(|| field(&az, "Name"))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| CliError::Usage("the role definition names no Id or Name".into()))?;
            let existing = find_definition(s, &scope, &key).await?;
            let id = existing["name"].as_str().unwrap_or_default().to_owned();
            let path = format!("{}/{AUTHZ}/roleDefinitions/{id}", under(&scope));
            let v = call(s, Method::PUT, &path, &[], Some(&body))
                .await?
                .unwrap_or(Value::Null);
            Ok(Some(Output::new(v, definition_columns())))
        }
        DefinitionCommand::List {
            name,
            custom_role_only,
            scope,
        } => {
            let scope = scope_of(s, &scope)?;
            let mut filter = Vec::new();
            if let Some(n) = &name {
                filter.push(format!("roleName eq '{}'", quote(n)));
            }
            if custom_role_only {
                filter.push("type eq 'CustomRole'".to_owned());
            }
            let filter = filter.join(" and ");
            let mut query: Vec<(&str, &str)> = Vec::new();
            if !filter.is_empty() {
                query.push(("$filter", filter.as_str()));
            }
            let v = call(
                s,
                Method::GET,
                &format!("{}/{AUTHZ}/roleDefinitions", under(&scope)),
                &query,
                None,
            )
            .await?
            .unwrap_or(Value::Null);
            Ok(Some(Output::new(
                Value::Array(values(v)),
                definition_columns(),
            )))
        }
        DefinitionCommand::Show { name, scope } => {
            let scope = scope_of(s, &scope)?;
            Ok(Some(Output::new(
                find_definition(s, &scope, &name).await?,
                definition_columns(),
            )))
        }
        DefinitionCommand::Delete { name, scope } => {
            let scope = scope_of(s, &scope)?;
            let found = find_definition(s, &scope, &name).await?;
            let id = found["name"].as_str().unwrap_or_default();
            call(
                s,
                Method::DELETE,
                &format!("{}/{AUTHZ}/roleDefinitions/{id}", under(&scope)),
                &[],
                None,
            )
            .await?;
            Ok(None)
        }
    }
}

/// `--role-definition`: inline JSON or `@file` (`@-`: stdin).
fn read_json(arg: &str) -> Result<Value> {
    let text = match arg.strip_prefix('@') {
        Some("-") => {
            let mut t = String::new();
            std::io::stdin()
                .read_to_string(&mut t)
                .context("reading the role definition from stdin")?;
            t
        }
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the role definition {path}"))?,
        None => arg.to_owned(),
    };
    serde_json::from_str(&text)
        .map_err(|e| CliError::Usage(format!("--role-definition is not valid JSON: {e}")).into())
}

/// A key of az's role JSON, which accepts any case (`Name`, `name`).
fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// az's role JSON as the ARM body.
fn arm_definition(az: &Value) -> Result<Value> {
    let list = |key: &str| -> Result<Value> {
        match field(az, key) {
            None | Some(Value::Null) => Ok(json!([])),
            Some(v @ Value::Array(items)) if items.iter().all(Value::is_string) => Ok(v.clone()),
            Some(_) => Err(CliError::Usage(format!("{key} must be a list of strings")).into()),
        }
    };
    let name = field(az, "Name")
        .and_then(Value::as_str)
        .ok_or_else(|| CliError::Usage("the role definition needs a Name".into()))?;
    Ok(json!({
        "properties": {
            "roleName": name,
            "description": field(az, "Description").and_then(Value::as_str).unwrap_or_default(),
            "type": "CustomRole",
            "permissions": [{
                "actions": list("Actions")?,
                "notActions": list("NotActions")?,
                "dataActions": list("DataActions")?,
                "notDataActions": list("NotDataActions")?,
            }],
            "assignableScopes": list("AssignableScopes")?,
        }
    }))
}

/// az PUTs a new role at its first assignable scope.
fn first_scope(body: &Value) -> Result<String> {
    body["properties"]["assignableScopes"]
        .get(0)
        .and_then(Value::as_str)
        .map(|s| s.trim_end_matches('/').to_owned())
        .ok_or_else(|| {
            CliError::Usage("AssignableScopes must name at least one scope".into()).into()
        })
}

/// A role definition by name or id, seen from `scope`.
async fn find_definition(s: &Session, scope: &str, name_or_id: &str) -> Result<Value> {
    if let Ok(id) = uuid::Uuid::parse_str(name_or_id) {
        return Ok(call(
            s,
            Method::GET,
            &format!("{}/{AUTHZ}/roleDefinitions/{id}", under(scope)),
            &[],
            None,
        )
        .await?
        .unwrap_or(Value::Null));
    }
    let filter = format!("roleName eq '{}'", quote(name_or_id));
    let v = call(
        s,
        Method::GET,
        &format!("{}/{AUTHZ}/roleDefinitions", under(scope)),
        &[("$filter", filter.as_str())],
        None,
    )
    .await?
    .unwrap_or(Value::Null);
    values(v)
        .into_iter()
        .next()
        .ok_or_else(|| CliError::Usage(format!("Role '{name_or_id}' doesn't exist.")).into())
}

/// `--role`: a role definition id (kept as the full ARM id) or a name.
async fn role_id(s: &Session, scope: &str, role: &str) -> Result<String> {
    let sub = s.subscription()?;
    if let Ok(id) = uuid::Uuid::parse_str(role) {
        return Ok(format!("/subscriptions/{sub}/{AUTHZ}/roleDefinitions/{id}"));
    }
    if role.starts_with('/') {
        return Ok(role.to_owned());
    }
    let found = find_definition(s, scope, role).await?;
    found["id"]
        .as_str()
        .map(str::to_owned)
        .context("the role definition has no id")
}

/// Role ids (lowercase GUIDs) and names, for `roleDefinitionName`.
async fn role_names(s: &Session, scope: &str) -> Result<Vec<(String, String)>> {
    let v = call(
        s,
        Method::GET,
        &format!("{}/{AUTHZ}/roleDefinitions", under(scope)),
        &[],
        None,
    )
    .await?
    .unwrap_or(Value::Null);
    Ok(values(v)
        .iter()
        .filter_map(|r| {
            Some((
                r["name"].as_str()?.to_ascii_lowercase(),
                r["properties"]["roleName"].as_str()?.to_owned(),
            ))
        })
        .collect())
}

/// `--assignee`: a service principal's appId resolved to its object id
/// (as az does, #4), else an object id as is; a UPN through the
/// directory; else a group's display name (exactly one group must have it).
async fn principal_id(s: &Session, assignee: &str) -> Result<String> {
    if let Ok(id) = uuid::Uuid::parse_str(assignee) {
        // Without the right to read service principals, the id is taken as
        // an object id (the server checks it exists).
        let sp = s
            .graph(
                Method::GET,
                &format!("/v1.0/servicePrincipals/{id}"),
                &[],
                None,
            )
            .await
            .ok()
            .flatten();
        return Ok(sp
            .as_ref()
            .and_then(|v| v.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| id.to_string()));
    }
    if assignee.contains('@') {
        let path = format!("/v1.0/users/{}", encode_segment(assignee));
        let v = s
            .graph(Method::GET, &path, &[], None)
            .await
            .with_context(|| {
                format!("resolving the user '{assignee}' (pass its object id to skip this)")
            })?
            .unwrap_or(Value::Null);
        return v
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .context("the user has no id");
    }
    let filter = format!("displayName eq '{}'", quote(assignee));
    let v = s
        .graph(
            Method::GET,
            "/v1.0/groups",
            &[("$filter", filter.as_str())],
            None,
        )
        .await?
        .unwrap_or(Value::Null);
    let ids: Vec<String> = values(v)
        .iter()
        .filter_map(|g| g.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect();
    match ids.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(CliError::Usage(format!(
            "Cannot find user or group '{assignee}': pass an object id, a UPN or a group name"
        ))
        .into()),
        _ => Err(CliError::Usage(format!(
            "{} groups are named '{assignee}': pass the object id",
            ids.len()
        ))
        .into()),
    }
}

/// Assigns `role` (a name or id) at `scope` to the object `principal` of
/// `principal_type`, for commands that assign as part of their work
/// (`acrylic ad sp create-for-rbac --role --scopes`, #4).
pub(crate) async fn assign(
    s: &Session,
    scope: &str,
    role: &str,
    principal: &str,
    principal_type: &str,
) -> Result<Value> {
    let scope = scope.trim().trim_end_matches('/');
    let role_id = role_id(s, scope, role).await?;
    let path = format!(
        "{}/{AUTHZ}/roleAssignments/{}",
        under(scope),
        uuid::Uuid::new_v4()
    );
    let body = json!({"properties": {
        "roleDefinitionId": role_id,
        "principalId": principal,
        "principalType": principal_type,
    }});
    Ok(call(s, Method::PUT, &path, &[], Some(&body))
        .await?
        .unwrap_or(Value::Null))
}

/// The scope a command acts at.
fn scope_of(s: &Session, args: &ScopeArgs) -> Result<String> {
    if let Some(scope) = &args.scope {
        let t = scope.trim();
        if t == "/" {
            return Ok("/".into());
        }
        if !t.starts_with('/') {
            return Err(CliError::Usage(format!(
                "--scope {t:?}: expected '/', /subscriptions/<id>, a resource group's id or a registry's id"
            ))
            .into());
        }
        return Ok(t.trim_end_matches('/').to_owned());
    }
    let sub = s.subscription()?;
    Ok(match &args.resource_group {
        Some(rg) => format!("/subscriptions/{sub}/resourceGroups/{rg}"),
        None => format!("/subscriptions/{sub}"),
    })
}

/// `{scope}/providers/…`: the scope as a path prefix (empty for `/`).
fn under(scope: &str) -> &str {
    if scope == "/" { "" } else { scope }
}

async fn call(
    s: &Session,
    method: Method,
    path: &str,
    query: &[(&str, &str)],
    body: Option<&Value>,
) -> Result<Option<Value>> {
    let mut q = vec![("api-version", API_VERSION)];
    q.extend_from_slice(query);
    s.client.arm(&s.token, method, path, &q, body).await
}

fn values(v: Value) -> Vec<Value> {
    match v {
        Value::Object(mut o) => match o.remove("value") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// A value inside OData single quotes.
fn quote(s: &str) -> String {
    s.replace('\'', "''")
}

fn encode_segment(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '#' => "%23".to_owned(),
            '?' => "%3F".to_owned(),
            '/' => "%2F".to_owned(),
            '%' => "%25".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// `az role assignment list -o table` columns.
fn assignment_columns() -> Vec<Column> {
    vec![
        col("Principal", "properties/principalId"),
        col("Role", "roleDefinitionName"),
        col("Scope", "properties/scope"),
        col("Condition", "properties/condition"),
    ]
}

fn definition_columns() -> Vec<Column> {
    vec![
        col("Name", "properties/roleName"),
        col("Type", "properties/type"),
        col("Description", "properties/description"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn az_role_json_becomes_the_arm_body() {
        let az = json!({
            "Name": "Image Janitor",
            "description": "Pulls and deletes",
            "Actions": ["Microsoft.ContainerRegistry/registries/pull/read"],
            "NotActions": [],
            "DataActions": null,
            "AssignableScopes": ["/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/"]
        });
        let body = arm_definition(&az).expect("valid");
        assert_eq!(body["properties"]["roleName"], "Image Janitor");
        assert_eq!(body["properties"]["description"], "Pulls and deletes");
        assert_eq!(
            body["properties"]["permissions"][0]["actions"],
            json!(["Microsoft.ContainerRegistry/registries/pull/read"])
        );
        assert_eq!(
            body["properties"]["permissions"][0]["dataActions"],
            json!([])
        );
        assert_eq!(
            first_scope(&body).expect("scope"),
            "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
        );
        assert!(arm_definition(&json!({"Actions": []})).is_err());
        assert!(arm_definition(&json!({"Name": "x", "Actions": "nope"})).is_err());
        assert!(first_scope(&arm_definition(&json!({"Name": "x"})).expect("shape")).is_err());
    }
}
