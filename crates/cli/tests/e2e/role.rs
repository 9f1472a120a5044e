//! `acrylic role …` and `acrylic acr update --role-assignment-mode` (the
//! CLI, this package's binary) against a spawned `acrylic serve`: the
//! owner assigns a built-in role to a user by UPN, defines a custom role
//! from az's JSON file, assigns and removes it, switches the registry to
//! ABAC mode and assigns a repository role with a condition; a malformed
//! condition is refused with the position of the error.

use acrylic_testkit::spawned::SpawnedServer;
use serde_json::{Value, json};

use crate::support::{acrylic, acrylic_bin, owner_login};

/// `acrylic <args>`, parsed; `null` when nothing is printed.
fn ok(server: &SpawnedServer, args: &[&str]) -> Value {
    acrylic(server, args).ok().json_or_null()
}

/// `acrylic <args>` must fail with stderr starting `ERROR: `; stderr.
fn fails(server: &SpawnedServer, args: &[&str]) -> String {
    let stderr = acrylic(server, args).refused();
    assert!(stderr.starts_with("ERROR: "), "{stderr}");
    stderr
}

#[test]
fn owner_assigns_and_defines_roles_with_the_cli() {
    let server = SpawnedServer::start(acrylic_bin());
    let subscription = server.bootstrap_str("subscription");
    let resource_group = server.bootstrap_str("resourceGroup");
    let registry = server.bootstrap_str("registry");
    let username = server.bootstrap_str("username");
    owner_login(&server);
    let domain = username.split('@').nth(1).expect("a UPN");
    let upn = format!("dev@{domain}");
    let user = ok(
        &server,
        &[
            "ad",
            "user",
            "create",
            "--display-name",
            "Dev",
            "--user-principal-name",
            &upn,
            "--password",
            "Correct-Horse-Battery-1",
        ],
    );
    let oid = user["id"].as_str().expect("user id").to_owned();
    let sub_scope = format!("/subscriptions/{subscription}");
    let rg_scope = format!("{sub_scope}/resourceGroups/{resource_group}");
    let reg_scope =
        format!("{rg_scope}/providers/Microsoft.ContainerRegistry/registries/{registry}");

    // A built-in role by name, to a user by UPN, at the registry.
    let a = ok(
        &server,
        &[
            "role",
            "assignment",
            "create",
            "--assignee",
            &upn,
            "--role",
            "AcrPull",
            "--scope",
            &reg_scope,
        ],
    );
    assert_eq!(a["properties"]["principalId"], oid.as_str());
    assert_eq!(
        a["properties"]["roleDefinitionId"],
        format!(
            "/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d"
        )
    );
    let listed = ok(
        &server,
        &[
            "role",
            "assignment",
            "list",
            "--assignee",
            &upn,
            "--scope",
            &reg_scope,
        ],
    );
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["roleDefinitionName"], "AcrPull");
    // `--all` from the subscription sees it below; the default does not.
    let at_sub = ok(&server, &["role", "assignment", "list", "--assignee", &oid]);
    assert_eq!(at_sub, json!([]));
    let all = ok(
        &server,
        &["role", "assignment", "list", "--assignee", &oid, "--all"],
    );
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");

    // A custom role from az's JSON file.
    let file = server.scratch("role").join("janitor.json");
    std::fs::create_dir_all(file.parent().expect("dir")).expect("scratch dir");
    std::fs::write(
        &file,
        serde_json::to_vec(&json!({
            "Name": "Image Janitor",
            "Description": "Pulls and deletes images",
            "Actions": [
                "Microsoft.ContainerRegistry/registries/pull/read",
                "Microsoft.ContainerRegistry/registries/artifacts/delete"
            ],
            "NotActions": [],
            "DataActions": [],
            "NotDataActions": [],
            "AssignableScopes": [rg_scope]
        }))
        .expect("json"),
    )
    .expect("write role file");
    let role_file = format!("@{}", file.display());
    let def = ok(
        &server,
        &[
            "role",
            "definition",
            "create",
            "--role-definition",
            &role_file,
        ],
    );
    assert_eq!(def["properties"]["roleName"], "Image Janitor");
    assert_eq!(def["properties"]["type"], "CustomRole");
    let customs = ok(
        &server,
        &[
            "role",
            "definition",
            "list",
            "--custom-role-only",
            "--scope",
            &rg_scope,
        ],
    );
    assert_eq!(customs.as_array().map(Vec::len), Some(1), "{customs}");
    ok(
        &server,
        &[
            "role",
            "assignment",
            "create",
            "--assignee",
            &oid,
            "--role",
            "Image Janitor",
            "--scope",
            &reg_scope,
        ],
    );
    // Still assigned: not deleted.
    let err = fails(
        &server,
        &[
            "role",
            "definition",
            "delete",
            "--name",
            "Image Janitor",
            "--scope",
            &rg_scope,
        ],
    );
    assert!(err.contains("RoleDefinitionHasAssignments"), "{err}");
    let removed = ok(
        &server,
        &[
            "role",
            "assignment",
            "delete",
            "--assignee",
            &upn,
            "--role",
            "Image Janitor",
            "--scope",
            &reg_scope,
        ],
    );
    assert_eq!(removed.as_array().map(Vec::len), Some(1), "{removed}");
    ok(
        &server,
        &[
            "role",
            "definition",
            "delete",
            "--name",
            "Image Janitor",
            "--scope",
            &rg_scope,
        ],
    );

    // ABAC mode, and a repository role with a condition.
    let updated = ok(
        &server,
        &[
            "acr",
            "update",
            "--name",
            &registry,
            "--role-assignment-mode",
            "rbac-abac",
        ],
    );
    assert_eq!(
        updated["properties"]["roleAssignmentMode"],
        "AbacRepositoryPermissions"
    );
    let condition = "((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'})) \
         OR (@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWith 'team-a/'))";
    let c = ok(
        &server,
        &[
            "role",
            "assignment",
            "create",
            "--assignee",
            &upn,
            "--role",
            "Container Registry Repository Reader",
            "--scope",
            &reg_scope,
            "--condition",
            condition,
            "--condition-version",
            "2.0",
        ],
    );
    assert_eq!(c["properties"]["condition"], condition);
    assert_eq!(c["properties"]["conditionVersion"], "2.0");
    let err = fails(
        &server,
        &[
            "role",
            "assignment",
            "create",
            "--assignee",
            &upn,
            "--role",
            "Container Registry Repository Reader",
            "--scope",
            &reg_scope,
            "--condition",
            "@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWith 'team-a/",
        ],
    );
    assert!(
        err.contains("InvalidCondition") && err.contains("position"),
        "{err}"
    );
    // Role assignment by id, then gone.
    let id = a["id"].as_str().expect("assignment id");
    ok(&server, &["role", "assignment", "delete", "--ids", id]);
    let left = ok(
        &server,
        &[
            "role",
            "assignment",
            "list",
            "--assignee",
            &oid,
            "--scope",
            &reg_scope,
        ],
    );
    let roles: Vec<&str> = left
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| a["roleDefinitionName"].as_str())
        .collect();
    assert_eq!(roles, ["Container Registry Repository Reader"]);
}
