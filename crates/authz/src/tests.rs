use acrylic_model::{ArmScope, ObjectId, RegistryId, RepositoryName, TenantId};

use super::*;

fn registry(tenant: TenantId) -> RegistryFacts {
    RegistryFacts {
        id: RegistryId::parse(&"a".repeat(32)).expect("id"),
        tenant,
        scope: ArmScope::parse("/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/reg")
            .expect("scope"),
        admin_enabled: true,
        anonymous_pull_enabled: false,
        abac: false,
    }
}

fn assignment(to: &Principal, scope: &str, role: uuid::Uuid) -> Assignment {
    Assignment {
        principal: to.object_id().expect("directory principal"),
        scope: ArmScope::parse(scope).expect("scope"),
        role: roles::find_builtin(&role).expect("builtin"),
        condition: None,
    }
}

const PULL: Action = Action::Repository(RepoAction::Pull);
const PUSH: Action = Action::Repository(RepoAction::Push);
const DELETE: Action = Action::Repository(RepoAction::Delete);

#[test]
fn table() {
    let tenant = TenantId::new_random();
    let reg = registry(tenant);
    let name = RepositoryName::parse("team/app").expect("name");
    let repo = Resource::Repository {
        registry: &reg,
        name: &name,
    };
    let user = Principal::User {
        tenant,
        oid: ObjectId::new_random(),
        upn: "u@x".into(),
    };
    let foreign_user = Principal::User {
        tenant: TenantId::new_random(),
        oid: ObjectId::new_random(),
        upn: "f@y".into(),
    };
    let admin = Principal::Admin {
        registry: reg.id.clone(),
    };
    let other_admin = Principal::Admin {
        registry: RegistryId::parse(&"b".repeat(32)).expect("id"),
    };
    let g = |a: Vec<Assignment>| Grants {
        assignments: a,
        ..Grants::default()
    };
    let all = [PULL, PUSH, DELETE];

    let cases: Vec<(&str, &Principal, Resource<'_>, Grants, Vec<Action>)> = vec![
        (
            "anonymous denied",
            &Principal::Anonymous,
            repo,
            Grants::default(),
            vec![],
        ),
        ("admin full", &admin, repo, Grants::default(), all.to_vec()),
        (
            "admin of other registry",
            &other_admin,
            repo,
            Grants::default(),
            vec![],
        ),
        ("user without roles", &user, repo, Grants::default(), vec![]),
        (
            "owner at subscription",
            &user,
            repo,
            g(vec![assignment(&user, "/subscriptions/s1", roles::OWNER)]),
            all.to_vec(),
        ),
        (
            "owner at other subscription",
            &user,
            repo,
            g(vec![assignment(&user, "/subscriptions/s2", roles::OWNER)]),
            vec![],
        ),
        (
            "acrpull",
            &user,
            repo,
            g(vec![assignment(
                &user,
                "/subscriptions/s1/resourceGroups/rg",
                roles::ACR_PULL,
            )]),
            vec![PULL],
        ),
        (
            "acrpush",
            &user,
            repo,
            g(vec![assignment(
                &user,
                "/subscriptions/s1",
                roles::ACR_PUSH,
            )]),
            vec![PULL, PUSH],
        ),
        (
            "reader reads",
            &user,
            repo,
            g(vec![assignment(&user, "/subscriptions/s1", roles::READER)]),
            vec![PULL],
        ),
        (
            "wrong tenant",
            &foreign_user,
            repo,
            g(vec![assignment(
                &foreign_user,
                "/subscriptions/s1",
                roles::OWNER,
            )]),
            vec![],
        ),
    ];
    for (what, p, res, grants, want) in cases {
        let d = authorize(p, res, &all, &grants);
        assert_eq!(d.granted, want, "{what}: {}", d.reason);
        assert_eq!(d.granted.len() + d.denied.len(), all.len(), "{what}");
    }
}

#[test]
fn admin_disabled_and_anonymous_pull() {
    let tenant = TenantId::new_random();
    let mut reg = registry(tenant);
    reg.admin_enabled = false;
    reg.anonymous_pull_enabled = true;
    let name = RepositoryName::parse("x").expect("name");
    let repo = Resource::Repository {
        registry: &reg,
        name: &name,
    };
    let d = authorize(
        &Principal::Admin {
            registry: reg.id.clone(),
        },
        repo,
        &[PULL],
        &Grants::default(),
    );
    assert!(d.granted.is_empty());
    assert!(d.reason.contains("disabled"));
    let d = authorize(
        &Principal::Anonymous,
        repo,
        &[PULL, PUSH, DELETE],
        &Grants::default(),
    );
    assert_eq!(d.granted, vec![PULL]);
    assert!(d.permit(&PULL).is_some());
    assert!(d.permit(&PUSH).is_none());
}

#[test]
fn control_plane() {
    let tenant = TenantId::new_random();
    let user = Principal::User {
        tenant,
        oid: ObjectId::new_random(),
        upn: "u@x".into(),
    };
    let scope = ArmScope::parse(
        "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r",
    )
    .expect("s");
    let write = Action::Arm("Microsoft.ContainerRegistry/registries/write".into());
    let read = Action::Arm("Microsoft.ContainerRegistry/registries/read".into());
    let ra_write = Action::Arm("Microsoft.Authorization/roleAssignments/write".into());
    let res = Resource::Arm {
        scope: &scope,
        tenant: &tenant,
    };
    let reader = Grants {
        assignments: vec![assignment(&user, "/subscriptions/s1", roles::READER)],
        ..Grants::default()
    };
    let contributor = Grants {
        assignments: vec![assignment(&user, "/subscriptions/s1", roles::CONTRIBUTOR)],
        ..Grants::default()
    };
    assert_eq!(
        authorize(&user, res, &[read.clone(), write.clone()], &reader).granted,
        vec![read.clone()]
    );
    assert_eq!(
        authorize(
            &user,
            res,
            &[read.clone(), write.clone(), ra_write.clone()],
            &contributor
        )
        .granted,
        vec![read, write]
    );
    assert!(
        authorize(
            &Principal::Admin {
                registry: RegistryId::new_random()
            },
            res,
            &[ra_write],
            &contributor
        )
        .granted
        .is_empty()
    );
}

#[test]
fn scopes_parse() {
    let s = Scope::parse_all([
        "repository:a/b:pull,push repository:c:*",
        "registry:catalog:*",
    ])
    .expect("ok");
    assert_eq!(s.len(), 3);
    assert_eq!(s[0].to_string(), "repository:a/b:pull,push");
    assert_eq!(s[1].actions().len(), 5);
    assert_eq!(s[2], Scope::Catalog);
    assert!(Scope::parse("repository:../x:pull").is_err());
    assert!(Scope::parse("repository:x").is_err());
    assert!(Scope::parse("foo:x:pull").is_err());
    assert_eq!(
        Scope::parse("repository:x:pull,bogus")
            .expect("ok")
            .actions(),
        vec![PULL]
    );
}

#[test]
fn globs_and_patterns() {
    assert!(roles::glob(
        "*/read",
        "Microsoft.ContainerRegistry/registries/read"
    ));
    assert!(!roles::glob(
        "*/read",
        "Microsoft.ContainerRegistry/registries/write"
    ));
    assert!(roles::glob(
        "microsoft.authorization/*/write",
        "Microsoft.Authorization/roleAssignments/Write"
    ));
    assert!(scope::repository_pattern_matches("samples/*", "samples/a"));
    assert!(!scope::repository_pattern_matches("samples/*", "samples"));
    assert!(!scope::repository_pattern_matches(
        "samples/*",
        "samplesx/a"
    ));
    assert!(scope::repository_pattern_matches("*", "anything/at/all"));
    assert!(scope::repository_pattern_matches("a/b", "a/b"));
    assert!(!scope::repository_pattern_matches("a/b", "a/b/c"));
}

#[test]
fn permits_name_their_resource() {
    let tenant = TenantId::new_random();
    let reg = registry(tenant);
    let a = RepositoryName::parse("team-a/app").expect("name");
    let b = RepositoryName::parse("team-b/app").expect("name");
    let admin = Principal::Admin {
        registry: reg.id.clone(),
    };
    let d = authorize(
        &admin,
        Resource::Repository {
            registry: &reg,
            name: &a,
        },
        &[PUSH],
        &Grants::default(),
    );
    let permit = d.permit(&PUSH).expect("granted");
    assert!(permit.covers_repository(&reg.id, &a));
    assert!(!permit.covers_repository(&reg.id, &b));
    assert!(!permit.covers_repository(&RegistryId::new_random(), &a));
    assert!(!permit.covers_catalog(&reg.id));
    let all = authorize(
        &admin,
        Resource::AllRepositories { registry: &reg },
        &[PUSH],
        &Grants::default(),
    )
    .permit(&PUSH)
    .expect("granted");
    assert!(all.covers_repository(&reg.id, &a) && all.covers_repository(&reg.id, &b));
    assert!(!all.covers_repository(&RegistryId::new_random(), &a));
    let system = Permit::for_system_job("gc");
    assert!(system.covers_repository(&reg.id, &b) && system.covers_catalog(&reg.id));
}

#[test]
fn denials_name_the_permission_and_scope() {
    let tenant = TenantId::new_random();
    let reg = registry(tenant);
    let name = RepositoryName::parse("team/app").expect("name");
    let user = Principal::User {
        tenant,
        oid: ObjectId::new_random(),
        upn: "u@x".into(),
    };
    let grants = Grants {
        assignments: vec![assignment(&user, "/subscriptions/s1", roles::ACR_PULL)],
        ..Grants::default()
    };
    let d = authorize(
        &user,
        Resource::Repository {
            registry: &reg,
            name: &name,
        },
        &[PULL, PUSH],
        &grants,
    );
    assert_eq!(d.granted, vec![PULL]);
    let why = d.denial(&PUSH).expect("denied");
    assert!(
        why.contains("Microsoft.ContainerRegistry/registries/push/write"),
        "{why}"
    );
    assert!(why.contains(reg.scope.as_str()), "{why}");
    assert!(d.reason.contains("push/write"), "{}", d.reason);
    assert_eq!(d.denial(&PULL), None);
}
