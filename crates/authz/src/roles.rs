//! Role definitions: the Azure built-ins ACR users know (acr-auth.md §6.2,
//! ids as Azure publishes them), custom roles in the same shape, and the
//! mapping of registry data-plane actions to the permissions that carry
//! them in each role-assignment mode (§6.3).
//!
//! `actions`/`notActions`/`dataActions`/`notDataActions` patterns match
//! case-insensitively with `*` matching any run of characters, as Azure's
//! do. A role grants an operation when one of its allow patterns matches
//! and none of its deny patterns does.

use acrylic_model::ArmScope;
use uuid::{Uuid, uuid};

use crate::{Action, RepoAction};

/// Built-in or custom (ARM `properties.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleType {
    BuiltIn,
    Custom,
}

impl RoleType {
    pub fn as_str(self) -> &'static str {
        match self {
            RoleType::BuiltIn => "BuiltInRole",
            RoleType::Custom => "CustomRole",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDefinition {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
    pub data_actions: Vec<String>,
    pub not_data_actions: Vec<String>,
    /// Where the role may be assigned: at one of these scopes or below.
    /// Built-ins: `/`.
    pub assignable_scopes: Vec<ArmScope>,
    pub role_type: RoleType,
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

    /// May the role be assigned at `scope` (one of its assignable scopes
    /// or below one)?
    pub fn is_assignable_at(&self, scope: &ArmScope) -> bool {
        self.assignable_scopes.iter().any(|a| a.contains(scope))
    }

    /// Whether any data action is granted (ABAC conditions are allowed
    /// only on such roles, as in Azure).
    pub fn has_data_actions(&self) -> bool {
        !self.data_actions.is_empty()
    }
}

pub const OWNER: Uuid = uuid!("8e3af657-a8ff-443c-a75c-2fe8c4bcb635");
pub const CONTRIBUTOR: Uuid = uuid!("b24988ac-6180-42a0-ab88-20f7382dd24c");
pub const READER: Uuid = uuid!("acdd72a7-3385-48ef-bd42-f6fdd9d3d4b7");
pub const USER_ACCESS_ADMINISTRATOR: Uuid = uuid!("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9");
pub const ACR_PULL: Uuid = uuid!("7f951dda-4ed3-4680-a7ca-43fe172d538d");
pub const ACR_PUSH: Uuid = uuid!("8311e382-0749-4cb8-b61a-304f252e45ec");
pub const ACR_DELETE: Uuid = uuid!("c2f4ef07-c644-48eb-af81-4b1b4947fb11");
pub const ACR_IMAGE_SIGNER: Uuid = uuid!("6cef56e8-d556-48e5-a04f-b8e64114680f");
pub const ACR_QUARANTINE_READER: Uuid = uuid!("cdda3590-29a3-44f6-95f2-9f980659eb04");
pub const ACR_QUARANTINE_WRITER: Uuid = uuid!("c8d4ff99-41c3-41a8-9f60-21dfdad59608");
pub const REPOSITORY_READER: Uuid = uuid!("b93aa761-3e63-49ed-ac28-beffa264f7ac");
pub const REPOSITORY_WRITER: Uuid = uuid!("2a1e307c-b015-4ebd-883e-5b7698a07328");
pub const REPOSITORY_CONTRIBUTOR: Uuid = uuid!("2efddaa5-3f1f-4df3-97df-af3f13818f4c");
pub const REPOSITORY_CATALOG_LISTER: Uuid = uuid!("bfdb9389-c9a5-478a-bb2f-ba9ca092c3c7");
pub const DATA_IMPORTER_AND_DATA_READER: Uuid = uuid!("577a9874-89fd-4f24-9dbd-b5034d0ad23a");
pub const CONTRIBUTOR_AND_DATA_ACCESS_CONFIGURATION_ADMINISTRATOR: Uuid =
    uuid!("3bc748fc-213d-45c1-8d91-9da5725539b9");
pub const CONFIGURATION_READER_AND_DATA_ACCESS_CONFIGURATION_READER: Uuid =
    uuid!("69b07be0-09bf-439a-b9a6-e73de851bd59");
/// Entra directory roles (their role template ids): assigned at `/`, they
/// decide `microsoft.directory/…` operations ([`crate::Resource::Directory`]).
pub const GLOBAL_ADMINISTRATOR: Uuid = uuid!("62e90394-69f5-4237-9190-012177145e10");
pub const USER_ADMINISTRATOR: Uuid = uuid!("fe930be7-5e62-47db-91af-98c3a49a38b1");
pub const GROUPS_ADMINISTRATOR: Uuid = uuid!("fdd7a751-b60b-444a-984c-02652fe8fa1c");
pub const DIRECTORY_READERS: Uuid = uuid!("88d8e3e3-8f55-4a1e-953a-9b9898b8876b");
/// Entra directory roles for applications and service principals (#4).
pub const APPLICATION_ADMINISTRATOR: Uuid = uuid!("9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3");
pub const CLOUD_APPLICATION_ADMINISTRATOR: Uuid = uuid!("158c047a-c907-4556-b7ef-446551a6b5f7");

/// Legacy-mode (RBAC Registry Permissions) control-plane operations that
/// carry data-plane access (§6.2, §6.3).
pub mod legacy {
    pub const PULL: &str = "Microsoft.ContainerRegistry/registries/pull/read";
    pub const PUSH: &str = "Microsoft.ContainerRegistry/registries/push/write";
    pub const DELETE: &str = "Microsoft.ContainerRegistry/registries/artifacts/delete";
}

/// ABAC-mode data actions (§6.2, §6.3).
pub mod data {
    pub const CONTENT_READ: &str =
        "Microsoft.ContainerRegistry/registries/repositories/content/read";
    pub const CONTENT_WRITE: &str =
        "Microsoft.ContainerRegistry/registries/repositories/content/write";
    pub const CONTENT_DELETE: &str =
        "Microsoft.ContainerRegistry/registries/repositories/content/delete";
    pub const METADATA_READ: &str =
        "Microsoft.ContainerRegistry/registries/repositories/metadata/read";
    pub const METADATA_WRITE: &str =
        "Microsoft.ContainerRegistry/registries/repositories/metadata/write";
    pub const METADATA_DELETE: &str =
        "Microsoft.ContainerRegistry/registries/repositories/metadata/delete";
    pub const CATALOG_READ: &str = "Microsoft.ContainerRegistry/registries/catalog/read";
}

/// The legacy-mode (RBAC Registry Permissions) control-plane operation that
/// carries a data-plane action: pull and metadata reads and the catalog
/// ride on `pull/read`, push and metadata writes on `push/write`, deletes
/// on `artifacts/delete` (§6.3).
pub fn legacy_data_permission(a: &Action) -> Option<&'static str> {
    match a {
        Action::Repository(RepoAction::Pull | RepoAction::MetadataRead) | Action::CatalogList => {
            Some(legacy::PULL)
        }
        Action::Repository(RepoAction::Push | RepoAction::MetadataWrite) => Some(legacy::PUSH),
        Action::Repository(RepoAction::Delete) => Some(legacy::DELETE),
        Action::Arm(_) | Action::Directory(_) | Action::System => None,
    }
}

/// The ABAC-mode data action that carries a data-plane action (§6.3).
pub fn abac_data_action(a: &Action) -> Option<&'static str> {
    match a {
        Action::Repository(RepoAction::Pull) => Some(data::CONTENT_READ),
        Action::Repository(RepoAction::Push) => Some(data::CONTENT_WRITE),
        Action::Repository(RepoAction::Delete) => Some(data::CONTENT_DELETE),
        Action::Repository(RepoAction::MetadataRead) => Some(data::METADATA_READ),
        Action::Repository(RepoAction::MetadataWrite) => Some(data::METADATA_WRITE),
        Action::CatalogList => Some(data::CATALOG_READ),
        Action::Arm(_) | Action::Directory(_) | Action::System => None,
    }
}

struct Builtin {
    id: Uuid,
    name: &'static str,
    description: &'static str,
    actions: &'static [&'static str],
    not_actions: &'static [&'static str],
    data_actions: &'static [&'static str],
}

/// The built-in roles, as Azure defines them (MicrosoftDocs azure-docs
/// `built-in-roles/containers.md` and `general.md`).
const BUILTINS: &[Builtin] = &[
    Builtin {
        id: OWNER,
        name: "Owner",
        description: "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
        actions: &["*"],
        not_actions: &[],
        data_actions: &[],
    },
    Builtin {
        id: CONTRIBUTOR,
        name: "Contributor",
        description: "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
        actions: &["*"],
        not_actions: &[
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
            "Microsoft.Blueprint/blueprintAssignments/delete",
            "Microsoft.Compute/galleries/share/action",
            "Microsoft.Purview/consents/write",
            "Microsoft.Purview/consents/delete",
        ],
        data_actions: &[],
    },
    Builtin {
        id: READER,
        name: "Reader",
        description: "View all resources, but does not allow you to make any changes.",
        actions: &["*/read"],
        not_actions: &[],
        data_actions: &[],
    },
    Builtin {
        id: USER_ACCESS_ADMINISTRATOR,
        name: "User Access Administrator",
        description: "Lets you manage user access to Azure resources.",
        actions: &["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
        not_actions: &[],
        data_actions: &[],
    },
    Builtin {
        id: ACR_PULL,
        name: "AcrPull",
        description: "acr pull",
        actions: &["Microsoft.ContainerRegistry/registries/pull/read"],
        not_actions: &[],
        data_actions: &[],
    },
    Builtin {
        id: ACR_PUSH,
        name: "AcrPush",
        description: "acr push",
        actions: &[
            "Microsoft.ContainerRegistry/registries/pull/read",
            "Microsoft.ContainerRegistry/registries/push/write",
        ],
        not_actions: &[],
        data_actions: &[],
    },
    Builtin {
        id: ACR_DELETE,
        name: "AcrDelete",
        description: "acr delete",
        actions: &["Microsoft.ContainerRegistry/registries/artifacts/delete"],
        not_actions: &[],
        data_actions: &[],
    },
    Builtin {
        id: ACR_IMAGE_SIGNER,
        name: "AcrImageSigner",
        description: "acr image signer",
        actions: &["Microsoft.ContainerRegistry/registries/sign/write"],
        not_actions: &[],
        data_actions: &["Microsoft.ContainerRegistry/registries/trustedCollections/write"],
    },
    Builtin {
        id: ACR_QUARANTINE_READER,
        name: "AcrQuarantineReader",
        description: "acr quarantine data reader",
        actions: &["Microsoft.ContainerRegistry/registries/quarantine/read"],
        not_actions: &[],
        data_actions: &["Microsoft.ContainerRegistry/registries/quarantinedArtifacts/read"],
    },
    Builtin {
        id: ACR_QUARANTINE_WRITER,
        name: "AcrQuarantineWriter",
        description: "acr quarantine data writer",
        actions: &[
            "Microsoft.ContainerRegistry/registries/quarantine/read",
            "Microsoft.ContainerRegistry/registries/quarantine/write",
        ],
        not_actions: &[],
        data_actions: &[
            "Microsoft.ContainerRegistry/registries/quarantinedArtifacts/read",
            "Microsoft.ContainerRegistry/registries/quarantinedArtifacts/write",
        ],
    },
    Builtin {
        id: REPOSITORY_READER,
        name: "Container Registry Repository Reader",
        description: "Allows read access to Azure Container Registry repositories, but excluding catalog listing.",
        actions: &[],
        not_actions: &[],
        data_actions: &[data::METADATA_READ, data::CONTENT_READ],
    },
    Builtin {
        id: REPOSITORY_WRITER,
        name: "Container Registry Repository Writer",
        description: "Allows read and write access to Azure Container Registry repositories, but excluding catalog listing.",
        actions: &[],
        not_actions: &[],
        data_actions: &[
            data::METADATA_READ,
            data::METADATA_WRITE,
            data::CONTENT_READ,
            data::CONTENT_WRITE,
        ],
    },
    Builtin {
        id: REPOSITORY_CONTRIBUTOR,
        name: "Container Registry Repository Contributor",
        description: "Allows read, write, and delete access to Azure Container Registry repositories, but excluding catalog listing.",
        actions: &[],
        not_actions: &[],
        data_actions: &[
            data::METADATA_READ,
            data::METADATA_WRITE,
            data::METADATA_DELETE,
            data::CONTENT_READ,
            data::CONTENT_WRITE,
            data::CONTENT_DELETE,
        ],
    },
    Builtin {
        id: REPOSITORY_CATALOG_LISTER,
        name: "Container Registry Repository Catalog Lister",
        description: "Allows for listing all repositories in an Azure Container Registry.",
        actions: &[],
        not_actions: &[],
        data_actions: &[data::CATALOG_READ],
    },
    Builtin {
        id: DATA_IMPORTER_AND_DATA_READER,
        name: "Container Registry Data Importer and Data Reader",
        description: "Allows import of images to a registry and read access to its repositories, tags and manifests.",
        actions: &[
            "Microsoft.ContainerRegistry/registries/importImage/action",
            "Microsoft.ContainerRegistry/registries/read",
            "Microsoft.ContainerRegistry/registries/pull/read",
        ],
        not_actions: &[],
        data_actions: &[data::CONTENT_READ, data::METADATA_READ, data::CATALOG_READ],
    },
    Builtin {
        id: CONTRIBUTOR_AND_DATA_ACCESS_CONFIGURATION_ADMINISTRATOR,
        name: "Container Registry Contributor and Data Access Configuration Administrator",
        description: "Allows for managing registry configuration and data-access configuration (admin user, tokens, scope maps), but not role assignments and not data-plane access.",
        actions: &[
            "Microsoft.Authorization/*/read",
            "Microsoft.ContainerRegistry/registries/read",
            "Microsoft.ContainerRegistry/registries/write",
            "Microsoft.ContainerRegistry/registries/delete",
            "Microsoft.ContainerRegistry/registries/listCredentials/action",
            "Microsoft.ContainerRegistry/registries/regenerateCredential/action",
            "Microsoft.ContainerRegistry/registries/generateCredentials/action",
            "Microsoft.ContainerRegistry/registries/tokens/*",
            "Microsoft.ContainerRegistry/registries/scopeMaps/*",
            "Microsoft.ContainerRegistry/registries/operationStatuses/read",
            "Microsoft.ContainerRegistry/registries/auditLogs/read",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Resources/deployments/*",
        ],
        not_actions: &[],
        data_actions: &[],
    },
    Builtin {
        id: CONFIGURATION_READER_AND_DATA_ACCESS_CONFIGURATION_READER,
        name: "Container Registry Configuration Reader and Data Access Configuration Reader",
        description: "Allows for reading registry configuration and data-access configuration (including the admin user's passwords), but not data-plane access.",
        actions: &[
            "Microsoft.Authorization/*/read",
            "Microsoft.ContainerRegistry/registries/read",
            "Microsoft.ContainerRegistry/registries/listCredentials/action",
            "Microsoft.ContainerRegistry/registries/tokens/read",
            "Microsoft.ContainerRegistry/registries/scopeMaps/read",
            "Microsoft.ContainerRegistry/registries/operationStatuses/read",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
        ],
        not_actions: &[],
        data_actions: &[],
    },
    Builtin {
        id: GLOBAL_ADMINISTRATOR,
        name: "Global Administrator",
        description: "Can manage all aspects of the directory.",
        actions: &["microsoft.directory/*"],
        not_actions: &[],
        data_actions: &[],
    },
    Builtin {
        id: USER_ADMINISTRATOR,
        name: "User Administrator",
        description: "Can manage all aspects of users and groups, including resetting passwords.",
        actions: &[
            "microsoft.directory/users/*",
            "microsoft.directory/groups/*",
        ],
        not_actions: &[],
        data_actions: &[],
    },
    Builtin {
        id: GROUPS_ADMINISTRATOR,
        name: "Groups Administrator",
        description: "Members of this role can create and manage groups and their members.",
        actions: &["microsoft.directory/groups/*"],
        not_actions: &[],
        data_actions: &[],
    },
    Builtin {
        id: APPLICATION_ADMINISTRATOR,
        name: "Application Administrator",
        description: "Can create and manage all aspects of app registrations and enterprise apps.",
        actions: &[
            "microsoft.directory/applications/*",
            "microsoft.directory/servicePrincipals/*",
        ],
        not_actions: &[],
        data_actions: &[],
    },
    Builtin {
        id: CLOUD_APPLICATION_ADMINISTRATOR,
        name: "Cloud Application Administrator",
        description: "Can create and manage all aspects of app registrations and enterprise apps except App Proxy.",
        actions: &[
            "microsoft.directory/applications/*",
            "microsoft.directory/servicePrincipals/*",
        ],
        not_actions: &[],
        data_actions: &[],
    },
    Builtin {
        id: DIRECTORY_READERS,
        name: "Directory Readers",
        description: "Can read basic directory information.",
        actions: &["microsoft.directory/*/read"],
        not_actions: &[],
        data_actions: &[],
    },
];

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| (*x).to_owned()).collect()
}

impl Builtin {
    fn definition(&self) -> RoleDefinition {
        RoleDefinition {
            id: self.id,
            name: self.name.to_owned(),
            description: self.description.to_owned(),
            actions: strings(self.actions),
            not_actions: strings(self.not_actions),
            data_actions: strings(self.data_actions),
            not_data_actions: Vec::new(),
            assignable_scopes: vec![ArmScope::root()],
            role_type: RoleType::BuiltIn,
        }
    }
}

/// The built-in roles (ids as Azure publishes them).
pub fn builtins() -> Vec<RoleDefinition> {
    BUILTINS.iter().map(Builtin::definition).collect()
}

pub fn find_builtin(id: &Uuid) -> Option<RoleDefinition> {
    BUILTINS
        .iter()
        .find(|r| &r.id == id)
        .map(Builtin::definition)
}

/// By role name, case-insensitively (`az role assignment create --role AcrPull`).
pub fn find_builtin_by_name(name: &str) -> Option<RoleDefinition> {
    BUILTINS
        .iter()
        .find(|r| r.name.eq_ignore_ascii_case(name.trim()))
        .map(Builtin::definition)
}

/// Case-insensitive glob where `*` matches any run of characters.
pub(crate) fn glob(pattern: &str, s: &str) -> bool {
    let p = pattern.to_ascii_lowercase();
    let s = s.to_ascii_lowercase();
    let parts: Vec<&str> = p.split('*').collect();
    let (first, rest_parts) = match parts.split_first() {
        Some(x) => x,
        None => return s.is_empty(),
    };
    let Some((last, middle)) = rest_parts.split_last() else {
        return p == s;
    };
    let Some(mut rest) = s.strip_prefix(first) else {
        return false;
    };
    for mid in middle {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}
