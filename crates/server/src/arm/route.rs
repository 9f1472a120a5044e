//! The control plane's route table: every path and method, parsed once into
//! an [`ArmRoute`], and the access each one needs ([`ArmRoute::access`], an
//! exhaustive `match`: a route without a decided access does not compile).
//!
//! | method | path (below `/subscriptions`) | route | operation authorized |
//! |---|---|---|---|
//! | GET | `` | ListSubscriptions | `Microsoft.Resources/subscriptions/read`, per item |
//! | GET | `/{sub}` | GetSubscription | `Microsoft.Resources/subscriptions/read` |
//! | GET | `/{sub}/resourceGroups/{rg}` | GetResourceGroup | `…/subscriptions/resourceGroups/read` |
//! | GET | `/{sub}/resources?$filter=resourceType eq '…registries'` | ListResources | `registries/read`, per item |
//! | POST | `/{sub}/providers/Microsoft.ContainerRegistry/checkNameAvailability` | CheckNameAvailability | `checkNameAvailability/read` |
//! | GET | `/{sub}[/resourceGroups/{rg}]/providers/Microsoft.ContainerRegistry/registries` | ListRegistries | `registries/read`, per item |
//! | GET | `…/registries/{name}` | GetRegistry | `registries/read` |
//! | PUT | `…/registries/{name}` | CreateRegistry | `registries/write` |
//! | PATCH | `…/registries/{name}` | UpdateRegistry | `registries/write` |
//! | DELETE | `…/registries/{name}` | DeleteRegistry | `registries/delete` |
//! | POST | `…/registries/{name}/listCredentials` | ListCredentials | `registries/listCredentials/action` |
//! | POST | `…/registries/{name}/regenerateCredential` | RegenerateCredential | `registries/regenerateCredential/action` |
//! | GET | `…/registries/{name}/auditLogs?principal&action&repository&since&top` | ListAuditLogs | `registries/auditLogs/read` (acrylic extension) |
//!
//! Literal segments compare case-insensitively, as ARM's do
//! (`resourcegroups` = `resourceGroups`). `api-version` is accepted and not
//! required.

use acrylic_model::{ArmScope, RegistryName, ResourceGroupName, SubscriptionId};
use axum::http::Method;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::ArmError;

/// Control-plane operations, as role definitions name them (acr-auth.md §6.2).
pub mod op {
    pub const SUBSCRIPTION_READ: &str = "Microsoft.Resources/subscriptions/read";
    pub const RESOURCE_GROUP_READ: &str = "Microsoft.Resources/subscriptions/resourceGroups/read";
    pub const CHECK_NAME_AVAILABILITY: &str =
        "Microsoft.ContainerRegistry/checkNameAvailability/read";
    pub const REGISTRY_READ: &str = "Microsoft.ContainerRegistry/registries/read";
    pub const REGISTRY_WRITE: &str = "Microsoft.ContainerRegistry/registries/write";
    pub const REGISTRY_DELETE: &str = "Microsoft.ContainerRegistry/registries/delete";
    pub const LIST_CREDENTIALS: &str =
        "Microsoft.ContainerRegistry/registries/listCredentials/action";
    pub const REGENERATE_CREDENTIAL: &str =
        "Microsoft.ContainerRegistry/registries/regenerateCredential/action";
    /// acrylic's audit log (issue #2 §5 "Audit").
    pub const AUDIT_LOGS_READ: &str = "Microsoft.ContainerRegistry/registries/auditLogs/read";
}

pub const REGISTRY_TYPE: &str = "Microsoft.ContainerRegistry/registries";

/// `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerRegistry/registries/{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryPath {
    pub subscription: SubscriptionId,
    pub resource_group: ResourceGroupName,
    pub name: RegistryName,
}

impl RegistryPath {
    pub fn scope(&self) -> ArmScope {
        ArmScope::registry(&self.subscription, &self.resource_group, &self.name)
    }
}

/// Filters of the audit-log listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub principal: Option<String>,
    pub action: Option<String>,
    pub repository: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub top: Option<u32>,
}

/// The largest `top` honoured.
pub const MAX_AUDIT_TOP: u32 = 1000;

/// What `$filter` of a resource listing asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceFilter {
    /// No filter: every resource (here, every registry).
    All,
    /// `resourceType eq '<type>'`.
    ResourceType(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArmRoute {
    ListSubscriptions,
    GetSubscription(SubscriptionId),
    GetResourceGroup {
        subscription: SubscriptionId,
        resource_group: ResourceGroupName,
    },
    ListResources {
        subscription: SubscriptionId,
        filter: ResourceFilter,
    },
    CheckNameAvailability(SubscriptionId),
    ListRegistries {
        subscription: SubscriptionId,
        resource_group: Option<ResourceGroupName>,
    },
    GetRegistry(RegistryPath),
    CreateRegistry(RegistryPath),
    UpdateRegistry(RegistryPath),
    DeleteRegistry(RegistryPath),
    ListCredentials(RegistryPath),
    RegenerateCredential(RegistryPath),
    ListAuditLogs(RegistryPath, AuditQuery),
}

/// The access a route needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// `operation` at `scope`, decided before the handler runs.
    At {
        scope: ArmScope,
        operation: &'static str,
    },
    /// A listing: `operation` on each item; items the caller may not see
    /// are left out, as ARM does.
    EachItem { operation: &'static str },
}

impl ArmRoute {
    /// Parses a path below `/subscriptions` and its query.
    pub fn parse(
        method: &Method,
        path: &str,
        query: &[(String, String)],
    ) -> Result<ArmRoute, ArmError> {
        let no_route = || ArmError::NoRoute {
            method: method.to_string(),
            path: path.to_owned(),
        };
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
        let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
        if lower.first() != Some(&"subscriptions") {
            return Err(no_route());
        }
        if segs.len() == 1 {
            return match *method {
                Method::GET => Ok(ArmRoute::ListSubscriptions),
                _ => Err(no_route()),
            };
        }
        let subscription = SubscriptionId::parse(segs[1])
            .map_err(|_| ArmError::InvalidSubscriptionId(segs[1].to_owned()))?;
        let rg = |i: usize| -> Result<ResourceGroupName, ArmError> {
            ResourceGroupName::parse(segs[i]).map_err(|e| ArmError::InvalidResourceName {
                kind: "resource group",
                name: segs[i].to_owned(),
                reason: e.reason,
            })
        };
        let registry = |rg_index: usize, name_index: usize| -> Result<RegistryPath, ArmError> {
            Ok(RegistryPath {
                subscription,
                resource_group: rg(rg_index)?,
                name: RegistryName::parse(segs[name_index]).map_err(|e| {
                    ArmError::InvalidResourceName {
                        kind: "registry",
                        name: segs[name_index].to_owned(),
                        reason: e.reason,
                    }
                })?,
            })
        };
        const ACR: &str = "microsoft.containerregistry";
        let m = method.clone();
        let route = match (m, &lower[2..]) {
            (Method::GET, []) => ArmRoute::GetSubscription(subscription),
            (Method::GET, ["resources"]) => ArmRoute::ListResources {
                subscription,
                filter: resource_filter(query)?,
            },
            (Method::GET, ["resourcegroups", _]) => ArmRoute::GetResourceGroup {
                subscription,
                resource_group: rg(3)?,
            },
            (Method::POST, ["providers", p, "checknameavailability"]) if *p == ACR => {
                ArmRoute::CheckNameAvailability(subscription)
            }
            (Method::GET, ["providers", p, "registries"]) if *p == ACR => {
                ArmRoute::ListRegistries {
                    subscription,
                    resource_group: None,
                }
            }
            (Method::GET, ["resourcegroups", _, "providers", p, "registries"]) if *p == ACR => {
                ArmRoute::ListRegistries {
                    subscription,
                    resource_group: Some(rg(3)?),
                }
            }
            (m, ["resourcegroups", _, "providers", p, "registries", _]) if *p == ACR => {
                let path = registry(3, 7)?;
                match m {
                    Method::GET => ArmRoute::GetRegistry(path),
                    Method::PUT => ArmRoute::CreateRegistry(path),
                    Method::PATCH => ArmRoute::UpdateRegistry(path),
                    Method::DELETE => ArmRoute::DeleteRegistry(path),
                    _ => return Err(no_route()),
                }
            }
            (m, ["resourcegroups", _, "providers", p, "registries", _, action]) if *p == ACR => {
                let path = registry(3, 7)?;
                match (m, *action) {
                    (Method::POST, "listcredentials") => ArmRoute::ListCredentials(path),
                    (Method::POST, "regeneratecredential") => ArmRoute::RegenerateCredential(path),
                    (Method::GET, "auditlogs") => {
                        ArmRoute::ListAuditLogs(path, audit_query(query)?)
                    }
                    _ => return Err(no_route()),
                }
            }
            _ => return Err(no_route()),
        };
        Ok(route)
    }

    /// The access this route needs (acr-auth.md §6.2 operation names).
    pub fn access(&self) -> Access {
        let at = |scope: ArmScope, operation: &'static str| Access::At { scope, operation };
        match self {
            ArmRoute::ListSubscriptions => Access::EachItem {
                operation: op::SUBSCRIPTION_READ,
            },
            ArmRoute::GetSubscription(sub) => {
                at(ArmScope::subscription(sub), op::SUBSCRIPTION_READ)
            }
            ArmRoute::GetResourceGroup {
                subscription,
                resource_group,
            } => at(
                ArmScope::resource_group(subscription, resource_group),
                op::RESOURCE_GROUP_READ,
            ),
            ArmRoute::ListResources { .. } | ArmRoute::ListRegistries { .. } => Access::EachItem {
                operation: op::REGISTRY_READ,
            },
            ArmRoute::CheckNameAvailability(sub) => {
                at(ArmScope::subscription(sub), op::CHECK_NAME_AVAILABILITY)
            }
            ArmRoute::GetRegistry(p) => at(p.scope(), op::REGISTRY_READ),
            ArmRoute::CreateRegistry(p) | ArmRoute::UpdateRegistry(p) => {
                at(p.scope(), op::REGISTRY_WRITE)
            }
            ArmRoute::DeleteRegistry(p) => at(p.scope(), op::REGISTRY_DELETE),
            ArmRoute::ListCredentials(p) => at(p.scope(), op::LIST_CREDENTIALS),
            ArmRoute::RegenerateCredential(p) => at(p.scope(), op::REGENERATE_CREDENTIAL),
            ArmRoute::ListAuditLogs(p, _) => at(p.scope(), op::AUDIT_LOGS_READ),
        }
    }
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// `$filter=resourceType eq 'Microsoft.ContainerRegistry/registries'` (what
/// az sends to find a registry, clients.md "azure-cli against a self-hosted
/// cloud"); other filter expressions are refused rather than ignored.
fn resource_filter(query: &[(String, String)]) -> Result<ResourceFilter, ArmError> {
    let Some(f) = param(query, "$filter") else {
        return Ok(ResourceFilter::All);
    };
    let words: Vec<&str> = f.split_whitespace().collect();
    match words.as_slice() {
        [field, eq, value]
            if field.eq_ignore_ascii_case("resourceType") && eq.eq_ignore_ascii_case("eq") =>
        {
            let v = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .ok_or_else(|| ArmError::InvalidRequestContent(format!("$filter {f}")))?;
            Ok(ResourceFilter::ResourceType(v.to_owned()))
        }
        _ => Err(ArmError::InvalidRequestContent(format!(
            "$filter {f}: only \"resourceType eq '<type>'\" is supported"
        ))),
    }
}

fn audit_query(query: &[(String, String)]) -> Result<AuditQuery, ArmError> {
    let since = param(query, "since")
        .map(|s| {
            OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
                ArmError::InvalidRequestContent(format!("since={s}: expected an RFC 3339 time"))
            })
        })
        .transpose()?;
    let top = param(query, "top")
        .or_else(|| param(query, "$top"))
        .map(|s| match s.parse::<u32>() {
            Ok(n) if (1..=MAX_AUDIT_TOP).contains(&n) => Ok(n),
            _ => Err(ArmError::InvalidRequestContent(format!(
                "top={s}: expected a number from 1 to {MAX_AUDIT_TOP}"
            ))),
        })
        .transpose()?;
    Ok(AuditQuery {
        principal: param(query, "principal").map(str::to_owned),
        action: param(query, "action").map(str::to_owned),
        repository: param(query, "repository").map(str::to_owned),
        since,
        top,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "0b1f6471-1bf0-4dda-aec3-cb9272f09590";

    fn parse(m: Method, path: &str, query: &[(&str, &str)]) -> Result<ArmRoute, ArmError> {
        let q: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ArmRoute::parse(&m, path, &q)
    }

    fn reg_path(rg: &str, name: &str) -> RegistryPath {
        RegistryPath {
            subscription: SubscriptionId::parse(SUB).expect("guid"),
            resource_group: ResourceGroupName::parse(rg).expect("rg"),
            name: RegistryName::parse(name).expect("name"),
        }
    }

    #[test]
    fn routes_and_their_operations() {
        let base = format!(
            "/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries"
        );
        let table: Vec<(Method, String, ArmRoute, Option<&str>)> = vec![
            (
                Method::GET,
                "/subscriptions".into(),
                ArmRoute::ListSubscriptions,
                None,
            ),
            (
                Method::GET,
                format!("{base}/myreg1"),
                ArmRoute::GetRegistry(reg_path("rg1", "myreg1")),
                Some(op::REGISTRY_READ),
            ),
            (
                Method::PUT,
                format!("{base}/myreg1"),
                ArmRoute::CreateRegistry(reg_path("rg1", "myreg1")),
                Some(op::REGISTRY_WRITE),
            ),
            (
                Method::PATCH,
                format!("{base}/MyReg1"),
                ArmRoute::UpdateRegistry(reg_path("rg1", "myreg1")),
                Some(op::REGISTRY_WRITE),
            ),
            (
                Method::DELETE,
                format!("{base}/myreg1/"),
                ArmRoute::DeleteRegistry(reg_path("rg1", "myreg1")),
                Some(op::REGISTRY_DELETE),
            ),
            (
                Method::POST,
                format!("{base}/myreg1/listCredentials"),
                ArmRoute::ListCredentials(reg_path("rg1", "myreg1")),
                Some(op::LIST_CREDENTIALS),
            ),
            (
                Method::POST,
                format!(
                    "/subscriptions/{SUB}/resourcegroups/rg1/providers/microsoft.containerregistry/registries/myreg1/regeneratecredential"
                ),
                ArmRoute::RegenerateCredential(reg_path("rg1", "myreg1")),
                Some(op::REGENERATE_CREDENTIAL),
            ),
            (
                Method::GET,
                format!("/subscriptions/{SUB}/providers/Microsoft.ContainerRegistry/registries"),
                ArmRoute::ListRegistries {
                    subscription: SubscriptionId::parse(SUB).expect("guid"),
                    resource_group: None,
                },
                None,
            ),
        ];
        for (m, path, want, operation) in table {
            let got = parse(m.clone(), &path, &[("api-version", "2023-07-01")]);
            assert_eq!(got.as_ref().ok(), Some(&want), "{m} {path}");
            match (want.access(), operation) {
                (
                    Access::At {
                        scope,
                        operation: o,
                    },
                    Some(expected),
                ) => {
                    assert_eq!(o, expected);
                    assert!(scope.as_str().starts_with("/subscriptions/"));
                }
                (Access::EachItem { .. }, None) => {}
                (a, o) => panic!("{path}: access {a:?}, expected {o:?}"),
            }
        }
    }

    #[test]
    fn refusals() {
        let base = format!(
            "/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries"
        );
        assert!(matches!(
            parse(Method::POST, "/subscriptions", &[]),
            Err(ArmError::NoRoute { .. })
        ));
        assert!(matches!(
            parse(Method::GET, "/subscriptions/not-a-guid", &[]),
            Err(ArmError::InvalidSubscriptionId(_))
        ));
        assert!(matches!(
            parse(Method::GET, &format!("{base}/my-reg"), &[]),
            Err(ArmError::InvalidResourceName {
                kind: "registry",
                ..
            })
        ));
        assert!(matches!(
            parse(Method::POST, &format!("{base}/myreg1"), &[]),
            Err(ArmError::NoRoute { .. })
        ));
        assert!(matches!(
            parse(Method::GET, &format!("{base}/myreg1/listCredentials"), &[]),
            Err(ArmError::NoRoute { .. })
        ));
        assert!(matches!(
            parse(
                Method::GET,
                &format!("/subscriptions/{SUB}/providers/Other.Provider/registries"),
                &[]
            ),
            Err(ArmError::NoRoute { .. })
        ));
    }

    #[test]
    fn queries() {
        let r = parse(
            Method::GET,
            &format!("/subscriptions/{SUB}/resources"),
            &[(
                "$filter",
                "resourceType eq 'Microsoft.ContainerRegistry/registries'",
            )],
        );
        assert!(matches!(
            r,
            Ok(ArmRoute::ListResources { filter: ResourceFilter::ResourceType(ref t), .. }) if t == REGISTRY_TYPE
        ));
        assert!(matches!(
            parse(
                Method::GET,
                &format!("/subscriptions/{SUB}/resources"),
                &[("$filter", "name eq 'x'")]
            ),
            Err(ArmError::InvalidRequestContent(_))
        ));
        let audit = format!(
            "/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/myreg1/auditLogs"
        );
        let r = parse(
            Method::GET,
            &audit,
            &[
                ("principal", "admin"),
                ("since", "2026-01-01T00:00:00Z"),
                ("top", "5"),
            ],
        );
        match r {
            Ok(ArmRoute::ListAuditLogs(_, q)) => {
                assert_eq!(q.principal.as_deref(), Some("admin"));
                assert_eq!(q.top, Some(5));
                assert!(q.since.is_some());
            }
            other => panic!("{other:?}"),
        }
        for bad in [("since", "yesterday"), ("top", "0"), ("top", "100000")] {
            assert!(
                matches!(
                    parse(Method::GET, &audit, &[bad]),
                    Err(ArmError::InvalidRequestContent(_))
                ),
                "{bad:?}"
            );
        }
    }
}
