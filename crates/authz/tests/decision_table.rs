//! The decision table (issue #3 §3): roles × scopes × conditions × actions ×
//! principals, each row asserting the exact set of granted actions.
//!
//! The world: tenant T with subscriptions s1 and s2; registries reg1
//! (s1/rg-a), reg2 (s1/rg-b) and reg3 (s2/rg-a); user U, who is in group
//! G1 and, through G1, in G3 (the server loads transitive memberships into
//! `Grants::groups`), but not in G2; user V; a service principal, a
//! managed identity, a user of another tenant; admin users, anonymous
//! callers and repository tokens.

#![allow(clippy::unwrap_used, clippy::type_complexity)]

use acrylic_authz::roles::{self, RoleType};
use acrylic_authz::{
    Action, Assignment, Condition, ConditionError, Grants, Principal, RegistryFacts, RepoAction,
    Resource, RoleDefinition, ScopeMapRule, authorize,
};
use acrylic_model::{ArmScope, ObjectId, RegistryId, RepositoryName, TenantId};
use uuid::Uuid;

// ---- the world -------------------------------------------------------------

const S1: &str = "/subscriptions/s1";
const S2: &str = "/subscriptions/s2";
const RG_A: &str = "/subscriptions/s1/resourceGroups/rg-a";
const RG_B: &str = "/subscriptions/s1/resourceGroups/rg-b";
const S2_RG_A: &str = "/subscriptions/s2/resourceGroups/rg-a";
const REG1: &str =
    "/subscriptions/s1/resourceGroups/rg-a/providers/Microsoft.ContainerRegistry/registries/reg1";
const REG2: &str =
    "/subscriptions/s1/resourceGroups/rg-b/providers/Microsoft.ContainerRegistry/registries/reg2";
const REG3: &str =
    "/subscriptions/s2/resourceGroups/rg-a/providers/Microsoft.ContainerRegistry/registries/reg3";
const ROOT: &str = "/";

const P: Action = Action::Repository(RepoAction::Pull);
const PS: Action = Action::Repository(RepoAction::Push);
const D: Action = Action::Repository(RepoAction::Delete);
const MR: Action = Action::Repository(RepoAction::MetadataRead);
const MW: Action = Action::Repository(RepoAction::MetadataWrite);
const CAT: Action = Action::CatalogList;

fn all_repo() -> Vec<Action> {
    vec![P, PS, D, MR, MW]
}
fn read() -> Vec<Action> {
    vec![P, MR]
}
fn write() -> Vec<Action> {
    vec![P, PS, MR, MW]
}

fn arm(op: &str) -> Action {
    Action::Arm(op.into())
}
const REG_READ: &str = "Microsoft.ContainerRegistry/registries/read";
const REG_WRITE: &str = "Microsoft.ContainerRegistry/registries/write";
const REG_DELETE: &str = "Microsoft.ContainerRegistry/registries/delete";
const LIST_CREDS: &str = "Microsoft.ContainerRegistry/registries/listCredentials/action";
const RA_WRITE: &str = "Microsoft.Authorization/roleAssignments/write";
const RA_READ: &str = "Microsoft.Authorization/roleAssignments/read";
const RD_WRITE: &str = "Microsoft.Authorization/roleDefinitions/write";

fn control() -> Vec<Action> {
    [
        REG_READ, REG_WRITE, REG_DELETE, LIST_CREDS, RA_WRITE, RA_READ, RD_WRITE,
    ]
    .iter()
    .map(|o| arm(o))
    .collect()
}

const DIR_CREATE: &str = "microsoft.directory/users/create";
const DIR_READ: &str = "microsoft.directory/users/read";

struct World {
    tenant: TenantId,
    other_tenant: TenantId,
    u: ObjectId,
    v: ObjectId,
    sp: ObjectId,
    mi: ObjectId,
    foreign: ObjectId,
    g1: ObjectId,
    g2: ObjectId,
    g3: ObjectId,
    reg1: RegistryId,
    reg2: RegistryId,
    reg3: RegistryId,
}

impl World {
    fn new() -> World {
        World {
            tenant: TenantId::new_random(),
            other_tenant: TenantId::new_random(),
            u: ObjectId::new_random(),
            v: ObjectId::new_random(),
            sp: ObjectId::new_random(),
            mi: ObjectId::new_random(),
            foreign: ObjectId::new_random(),
            g1: ObjectId::new_random(),
            g2: ObjectId::new_random(),
            g3: ObjectId::new_random(),
            reg1: RegistryId::parse(&"1".repeat(32)).unwrap(),
            reg2: RegistryId::parse(&"2".repeat(32)).unwrap(),
            reg3: RegistryId::parse(&"3".repeat(32)).unwrap(),
        }
    }

    fn facts(&self, r: Reg) -> RegistryFacts {
        let (id, scope) = match r {
            Reg::R2 => (&self.reg2, REG2),
            Reg::R3 => (&self.reg3, REG3),
            _ => (&self.reg1, REG1),
        };
        RegistryFacts {
            id: id.clone(),
            tenant: self.tenant,
            scope: ArmScope::parse(scope).unwrap(),
            admin_enabled: !matches!(r, Reg::R1NoAdmin),
            anonymous_pull_enabled: matches!(r, Reg::R1Anon | Reg::R1AnonAbac),
            abac: matches!(r, Reg::R1Abac | Reg::R1AnonAbac),
        }
    }

    fn principal(&self, w: Who) -> Principal {
        match w {
            Who::U => Principal::User {
                tenant: self.tenant,
                oid: self.u,
                upn: "u@contoso.test".into(),
            },
            Who::Sp => Principal::ServicePrincipal {
                tenant: self.tenant,
                oid: self.sp,
                app_id: Uuid::new_v4(),
            },
            Who::Mi => Principal::ManagedIdentity {
                tenant: self.tenant,
                oid: self.mi,
                client_id: Uuid::new_v4(),
            },
            Who::Foreign => Principal::User {
                tenant: self.other_tenant,
                oid: self.foreign,
                upn: "f@fabrikam.test".into(),
            },
            Who::Admin1 => Principal::Admin {
                registry: self.reg1.clone(),
            },
            Who::Admin2 => Principal::Admin {
                registry: self.reg2.clone(),
            },
            Who::Anon => Principal::Anonymous,
            Who::Token1 => Principal::RepositoryToken {
                registry: self.reg1.clone(),
                name: "ci-token".into(),
            },
            Who::Token2 => Principal::RepositoryToken {
                registry: self.reg2.clone(),
                name: "ci-token".into(),
            },
        }
    }
}

#[derive(Clone, Copy)]
enum Reg {
    R1,
    R1Abac,
    R1NoAdmin,
    R1Anon,
    R1AnonAbac,
    R2,
    R3,
}

#[derive(Clone, Copy)]
enum Who {
    U,
    Sp,
    Mi,
    Foreign,
    Admin1,
    Admin2,
    Anon,
    Token1,
    Token2,
}

#[derive(Clone, Copy)]
enum On {
    Repo(&'static str),
    All,
    Catalog,
    Arm(&'static str),
    Dir,
    ForeignDir,
}

struct Case {
    name: String,
    who: Who,
    reg: Reg,
    on: On,
    grants: Grants,
    asked: Vec<Action>,
    want: Vec<Action>,
}

fn builtin(id: Uuid) -> RoleDefinition {
    roles::find_builtin(&id).unwrap()
}

fn custom(
    actions: &[&str],
    not_actions: &[&str],
    data: &[&str],
    not_data: &[&str],
    assignable: &[&str],
) -> RoleDefinition {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    RoleDefinition {
        id: Uuid::new_v4(),
        name: "custom".into(),
        description: String::new(),
        actions: v(actions),
        not_actions: v(not_actions),
        data_actions: v(data),
        not_data_actions: v(not_data),
        assignable_scopes: assignable
            .iter()
            .map(|s| ArmScope::parse(s).unwrap())
            .collect(),
        role_type: RoleType::Custom,
    }
}

fn to(principal: ObjectId, scope: &str, role: RoleDefinition) -> Assignment {
    Assignment::new(principal, ArmScope::parse(scope).unwrap(), role, None).unwrap()
}

fn to_if(principal: ObjectId, scope: &str, role: RoleDefinition, condition: &str) -> Assignment {
    Assignment::new(
        principal,
        ArmScope::parse(scope).unwrap(),
        role,
        Some(condition),
    )
    .unwrap()
}

const NAME: &str = "@Request[Microsoft.ContainerRegistry/registries/repositories:name]";

/// The documented shape (acr-auth.md §6.6): the listed data actions are
/// allowed only where `test` holds; other actions pass.
fn restrict(actions: &[&str], test: &str) -> String {
    let not: Vec<String> = actions
        .iter()
        .map(|a| format!("!(ActionMatches{{'{a}'}})"))
        .collect();
    format!("(({}) OR ({test}))", not.join(" AND "))
}

fn writer_actions() -> Vec<&'static str> {
    vec![
        roles::data::CONTENT_READ,
        roles::data::METADATA_READ,
        roles::data::CONTENT_WRITE,
        roles::data::METADATA_WRITE,
    ]
}

fn writer_if(test: &str) -> String {
    restrict(&writer_actions(), test)
}

// ---- the table ---------------------------------------------------------------

fn cases(w: &World) -> Vec<Case> {
    let mut out: Vec<Case> = Vec::new();
    let groups = vec![w.g1, w.g3];
    let mut add = |name: &str,
                   who: Who,
                   reg: Reg,
                   on: On,
                   assignments: Vec<Assignment>,
                   asked: Vec<Action>,
                   want: Vec<Action>| {
        out.push(Case {
            name: name.to_owned(),
            who,
            reg,
            on,
            grants: Grants {
                assignments,
                groups: groups.clone(),
                scope_map: Vec::new(),
            },
            asked,
            want,
        });
    };
    let app = On::Repo("team-a/app");
    let u = w.u;

    // -- A. RBAC registry permissions: scopes and built-in roles --
    let rbac_role_rows: Vec<(&str, &str, Uuid, Vec<Action>)> = vec![
        ("AcrPull at the registry", REG1, roles::ACR_PULL, read()),
        (
            "AcrPull at its resource group",
            RG_A,
            roles::ACR_PULL,
            read(),
        ),
        ("AcrPull at its subscription", S1, roles::ACR_PULL, read()),
        ("AcrPull at the root", ROOT, roles::ACR_PULL, read()),
        ("AcrPull at another registry", REG2, roles::ACR_PULL, vec![]),
        (
            "AcrPull at another resource group",
            RG_B,
            roles::ACR_PULL,
            vec![],
        ),
        (
            "AcrPull at another subscription",
            S2,
            roles::ACR_PULL,
            vec![],
        ),
        (
            "AcrPull at a same-named group in another subscription",
            S2_RG_A,
            roles::ACR_PULL,
            vec![],
        ),
        (
            "AcrPull at a scope that is only a string prefix",
            "/subscriptions/s1/resourceGroups/rg",
            roles::ACR_PULL,
            vec![],
        ),
        (
            "AcrPull at a case-shifted registry scope",
            "/SUBSCRIPTIONS/S1/resourcegroups/RG-A",
            roles::ACR_PULL,
            read(),
        ),
        ("AcrPush at the registry", REG1, roles::ACR_PUSH, write()),
        (
            "AcrPush at the resource group",
            RG_A,
            roles::ACR_PUSH,
            write(),
        ),
        (
            "AcrDelete at the registry",
            REG1,
            roles::ACR_DELETE,
            vec![D],
        ),
        ("Reader at the subscription", S1, roles::READER, read()),
        ("Reader at the registry", REG1, roles::READER, read()),
        (
            "Contributor at the resource group",
            RG_A,
            roles::CONTRIBUTOR,
            all_repo(),
        ),
        ("Owner at the subscription", S1, roles::OWNER, all_repo()),
        ("Owner at another subscription", S2, roles::OWNER, vec![]),
        (
            "User Access Administrator reads (*/read)",
            S1,
            roles::USER_ACCESS_ADMINISTRATOR,
            read(),
        ),
        ("AcrImageSigner", REG1, roles::ACR_IMAGE_SIGNER, vec![]),
        (
            "AcrQuarantineReader",
            REG1,
            roles::ACR_QUARANTINE_READER,
            vec![],
        ),
        (
            "Repository Reader is not honoured in RBAC mode",
            REG1,
            roles::REPOSITORY_READER,
            vec![],
        ),
        (
            "Repository Writer is not honoured in RBAC mode",
            REG1,
            roles::REPOSITORY_WRITER,
            vec![],
        ),
        (
            "Repository Contributor is not honoured in RBAC mode",
            REG1,
            roles::REPOSITORY_CONTRIBUTOR,
            vec![],
        ),
        (
            "Catalog Lister is not honoured in RBAC mode",
            REG1,
            roles::REPOSITORY_CATALOG_LISTER,
            vec![],
        ),
        (
            "Data Importer and Data Reader reads through pull/read",
            REG1,
            roles::DATA_IMPORTER_AND_DATA_READER,
            read(),
        ),
        (
            "Contributor and Data Access Configuration Administrator: no data plane",
            REG1,
            roles::CONTRIBUTOR_AND_DATA_ACCESS_CONFIGURATION_ADMINISTRATOR,
            vec![],
        ),
        (
            "Configuration Reader and Data Access Configuration Reader: no data plane",
            REG1,
            roles::CONFIGURATION_READER_AND_DATA_ACCESS_CONFIGURATION_READER,
            vec![],
        ),
    ];
    for (name, scope, role, want) in rbac_role_rows {
        add(
            &format!("rbac: {name}"),
            Who::U,
            Reg::R1,
            app,
            vec![to(u, scope, builtin(role))],
            all_repo(),
            want,
        );
    }
    add(
        "rbac: no assignments",
        Who::U,
        Reg::R1,
        app,
        vec![],
        all_repo(),
        vec![],
    );
    add(
        "rbac: AcrPush + AcrDelete",
        Who::U,
        Reg::R1,
        app,
        vec![
            to(u, REG1, builtin(roles::ACR_PUSH)),
            to(u, RG_A, builtin(roles::ACR_DELETE)),
        ],
        all_repo(),
        all_repo(),
    );
    add(
        "rbac: duplicates in the request are granted once",
        Who::U,
        Reg::R1,
        app,
        vec![to(u, REG1, builtin(roles::ACR_PULL))],
        vec![P, P, PS],
        vec![P],
    );
    add(
        "rbac: a control-plane action asked of a repository",
        Who::U,
        Reg::R1,
        app,
        vec![to(u, S1, builtin(roles::OWNER))],
        vec![P, arm(REG_READ)],
        vec![P],
    );

    // -- principals and groups --
    add(
        "rbac: AcrPush assigned to another user",
        Who::U,
        Reg::R1,
        app,
        vec![to(w.v, REG1, builtin(roles::ACR_PUSH))],
        all_repo(),
        vec![],
    );
    add(
        "rbac: AcrPush to a group U is in",
        Who::U,
        Reg::R1,
        app,
        vec![to(w.g1, REG1, builtin(roles::ACR_PUSH))],
        all_repo(),
        write(),
    );
    add(
        "rbac: AcrPush to a group U is not in",
        Who::U,
        Reg::R1,
        app,
        vec![to(w.g2, REG1, builtin(roles::ACR_PUSH))],
        all_repo(),
        vec![],
    );
    add(
        "rbac: AcrDelete to a nested group (G3 through G1)",
        Who::U,
        Reg::R1,
        app,
        vec![to(w.g3, RG_A, builtin(roles::ACR_DELETE))],
        all_repo(),
        vec![D],
    );
    add(
        "rbac: AcrPull to U, AcrDelete to G1",
        Who::U,
        Reg::R1,
        app,
        vec![
            to(u, REG1, builtin(roles::ACR_PULL)),
            to(w.g1, REG1, builtin(roles::ACR_DELETE)),
        ],
        all_repo(),
        vec![P, D, MR],
    );
    add(
        "rbac: service principal with AcrPush",
        Who::Sp,
        Reg::R1,
        app,
        vec![to(w.sp, REG1, builtin(roles::ACR_PUSH))],
        all_repo(),
        write(),
    );
    add(
        "rbac: managed identity with AcrPull",
        Who::Mi,
        Reg::R1,
        app,
        vec![to(w.mi, REG1, builtin(roles::ACR_PULL))],
        all_repo(),
        read(),
    );
    add(
        "rbac: service principal, assignment names the user",
        Who::Sp,
        Reg::R1,
        app,
        vec![to(u, REG1, builtin(roles::ACR_PUSH))],
        all_repo(),
        vec![],
    );
    add(
        "rbac: a user of another tenant, even as Owner",
        Who::Foreign,
        Reg::R1,
        app,
        vec![to(w.foreign, S1, builtin(roles::OWNER))],
        all_repo(),
        vec![],
    );
    add(
        "rbac: a conditional AcrPull grants nothing in RBAC mode",
        Who::U,
        Reg::R1,
        app,
        vec![to_if(
            u,
            REG1,
            builtin(roles::ACR_PULL),
            &format!("{NAME} StringStartsWith 'team-a/'"),
        )],
        all_repo(),
        vec![],
    );

    // -- custom roles --
    let custom_rows: Vec<(&str, RoleDefinition, &str, Vec<Action>)> = vec![
        (
            "pull/read, assignable at s1",
            custom(&[roles::legacy::PULL], &[], &[], &[], &[S1]),
            REG1,
            read(),
        ),
        (
            "assigned outside its assignable scopes",
            custom(&[roles::legacy::PULL], &[], &[], &[], &[S2]),
            REG1,
            vec![],
        ),
        (
            "assignable at the registry itself",
            custom(&[roles::legacy::PUSH], &[], &[], &[], &[REG1]),
            REG1,
            vec![PS, MW],
        ),
        (
            "assigned above its assignable scope",
            custom(&[roles::legacy::PUSH], &[], &[], &[], &[REG1]),
            RG_A,
            vec![],
        ),
        (
            "registries/* wildcard",
            custom(
                &["Microsoft.ContainerRegistry/registries/*"],
                &[],
                &[],
                &[],
                &[S1],
            ),
            REG1,
            all_repo(),
        ),
        (
            "provider wildcard minus artifacts/delete",
            custom(
                &["Microsoft.ContainerRegistry/*"],
                &[roles::legacy::DELETE],
                &[],
                &[],
                &[S1],
            ),
            REG1,
            write(),
        ),
        (
            "everything minus */write",
            custom(&["*"], &["*/write"], &[], &[], &[S1]),
            REG1,
            vec![P, D, MR],
        ),
        (
            "actions match case-insensitively",
            custom(
                &["microsoft.containerregistry/REGISTRIES/PULL/read"],
                &[],
                &[],
                &[],
                &[S1],
            ),
            REG1,
            read(),
        ),
        (
            "data actions only, in RBAC mode",
            custom(&[], &[], &[roles::data::CONTENT_READ], &[], &[S1]),
            REG1,
            vec![],
        ),
    ];
    for (name, role, scope, want) in custom_rows {
        add(
            &format!("rbac custom: {name}"),
            Who::U,
            Reg::R1,
            app,
            vec![to(u, scope, role)],
            all_repo(),
            want,
        );
    }

    // -- catalog and repository:* in RBAC mode --
    let catalog_rows: Vec<(&str, &str, Uuid, Vec<Action>)> = vec![
        (
            "AcrPull lists the catalog",
            REG1,
            roles::ACR_PULL,
            vec![CAT],
        ),
        (
            "AcrPush lists the catalog",
            RG_A,
            roles::ACR_PUSH,
            vec![CAT],
        ),
        ("AcrDelete does not", REG1, roles::ACR_DELETE, vec![]),
        ("Reader lists the catalog", S1, roles::READER, vec![CAT]),
        (
            "Catalog Lister is not honoured in RBAC mode",
            REG1,
            roles::REPOSITORY_CATALOG_LISTER,
            vec![],
        ),
        ("Owner elsewhere", S2, roles::OWNER, vec![]),
    ];
    for (name, scope, role, want) in catalog_rows {
        add(
            &format!("rbac catalog: {name}"),
            Who::U,
            Reg::R1,
            On::Catalog,
            vec![to(u, scope, builtin(role))],
            vec![CAT],
            want,
        );
    }
    add(
        "rbac catalog: repository actions are never catalog actions",
        Who::U,
        Reg::R1,
        On::Catalog,
        vec![to(u, REG1, builtin(roles::ACR_PUSH))],
        vec![P, PS, CAT],
        vec![CAT],
    );
    add(
        "rbac repository:*: AcrPull",
        Who::U,
        Reg::R1,
        On::All,
        vec![to(u, REG1, builtin(roles::ACR_PULL))],
        all_repo(),
        read(),
    );
    add(
        "rbac repository:*: Owner",
        Who::U,
        Reg::R1,
        On::All,
        vec![to(u, S1, builtin(roles::OWNER))],
        all_repo(),
        all_repo(),
    );
    add(
        "rbac repository:*: nothing assigned",
        Who::U,
        Reg::R1,
        On::All,
        vec![],
        all_repo(),
        vec![],
    );

    // -- cross-registry, cross-resource-group, cross-subscription --
    let cross: Vec<(&str, Reg, &str, Uuid, Vec<Action>)> = vec![
        (
            "reg2, AcrPull at reg1",
            Reg::R2,
            REG1,
            roles::ACR_PULL,
            vec![],
        ),
        (
            "reg2, AcrPull at rg-b",
            Reg::R2,
            RG_B,
            roles::ACR_PULL,
            read(),
        ),
        (
            "reg2, AcrPull at rg-a",
            Reg::R2,
            RG_A,
            roles::ACR_PULL,
            vec![],
        ),
        ("reg2, AcrPush at s1", Reg::R2, S1, roles::ACR_PUSH, write()),
        ("reg3, Owner at s1", Reg::R3, S1, roles::OWNER, vec![]),
        ("reg3, Owner at s2", Reg::R3, S2, roles::OWNER, all_repo()),
        (
            "reg3, AcrPush at s2/rg-a",
            Reg::R3,
            S2_RG_A,
            roles::ACR_PUSH,
            write(),
        ),
        (
            "reg1, AcrPush at s2/rg-a",
            Reg::R1,
            S2_RG_A,
            roles::ACR_PUSH,
            vec![],
        ),
        (
            "reg3, AcrPull at reg1",
            Reg::R3,
            REG1,
            roles::ACR_PULL,
            vec![],
        ),
    ];
    for (name, reg, scope, role, want) in cross {
        add(
            &format!("cross: {name}"),
            Who::U,
            reg,
            app,
            vec![to(u, scope, builtin(role))],
            all_repo(),
            want,
        );
    }

    // -- B. ABAC repository permissions: which roles count --
    let abac_role_rows: Vec<(&str, &str, Uuid, Vec<Action>)> = vec![
        ("AcrPull is not honoured", REG1, roles::ACR_PULL, vec![]),
        ("AcrPush is not honoured", REG1, roles::ACR_PUSH, vec![]),
        ("AcrDelete is not honoured", REG1, roles::ACR_DELETE, vec![]),
        ("Owner gives no data plane", S1, roles::OWNER, vec![]),
        (
            "Contributor gives no data plane",
            S1,
            roles::CONTRIBUTOR,
            vec![],
        ),
        ("Reader gives no data plane", S1, roles::READER, vec![]),
        ("Repository Reader", REG1, roles::REPOSITORY_READER, read()),
        ("Repository Writer", REG1, roles::REPOSITORY_WRITER, write()),
        (
            "Repository Contributor",
            REG1,
            roles::REPOSITORY_CONTRIBUTOR,
            all_repo(),
        ),
        (
            "Repository Reader at the resource group",
            RG_A,
            roles::REPOSITORY_READER,
            read(),
        ),
        (
            "Repository Reader at the subscription",
            S1,
            roles::REPOSITORY_READER,
            read(),
        ),
        (
            "Repository Reader at another registry",
            REG2,
            roles::REPOSITORY_READER,
            vec![],
        ),
        (
            "Repository Writer at another subscription",
            S2,
            roles::REPOSITORY_WRITER,
            vec![],
        ),
        (
            "Catalog Lister reads no repository",
            REG1,
            roles::REPOSITORY_CATALOG_LISTER,
            vec![],
        ),
        (
            "Data Importer and Data Reader",
            REG1,
            roles::DATA_IMPORTER_AND_DATA_READER,
            read(),
        ),
    ];
    for (name, scope, role, want) in abac_role_rows {
        add(
            &format!("abac: {name}"),
            Who::U,
            Reg::R1Abac,
            app,
            vec![to(u, scope, builtin(role))],
            all_repo(),
            want,
        );
    }
    add(
        "abac: Repository Writer to G1",
        Who::U,
        Reg::R1Abac,
        app,
        vec![to(w.g1, REG1, builtin(roles::REPOSITORY_WRITER))],
        all_repo(),
        write(),
    );
    add(
        "abac: Repository Writer to G2",
        Who::U,
        Reg::R1Abac,
        app,
        vec![to(w.g2, REG1, builtin(roles::REPOSITORY_WRITER))],
        all_repo(),
        vec![],
    );
    add(
        "abac: service principal with Repository Reader",
        Who::Sp,
        Reg::R1Abac,
        app,
        vec![to(w.sp, REG1, builtin(roles::REPOSITORY_READER))],
        all_repo(),
        read(),
    );
    add(
        "abac custom: repositories/* data actions",
        Who::U,
        Reg::R1Abac,
        app,
        vec![to(
            u,
            REG1,
            custom(
                &[],
                &[],
                &["Microsoft.ContainerRegistry/registries/repositories/*"],
                &[],
                &[S1],
            ),
        )],
        all_repo(),
        all_repo(),
    );
    add(
        "abac custom: repositories/* minus content/delete",
        Who::U,
        Reg::R1Abac,
        app,
        vec![to(
            u,
            REG1,
            custom(
                &[],
                &[],
                &["Microsoft.ContainerRegistry/registries/repositories/*"],
                &[roles::data::CONTENT_DELETE],
                &[S1],
            ),
        )],
        all_repo(),
        write(),
    );
    add(
        "abac custom: legacy actions only",
        Who::U,
        Reg::R1Abac,
        app,
        vec![to(
            u,
            REG1,
            custom(
                &[roles::legacy::PULL, roles::legacy::PUSH],
                &[],
                &[],
                &[],
                &[S1],
            ),
        )],
        all_repo(),
        vec![],
    );

    // -- conditions: Repository Writer restricted by a condition --
    let prefix_a = writer_if(&format!("{NAME} StringStartsWith 'team-a/'"));
    let prefix_no_slash = writer_if(&format!("{NAME} StringStartsWith 'team-a'"));
    let eq_hello = writer_if(&format!("{NAME} StringEquals 'hello-world'"));
    let eq_hello_ic = writer_if(&format!("{NAME} StringEqualsIgnoreCase 'Hello-World'"));
    let eq_hello_cs = writer_if(&format!("{NAME} StringEquals 'Hello-World'"));
    let prefix_ic = writer_if(&format!("{NAME} StringStartsWithIgnoreCase 'TEAM-A/'"));
    let prefix_cs = writer_if(&format!("{NAME} StringStartsWith 'TEAM-A/'"));
    let like_team = writer_if(&format!("{NAME} StringLike 'team-*/app'"));
    let like_one = writer_if(&format!("{NAME} StringLike 'team-?/*'"));
    let not_secret = writer_if(&format!("{NAME} StringNotEquals 'secret'"));
    let not_internal = writer_if(&format!("{NAME} StringNotStartsWith 'internal/'"));
    let either = writer_if(&format!(
        "{NAME} StringStartsWith 'team-a/' OR {NAME} StringStartsWith 'team-b/'"
    ));
    let condition_rows: Vec<(&str, &String, &'static str, Vec<Action>)> = vec![
        (
            "prefix team-a/ on team-a/app",
            &prefix_a,
            "team-a/app",
            write(),
        ),
        (
            "prefix team-a/ on team-ab/app",
            &prefix_a,
            "team-ab/app",
            vec![],
        ),
        (
            "prefix team-a/ on team-b/app",
            &prefix_a,
            "team-b/app",
            vec![],
        ),
        (
            "prefix team-a/ on team-a-infra/x",
            &prefix_a,
            "team-a-infra/x",
            vec![],
        ),
        (
            "prefix team-a/ on team-a itself",
            &prefix_a,
            "team-a",
            vec![],
        ),
        (
            "prefix team-a/ on a deep path",
            &prefix_a,
            "team-a/sub/deep",
            write(),
        ),
        (
            "prefix team-a (no slash) also matches team-a-infra/x",
            &prefix_no_slash,
            "team-a-infra/x",
            write(),
        ),
        (
            "prefix team-a (no slash) also matches team-ab/app",
            &prefix_no_slash,
            "team-ab/app",
            write(),
        ),
        (
            "prefix team-a (no slash) on team-b/app",
            &prefix_no_slash,
            "team-b/app",
            vec![],
        ),
        ("equals hello-world", &eq_hello, "hello-world", write()),
        (
            "equals hello-world, longer name",
            &eq_hello,
            "hello-world2",
            vec![],
        ),
        (
            "equals hello-world, shorter name",
            &eq_hello,
            "hello",
            vec![],
        ),
        (
            "equals-ignore-case Hello-World",
            &eq_hello_ic,
            "hello-world",
            write(),
        ),
        (
            "equals Hello-World is case-sensitive",
            &eq_hello_cs,
            "hello-world",
            vec![],
        ),
        (
            "starts-with-ignore-case TEAM-A/",
            &prefix_ic,
            "team-a/app",
            write(),
        ),
        (
            "starts-with TEAM-A/ is case-sensitive",
            &prefix_cs,
            "team-a/app",
            vec![],
        ),
        (
            "like team-*/app on team-a/app",
            &like_team,
            "team-a/app",
            write(),
        ),
        (
            "like team-*/app on team-ab/app",
            &like_team,
            "team-ab/app",
            write(),
        ),
        (
            "like team-*/app on team-a/other",
            &like_team,
            "team-a/other",
            vec![],
        ),
        (
            "like team-*/app on team-a-infra/x",
            &like_team,
            "team-a-infra/x",
            vec![],
        ),
        (
            "like team-?/* on team-a/app",
            &like_one,
            "team-a/app",
            write(),
        ),
        (
            "like team-?/* on team-ab/app",
            &like_one,
            "team-ab/app",
            vec![],
        ),
        ("not-equals secret on secret", &not_secret, "secret", vec![]),
        (
            "not-equals secret on public",
            &not_secret,
            "public",
            write(),
        ),
        (
            "not-starts-with internal/ on internal/x",
            &not_internal,
            "internal/x",
            vec![],
        ),
        (
            "not-starts-with internal/ on team-a/app",
            &not_internal,
            "team-a/app",
            write(),
        ),
        (
            "team-a/ or team-b/ on team-a/x",
            &either,
            "team-a/x",
            write(),
        ),
        (
            "team-a/ or team-b/ on team-b/x",
            &either,
            "team-b/x",
            write(),
        ),
        (
            "team-a/ or team-b/ on team-c/x",
            &either,
            "team-c/x",
            vec![],
        ),
    ];
    for (name, condition, repo, want) in condition_rows {
        add(
            &format!("condition: {name}"),
            Who::U,
            Reg::R1Abac,
            On::Repo(repo),
            vec![to_if(u, REG1, builtin(roles::REPOSITORY_WRITER), condition)],
            all_repo(),
            want,
        );
    }
    let reads_only = restrict(
        &[roles::data::CONTENT_READ, roles::data::METADATA_READ],
        &format!("{NAME} StringEqualsIgnoreCase 'hello-world'"),
    );
    add(
        "condition: reads restricted, writes not named pass",
        Who::U,
        Reg::R1Abac,
        On::Repo("other"),
        vec![to_if(
            u,
            REG1,
            builtin(roles::REPOSITORY_WRITER),
            &reads_only,
        )],
        all_repo(),
        vec![PS, MW],
    );
    add(
        "condition: reads restricted, on the named repository",
        Who::U,
        Reg::R1Abac,
        On::Repo("hello-world"),
        vec![to_if(
            u,
            REG1,
            builtin(roles::REPOSITORY_WRITER),
            &reads_only,
        )],
        all_repo(),
        write(),
    );
    let push_only = restrict(
        &[roles::data::CONTENT_WRITE],
        &format!("{NAME} StringStartsWith 'team-a/'"),
    );
    add(
        "condition: only content/write restricted, outside the prefix",
        Who::U,
        Reg::R1Abac,
        On::Repo("team-b/app"),
        vec![to_if(
            u,
            REG1,
            builtin(roles::REPOSITORY_WRITER),
            &push_only,
        )],
        all_repo(),
        vec![P, MR, MW],
    );
    add(
        "condition: only content/write restricted, inside the prefix",
        Who::U,
        Reg::R1Abac,
        On::Repo("team-a/app"),
        vec![to_if(
            u,
            REG1,
            builtin(roles::REPOSITORY_WRITER),
            &push_only,
        )],
        all_repo(),
        write(),
    );
    add(
        "condition: unconditional Reader + team-a/ Writer, on team-b",
        Who::U,
        Reg::R1Abac,
        On::Repo("team-b/app"),
        vec![
            to(u, REG1, builtin(roles::REPOSITORY_READER)),
            to_if(u, REG1, builtin(roles::REPOSITORY_WRITER), &prefix_a),
        ],
        all_repo(),
        read(),
    );
    add(
        "condition: unconditional Reader + team-a/ Writer, on team-a",
        Who::U,
        Reg::R1Abac,
        On::Repo("team-a/app"),
        vec![
            to(u, REG1, builtin(roles::REPOSITORY_READER)),
            to_if(u, REG1, builtin(roles::REPOSITORY_WRITER), &prefix_a),
        ],
        all_repo(),
        write(),
    );
    let prefix_b = writer_if(&format!("{NAME} StringStartsWith 'team-b/'"));
    add(
        "condition: two conditional assignments, second matches",
        Who::U,
        Reg::R1Abac,
        On::Repo("team-b/app"),
        vec![
            to_if(u, REG1, builtin(roles::REPOSITORY_WRITER), &prefix_a),
            to_if(u, REG1, builtin(roles::REPOSITORY_WRITER), &prefix_b),
        ],
        all_repo(),
        write(),
    );
    add(
        "condition: two conditional assignments, neither matches",
        Who::U,
        Reg::R1Abac,
        On::Repo("team-c/app"),
        vec![
            to_if(u, REG1, builtin(roles::REPOSITORY_WRITER), &prefix_a),
            to_if(u, REG1, builtin(roles::REPOSITORY_WRITER), &prefix_b),
        ],
        all_repo(),
        vec![],
    );
    let wildcard_action = format!(
        "(!(ActionMatches{{'Microsoft.ContainerRegistry/registries/repositories/*'}}) OR {NAME} StringStartsWith 'team-a/')"
    );
    add(
        "condition: ActionMatches wildcard, outside",
        Who::U,
        Reg::R1Abac,
        On::Repo("team-b/app"),
        vec![to_if(
            u,
            REG1,
            builtin(roles::REPOSITORY_WRITER),
            &wildcard_action,
        )],
        all_repo(),
        vec![],
    );
    add(
        "condition: ActionMatches wildcard, inside",
        Who::U,
        Reg::R1Abac,
        On::Repo("team-a/app"),
        vec![to_if(
            u,
            REG1,
            builtin(roles::REPOSITORY_WRITER),
            &wildcard_action,
        )],
        all_repo(),
        write(),
    );
    let delete_scratch = restrict(
        &[roles::data::CONTENT_DELETE],
        &format!("{NAME} StringStartsWith 'scratch/'"),
    );
    add(
        "condition: Contributor may delete only in scratch/, elsewhere",
        Who::U,
        Reg::R1Abac,
        On::Repo("team-a/app"),
        vec![to_if(
            u,
            REG1,
            builtin(roles::REPOSITORY_CONTRIBUTOR),
            &delete_scratch,
        )],
        all_repo(),
        write(),
    );
    add(
        "condition: Contributor may delete only in scratch/, there",
        Who::U,
        Reg::R1Abac,
        On::Repo("scratch/tmp"),
        vec![to_if(
            u,
            REG1,
            builtin(roles::REPOSITORY_CONTRIBUTOR),
            &delete_scratch,
        )],
        all_repo(),
        all_repo(),
    );
    add(
        "condition: to a group, inside",
        Who::U,
        Reg::R1Abac,
        On::Repo("team-a/app"),
        vec![to_if(
            w.g1,
            REG1,
            builtin(roles::REPOSITORY_WRITER),
            &prefix_a,
        )],
        all_repo(),
        write(),
    );
    add(
        "condition: to a group, outside",
        Who::U,
        Reg::R1Abac,
        On::Repo("team-b/app"),
        vec![to_if(
            w.g1,
            REG1,
            builtin(roles::REPOSITORY_WRITER),
            &prefix_a,
        )],
        all_repo(),
        vec![],
    );
    add(
        "condition: naming an unrelated action restricts nothing",
        Who::U,
        Reg::R1Abac,
        On::Repo("anything"),
        vec![to_if(
            u,
            REG1,
            builtin(roles::REPOSITORY_WRITER),
            "!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'})",
        )],
        all_repo(),
        write(),
    );
    add(
        "condition: no ActionMatches restricts every action",
        Who::U,
        Reg::R1Abac,
        On::Repo("team-b/app"),
        vec![to_if(
            u,
            REG1,
            builtin(roles::REPOSITORY_WRITER),
            &format!("{NAME} StringStartsWith 'team-a/'"),
        )],
        all_repo(),
        vec![],
    );

    // -- catalog and repository:* in ABAC mode --
    add(
        "abac catalog: a conditional Catalog Lister is not filtered",
        Who::U,
        Reg::R1Abac,
        On::Catalog,
        vec![to_if(
            u,
            REG1,
            builtin(roles::REPOSITORY_CATALOG_LISTER),
            &format!("{NAME} StringEquals 'nothing-matches'"),
        )],
        vec![CAT],
        vec![CAT],
    );
    let abac_catalog: Vec<(&str, &str, Uuid, Vec<Action>)> = vec![
        (
            "Catalog Lister at rg-a",
            RG_A,
            roles::REPOSITORY_CATALOG_LISTER,
            vec![CAT],
        ),
        (
            "Repository Reader does not list",
            REG1,
            roles::REPOSITORY_READER,
            vec![],
        ),
        (
            "Repository Contributor does not list",
            REG1,
            roles::REPOSITORY_CONTRIBUTOR,
            vec![],
        ),
        ("AcrPull is not honoured", REG1, roles::ACR_PULL, vec![]),
        ("Owner is not honoured", S1, roles::OWNER, vec![]),
        (
            "Data Importer lists",
            REG1,
            roles::DATA_IMPORTER_AND_DATA_READER,
            vec![CAT],
        ),
        (
            "Catalog Lister at another registry",
            REG2,
            roles::REPOSITORY_CATALOG_LISTER,
            vec![],
        ),
    ];
    for (name, scope, role, want) in abac_catalog {
        add(
            &format!("abac catalog: {name}"),
            Who::U,
            Reg::R1Abac,
            On::Catalog,
            vec![to(u, scope, builtin(role))],
            vec![CAT],
            want,
        );
    }
    add(
        "abac repository:* is ignored, even for Repository Contributor",
        Who::U,
        Reg::R1Abac,
        On::All,
        vec![to(u, REG1, builtin(roles::REPOSITORY_CONTRIBUTOR))],
        all_repo(),
        vec![],
    );
    add(
        "abac repository:* is ignored for Owner",
        Who::U,
        Reg::R1Abac,
        On::All,
        vec![to(u, S1, builtin(roles::OWNER))],
        all_repo(),
        vec![],
    );

    // -- C. admin user and anonymous --
    let fixed: Vec<(&str, Who, Reg, On, Vec<Action>, Vec<Action>)> = vec![
        (
            "admin: full data plane",
            Who::Admin1,
            Reg::R1,
            app,
            all_repo(),
            all_repo(),
        ),
        (
            "admin: catalog",
            Who::Admin1,
            Reg::R1,
            On::Catalog,
            vec![CAT],
            vec![CAT],
        ),
        (
            "admin: disabled",
            Who::Admin1,
            Reg::R1NoAdmin,
            app,
            all_repo(),
            vec![],
        ),
        (
            "admin: of another registry",
            Who::Admin2,
            Reg::R1,
            app,
            all_repo(),
            vec![],
        ),
        (
            "admin: not subject to ABAC",
            Who::Admin1,
            Reg::R1Abac,
            app,
            all_repo(),
            all_repo(),
        ),
        (
            "admin: repository:*",
            Who::Admin1,
            Reg::R1,
            On::All,
            all_repo(),
            all_repo(),
        ),
        (
            "admin: no control plane",
            Who::Admin1,
            Reg::R1,
            On::Arm(REG1),
            control(),
            vec![],
        ),
        (
            "admin: no directory",
            Who::Admin1,
            Reg::R1,
            On::Dir,
            vec![Action::Directory(DIR_READ.into())],
            vec![],
        ),
        (
            "anonymous: pull disabled",
            Who::Anon,
            Reg::R1,
            app,
            all_repo(),
            vec![],
        ),
        (
            "anonymous: pull enabled",
            Who::Anon,
            Reg::R1Anon,
            app,
            all_repo(),
            vec![P],
        ),
        (
            "anonymous: catalog",
            Who::Anon,
            Reg::R1Anon,
            On::Catalog,
            vec![CAT],
            vec![CAT],
        ),
        (
            "anonymous: catalog disabled",
            Who::Anon,
            Reg::R1,
            On::Catalog,
            vec![CAT],
            vec![],
        ),
        (
            "anonymous: pull in ABAC mode",
            Who::Anon,
            Reg::R1AnonAbac,
            app,
            all_repo(),
            vec![P],
        ),
        (
            "anonymous: repository:*",
            Who::Anon,
            Reg::R1Anon,
            On::All,
            all_repo(),
            vec![P],
        ),
        (
            "anonymous: no control plane",
            Who::Anon,
            Reg::R1Anon,
            On::Arm(S1),
            control(),
            vec![],
        ),
    ];
    for (name, who, reg, on, asked, want) in fixed {
        add(name, who, reg, on, vec![], asked, want);
    }

    // -- D. control plane --
    let arm_rows: Vec<(&str, &str, &str, RoleDefinition, Vec<&str>)> = vec![
        (
            "Owner at s1, on reg1",
            REG1,
            S1,
            builtin(roles::OWNER),
            vec![
                REG_READ, REG_WRITE, REG_DELETE, LIST_CREDS, RA_WRITE, RA_READ, RD_WRITE,
            ],
        ),
        (
            "Contributor cannot write role assignments or definitions",
            REG1,
            S1,
            builtin(roles::CONTRIBUTOR),
            vec![REG_READ, REG_WRITE, REG_DELETE, LIST_CREDS, RA_READ],
        ),
        (
            "Reader at rg-a",
            REG1,
            RG_A,
            builtin(roles::READER),
            vec![REG_READ, RA_READ],
        ),
        (
            "AcrPull has no control plane",
            REG1,
            REG1,
            builtin(roles::ACR_PULL),
            vec![],
        ),
        (
            "User Access Administrator",
            REG1,
            S1,
            builtin(roles::USER_ACCESS_ADMINISTRATOR),
            vec![REG_READ, RA_WRITE, RA_READ, RD_WRITE],
        ),
        (
            "Owner at the registry, asked at its resource group",
            RG_A,
            REG1,
            builtin(roles::OWNER),
            vec![],
        ),
        (
            "Owner at s2, on reg1",
            REG1,
            S2,
            builtin(roles::OWNER),
            vec![],
        ),
        (
            "Owner at the root",
            S2_RG_A,
            ROOT,
            builtin(roles::OWNER),
            vec![
                REG_READ, REG_WRITE, REG_DELETE, LIST_CREDS, RA_WRITE, RA_READ, RD_WRITE,
            ],
        ),
        (
            "Contributor and Data Access Configuration Administrator",
            REG1,
            REG1,
            builtin(roles::CONTRIBUTOR_AND_DATA_ACCESS_CONFIGURATION_ADMINISTRATOR),
            vec![REG_READ, REG_WRITE, REG_DELETE, LIST_CREDS, RA_READ],
        ),
        (
            "Configuration Reader and Data Access Configuration Reader",
            REG1,
            RG_A,
            builtin(roles::CONFIGURATION_READER_AND_DATA_ACCESS_CONFIGURATION_READER),
            vec![REG_READ, LIST_CREDS, RA_READ],
        ),
        (
            "Repository Writer has no control plane",
            REG1,
            REG1,
            builtin(roles::REPOSITORY_WRITER),
            vec![],
        ),
        (
            "custom: read and list credentials",
            REG1,
            RG_A,
            custom(&[REG_READ, LIST_CREDS], &[], &[], &[], &[S1]),
            vec![REG_READ, LIST_CREDS],
        ),
        (
            "custom: outside its assignable scopes",
            REG1,
            S1,
            custom(&["*"], &[], &[], &[], &[S2]),
            vec![],
        ),
    ];
    for (name, at, scope, role, want) in arm_rows {
        let on = match at {
            REG1 => On::Arm(REG1),
            RG_A => On::Arm(RG_A),
            _ => On::Arm(S2_RG_A),
        };
        add(
            &format!("arm: {name}"),
            Who::U,
            Reg::R1,
            on,
            vec![to(u, scope, role)],
            control(),
            want.iter().map(|o| arm(o)).collect(),
        );
    }
    add(
        "arm: Owner through a group",
        Who::U,
        Reg::R1,
        On::Arm(REG1),
        vec![to(w.g1, S1, builtin(roles::OWNER))],
        control(),
        control(),
    );
    add(
        "arm: a condition does not restrict control-plane operations",
        Who::U,
        Reg::R1,
        On::Arm(REG1),
        vec![to_if(
            u,
            REG1,
            builtin(roles::DATA_IMPORTER_AND_DATA_READER),
            &format!("{NAME} StringEquals 'x'"),
        )],
        control(),
        vec![arm(REG_READ)],
    );
    add(
        "arm: data-plane actions are never control-plane actions",
        Who::U,
        Reg::R1,
        On::Arm(REG1),
        vec![to(u, S1, builtin(roles::OWNER))],
        vec![P, CAT, arm(REG_READ)],
        vec![arm(REG_READ)],
    );
    add(
        "arm: service principal with Contributor",
        Who::Sp,
        Reg::R1,
        On::Arm(REG1),
        vec![to(w.sp, RG_A, builtin(roles::CONTRIBUTOR))],
        vec![arm(REG_WRITE), arm(RA_WRITE)],
        vec![arm(REG_WRITE)],
    );
    add(
        "arm: a user of another tenant, even as Owner at /",
        Who::Foreign,
        Reg::R1,
        On::Arm(REG1),
        vec![to(w.foreign, ROOT, builtin(roles::OWNER))],
        control(),
        vec![],
    );
    add(
        "arm: repository token",
        Who::Token1,
        Reg::R1,
        On::Arm(REG1),
        vec![],
        control(),
        vec![],
    );

    // -- E. directory --
    let dir = vec![
        Action::Directory(DIR_CREATE.into()),
        Action::Directory(DIR_READ.into()),
    ];
    let dir_rows: Vec<(&str, Who, On, &str, Uuid, Vec<Action>)> = vec![
        (
            "Owner at /",
            Who::U,
            On::Dir,
            ROOT,
            roles::OWNER,
            dir.clone(),
        ),
        (
            "Owner at a subscription",
            Who::U,
            On::Dir,
            S1,
            roles::OWNER,
            vec![],
        ),
        (
            "Reader at / reads",
            Who::U,
            On::Dir,
            ROOT,
            roles::READER,
            vec![Action::Directory(DIR_READ.into())],
        ),
        (
            "another tenant's directory",
            Who::U,
            On::ForeignDir,
            ROOT,
            roles::OWNER,
            vec![],
        ),
        ("anonymous", Who::Anon, On::Dir, ROOT, roles::OWNER, vec![]),
        (
            "AcrPush at /",
            Who::U,
            On::Dir,
            ROOT,
            roles::ACR_PUSH,
            vec![],
        ),
    ];
    for (name, who, on, scope, role, want) in dir_rows {
        add(
            &format!("directory: {name}"),
            who,
            Reg::R1,
            on,
            vec![to(u, scope, builtin(role))],
            dir.clone(),
            want,
        );
    }

    out
}

/// Repository-token rows need scope maps.
fn token_cases(w: &World) -> Vec<Case> {
    let rule = |repository: &str, action: RepoAction| ScopeMapRule {
        repository: repository.into(),
        action,
    };
    let rows: Vec<(&str, Who, Reg, On, Vec<ScopeMapRule>, Vec<Action>)> = vec![
        (
            "token: team-a/* pull,push on team-a/app",
            Who::Token1,
            Reg::R1,
            On::Repo("team-a/app"),
            vec![
                rule("team-a/*", RepoAction::Pull),
                rule("team-a/*", RepoAction::Push),
            ],
            vec![P, PS],
        ),
        (
            "token: team-a/* on team-ab/app",
            Who::Token1,
            Reg::R1,
            On::Repo("team-ab/app"),
            vec![rule("team-a/*", RepoAction::Pull)],
            vec![],
        ),
        (
            "token: team-a/* on team-a itself",
            Who::Token1,
            Reg::R1,
            On::Repo("team-a"),
            vec![rule("team-a/*", RepoAction::Pull)],
            vec![],
        ),
        (
            "token: * pull on anything",
            Who::Token1,
            Reg::R1,
            On::Repo("x/y/z"),
            vec![rule("*", RepoAction::Pull)],
            vec![P],
        ),
        (
            "token: exact name",
            Who::Token1,
            Reg::R1,
            On::Repo("hello-world"),
            vec![rule("hello-world", RepoAction::Delete)],
            vec![D],
        ),
        (
            "token: exact name, longer repository",
            Who::Token1,
            Reg::R1,
            On::Repo("hello-world/x"),
            vec![rule("hello-world", RepoAction::Delete)],
            vec![],
        ),
        (
            "token: rules are additive",
            Who::Token1,
            Reg::R1,
            On::Repo("team/app"),
            vec![
                rule("team/*", RepoAction::Pull),
                rule("team/app", RepoAction::Push),
            ],
            vec![P, PS],
        ),
        (
            "token: metadata read",
            Who::Token1,
            Reg::R1,
            On::Repo("team/app"),
            vec![rule("team/*", RepoAction::MetadataRead)],
            vec![MR],
        ),
        (
            "token: never the catalog",
            Who::Token1,
            Reg::R1,
            On::Catalog,
            vec![rule("*", RepoAction::Pull)],
            vec![],
        ),
        (
            "token: of another registry",
            Who::Token2,
            Reg::R1,
            On::Repo("team/app"),
            vec![rule("*", RepoAction::Pull)],
            vec![],
        ),
        (
            "token: repository:* with a * rule",
            Who::Token1,
            Reg::R1,
            On::All,
            vec![rule("*", RepoAction::Pull)],
            vec![P],
        ),
        (
            "token: repository:* with only prefix rules",
            Who::Token1,
            Reg::R1,
            On::All,
            vec![rule("team-a/*", RepoAction::Pull)],
            vec![],
        ),
        (
            "token: not subject to ABAC",
            Who::Token1,
            Reg::R1Abac,
            On::Repo("team-a/app"),
            vec![rule("team-a/*", RepoAction::Push)],
            vec![PS],
        ),
    ];
    rows.into_iter()
        .map(|(name, who, reg, on, scope_map, want)| Case {
            name: name.into(),
            who,
            reg,
            on,
            grants: Grants {
                assignments: vec![],
                groups: vec![w.g1],
                scope_map,
            },
            asked: match on {
                On::Catalog => vec![CAT],
                _ => all_repo(),
            },
            want,
        })
        .collect()
}

#[test]
fn decision_table() {
    let w = World::new();
    let mut all = cases(&w);
    all.extend(token_cases(&w));
    assert!(all.len() >= 150, "only {} cases", all.len());
    println!("{} decision-table cases", all.len());
    let mut failures = Vec::new();
    for case in &all {
        let facts = w.facts(case.reg);
        let principal = w.principal(case.who);
        let name;
        let scope;
        let resource = match case.on {
            On::Repo(r) => {
                name = RepositoryName::parse(r).unwrap();
                Resource::Repository {
                    registry: &facts,
                    name: &name,
                }
            }
            On::All => Resource::AllRepositories { registry: &facts },
            On::Catalog => Resource::Catalog { registry: &facts },
            On::Arm(s) => {
                scope = ArmScope::parse(s).unwrap();
                Resource::Arm {
                    scope: &scope,
                    tenant: &w.tenant,
                }
            }
            On::Dir => Resource::Directory { tenant: &w.tenant },
            On::ForeignDir => Resource::Directory {
                tenant: &w.other_tenant,
            },
        };
        let d = authorize(&principal, resource, &case.asked, &case.grants);
        if d.granted != case.want {
            failures.push(format!(
                "{}: granted {:?}, expected {:?} ({})",
                case.name, d.granted, case.want, d.reason
            ));
        }
        // Every requested action is either granted or denied, and every
        // denial with a missing permission names it and a scope.
        for a in &case.asked {
            assert!(
                d.allows(a) != d.denied.contains(a),
                "{}: {a} neither or both",
                case.name
            );
        }
        for m in &d.missing {
            assert!(
                d.reason.contains(&m.permission) && d.reason.contains(&m.scope),
                "{}: reason {:?} does not name {m}",
                case.name,
                d.reason
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
fn denials_name_the_missing_permission_and_scope() {
    let w = World::new();
    let facts = w.facts(Reg::R1Abac);
    let user = w.principal(Who::U);
    let name = RepositoryName::parse("team-b/app").unwrap();
    let grants = Grants {
        assignments: vec![to_if(
            w.u,
            REG1,
            builtin(roles::REPOSITORY_WRITER),
            &writer_if(&format!("{NAME} StringStartsWith 'team-a/'")),
        )],
        ..Grants::default()
    };
    let d = authorize(
        &user,
        Resource::Repository {
            registry: &facts,
            name: &name,
        },
        &[PS],
        &grants,
    );
    let why = d.denial(&PS).unwrap();
    assert!(why.contains(roles::data::CONTENT_WRITE), "{why}");
    assert!(why.contains(REG1) && why.contains("team-b/app"), "{why}");
    assert!(why.contains("u@contoso.test"), "{why}");

    // A denial that no role could lift says why instead.
    let admin = w.principal(Who::Admin1);
    let facts = w.facts(Reg::R1NoAdmin);
    let d = authorize(
        &admin,
        Resource::Repository {
            registry: &facts,
            name: &name,
        },
        &[P],
        &Grants::default(),
    );
    assert_eq!(d.denial(&P).as_deref(), Some("the admin user is disabled"));
}

#[test]
fn malformed_conditions_are_refused_with_a_position() {
    let rows: Vec<(&str, usize)> = vec![
        ("(", 1),
        ("ActionMatches{'x'", 17),
        ("ActionMatches{x}", 14),
        ("ActionMatches 'x'", 14),
        (
            "@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringContains 'a'",
            67,
        ),
        (
            "@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringEquals a",
            80,
        ),
        (
            "@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringEquals 'a' AND",
            87,
        ),
        (
            "@Request[Microsoft.ContainerRegistry/registries/repositories:tag] StringEquals 'a'",
            0,
        ),
        ("@Principal[Microsoft.Directory/x] StringEquals 'a'", 0),
        ("ActionMatches{'x'}) ", 18),
        ("ActionMatches{'x'} | ActionMatches{'y'}", 19),
        ("ActionMatches{'x'} XOR ActionMatches{'y'}", 19),
        ("$", 0),
    ];
    for (text, position) in rows {
        let err = Condition::parse(text, Some("2.0")).expect_err(text);
        let found = match &err {
            ConditionError::Unexpected { position, .. }
            | ConditionError::UnterminatedString { position }
            | ConditionError::UnexpectedCharacter { position, .. }
            | ConditionError::UnknownOperator { position, .. }
            | ConditionError::UnknownAttribute { position, .. }
            | ConditionError::EmptyAction { position }
            | ConditionError::TooDeep { position, .. } => *position,
            other => panic!("{text}: {other:?} has no position"),
        };
        assert_eq!(found, position, "{text}: {err}");
        assert!(err.to_string().contains(&position.to_string()), "{err}");
        // And an assignment is never made from it.
        assert!(
            Assignment::new(
                ObjectId::new_random(),
                ArmScope::parse(REG1).unwrap(),
                builtin(roles::REPOSITORY_READER),
                Some(text)
            )
            .is_err()
        );
    }
    assert!(matches!(
        Condition::parse("ActionMatches{'x'}", Some("1.0")),
        Err(ConditionError::UnsupportedVersion { .. })
    ));
}
