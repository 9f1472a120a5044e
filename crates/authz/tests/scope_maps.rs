//! The scope-map decision suite (issue #4 §3): repository-scoped tokens
//! against every data-plane API, each row asserting exactly what
//! `authorize` grants.
//!
//! A token carries its scope map's rules in `Grants::scope_map` (the
//! server loads the token's current map on every decision). Rules are
//! `repositories/<pattern>/<action>` with the pattern an exact name, `*`,
//! or a prefix ending in `/*` (acr-auth.md §6.4), mapped to Docker actions
//! (§6.3): content/read → pull, content/write → push, content/delete →
//! delete, metadata/read → metadata_read, metadata/write → metadata_write.
//!
//! The APIs and the action each needs, as the server's route tables say
//! (`oci/route.rs`, `acr_v1/route.rs`): blob pull, manifest pull and OCI tag
//! list → pull; manifest push and blob upload → push; manifest delete and
//! ACR tag/repository delete → delete; ACR metadata reads (tag list,
//! manifest list) → metadata_read; ACR metadata update → metadata_write;
//! the catalog → `registry:catalog:*`, never granted to a token.

#![allow(clippy::unwrap_used)]

use acrylic_authz::{
    Action, Grants, Principal, RegistryFacts, RepoAction, Resource, ScopeMapRule, authorize,
};
use acrylic_model::{ArmScope, RegistryId, RepositoryName, TenantId};

const REG1: &str =
    "/subscriptions/s1/resourceGroups/rg-a/providers/Microsoft.ContainerRegistry/registries/reg1";
const REG2: &str =
    "/subscriptions/s1/resourceGroups/rg-a/providers/Microsoft.ContainerRegistry/registries/reg2";

/// A data-plane API, by the action its route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    BlobPull,
    ManifestPull,
    OciTagList,
    ManifestPush,
    BlobUpload,
    ManifestDelete,
    AcrTagList,
    AcrManifestList,
    MetadataUpdate,
    AcrTagDelete,
    Catalog,
}

impl Api {
    const REPOSITORY: [Api; 10] = [
        Api::BlobPull,
        Api::ManifestPull,
        Api::OciTagList,
        Api::ManifestPush,
        Api::BlobUpload,
        Api::ManifestDelete,
        Api::AcrTagList,
        Api::AcrManifestList,
        Api::MetadataUpdate,
        Api::AcrTagDelete,
    ];

    fn action(self) -> Action {
        match self {
            Api::BlobPull | Api::ManifestPull | Api::OciTagList => {
                Action::Repository(RepoAction::Pull)
            }
            Api::ManifestPush | Api::BlobUpload => Action::Repository(RepoAction::Push),
            Api::ManifestDelete | Api::AcrTagDelete => Action::Repository(RepoAction::Delete),
            Api::AcrTagList | Api::AcrManifestList => Action::Repository(RepoAction::MetadataRead),
            Api::MetadataUpdate => Action::Repository(RepoAction::MetadataWrite),
            Api::Catalog => Action::CatalogList,
        }
    }
}

struct World {
    reg1: RegistryFacts,
    reg2: RegistryFacts,
    token: Principal,
}

impl World {
    fn new() -> World {
        let tenant = TenantId::new_random();
        let facts = |id: &str, scope: &str| RegistryFacts {
            id: RegistryId::parse(id).unwrap(),
            tenant,
            scope: ArmScope::parse(scope).unwrap(),
            admin_enabled: false,
            anonymous_pull_enabled: false,
            abac: false,
        };
        let reg1 = facts(&"1".repeat(32), REG1);
        let reg2 = facts(&"2".repeat(32), REG2);
        World {
            token: Principal::RepositoryToken {
                registry: reg1.id.clone(),
                name: "ci-token".into(),
            },
            reg1,
            reg2,
        }
    }

    /// What the token may do through `api` on repository `repo` of reg1.
    fn allows(&self, rules: &[ScopeMapRule], api: Api, repo: &str) -> bool {
        self.allows_on(&self.reg1, rules, api, repo)
    }

    fn allows_on(&self, reg: &RegistryFacts, rules: &[ScopeMapRule], api: Api, repo: &str) -> bool {
        let grants = grants(rules);
        let action = api.action();
        let decision = match api {
            Api::Catalog => authorize(
                &self.token,
                Resource::Catalog { registry: reg },
                std::slice::from_ref(&action),
                &grants,
            ),
            _ => {
                let name = RepositoryName::parse(repo).unwrap();
                authorize(
                    &self.token,
                    Resource::Repository {
                        registry: reg,
                        name: &name,
                    },
                    std::slice::from_ref(&action),
                    &grants,
                )
            }
        };
        // The decision is consistent with itself: granted xor denied, and a
        // permit exactly when granted.
        assert_eq!(decision.allows(&action), decision.denied.is_empty());
        assert_eq!(decision.permit(&action).is_some(), decision.allows(&action));
        decision.allows(&action)
    }

    /// Every repository action asked at once: exactly the granted set.
    fn granted(&self, rules: &[ScopeMapRule], repo: &str) -> Vec<RepoAction> {
        let name = RepositoryName::parse(repo).unwrap();
        let asked: Vec<Action> = RepoAction::ALL
            .iter()
            .map(|a| Action::Repository(*a))
            .collect();
        let d = authorize(
            &self.token,
            Resource::Repository {
                registry: &self.reg1,
                name: &name,
            },
            &asked,
            &grants(rules),
        );
        d.granted
            .iter()
            .map(|a| match a {
                Action::Repository(r) => *r,
                other => panic!("a repository decision granted {other:?}"),
            })
            .collect()
    }
}

fn grants(rules: &[ScopeMapRule]) -> Grants {
    Grants {
        scope_map: rules.to_vec(),
        ..Grants::default()
    }
}

/// A rule from a scope-map action string (`<pattern>/<action>`).
fn rule(pattern: &str, action: &str) -> ScopeMapRule {
    let action = match action {
        "content/read" => RepoAction::Pull,
        "content/write" => RepoAction::Push,
        "content/delete" => RepoAction::Delete,
        "metadata/read" => RepoAction::MetadataRead,
        "metadata/write" => RepoAction::MetadataWrite,
        other => panic!("not a scope-map action: {other}"),
    };
    ScopeMapRule {
        repository: pattern.into(),
        action,
    }
}

use RepoAction::{Delete as D, MetadataRead as MR, MetadataWrite as MW, Pull as P, Push as PS};

/// One row: rules, API, repository, granted?
type Row = (
    &'static [(&'static str, &'static str)],
    Api,
    &'static str,
    bool,
);

const SAMPLES_READ: &[(&str, &str)] = &[("samples/*", "content/read")];
const SAMPLES_EXACT: &[(&str, &str)] = &[("samples", "content/read")];
const EVERYTHING_READ: &[(&str, &str)] = &[("*", "content/read")];
const PUSHER: &[(&str, &str)] = &[("team/app", "content/read"), ("team/app", "content/write")];
const ADDITIVE: &[(&str, &str)] = &[
    ("sample/*", "content/read"),
    ("sample/teama/*", "content/write"),
    ("sample/teama/projectb", "content/delete"),
];
const METADATA: &[(&str, &str)] = &[("docs/*", "metadata/read"), ("docs/site", "metadata/write")];
const MALFORMED: &[(&str, &str)] = &[
    ("a*", "content/read"),
    ("a/*/b", "content/read"),
    ("*/x", "content/read"),
    ("", "content/read"),
];
const NESTED: &[(&str, &str)] = &[
    ("org/team/*", "content/read"),
    ("org/team/app/v2", "content/write"),
    ("my.app/*", "content/delete"),
];
const NONE: &[(&str, &str)] = &[];

const ROWS: &[Row] = &[
    // `samples/*`: everything below samples, at any depth, but not samples
    // itself and not a sibling sharing the prefix.
    (SAMPLES_READ, Api::BlobPull, "samples/hello", true),
    (SAMPLES_READ, Api::ManifestPull, "samples/hello", true),
    (SAMPLES_READ, Api::OciTagList, "samples/hello", true),
    (SAMPLES_READ, Api::BlobPull, "samples/a/b/c", true),
    (SAMPLES_READ, Api::BlobPull, "samples", false),
    (SAMPLES_READ, Api::BlobPull, "samplesx/hello", false),
    (SAMPLES_READ, Api::BlobPull, "samples-extra/hello", false),
    (SAMPLES_READ, Api::BlobPull, "sample/hello", false),
    (SAMPLES_READ, Api::BlobPull, "other/samples/hello", false),
    (SAMPLES_READ, Api::BlobPull, "not-yet-pushed-repo", false),
    (SAMPLES_READ, Api::BlobPull, "samples/not-yet-pushed", true),
    (SAMPLES_READ, Api::ManifestPush, "samples/hello", false),
    (SAMPLES_READ, Api::BlobUpload, "samples/hello", false),
    (SAMPLES_READ, Api::ManifestDelete, "samples/hello", false),
    (SAMPLES_READ, Api::AcrTagList, "samples/hello", false),
    (SAMPLES_READ, Api::MetadataUpdate, "samples/hello", false),
    (SAMPLES_READ, Api::AcrTagDelete, "samples/hello", false),
    (SAMPLES_READ, Api::Catalog, "", false),
    // `samples` (exact): that repository only.
    (SAMPLES_EXACT, Api::BlobPull, "samples", true),
    (SAMPLES_EXACT, Api::OciTagList, "samples", true),
    (SAMPLES_EXACT, Api::BlobPull, "samples/hello", false),
    (SAMPLES_EXACT, Api::BlobPull, "samples2", false),
    (SAMPLES_EXACT, Api::ManifestPush, "samples", false),
    // `*`: every repository, read only; still no catalog.
    (EVERYTHING_READ, Api::BlobPull, "anything", true),
    (EVERYTHING_READ, Api::BlobPull, "deep/ly/nested/repo", true),
    (EVERYTHING_READ, Api::ManifestPull, "samples", true),
    (EVERYTHING_READ, Api::ManifestPush, "anything", false),
    (EVERYTHING_READ, Api::ManifestDelete, "anything", false),
    (EVERYTHING_READ, Api::AcrManifestList, "anything", false),
    (EVERYTHING_READ, Api::Catalog, "", false),
    // A pusher of one repository.
    (PUSHER, Api::ManifestPush, "team/app", true),
    (PUSHER, Api::BlobUpload, "team/app", true),
    (PUSHER, Api::BlobPull, "team/app", true),
    (PUSHER, Api::ManifestDelete, "team/app", false),
    (PUSHER, Api::MetadataUpdate, "team/app", false),
    (PUSHER, Api::AcrTagList, "team/app", false),
    (PUSHER, Api::ManifestPush, "team/app2", false),
    (PUSHER, Api::ManifestPush, "team/app/sub", false),
    (PUSHER, Api::ManifestPush, "team", false),
    (PUSHER, Api::BlobPull, "team/other", false),
    (PUSHER, Api::Catalog, "", false),
    // Additive rules (acr-auth.md §6.4's own example).
    (ADDITIVE, Api::BlobPull, "sample/teama/projectb", true),
    (ADDITIVE, Api::ManifestPush, "sample/teama/projectb", true),
    (ADDITIVE, Api::ManifestDelete, "sample/teama/projectb", true),
    (ADDITIVE, Api::AcrTagDelete, "sample/teama/projectb", true),
    (ADDITIVE, Api::BlobPull, "sample/teama/projectc", true),
    (ADDITIVE, Api::ManifestPush, "sample/teama/projectc", true),
    (
        ADDITIVE,
        Api::ManifestDelete,
        "sample/teama/projectc",
        false,
    ),
    (ADDITIVE, Api::BlobPull, "sample/teamb/x", true),
    (ADDITIVE, Api::ManifestPush, "sample/teamb/x", false),
    (ADDITIVE, Api::BlobPull, "sample/teama", true),
    (ADDITIVE, Api::ManifestPush, "sample/teama", false),
    (
        ADDITIVE,
        Api::ManifestDelete,
        "sample/teama/projectb/sub",
        false,
    ),
    (
        ADDITIVE,
        Api::ManifestPush,
        "sample/teama/projectb/sub",
        true,
    ),
    (ADDITIVE, Api::BlobPull, "sample", false),
    (
        ADDITIVE,
        Api::MetadataUpdate,
        "sample/teama/projectb",
        false,
    ),
    // Metadata actions: the ACR metadata API, not content.
    (METADATA, Api::AcrTagList, "docs/site", true),
    (METADATA, Api::AcrManifestList, "docs/site", true),
    (METADATA, Api::MetadataUpdate, "docs/site", true),
    (METADATA, Api::AcrTagList, "docs/blog", true),
    (METADATA, Api::MetadataUpdate, "docs/blog", false),
    (METADATA, Api::BlobPull, "docs/site", false),
    (METADATA, Api::OciTagList, "docs/site", false),
    (METADATA, Api::ManifestPush, "docs/site", false),
    (METADATA, Api::AcrTagDelete, "docs/site", false),
    (METADATA, Api::AcrTagList, "docs", false),
    // Nested repositories and wildcards at deeper boundaries.
    (NESTED, Api::BlobPull, "org/team/app", true),
    (NESTED, Api::BlobPull, "org/team/app/v2", true),
    (NESTED, Api::BlobPull, "org/team", false),
    (NESTED, Api::BlobPull, "org/teams/app", false),
    (NESTED, Api::BlobPull, "org/app", false),
    (NESTED, Api::ManifestPush, "org/team/app/v2", true),
    (NESTED, Api::ManifestPush, "org/team/app", false),
    (NESTED, Api::ManifestPush, "org/team/app/v2/x", false),
    (NESTED, Api::ManifestDelete, "my.app/x", true),
    (NESTED, Api::ManifestDelete, "my-app/x", false),
    (NESTED, Api::ManifestDelete, "myxapp/x", false),
    (NESTED, Api::BlobPull, "my.app/x", false),
    // Patterns ACR refuses never match, should one reach the store.
    (MALFORMED, Api::BlobPull, "a", false),
    (MALFORMED, Api::BlobPull, "ab", false),
    (MALFORMED, Api::BlobPull, "a/x/b", false),
    (MALFORMED, Api::BlobPull, "a/b", false),
    (MALFORMED, Api::BlobPull, "y/x", false),
    // A disabled or deleted token has no rules: nothing at all.
    (NONE, Api::BlobPull, "samples/hello", false),
    (NONE, Api::ManifestPush, "samples/hello", false),
    (NONE, Api::MetadataUpdate, "samples/hello", false),
    (NONE, Api::Catalog, "", false),
];

#[test]
fn scope_map_rows() {
    let w = World::new();
    let mut failures = Vec::new();
    for (i, (rules, api, repo, want)) in ROWS.iter().enumerate() {
        let rules: Vec<ScopeMapRule> = rules.iter().map(|(p, a)| rule(p, a)).collect();
        let got = w.allows(&rules, *api, repo);
        if got != *want {
            failures.push(format!(
                "row {i}: {api:?} on {repo:?} with {rules:?}: granted {got}, expected {want}"
            ));
        }
    }
    assert!(ROWS.len() >= 80, "{} rows", ROWS.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Each scope-map action alone, against each API: exactly its own APIs.
#[test]
fn each_action_against_each_api() {
    let w = World::new();
    let mut checked = 0;
    for (text, action) in [
        ("content/read", P),
        ("content/write", PS),
        ("content/delete", D),
        ("metadata/read", MR),
        ("metadata/write", MW),
    ] {
        for pattern in ["team/app", "team/*", "*"] {
            let rules = [rule(pattern, text)];
            for api in Api::REPOSITORY {
                let want = api.action() == Action::Repository(action);
                assert_eq!(
                    w.allows(&rules, api, "team/app"),
                    want,
                    "{pattern}/{text} through {api:?}"
                );
                checked += 1;
            }
            assert!(
                !w.allows(&rules, Api::Catalog, ""),
                "{pattern}/{text} must not list the catalog"
            );
        }
    }
    assert_eq!(checked, 5 * 3 * 10);
}

/// Asked all at once, the granted set is exactly the union of the
/// matching rules' actions.
#[test]
fn granted_sets_are_exact_unions() {
    let w = World::new();
    let additive: Vec<ScopeMapRule> = ADDITIVE.iter().map(|(p, a)| rule(p, a)).collect();
    for (repo, want) in [
        ("sample/teama/projectb", vec![P, PS, D]),
        ("sample/teama/projectc", vec![P, PS]),
        ("sample/teamb/projectb", vec![P]),
        ("sample/teama", vec![P]),
        ("sample", vec![]),
        ("elsewhere", vec![]),
    ] {
        assert_eq!(w.granted(&additive, repo), want, "{repo}");
    }
    let admin: Vec<ScopeMapRule> = [
        "metadata/read",
        "metadata/write",
        "content/read",
        "content/write",
        "content/delete",
    ]
    .iter()
    .map(|a| rule("*", a))
    .collect();
    assert_eq!(w.granted(&admin, "any/repo"), vec![P, PS, D, MR, MW]);
    // Overlapping rules grant once.
    let overlapping = vec![
        rule("*", "content/read"),
        rule("x/*", "content/read"),
        rule("x/y", "content/read"),
    ];
    assert_eq!(w.granted(&overlapping, "x/y"), vec![P]);
}

/// A token of registry A is nothing on registry B, whatever its map says.
#[test]
fn tokens_are_bound_to_their_registry() {
    let w = World::new();
    let all: Vec<ScopeMapRule> = RepoAction::ALL
        .iter()
        .map(|a| ScopeMapRule {
            repository: "*".into(),
            action: *a,
        })
        .collect();
    for api in Api::REPOSITORY {
        assert!(
            w.allows_on(&w.reg1, &all, api, "team/app"),
            "{api:?} on reg1"
        );
        assert!(
            !w.allows_on(&w.reg2, &all, api, "team/app"),
            "{api:?} on reg2"
        );
    }
    let name = RepositoryName::parse("team/app").unwrap();
    let d = authorize(
        &w.token,
        Resource::Repository {
            registry: &w.reg2,
            name: &name,
        },
        &[Action::Repository(P)],
        &grants(&all),
    );
    assert!(d.reason.contains("another registry"), "{}", d.reason);
}

/// `repository:*` (every repository) only for rules on `*`.
#[test]
fn all_repositories_scope_needs_a_star_rule() {
    let w = World::new();
    let ask = [Action::Repository(P), Action::Repository(PS)];
    let decide = |rules: &[ScopeMapRule]| {
        authorize(
            &w.token,
            Resource::AllRepositories { registry: &w.reg1 },
            &ask,
            &grants(rules),
        )
        .granted
    };
    assert_eq!(
        decide(&[rule("*", "content/read")]),
        vec![Action::Repository(P)]
    );
    assert!(decide(&[rule("samples/*", "content/read")]).is_empty());
    assert!(decide(&[rule("team/app", "content/write")]).is_empty());
    assert_eq!(
        decide(&[rule("*", "content/read"), rule("*", "content/write")]),
        ask.to_vec()
    );
}

/// The registry's other settings do not change a token's grant: ABAC mode
/// (role assignments only), the admin user, anonymous pull (which adds pull
/// for anonymous callers, not for tokens).
#[test]
fn registry_settings_do_not_widen_or_narrow_tokens() {
    let w = World::new();
    let rules = [rule("team/*", "content/write")];
    for (abac, admin, anon) in [
        (true, false, false),
        (false, true, false),
        (false, false, true),
        (true, true, true),
    ] {
        let reg = RegistryFacts {
            abac,
            admin_enabled: admin,
            anonymous_pull_enabled: anon,
            ..w.reg1.clone()
        };
        assert!(w.allows_on(&reg, &rules, Api::ManifestPush, "team/app"));
        assert!(!w.allows_on(&reg, &rules, Api::BlobPull, "team/app"));
        assert!(!w.allows_on(&reg, &rules, Api::ManifestPush, "other/app"));
        assert!(!w.allows_on(&reg, &rules, Api::Catalog, ""));
    }
}

/// Tokens are not directory identities: no control plane, no directory,
/// whatever the map, and role assignments naming nothing cannot reach them.
#[test]
fn tokens_cannot_use_the_control_plane_or_the_directory() {
    let w = World::new();
    let all = grants(&[rule("*", "content/delete")]);
    let scope = ArmScope::parse(REG1).unwrap();
    for op in [
        "Microsoft.ContainerRegistry/registries/read",
        "Microsoft.ContainerRegistry/registries/tokens/write",
        "Microsoft.ContainerRegistry/registries/scopeMaps/write",
        "Microsoft.ContainerRegistry/registries/generateCredentials/action",
        "Microsoft.Authorization/roleAssignments/write",
    ] {
        let d = authorize(
            &w.token,
            Resource::Arm {
                scope: &scope,
                tenant: &w.reg1.tenant,
            },
            &[Action::Arm(op.into())],
            &all,
        );
        assert!(d.granted.is_empty(), "{op}");
        assert!(d.reason.contains("control plane"), "{}", d.reason);
    }
    let d = authorize(
        &w.token,
        Resource::Directory {
            tenant: &w.reg1.tenant,
        },
        &[Action::Directory("microsoft.directory/users/read".into())],
        &all,
    );
    assert!(d.granted.is_empty());
    assert_eq!(w.token.object_id(), None, "no object id to assign roles to");
    assert_eq!(w.token.tenant(), None);
    assert_eq!(w.token.label(), "token:ci-token");
}
