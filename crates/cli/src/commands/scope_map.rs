//! `acrylic acr scope-map create|update|list|show|delete` — az's
//! `acr scope-map` commands over the ARM control plane (acr-auth.md §6.4,
//! §6.7).
//!
//! `--repository REPO ACTION…` (create) and `--add-repository` /
//! `--remove-repository` (update) become `repositories/<repo>/<action>`
//! strings, lowercased as az lowercases them; the server validates them
//! (wildcards only as `*` or a trailing `/*`). Output is az's shape: the
//! ARM resource with its `properties` flattened, `properties.type` as
//! `scopeMapType`, and `resourceGroup` taken from the id.

use anyhow::Result;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::acr::{self, RegistryArgs};
use super::{Context, Session};
use crate::client::CliError;
use crate::output::{Column, Output, col};

/// The scope-map actions a repository can be given (acr-auth.md §6.4).
pub const ACTIONS: [&str; 5] = [
    "content/read",
    "content/write",
    "content/delete",
    "metadata/read",
    "metadata/write",
];

/// `--registry` (`-r`) and `--resource-group`, as az's token and
/// scope-map commands take them.
#[derive(Debug, Clone, clap::Args)]
pub struct RegistryRef {
    /// The registry's name.
    #[arg(short = 'r', long)]
    pub registry: String,
    /// Resource group (default: the registry is found by name).
    #[arg(short = 'g', long)]
    pub resource_group: Option<String>,
}

impl RegistryRef {
    /// The registry's ARM id.
    pub async fn path(&self, s: &Session) -> Result<String> {
        acr::resolve(
            s,
            &RegistryArgs {
                name: self.registry.clone(),
                resource_group: self.resource_group.clone(),
            },
        )
        .await
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum ScopeMapCommand {
    /// Create a scope map: which actions its tokens have on which
    /// repositories.
    Create {
        #[command(flatten)]
        reg: RegistryRef,
        /// The scope map's name (5–50 letters, digits, '-' and '_').
        #[arg(short, long)]
        name: String,
        /// A repository (`samples/hello`, `samples/*` or `*`) and its
        /// actions (content/read, content/write, content/delete,
        /// metadata/read, metadata/write). Repeatable.
        #[arg(long = "repository", num_args = 2.., value_names = ["REPOSITORY", "ACTIONS"], action = clap::ArgAction::Append, required = true)]
        repository: Vec<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// Add or remove repository actions, or change the description.
    Update {
        #[command(flatten)]
        reg: RegistryRef,
        #[arg(short, long)]
        name: String,
        /// A repository and actions to add. Repeatable.
        #[arg(long = "add-repository", num_args = 2.., value_names = ["REPOSITORY", "ACTIONS"], action = clap::ArgAction::Append)]
        add_repository: Vec<String>,
        /// A repository and actions to remove. Repeatable.
        #[arg(long = "remove-repository", num_args = 2.., value_names = ["REPOSITORY", "ACTIONS"], action = clap::ArgAction::Append)]
        remove_repository: Vec<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List the registry's scope maps, system-defined ones included.
    List {
        #[command(flatten)]
        reg: RegistryRef,
    },
    /// Show a scope map.
    Show {
        #[command(flatten)]
        reg: RegistryRef,
        #[arg(short, long)]
        name: String,
    },
    /// Delete a scope map (refused while a token uses it).
    Delete {
        #[command(flatten)]
        reg: RegistryRef,
        #[arg(short, long)]
        name: String,
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        yes: bool,
    },
}

pub async fn run(ctx: &Context, cmd: ScopeMapCommand) -> Result<Option<Output>> {
    let s = ctx.session()?;
    match cmd {
        ScopeMapCommand::Create {
            reg,
            name,
            repository,
            description,
        } => {
            let actions = actions_of(&repository)?;
            let v = put(&s, &reg, &name, &actions, description.as_deref()).await?;
            Ok(Some(Output::new(flatten(v), columns())))
        }
        ScopeMapCommand::Update {
            reg,
            name,
            add_repository,
            remove_repository,
            description,
        } => {
            if add_repository.is_empty() && remove_repository.is_empty() && description.is_none() {
                return Err(CliError::Usage(
                    "nothing to update: pass --add-repository, --remove-repository or --description"
                        .into(),
                )
                .into());
            }
            let path = format!("{}/scopeMaps/{name}", reg.path(&s).await?);
            let mut body = Map::new();
            if !add_repository.is_empty() || !remove_repository.is_empty() {
                let current = s
                    .arm(Method::GET, &path, None)
                    .await?
                    .unwrap_or(Value::Null);
                let mut actions: Vec<String> = current
                    .pointer("/properties/actions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a.as_str().map(str::to_ascii_lowercase))
                    .collect();
                for a in actions_of(&add_repository)? {
                    if !actions.contains(&a) {
                        actions.push(a);
                    }
                }
                let removed = actions_of(&remove_repository)?;
                actions.retain(|a| !removed.contains(a));
                body.insert("actions".into(), json!(actions));
            }
            if let Some(d) = description {
                body.insert("description".into(), Value::String(d));
            }
            let v = s
                .arm(Method::PATCH, &path, Some(&json!({ "properties": body })))
                .await?
                .unwrap_or(Value::Null);
            Ok(Some(Output::new(flatten(v), columns())))
        }
        ScopeMapCommand::List { reg } => {
            let path = format!("{}/scopeMaps", reg.path(&s).await?);
            let v = s
                .arm(Method::GET, &path, None)
                .await?
                .unwrap_or(Value::Null);
            Ok(Some(Output::new(list(v, flatten), columns())))
        }
        ScopeMapCommand::Show { reg, name } => {
            let path = format!("{}/scopeMaps/{name}", reg.path(&s).await?);
            let v = s
                .arm(Method::GET, &path, None)
                .await?
                .unwrap_or(Value::Null);
            Ok(Some(Output::new(flatten(v), columns())))
        }
        ScopeMapCommand::Delete { reg, name, yes } => {
            if !yes {
                acr::confirm(&format!(
                    "Are you sure you want to delete the scope map '{name}'?"
                ))?;
            }
            let path = format!("{}/scopeMaps/{name}", reg.path(&s).await?);
            s.arm(Method::DELETE, &path, None).await?;
            Ok(None)
        }
    }
}

/// `PUT …/scopeMaps/{name}`: the created (or replaced) scope map, as ARM
/// shapes it.
pub async fn put(
    s: &Session,
    reg: &RegistryRef,
    name: &str,
    actions: &[String],
    description: Option<&str>,
) -> Result<Value> {
    let path = format!("{}/scopeMaps/{name}", reg.path(s).await?);
    let mut properties = json!({ "actions": actions });
    if let (Some(d), Some(p)) = (description, properties.as_object_mut()) {
        p.insert("description".into(), Value::String(d.to_owned()));
    }
    Ok(s.arm(
        Method::PUT,
        &path,
        Some(&json!({ "properties": properties })),
    )
    .await?
    .unwrap_or(Value::Null))
}

/// `--repository REPO ACTION…` values as scope-map actions
/// (`repositories/<repo>/<action>`), lowercased, as az builds them. clap
/// hands over the values of every occurrence in one list: a value that is
/// one of the five actions belongs to the repository before it, any other
/// value starts the next repository.
pub fn actions_of(values: &[String]) -> Result<Vec<String>> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for v in values {
        let lower = v.trim().to_ascii_lowercase();
        match groups.last_mut() {
            Some((_, actions)) if ACTIONS.contains(&lower.as_str()) => actions.push(lower),
            _ => groups.push((lower.trim_matches('/').to_owned(), Vec::new())),
        }
    }
    let mut out: Vec<String> = Vec::new();
    for (repo, actions) in groups {
        if actions.is_empty() {
            return Err(CliError::Usage(format!(
                "--repository {repo}: name at least one action after it ({})",
                ACTIONS.join(", ")
            ))
            .into());
        }
        for a in actions {
            let action = format!("repositories/{repo}/{a}");
            if !out.contains(&action) {
                out.push(action);
            }
        }
    }
    Ok(out)
}

/// ARM's `{"value": [...]}` through `f`.
pub fn list(v: Value, f: fn(Value) -> Value) -> Value {
    match v {
        Value::Object(mut o) => match o.remove("value") {
            Some(Value::Array(items)) => Value::Array(items.into_iter().map(f).collect()),
            _ => Value::Array(vec![]),
        },
        _ => Value::Array(vec![]),
    }
}

/// The resource group in an ARM id.
pub fn resource_group_of(id: &str) -> Option<String> {
    let mut parts = id.split('/');
    while let Some(p) = parts.next() {
        if p.eq_ignore_ascii_case("resourceGroups") {
            return parts.next().map(str::to_owned);
        }
    }
    None
}

/// An ARM resource as az prints it: `properties` lifted to the top,
/// `resourceGroup` from the id; `rename` maps property names that would
/// clash (`type`).
pub fn flatten_with(v: Value, rename: &[(&str, &str)]) -> Value {
    let Value::Object(mut top) = v else {
        return v;
    };
    if let Some(Value::Object(props)) = top.remove("properties") {
        for (k, val) in props {
            let key = rename
                .iter()
                .find(|(from, _)| *from == k)
                .map_or(k.clone(), |(_, to)| (*to).to_owned());
            top.insert(key, val);
        }
    }
    let rg = top
        .get("id")
        .and_then(Value::as_str)
        .and_then(resource_group_of);
    if let Some(rg) = rg {
        top.insert("resourceGroup".into(), Value::String(rg));
    }
    Value::Object(top)
}

/// A scope map as az prints it (`scopeMapType` for `properties.type`).
pub fn flatten(v: Value) -> Value {
    flatten_with(v, &[("type", "scopeMapType")])
}

/// `az acr scope-map list -o table` columns.
fn columns() -> Vec<Column> {
    vec![
        col("NAME", "name"),
        col("TYPE", "scopeMapType"),
        col("CREATION DATE", "creationDate"),
        col("DESCRIPTION", "description"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(g: &[&[&str]]) -> Vec<String> {
        g.iter()
            .flat_map(|x| x.iter().map(|s| (*s).to_owned()))
            .collect()
    }

    #[test]
    fn repository_groups_become_lowercase_actions() {
        let got = actions_of(&groups(&[
            &["Samples/Hello", "content/read", "Content/Write"],
            &["samples/*", "metadata/read"],
            &["samples/hello", "content/read"],
        ]))
        .expect("valid");
        assert_eq!(
            got,
            vec![
                "repositories/samples/hello/content/read",
                "repositories/samples/hello/content/write",
                "repositories/samples/*/metadata/read",
            ]
        );
        // An unknown action reads as the next repository, which then has
        // no action.
        assert!(actions_of(&groups(&[&["a", "content/list"]])).is_err());
        assert!(actions_of(&groups(&[&["a"]])).is_err());
        assert!(actions_of(&groups(&[&["a", "content/read"], &["b"]])).is_err());
    }

    #[test]
    fn arm_resources_flatten_as_az_prints_them() {
        let arm = json!({
            "id": "/subscriptions/s/resourceGroups/my-rg/providers/Microsoft.ContainerRegistry/registries/r/scopeMaps/m1",
            "name": "m1",
            "type": "Microsoft.ContainerRegistry/registries/scopeMaps",
            "properties": {"type": "UserDefined", "actions": ["repositories/a/content/read"], "description": null},
        });
        let flat = flatten(arm);
        assert_eq!(
            flat["type"],
            "Microsoft.ContainerRegistry/registries/scopeMaps"
        );
        assert_eq!(flat["scopeMapType"], "UserDefined");
        assert_eq!(flat["resourceGroup"], "my-rg");
        assert_eq!(flat["actions"][0], "repositories/a/content/read");
        assert!(flat.get("properties").is_none());
        assert_eq!(
            list(json!({"value": [{"name": "x"}]}), flatten)[0]["name"],
            "x"
        );
    }
}
