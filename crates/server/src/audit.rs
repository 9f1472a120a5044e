//! The audit log's one way in. Every surface records through [`Event`]:
//! token issuance and exchange (a refusal to record withholds the token),
//! pushes, deletes and refusals on the data plane, control-plane changes and
//! sign-ins. Records name the principal by its label and never carry a secret.

use std::net::SocketAddr;

use acrylic_model::RegistryId;
use acrylic_store::{AuditRecord, StoreError};
use time::OffsetDateTime;

use crate::AppState;

/// One auditable event.
#[derive(Debug, Clone)]
pub struct Event {
    pub registry: Option<RegistryId>,
    /// `Principal::label()`, or what the caller claimed to be when it failed.
    pub principal: String,
    /// `token`, `exchange`, `push`, `delete`, `signin`, a control-plane verb, …
    pub action: String,
    pub repository: Option<String>,
    /// `granted`, `partial`, `denied` or `failed`.
    pub decision: String,
    pub client: Option<SocketAddr>,
    pub detail: Option<String>,
}

impl Event {
    pub fn new(
        principal: impl Into<String>,
        action: impl Into<String>,
        decision: impl Into<String>,
    ) -> Self {
        Self {
            registry: None,
            principal: principal.into(),
            action: action.into(),
            repository: None,
            decision: decision.into(),
            client: None,
            detail: None,
        }
    }

    pub fn registry(mut self, id: Option<RegistryId>) -> Self {
        self.registry = id;
        self
    }

    pub fn repository(mut self, name: Option<String>) -> Self {
        self.repository = name;
        self
    }

    pub fn client(mut self, addr: Option<SocketAddr>) -> Self {
        self.client = addr;
        self
    }

    pub fn detail(mut self, detail: Option<String>) -> Self {
        self.detail = detail;
        self
    }

    /// Appends the event; the caller decides what a failure means.
    pub async fn record(self, state: &AppState, at: OffsetDateTime) -> Result<(), StoreError> {
        let record = AuditRecord {
            id: uuid::Uuid::now_v7(),
            at,
            registry_id: self.registry,
            principal: self.principal,
            action: self.action,
            repository: self.repository,
            decision: self.decision,
            client_addr: self.client.map(|a| a.ip().to_string()),
            detail: self.detail,
        };
        state.meta.append_audit(&record).await
    }

    /// Appends the event now; a failure is logged, not returned (the change
    /// it describes has happened either way).
    pub async fn record_best_effort(self, state: &AppState) {
        let action = self.action.clone();
        if let Err(e) = self.record(state, state.clock.now()).await {
            tracing::error!(error = %e, %action, "audit append failed");
        }
    }
}
