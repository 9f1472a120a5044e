//! `acrylic acr repository list|show|show-tags|show-manifests|update|delete`
//! — az's `acr repository` commands (azure-cli `repository.py`), over the
//! registry's data plane: `/v2/_catalog`, ACR's `/acr/v1/…` metadata API
//! (acr-auth.md §4.3) and `DELETE /v2/<repo>/manifests/<digest>`.
//!
//! Credentials, as az gets them (acr-auth.md §4.1, last paragraphs):
//! 1. the login server: `--name` itself when it is one (`host[:port]`),
//!    else `properties.loginServer` of the registry over ARM (found as the
//!    other `acr` commands find it);
//! 2. `GET /v2/`: its challenge names the token endpoint and `service`;
//! 3. an access token for the command's one scope (`registry:catalog:*`,
//!    `repository:<r>:metadata_read`, `…:metadata_write,metadata_read`,
//!    `…:delete,metadata_read`) from `POST /oauth2/token`: with
//!    `--username/--password`, `grant_type=password` (§3.3); otherwise
//!    `grant_type=refresh_token` with the registry refresh token that `acr
//!    login`'s exchange obtains from the directory sign-in (§3.1);
//! 4. the call with `Authorization: Bearer`. Repository names go into
//!    paths unencoded, slashes and all, as az sends them (clients.md).
//!
//! Lists page through `Link: <…>; rel="next"` with `n=100` as az does, and
//! stop early at `--top`. Errors name the fix: a lock says which `update`
//! lifts it, a denial says which access the registry did not grant.

use std::io::IsTerminal;

use acrylic_model::{Digest, RepositoryName, Tag};
use anyhow::{Context as _, Result};
use reqwest::header::{HeaderMap, LINK, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::Context;
use super::acr::RegistryArgs;
use super::acr_login::{self, Challenge};
use crate::client::CliError;
use crate::output::{Column, Output, computed};

/// az's page size (`DEFAULT_PAGINATION`).
const PAGE: u32 = 100;
/// ACR's correlation header, quoted in errors as az does.
const CORRELATION_ID: &str = "x-ms-correlation-request-id";

#[derive(Debug, clap::Subcommand)]
pub enum RepositoryCommand {
    /// List the repositories of a registry.
    List {
        #[command(flatten)]
        reg: DataArgs,
        /// At most this many repositories.
        #[arg(long)]
        top: Option<u32>,
    },
    /// Show a repository's attributes, or an image's (a tag, or a manifest
    /// by digest).
    Show {
        #[command(flatten)]
        reg: DataArgs,
        #[command(flatten)]
        target: Target,
    },
    /// List a repository's tags.
    ShowTags {
        #[command(flatten)]
        reg: DataArgs,
        #[arg(long)]
        repository: String,
        /// Show each tag's attributes, not only its name.
        #[arg(long)]
        detail: bool,
        #[arg(long, value_enum)]
        orderby: Option<OrderBy>,
        /// At most this many tags.
        #[arg(long)]
        top: Option<u32>,
    },
    /// List a repository's manifests.
    ShowManifests {
        #[command(flatten)]
        reg: DataArgs,
        #[arg(long)]
        repository: String,
        /// Show each manifest's attributes, not only digest, tags and time.
        #[arg(long)]
        detail: bool,
        #[arg(long, value_enum)]
        orderby: Option<OrderBy>,
        /// At most this many manifests.
        #[arg(long)]
        top: Option<u32>,
    },
    /// Change a repository's or an image's changeable attributes (lock or
    /// unlock it).
    Update {
        #[command(flatten)]
        reg: DataArgs,
        #[command(flatten)]
        target: Target,
        /// Whether it may be deleted.
        #[arg(long, value_name = "true|false")]
        delete_enabled: Option<bool>,
        /// Whether it is listed.
        #[arg(long, value_name = "true|false")]
        list_enabled: Option<bool>,
        /// Whether it may be pulled.
        #[arg(long, value_name = "true|false")]
        read_enabled: Option<bool>,
        /// Whether it may be overwritten or deleted.
        #[arg(long, value_name = "true|false")]
        write_enabled: Option<bool>,
    },
    /// Delete a repository and all its images, or one image: the manifest
    /// and every tag that points at it.
    Delete {
        #[command(flatten)]
        reg: DataArgs,
        #[command(flatten)]
        target: Target,
        /// Do not prompt for confirmation.
        #[arg(short, long)]
        yes: bool,
    },
}

/// The registry and, optionally, the credentials to use instead of the
/// signed-in identity.
#[derive(Debug, clap::Args)]
pub struct DataArgs {
    #[command(flatten)]
    reg: RegistryArgs,
    /// Username (the admin user: the registry's name) instead of the
    /// signed-in identity.
    #[arg(short, long, requires = "password")]
    username: Option<String>,
    /// The password for --username.
    #[arg(short, long, requires = "username")]
    password: Option<String>,
}

/// `--repository R | --image R:T | --image R@D`, exactly one.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// The repository.
    #[arg(long)]
    repository: Option<String>,
    /// An image: `REPOSITORY:TAG` or `REPOSITORY@DIGEST` (a bare
    /// `REPOSITORY` means its `latest` tag).
    #[arg(long)]
    image: Option<String>,
}

/// `--orderby`, az's names for ACR's `orderby` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum OrderBy {
    #[value(name = "time_asc")]
    TimeAsc,
    #[value(name = "time_desc")]
    TimeDesc,
}

impl OrderBy {
    fn as_query(self) -> &'static str {
        match self {
            OrderBy::TimeAsc => "timeasc",
            OrderBy::TimeDesc => "timedesc",
        }
    }
}

/// What a command acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Subject {
    Repository(RepositoryName),
    Tag(RepositoryName, Tag),
    Manifest(RepositoryName, Digest),
}

impl Subject {
    fn parse(target: &Target) -> Result<Subject, CliError> {
        match (&target.repository, &target.image) {
            (Some(r), None) => Ok(Subject::Repository(repository(r)?)),
            (None, Some(i)) => image(i),
            _ => Err(CliError::Usage(
                "usage error: --image IMAGE | --repository REPOSITORY".into(),
            )),
        }
    }

    fn repository(&self) -> &RepositoryName {
        match self {
            Subject::Repository(r) | Subject::Tag(r, _) | Subject::Manifest(r, _) => r,
        }
    }

    /// Its `/acr/v1` path, and the field of the answer az prints.
    fn metadata_path(&self) -> (String, Option<&'static str>) {
        match self {
            Subject::Repository(r) => (format!("/acr/v1/{r}"), None),
            Subject::Tag(r, t) => (format!("/acr/v1/{r}/_tags/{t}"), Some("tag")),
            Subject::Manifest(r, d) => (format!("/acr/v1/{r}/_manifests/{d}"), Some("manifest")),
        }
    }

    fn columns(&self) -> Vec<Column> {
        match self {
            Subject::Repository(_) => repository_columns(),
            Subject::Tag(..) => tag_columns(),
            Subject::Manifest(..) => manifest_detail_columns(),
        }
    }
}

fn repository(s: &str) -> Result<RepositoryName, CliError> {
    RepositoryName::parse(s).map_err(|e| CliError::Usage(format!("repository {s:?}: {e}")))
}

/// az's `_parse_image_name`: `R@D`, `R:T`, or `R` for `R:latest`.
/// Repository names hold no `:` or `@`, so the first one splits.
fn image(s: &str) -> Result<Subject, CliError> {
    let bad = |why: String| {
        CliError::Usage(format!(
            "--image {s:?}: {why}. Name an image as REPOSITORY:TAG or REPOSITORY@DIGEST"
        ))
    };
    if let Some((r, d)) = s.split_once('@') {
        let digest = Digest::parse(d).map_err(|e| bad(e.to_string()))?;
        return Ok(Subject::Manifest(repository(r)?, digest));
    }
    let (r, t) = s.split_once(':').unwrap_or((s, "latest"));
    let tag = Tag::parse(t).map_err(|e| bad(e.to_string()))?;
    Ok(Subject::Tag(repository(r)?, tag))
}

pub async fn run(ctx: &Context, cmd: RepositoryCommand) -> Result<Option<Output>> {
    match cmd {
        RepositoryCommand::List { reg, top } => {
            let conn = Connection::open(ctx, &reg, "registry:catalog:*").await?;
            let names = conn
                .collect("/v2/_catalog", "repositories", top, None)
                .await?;
            Ok(Some(Output::new(Value::Array(names), name_columns())))
        }
        RepositoryCommand::Show { reg, target } => {
            let subject = Subject::parse(&target)?;
            let conn = Connection::open(ctx, &reg, &scope(&subject, "metadata_read")).await?;
            let v = conn.metadata(Method::GET, &subject, None).await?;
            Ok(Some(Output::new(v, subject.columns())))
        }
        RepositoryCommand::ShowTags {
            reg,
            repository: r,
            detail,
            orderby,
            top,
        } => {
            let subject = Subject::Repository(repository(&r)?);
            let conn = Connection::open(ctx, &reg, &scope(&subject, "metadata_read")).await?;
            let path = format!("/acr/v1/{}/_tags", subject.repository());
            let tags = conn.collect(&path, "tags", top, orderby).await?;
            if detail {
                return Ok(Some(Output::new(Value::Array(tags), tag_columns())));
            }
            // az's "old schema": the names alone.
            let names = tags.iter().map(|t| t["name"].clone()).collect();
            Ok(Some(Output::new(Value::Array(names), name_columns())))
        }
        RepositoryCommand::ShowManifests {
            reg,
            repository: r,
            detail,
            orderby,
            top,
        } => {
            let subject = Subject::Repository(repository(&r)?);
            let conn = Connection::open(ctx, &reg, &scope(&subject, "metadata_read")).await?;
            let path = format!("/acr/v1/{}/_manifests", subject.repository());
            let manifests = conn.collect(&path, "manifests", top, orderby).await?;
            if detail {
                return Ok(Some(Output::new(
                    Value::Array(manifests),
                    manifest_detail_columns(),
                )));
            }
            // az's "old schema": digest, tags and the last update.
            let short = manifests
                .iter()
                .map(|m| {
                    json!({
                        "digest": m.get("digest").cloned().unwrap_or_else(|| json!("")),
                        "tags": m.get("tags").cloned().unwrap_or_else(|| json!([])),
                        "timestamp": m.get("lastUpdateTime").cloned().unwrap_or_else(|| json!("")),
                    })
                })
                .collect();
            Ok(Some(Output::new(Value::Array(short), manifest_columns())))
        }
        RepositoryCommand::Update {
            reg,
            target,
            delete_enabled,
            list_enabled,
            read_enabled,
            write_enabled,
        } => {
            let subject = Subject::parse(&target)?;
            let mut patch = Map::new();
            for (key, value) in [
                ("deleteEnabled", delete_enabled),
                ("listEnabled", list_enabled),
                ("readEnabled", read_enabled),
                ("writeEnabled", write_enabled),
            ] {
                if let Some(v) = value {
                    patch.insert(key.into(), Value::Bool(v));
                }
            }
            // With nothing to change az shows the attributes instead.
            let (method, actions, body) = if patch.is_empty() {
                (Method::GET, "metadata_read", None)
            } else {
                (
                    Method::PATCH,
                    "metadata_write,metadata_read",
                    Some(Value::Object(patch)),
                )
            };
            let conn = Connection::open(ctx, &reg, &scope(&subject, actions)).await?;
            let v = conn.metadata(method, &subject, body.as_ref()).await?;
            Ok(Some(Output::new(v, subject.columns())))
        }
        RepositoryCommand::Delete { reg, target, yes } => {
            let subject = Subject::parse(&target)?;
            // Refuse before any request when no one can be asked.
            if !yes && !std::io::stdin().is_terminal() {
                return Err(CliError::Usage(
                    "cannot prompt for confirmation (no terminal): pass --yes".into(),
                )
                .into());
            }
            let conn =
                Connection::open(ctx, &reg, &scope(&subject, "delete,metadata_read")).await?;
            delete(&conn, &subject, yes).await?;
            Ok(None)
        }
    }
}

/// `repository:<r>:<actions>`.
fn scope(subject: &Subject, actions: &str) -> String {
    format!("repository:{}:{actions}", subject.repository())
}

/// az's `acr repository delete`: a repository through `/acr/v1`; an image
/// as its manifest through `/v2/` (a tag is first resolved to its digest),
/// after saying which tags go with it.
async fn delete(conn: &Connection, subject: &Subject, yes: bool) -> Result<()> {
    let (r, digest) = match subject {
        Subject::Repository(r) => {
            if !yes {
                super::acr::confirm(&format!(
                    "Are you sure you want to delete the repository '{r}' and all images under it?"
                ))?;
            }
            conn.call(Method::DELETE, &format!("/acr/v1/{r}"), &[], None)
                .await?;
            return Ok(());
        }
        Subject::Manifest(r, d) => (r, d.to_string()),
        Subject::Tag(r, _) => {
            let tag = conn.metadata(Method::GET, subject, None).await?;
            let digest = tag
                .get("digest")
                .and_then(Value::as_str)
                .filter(|d| !d.is_empty())
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "could not get the manifest digest of image '{r}:{}'",
                        tag_name(subject)
                    ))
                })?;
            (r, digest.to_owned())
        }
    };
    let tags = conn
        .collect(&format!("/acr/v1/{r}/_tags"), "tags", None, None)
        .await?;
    let images: Vec<String> = tags
        .iter()
        .filter(|t| t["digest"].as_str() == Some(digest.as_str()))
        .filter_map(|t| t["name"].as_str())
        .map(|t| format!("'{r}:{t}'"))
        .collect();
    let mut message = format!("This operation will delete the manifest '{digest}'");
    if !images.is_empty() {
        message.push_str(&format!(
            " and all the following images: {}",
            images.join(", ")
        ));
    }
    if yes {
        eprintln!("WARNING: {message}");
    } else {
        super::acr::confirm(&format!("{message}.\nAre you sure you want to continue?"))?;
    }
    conn.call(
        Method::DELETE,
        &format!("/v2/{r}/manifests/{digest}"),
        &[],
        None,
    )
    .await?;
    Ok(())
}

fn tag_name(subject: &Subject) -> String {
    match subject {
        Subject::Tag(_, t) => t.to_string(),
        Subject::Repository(_) | Subject::Manifest(..) => String::new(),
    }
}

/// A registry's data plane with an access token for one scope.
struct Connection {
    http: reqwest::Client,
    /// `scheme://login-server`.
    base: String,
    /// `--name` as given, for the commands errors suggest.
    name: String,
    token: String,
    scope: String,
    /// Whose token it is, for denials: "your sign-in" or "user X".
    who: String,
}

/// One answer of the data plane.
struct Reply {
    body: Option<Value>,
    link: Option<String>,
}

impl Connection {
    /// Steps 1–3 of the module doc.
    async fn open(ctx: &Context, args: &DataArgs, scope: &str) -> Result<Connection> {
        let profile = ctx.profile()?;
        let server = profile.server_url.clone().ok_or(CliError::NoServer)?;
        let scheme = url::Url::parse(&server)
            .with_context(|| format!("the profile's serverUrl {server:?} is not a URL"))?
            .scheme()
            .to_owned();
        let http = acr_login::registry_client(profile.ca_cert.as_deref())?;
        let name = args.reg.name.clone();
        let login_server = if acr_login::is_login_server(&name) {
            name.to_ascii_lowercase()
        } else {
            login_server(ctx, args).await?
        };
        let challenge = acr_login::probe(&http, &scheme, &login_server).await?;
        let (token, who) = match (&args.username, &args.password) {
            (Some(username), Some(password)) => {
                let form = [
                    ("grant_type", "password"),
                    ("service", challenge.service.as_str()),
                    ("scope", scope),
                    ("username", username.as_str()),
                    ("password", password.as_str()),
                ];
                let who = format!("user '{username}'");
                (
                    access_token(&http, &challenge, &form, &login_server, &who).await?,
                    who,
                )
            }
            _ => {
                let session = ctx.session()?;
                let (directory, tenant) = acr_login::directory_token(ctx, &session).await?;
                let refresh =
                    acr_login::exchange(&http, &challenge, &login_server, &directory, &tenant)
                        .await?;
                let form = [
                    ("grant_type", "refresh_token"),
                    ("service", challenge.service.as_str()),
                    ("scope", scope),
                    ("refresh_token", refresh.as_str()),
                ];
                let who = format!("'{}'", session.user);
                (
                    access_token(&http, &challenge, &form, &login_server, &who).await?,
                    who,
                )
            }
        };
        Ok(Connection {
            http,
            base: format!("{scheme}://{login_server}"),
            name,
            token,
            scope: scope.to_owned(),
            who,
        })
    }

    /// One call; a failure becomes an error that names the fix.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Reply> {
        let url = format!("{}{path}", self.base);
        let mut req = self
            .http
            .request(method, &url)
            .bearer_auth(&self.token)
            .query(query);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| {
            CliError::Usage(format!(
                "could not reach the registry at {}: {}",
                self.base,
                acr_login::chain(&e)
            ))
        })?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap_or_default();
        if !status.is_success() {
            return Err(self.refusal(path, status, &headers, &bytes).into());
        }
        let link = headers
            .get(LINK)
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        let body = if bytes.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            Some(
                serde_json::from_slice(&bytes)
                    .with_context(|| format!("the registry's answer to {path} is not JSON"))?,
            )
        };
        Ok(Reply { body, link })
    }

    /// GET or PATCH of a subject's attributes; az prints the inner `tag` or
    /// `manifest` object.
    async fn metadata(
        &self,
        method: Method,
        subject: &Subject,
        body: Option<&Value>,
    ) -> Result<Value> {
        let (path, index) = subject.metadata_path();
        let v = self
            .call(method, &path, &[], body)
            .await?
            .body
            .unwrap_or(Value::Null);
        Ok(match index {
            Some(i) => v.get(i).cloned().unwrap_or(Value::Null),
            None => v,
        })
    }

    /// Every item of a paged list (az's `_obtain_data_from_registry`):
    /// `n=100`, following `Link` until done, or until `top` items.
    async fn collect(
        &self,
        path: &str,
        index: &str,
        top: Option<u32>,
        orderby: Option<OrderBy>,
    ) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut path = path.to_owned();
        let mut query: Vec<(String, String)> = vec![("n".into(), PAGE.to_string())];
        if let Some(o) = orderby {
            query.push(("orderby".into(), o.as_query().into()));
        }
        let mut remaining = top;
        let mut seen = std::collections::HashSet::new();
        loop {
            if let Some(left) = remaining {
                let n = left.min(PAGE);
                query.retain(|(k, _)| k != "n");
                query.push(("n".into(), n.to_string()));
                remaining = Some(left - n);
            }
            let reply = self.call(Method::GET, &path, &query, None).await?;
            if let Some(Value::Array(page)) = reply.body.as_ref().and_then(|b| b.get(index)) {
                items.extend(page.iter().cloned());
            }
            if remaining == Some(0) {
                break;
            }
            let Some((next_path, next_query)) = reply.link.as_deref().and_then(next_page) else {
                break;
            };
            // A server that links a page to itself would loop forever.
            if !seen.insert((next_path.clone(), next_query.clone())) {
                break;
            }
            path = next_path;
            query = next_query;
        }
        if let Some(t) = top {
            items.truncate(usize::try_from(t).unwrap_or(usize::MAX));
        }
        Ok(items)
    }

    /// The registry's refusal, with what to do about it.
    fn refusal(
        &self,
        path: &str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> CliError {
        let error: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let first = &error["errors"][0];
        let code = first["code"].as_str().unwrap_or_default();
        let message = first["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| acr_login::acr_message(body));
        let correlation = headers
            .get(CORRELATION_ID)
            .and_then(|h| h.to_str().ok())
            .map(|id| format!(" Correlation ID: {id}."))
            .unwrap_or_default();
        let challenge = headers
            .get(WWW_AUTHENTICATE)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let text = match status {
            // The token lacks what the route needs: the registry did not
            // grant it (acr-auth.md §1.2: the detail names the access).
            StatusCode::UNAUTHORIZED if challenge.contains("insufficient_scope") => {
                format!(
                    "access denied: the registry did not grant {} {}. \
                     Ask an owner of the registry for a role that allows it \
                     (`acrylic role assignment list --all` shows the current ones).",
                    self.who,
                    needed(&first["detail"], &self.scope)
                )
            }
            StatusCode::UNAUTHORIZED => format!(
                "the registry refused the access token: {}. Run `acrylic login` to sign in again.",
                message.trim_end_matches('.')
            ),
            StatusCode::FORBIDDEN if code == "DENIED" => format!(
                "access denied: {}: {} lacks {}. \
                 Ask an owner of the registry for a role that allows it.",
                message.trim_end_matches('.'),
                self.who,
                needed(&first["detail"], &self.scope)
            ),
            // A changeable attribute refused it (acr_v1 and oci errors carry
            // the attribute and its `/acr/v1` path).
            // The server's own advice names az; ours names this CLI.
            StatusCode::METHOD_NOT_ALLOWED if code == "DENIED" => {
                match unlock_hint(&first["detail"], &self.name) {
                    Some(hint) => {
                        let refusal = message
                            .split_once(" To allow it")
                            .map_or(message.as_str(), |(refusal, _)| refusal);
                        format!("{refusal}\n{hint}.")
                    }
                    None => message,
                }
            }
            _ => format!(
                "{} ({}, HTTP {} from {path}).",
                message.trim_end_matches('.'),
                if code.is_empty() {
                    "no error code"
                } else {
                    code
                },
                status.as_u16()
            ),
        };
        CliError::Usage(format!("{}{correlation}", text.trim_end()))
    }
}

/// `` `delete` access to repository 'r' `` from an AcrErrors detail
/// (`[{"Type","Name","Action"}]`), else the scope asked for.
fn needed(detail: &Value, scope: &str) -> String {
    let d = &detail[0];
    match (d["Type"].as_str(), d["Name"].as_str(), d["Action"].as_str()) {
        (Some("registry"), Some("catalog"), _) => {
            "the catalog listing (`registry:catalog:*`)".into()
        }
        (Some(kind), Some(name), Some(action)) => format!("`{action}` access to {kind} '{name}'"),
        _ => format!("`{scope}`"),
    }
}

/// `Run acrylic acr repository update … --delete-enabled true`, from a
/// lock refusal's `{"attribute", "path"}` detail.
fn unlock_hint(detail: &Value, registry: &str) -> Option<String> {
    let flag = match detail["attribute"].as_str()? {
        "deleteEnabled" => "--delete-enabled",
        "writeEnabled" => "--write-enabled",
        "readEnabled" => "--read-enabled",
        "listEnabled" => "--list-enabled",
        _ => return None,
    };
    let path = detail["path"].as_str()?.strip_prefix("/acr/v1/")?;
    let target = if let Some((r, t)) = path.split_once("/_tags/") {
        format!("--image {r}:{t}")
    } else if let Some((r, d)) = path.split_once("/_manifests/") {
        format!("--image {r}@{d}")
    } else {
        format!("--repository {path}")
    };
    Some(format!(
        "To allow it, run `acrylic acr repository update --name {registry} {target} {flag} true`"
    ))
}

/// The path and query of a `Link: <…>; rel="next"` header (RFC 8288),
/// kept on the same registry: only a path is followed.
fn next_page(link: &str) -> Option<(String, Vec<(String, String)>)> {
    let target = link.split_once('<')?.1.split_once('>')?.0;
    let target = match url::Url::parse(target) {
        Ok(u) => format!(
            "{}{}",
            u.path(),
            u.query().map(|q| format!("?{q}")).unwrap_or_default()
        ),
        Err(_) => target.to_owned(),
    };
    if !target.starts_with('/') {
        return None;
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let query = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    Some((path.to_owned(), query))
}

/// The registry's login server (over ARM, else by the cloud's naming rule).
async fn login_server(ctx: &Context, args: &DataArgs) -> Result<String> {
    let session = match ctx.session() {
        Ok(s) => s,
        Err(e) if args.username.is_some() => {
            return Err(CliError::Usage(format!(
                "{e:#}; or pass the registry's login server as --name <host:port> to use --username without signing in"
            ))
            .into());
        }
        Err(e) => return Err(e),
    };
    super::acr_login::find_login_server(
        &session,
        &args.reg.name,
        args.reg.resource_group.as_deref(),
    )
    .await
}

/// `POST <realm>`: an access token for `form`'s scope.
async fn access_token(
    http: &reqwest::Client,
    challenge: &Challenge,
    form: &[(&str, &str)],
    login_server: &str,
    who: &str,
) -> Result<String> {
    let resp = http
        .post(&challenge.realm)
        .form(form)
        .send()
        .await
        .map_err(|e| {
            CliError::Usage(format!(
                "could not reach the token endpoint {} of registry '{login_server}': {}",
                challenge.realm,
                acr_login::chain(&e)
            ))
        })?;
    let status = resp.status();
    let body = resp.bytes().await.unwrap_or_default();
    if !status.is_success() {
        let message = acr_login::acr_message(&body);
        // A bare "authentication required" after a password grant means
        // the pair was wrong; other refusals name their own fix.
        let hint = if form.iter().any(|(k, _)| *k == "username")
            && message.starts_with("authentication required")
        {
            " Check --username and --password."
        } else {
            ""
        };
        return Err(CliError::Usage(format!(
            "the registry '{login_server}' refused an access token to {who} ({}): {message}{hint}",
            status.as_u16(),
        ))
        .into());
    }
    let v: Value = serde_json::from_slice(&body)
        .with_context(|| format!("the answer of {} is not JSON", challenge.realm))?;
    v.get("access_token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            CliError::Usage(format!(
                "the answer of {} holds no access_token",
                challenge.realm
            ))
            .into()
        })
}

// -- output: az prints these with knack's automatic tables (scalar fields,
// headers capitalised) --

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A list of names: az's `Result` column.
fn name_columns() -> Vec<Column> {
    vec![computed("Result", as_text)]
}

fn repository_columns() -> Vec<Column> {
    use crate::output::col;
    vec![
        col("Registry", "registry"),
        col("ImageName", "imageName"),
        col("CreatedTime", "createdTime"),
        col("LastUpdateTime", "lastUpdateTime"),
        col("ManifestCount", "manifestCount"),
        col("TagCount", "tagCount"),
    ]
}

fn tag_columns() -> Vec<Column> {
    use crate::output::col;
    vec![
        col("Name", "name"),
        col("Digest", "digest"),
        col("CreatedTime", "createdTime"),
        col("LastUpdateTime", "lastUpdateTime"),
        col("Signed", "signed"),
    ]
}

fn joined_tags(row: &Value) -> String {
    row["tags"]
        .as_array()
        .map(|tags| tags.iter().map(as_text).collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

fn manifest_columns() -> Vec<Column> {
    use crate::output::col;
    vec![
        col("Digest", "digest"),
        computed("Tags", joined_tags),
        col("Timestamp", "timestamp"),
    ]
}

fn manifest_detail_columns() -> Vec<Column> {
    use crate::output::col;
    vec![
        col("Digest", "digest"),
        col("ImageSize", "imageSize"),
        col("CreatedTime", "createdTime"),
        col("LastUpdateTime", "lastUpdateTime"),
        col("Architecture", "architecture"),
        col("Os", "os"),
        col("MediaType", "mediaType"),
        computed("Tags", joined_tags),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(repository: Option<&str>, image: Option<&str>) -> Target {
        Target {
            repository: repository.map(str::to_owned),
            image: image.map(str::to_owned),
        }
    }

    #[test]
    fn images_parse_as_az_parses_them() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = |s: &str| RepositoryName::parse(s).ok();
        let parsed = |i: &str| Subject::parse(&target(None, Some(i))).ok();
        assert_eq!(
            parsed("team/app:v1"),
            Some(Subject::Tag(
                r("team/app").expect("name"),
                Tag::parse("v1").expect("tag")
            ))
        );
        assert_eq!(
            parsed("team/app"),
            Some(Subject::Tag(
                r("team/app").expect("name"),
                Tag::parse("latest").expect("tag")
            ))
        );
        assert_eq!(
            parsed(&format!("app@{d}")),
            Some(Subject::Manifest(
                r("app").expect("name"),
                Digest::parse(&d).expect("digest")
            ))
        );
        for bad in ["App:v1", "app:", "app@sha256:short", "app:v1:v2", ":v1"] {
            assert!(parsed(bad).is_none(), "{bad:?} accepted");
        }
        assert_eq!(
            Subject::parse(&target(Some("a/b"), None)).ok(),
            r("a/b").map(Subject::Repository)
        );
    }

    #[test]
    fn links_are_followed_on_the_same_registry_only() {
        assert_eq!(
            next_page("</acr/v1/a/b/_tags?last=v1&n=100&orderby=timedesc>; rel=\"next\""),
            Some((
                "/acr/v1/a/b/_tags".into(),
                vec![
                    ("last".into(), "v1".into()),
                    ("n".into(), "100".into()),
                    ("orderby".into(), "timedesc".into())
                ]
            ))
        );
        assert_eq!(
            next_page("<https://evil.example/v2/_catalog?n=1&last=a>; rel=\"next\"")
                .map(|(p, _)| p),
            Some("/v2/_catalog".into())
        );
        assert_eq!(next_page("no link"), None);
        assert_eq!(next_page("<relative?x=1>; rel=\"next\""), None);
    }

    #[test]
    fn locks_and_denials_name_the_fix() {
        let hint = unlock_hint(
            &json!({"attribute": "deleteEnabled", "path": "/acr/v1/team/app/_tags/v1"}),
            "myreg",
        );
        assert_eq!(
            hint.as_deref(),
            Some(
                "To allow it, run `acrylic acr repository update --name myreg --image team/app:v1 --delete-enabled true`"
            )
        );
        let hint = unlock_hint(
            &json!({"attribute": "writeEnabled", "path": "/acr/v1/team/app"}),
            "myreg",
        );
        assert!(
            hint.is_some_and(|h| h.contains("--repository team/app --write-enabled true")),
            "repository lock"
        );
        assert_eq!(unlock_hint(&json!(null), "r"), None);
        assert_eq!(
            needed(
                &json!([{"Type": "repository", "Name": "a", "Action": "delete"}]),
                "x"
            ),
            "`delete` access to repository 'a'"
        );
        assert_eq!(
            needed(&Value::Null, "repository:a:pull"),
            "`repository:a:pull`"
        );
    }
}
