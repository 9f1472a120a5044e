//! The device authorization grant (RFC 8628; acr-auth.md §5.1): `az login
//! --use-device-code`, azure-identity's DeviceCodeCredential, `acrylic
//! login --use-device-code`.
//!
//! 1. The device asks `POST /{tenant}/oauth2/v2.0/devicecode` (`client_id`,
//!    `scope`) and gets `{device_code, user_code, verification_uri,
//!    expires_in, interval, message}`.
//! 2. It polls the token endpoint with
//!    `grant_type=urn:ietf:params:oauth:grant-type:device_code` and hears
//!    `authorization_pending` until the user decides, `slow_down` when it
//!    polls faster than `interval` (which then grows by 5 s),
//!    `expired_token` after 15 minutes, `access_denied` if the user
//!    declined — each in Microsoft's error shape — and finally the tokens.
//! 3. The user opens [`PAGE_PATH`] (a plain server-rendered form, no
//!    JavaScript), types the user code, username and password, and
//!    approves or declines.
//!
//! Both codes are stored as SHA-256 digests. The page changes nothing on
//! GET; the POST carries the user code itself and the user's password, so
//! a forged cross-site POST cannot approve anything (there is no cookie to
//! ride on). Its answers forbid framing and caching.

use std::collections::HashMap;
use std::net::SocketAddr;

use acrylic_model::TenantId;
use acrylic_store::{DeviceCode, DeviceCodeStatus, StoreError};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::json_response;
use super::issue::user_tokens;
use super::password::{audit, authenticate};
use super::sessions::Family;
use super::token::{RequestedScope, TokenResponse, read_form, required};
use super::{DirectoryError, TenantSegment, base_url, client, internal};
use crate::AppState;

/// Where users approve device sign-ins (`verification_uri`).
pub const PAGE_PATH: &str = "/devicelogin";
/// Entra's device codes live 15 minutes.
pub const DEVICE_CODE_LIFETIME: time::Duration = time::Duration::minutes(15);
/// Seconds a device waits between polls (RFC 8628 §3.2 default).
pub const POLL_INTERVAL: u32 = 5;
/// Added to the interval on each `slow_down` (RFC 8628 §3.5).
const SLOW_DOWN_STEP: u32 = 5;

const DEVICE_DIGEST: &str = "directory-device-code";
const USER_CODE_DIGEST: &str = "directory-user-code";

/// How a device code is stored.
pub fn device_code_digest(device_code: &str) -> String {
    acrylic_identity::opaque::digest(DEVICE_DIGEST, device_code)
}

/// How a user code is stored (normalised first, as typed codes are).
pub fn user_code_digest(user_code: &str) -> String {
    let code = acrylic_identity::opaque::normalize_user_code(user_code)
        .unwrap_or_else(|| user_code.to_owned());
    acrylic_identity::opaque::digest(USER_CODE_DIGEST, &code)
}

/// The answer of the devicecode endpoint (RFC 8628 §3.2, Entra's fields).
#[derive(Serialize)]
struct Authorization {
    user_code: String,
    device_code: String,
    verification_uri: String,
    expires_in: i64,
    interval: u32,
    message: String,
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub async fn device_code(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    request: Request,
) -> Result<Response, DirectoryError> {
    let base = base_url(&state, request.headers(), request.uri());
    let form = read_form(request).await?;
    let client_id = required(&form, "client_id")?;
    let scope = RequestedScope::parse(&required(&form, "scope")?, &tenant)?;
    let resolved = TenantSegment::parse(&tenant)
        .resolve(&state, &tenant)
        .await?;
    let tenant_id = resolved.map(|t| t.id);
    let app = client::require_public(&state, tenant_id.as_ref(), &tenant, &client_id).await?;

    let now = state.clock.now();
    // A user-code collision is possible (about 43 bits); draw again.
    for _ in 0..5 {
        let device_code = acrylic_identity::opaque::generate_token();
        let user_code = acrylic_identity::opaque::generate_user_code();
        let record = DeviceCode {
            device_code_hash: device_code_digest(&device_code),
            user_code_hash: user_code_digest(&user_code),
            client_id: app.client_id.clone(),
            tenant_id,
            scope: scope.scopes.join(" "),
            status: DeviceCodeStatus::Pending,
            user_id: None,
            interval_secs: POLL_INTERVAL,
            last_polled_at: None,
            created_at: now,
            expires_at: now + DEVICE_CODE_LIFETIME,
        };
        match state.meta.insert_device_code(&record).await {
            Ok(()) => {
                let uri = format!("{base}{PAGE_PATH}");
                let body = Authorization {
                    message: format!(
                        "To sign in, use a web browser to open the page {uri} and enter the code \
                         {user_code} to authenticate."
                    ),
                    user_code,
                    device_code,
                    verification_uri: uri,
                    expires_in: DEVICE_CODE_LIFETIME.whole_seconds(),
                    interval: POLL_INTERVAL,
                };
                return Ok(json_response(StatusCode::OK, &body));
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(internal(e)),
        }
    }
    tracing::error!("could not draw an unused device user code in 5 attempts");
    Err(DirectoryError::Internal)
}

/// A poll of the token endpoint with the device-code grant.
pub(in crate::directory) struct PollRequest {
    client_id: String,
    device_code: String,
}

impl std::fmt::Debug for PollRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollRequest")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl PollRequest {
    pub(in crate::directory) fn parse(
        form: &HashMap<String, String>,
    ) -> Result<PollRequest, DirectoryError> {
        let client_id = required(form, "client_id")?;
        // RFC 8628 names it `device_code`; some older clients send `code`.
        let device_code = required(form, "device_code")
            .or_else(|e| form.get("code").filter(|c| !c.is_empty()).cloned().ok_or(e))?;
        Ok(PollRequest {
            client_id,
            device_code,
        })
    }
}

pub(in crate::directory) async fn grant(
    state: &AppState,
    segment: &TenantSegment,
    raw_tenant: &str,
    base: &str,
    req: PollRequest,
    addr: Option<SocketAddr>,
) -> Result<TokenResponse, DirectoryError> {
    let invalid = DirectoryError::InvalidGrant {
        parameter: "device_code",
    };
    let tenant = segment.resolve(state, raw_tenant).await?;
    let app = client::require_public(
        state,
        tenant.as_ref().map(|t| &t.id),
        raw_tenant,
        &req.client_id,
    )
    .await?;
    let hash = device_code_digest(&req.device_code);
    let Some(code) = state.meta.find_device_code(&hash).await.map_err(internal)? else {
        return Err(invalid);
    };
    let other_tenant = matches!((&tenant, &code.tenant_id), (Some(t), Some(c)) if t.id != *c);
    if !code.client_id.eq_ignore_ascii_case(&app.client_id) || other_tenant {
        return Err(invalid);
    }
    let now = state.clock.now();
    if code.expires_at <= now {
        return Err(DirectoryError::ExpiredToken);
    }
    match code.status {
        DeviceCodeStatus::Pending => {
            let too_soon = code.last_polled_at.is_some_and(|last| {
                now - last < time::Duration::seconds(i64::from(code.interval_secs))
            });
            let interval = if too_soon {
                code.interval_secs.saturating_add(SLOW_DOWN_STEP)
            } else {
                code.interval_secs
            };
            state
                .meta
                .record_device_code_poll(&hash, now, interval)
                .await
                .map_err(internal)?;
            Err(if too_soon {
                DirectoryError::SlowDown { interval }
            } else {
                DirectoryError::AuthorizationPending
            })
        }
        DeviceCodeStatus::Denied => {
            state
                .meta
                .redeem_device_code(&hash)
                .await
                .map_err(internal)?;
            Err(DirectoryError::AccessDenied)
        }
        DeviceCodeStatus::Approved => {
            // Redeemed once: a second poll with the same code finds nothing.
            if !state
                .meta
                .redeem_device_code(&hash)
                .await
                .map_err(internal)?
            {
                return Err(invalid);
            }
            let user = match code.user_id {
                Some(id) => state.meta.find_user(&id).await.map_err(internal)?,
                None => None,
            };
            let Some(user) = user.filter(|u| tenant.as_ref().is_none_or(|t| t.id == u.tenant_id))
            else {
                return Err(invalid);
            };
            if !user.enabled {
                return Err(DirectoryError::UserDisabled);
            }
            let scope = RequestedScope::parse(&code.scope, raw_tenant)?;
            let response =
                user_tokens(state, &user, &app, &scope, raw_tenant, base, Family::New).await?;
            audit(
                state,
                &user.upn,
                "granted",
                addr,
                &format!("device code token for {}", scope.resource),
            )
            .await;
            Ok(response)
        }
    }
}

// ---- the sign-in page ---------------------------------------------------------

/// `GET /devicelogin`: the empty form. Changes nothing.
pub async fn page() -> Response {
    html(StatusCode::OK, &form_page("", "", None))
}

/// `POST /devicelogin`: `user_code`, `username`, `password`, and `action`
/// (`approve`, the default, or `deny`).
pub async fn page_submit(State(state): State<AppState>, request: Request) -> Response {
    let addr = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let form = match read_form(request).await {
        Ok(f) => f,
        Err(_) => {
            return html(
                StatusCode::BAD_REQUEST,
                &form_page(
                    "",
                    "",
                    Some("The form could not be read. Please try again."),
                ),
            );
        }
    };
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let typed_code = field("user_code");
    let username = field("username");
    let approve = field("action") != "deny";
    match decide(
        &state,
        typed_code,
        username,
        field("password"),
        approve,
        addr,
    )
    .await
    {
        Ok(Decided {
            client_name,
            approved,
        }) => {
            let text = if approved {
                format!(
                    "You have signed in to {} on your device as {}. You may now close this window.",
                    escape(&client_name),
                    escape(username)
                )
            } else {
                format!(
                    "You declined the sign-in to {} on your device. You may now close this window.",
                    escape(&client_name)
                )
            };
            html(StatusCode::OK, &result_page(&text))
        }
        Err(PageError::Internal) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            &form_page(
                typed_code,
                username,
                Some("Something went wrong on our side. Please try again."),
            ),
        ),
        Err(e) => html(
            StatusCode::BAD_REQUEST,
            &form_page(typed_code, username, Some(e.message())),
        ),
    }
}

struct Decided {
    client_name: String,
    approved: bool,
}

enum PageError {
    /// Unknown, malformed, used or expired code: one answer.
    Code,
    Credentials,
    Disabled,
    Internal,
}

impl PageError {
    fn message(&self) -> &'static str {
        match self {
            PageError::Code => {
                "That code is not valid or has expired. Check it, or start the sign-in again on your \
                 device to get a new one."
            }
            PageError::Credentials => "Your username or password is incorrect.",
            PageError::Disabled => "Your account is disabled. Contact your administrator.",
            PageError::Internal => "Something went wrong on our side. Please try again.",
        }
    }
}

async fn decide(
    state: &AppState,
    typed_code: &str,
    username: &str,
    password: &str,
    approve: bool,
    addr: Option<SocketAddr>,
) -> Result<Decided, PageError> {
    let store = |e: StoreError| {
        tracing::error!(error = %e, "device sign-in page: metadata store failed");
        PageError::Internal
    };
    let user_code =
        acrylic_identity::opaque::normalize_user_code(typed_code).ok_or(PageError::Code)?;
    let hash = acrylic_identity::opaque::digest(USER_CODE_DIGEST, &user_code);
    let code = state
        .meta
        .find_device_code_by_user_code(&hash)
        .await
        .map_err(store)?
        .ok_or(PageError::Code)?;
    let now = state.clock.now();
    if code.status != DeviceCodeStatus::Pending || code.expires_at <= now {
        return Err(PageError::Code);
    }
    if username.is_empty() || password.is_empty() {
        return Err(PageError::Credentials);
    }
    let tenant: Option<TenantId> = code.tenant_id;
    let user = authenticate(state, tenant.as_ref(), username, password, addr)
        .await
        .map_err(|e| match e {
            DirectoryError::UserDisabled => PageError::Disabled,
            DirectoryError::InvalidCredentials => PageError::Credentials,
            _ => PageError::Internal,
        })?;
    let app = client::find(state, tenant.as_ref(), &code.client_id)
        .await
        .map_err(|_| PageError::Internal)?;
    if !state
        .meta
        .decide_device_code(&code.device_code_hash, approve, &user.id, now)
        .await
        .map_err(store)?
    {
        // Decided or expired between the read and now.
        return Err(PageError::Code);
    }
    let client_name = app
        .map(|a| a.display_name)
        .unwrap_or_else(|| code.client_id.clone());
    audit(
        state,
        &user.upn,
        if approve { "granted" } else { "denied" },
        addr,
        &format!(
            "device sign-in to {client_name} {}",
            if approve { "approved" } else { "declined" }
        ),
    )
    .await;
    Ok(Decided {
        client_name,
        approved: approve,
    })
}

fn html(status: StatusCode, body: &str) -> Response {
    let mut r = (status, body.to_owned()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    // No script at all, no framing (clickjacking), forms only to us.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}\
label{display:block;margin-top:1rem}input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}\
.buttons{margin-top:1.5rem;display:flex;gap:1rem}button{padding:.5rem 1rem;font-size:1rem}\
.error{color:#a4262c;font-weight:600}";

fn form_page(user_code: &str, username: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>acrylic: device sign-in</title><style>{STYLE}</style></head><body>\
<h1>Sign in on your device</h1>\
<p>Enter the code shown on your device, then sign in with your acrylic account to approve it.</p>{error}\
<form method=\"post\" action=\"{PAGE_PATH}\" autocomplete=\"off\">\
<label for=\"user_code\">Code</label>\
<input id=\"user_code\" name=\"user_code\" required value=\"{code}\" autocapitalize=\"characters\" spellcheck=\"false\">\
<label for=\"username\">Username</label>\
<input id=\"username\" name=\"username\" type=\"email\" required value=\"{user}\" autocomplete=\"username\">\
<label for=\"password\">Password</label>\
<input id=\"password\" name=\"password\" type=\"password\" required autocomplete=\"current-password\">\
<div class=\"buttons\"><button type=\"submit\" name=\"action\" value=\"approve\">Sign in</button>\
<button type=\"submit\" name=\"action\" value=\"deny\">Decline</button></div>\
</form></body></html>\n",
        code = escape(user_code),
        user = escape(username),
    )
}

fn result_page(text: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>acrylic: device sign-in</title><style>{STYLE}</style></head><body>\
<h1>Device sign-in</h1><p>{text}</p></body></html>\n"
    )
}

/// HTML-escapes text for element content and quoted attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_what_they_echo() {
        let page = form_page("<script>", "a\"b@c", Some("x & y"));
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("a&quot;b@c"));
        assert!(page.contains("x &amp; y"));
        assert!(page.contains("method=\"post\""));
        assert!(!page.to_ascii_lowercase().contains("<script"));
    }
}
