//! Role definitions: the Azure built-ins ACR users know, and the glob
//! matching of `actions`/`notActions` (case-insensitive, `*` anywhere).

use uuid::{Uuid, uuid};

use crate::{Action, RepoAction};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDefinition {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
    pub data_actions: Vec<String>,
    pub not_data_actions: Vec<String>,
    /// `BuiltInRole` or `CustomRole`.
    pub role_type: String,
}

impl RoleDefinition {
    /// Does this role grant the control-plane operation `op`?
    pub fn allows_action(&self, op: &str) -> bool {
        self.actions.iter().any(|p| glob(p, op)) && !self.not_actions.iter().any(|p| glob(p, op))
    }

    /// Does this role grant the data action `op`?
    pub fn allows_data_action(&self, op: &str) -> bool {
        self.data_actions.iter().any(|p| glob(p, op))
            && !self.not_data_actions.iter().any(|p| glob(p, op))
    }
}

pub const OWNER: Uuid = uuid!("8e3af657-a8ff-443c-a75c-2fe8c4bcb635");
pub const CONTRIBUTOR: Uuid = uuid!("b24988ac-6180-42a0-ab88-20f7382dd24c");
pub const READER: Uuid = uuid!("acdd72a7-3385-48ef-bd42-f6fdd9d3d4b7");
pub const ACR_PULL: Uuid = uuid!("7f951dda-4ed3-4680-a7ca-43fe172d538d");
pub const ACR_PUSH: Uuid = uuid!("8311e382-0749-4cb8-b61a-304f252e45ec");
pub const ACR_DELETE: Uuid = uuid!("c2f4ef07-c644-48eb-af81-4b1b4947fb11");
pub const ACR_IMAGE_SIGNER: Uuid = uuid!("6cef56e8-d556-48e5-a04f-b8e64114680f");

const ACR: &str = "Microsoft.ContainerRegistry/registries";

/// The legacy-mode (RBAC Registry Permissions) control-plane operation that
/// carries a data-plane action.
pub fn legacy_data_permission(a: &Action) -> Option<&'static str> {
    match a {
        Action::Repository(RepoAction::Pull | RepoAction::MetadataRead) | Action::CatalogList => {
            Some("Microsoft.ContainerRegistry/registries/pull/read")
        }
        Action::Repository(RepoAction::Push | RepoAction::MetadataWrite) => {
            Some("Microsoft.ContainerRegistry/registries/push/write")
        }
        Action::Repository(RepoAction::Delete) => {
            Some("Microsoft.ContainerRegistry/registries/artifacts/delete")
        }
        Action::Arm(_) | Action::Directory(_) | Action::System => None,
    }
}

fn role(
    id: Uuid,
    name: &str,
    description: &str,
    actions: &[&str],
    not_actions: &[&str],
) -> RoleDefinition {
    RoleDefinition {
        id,
        name: name.into(),
        description: description.into(),
        actions: actions.iter().map(|s| s.to_string()).collect(),
        not_actions: not_actions.iter().map(|s| s.to_string()).collect(),
        data_actions: vec![],
        not_data_actions: vec![],
        role_type: "BuiltInRole".into(),
    }
}

/// The built-in roles (ids as Azure publishes them).
pub fn builtins() -> Vec<RoleDefinition> {
    vec![
        role(
            OWNER,
            "Owner",
            "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
            &["*"],
            &[],
        ),
        role(
            CONTRIBUTOR,
            "Contributor",
            "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC.",
            &["*"],
            &[
                "Microsoft.Authorization/*/Delete",
                "Microsoft.Authorization/*/Write",
                "Microsoft.Authorization/elevateAccess/Action",
            ],
        ),
        role(
            READER,
            "Reader",
            "View all resources, but does not allow you to make any changes.",
            &["*/read"],
            &[],
        ),
        role(
            ACR_PULL,
            "AcrPull",
            "acr pull",
            &[&format!("{ACR}/pull/read")],
            &[],
        ),
        role(
            ACR_PUSH,
            "AcrPush",
            "acr push",
            &[&format!("{ACR}/pull/read"), &format!("{ACR}/push/write")],
            &[],
        ),
        role(
            ACR_DELETE,
            "AcrDelete",
            "acr delete",
            &[&format!("{ACR}/artifacts/delete")],
            &[],
        ),
        role(
            ACR_IMAGE_SIGNER,
            "AcrImageSigner",
            "acr image signer",
            &[&format!("{ACR}/sign/write")],
            &[],
        ),
    ]
}

pub fn find_builtin(id: &Uuid) -> Option<RoleDefinition> {
    builtins().into_iter().find(|r| &r.id == id)
}

pub fn find_builtin_by_name(name: &str) -> Option<RoleDefinition> {
    builtins()
        .into_iter()
        .find(|r| r.name.eq_ignore_ascii_case(name))
}

/// Case-insensitive glob where `*` matches any run of characters.
pub(crate) fn glob(pattern: &str, s: &str) -> bool {
    let p = pattern.to_ascii_lowercase();
    let s = s.to_ascii_lowercase();
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == s;
    }
    let mut rest = s.as_str();
    let first = parts[0];
    if !rest.starts_with(first) {
        return false;
    }
    rest = &rest[first.len()..];
    let last = parts[parts.len() - 1];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}
