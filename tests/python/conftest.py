"""Fixtures for issue #3 §5's acceptance tests: Microsoft's own Python clients
(azure-identity, azure-containerregistry) against a real ``acrylic serve``.

The Rust test ``crates/cli/tests/e2e/python.rs`` starts the server, creates
the users and role assignments through the acrylic CLI, and runs pytest on one
file here with the server described in ``ACRYLIC_TEST_*`` variables:

- ``ACRYLIC_TEST_URL``: ``https://localhost:<port>`` (the directory authority)
- ``ACRYLIC_TEST_CA``: the server's generated CA certificate (PEM)
- ``ACRYLIC_TEST_TENANT``: the tenant id
- ``ACRYLIC_TEST_LOGIN_SERVER``: the registry's login server, ``host:port``
- ``ACRYLIC_TEST_<ROLE>_USERNAME`` / ``_PASSWORD`` for the users a file
  needs (``OWNER``, ``PUSHER``: AcrPush + AcrDelete, ``PULLER``: AcrPull).

The clients are used as a customer would, with only their documented knobs
(spec/clients.md, "The directory, as MSAL and azure-identity use it"):
``authority=``, ``disable_instance_discovery=True``, ``connection_verify=``
and the registry client's ``audience=``. Nothing in them is patched.
"""

import hashlib
import html.parser
import io
import json
import os
import threading
import urllib.parse
from dataclasses import dataclass

import pytest
import requests
from azure.containerregistry import ContainerRegistryClient
from azure.identity import DeviceCodeCredential, UsernamePasswordCredential

# The Azure CLI's public client id: a first-party application every tenant
# has, as in Entra (issue #3 §1, acr-auth.md §5.1).
AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
# ACR's token audience (acr-auth.md §4.3; the SDK's default too).
ACR_AUDIENCE = "https://containerregistry.azure.net"
# Every client call has a deadline, so a stuck server fails the test instead
# of hanging it (the Rust side also kills pytest after a while).
TIMEOUTS = {"connection_timeout": 15, "read_timeout": 60}

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


@dataclass(frozen=True)
class User:
    username: str
    password: str


@dataclass(frozen=True)
class Server:
    url: str
    ca: str
    tenant: str
    login_server: str

    @property
    def endpoint(self) -> str:
        return f"https://{self.login_server}"

    def user(self, role: str) -> User:
        prefix = f"ACRYLIC_TEST_{role.upper()}_"
        return User(_required(prefix + "USERNAME"), _required(prefix + "PASSWORD"))

    def password_credential(self, user: User) -> UsernamePasswordCredential:
        """azure-identity's username/password sign-in (MSAL's ROPC flow, which
        first asks ``https://localhost:443/common/userrealm/<user>``)."""
        return UsernamePasswordCredential(
            client_id=AZURE_CLI_CLIENT_ID,
            username=user.username,
            password=user.password,
            tenant_id=self.tenant,
            authority=self.url,
            disable_instance_discovery=True,
            connection_verify=self.ca,
            **TIMEOUTS,
        )

    def device_code_credential(self, user: User, *, approve: bool = True):
        """azure-identity's device code sign-in, and the person who answers
        its prompt on the device page (:class:`DevicePagePerson`)."""
        person = DevicePagePerson(self, user, approve=approve)
        credential = DeviceCodeCredential(
            client_id=AZURE_CLI_CLIENT_ID,
            tenant_id=self.tenant,
            authority=self.url,
            disable_instance_discovery=True,
            connection_verify=self.ca,
            prompt_callback=person.prompt,
            timeout=90,
            **TIMEOUTS,
        )
        return credential, person

    def registry(self, credential) -> ContainerRegistryClient:
        """``ContainerRegistryClient`` on the login server; ``credential=None``
        is anonymous access."""
        return ContainerRegistryClient(
            endpoint=self.endpoint,
            credential=credential,
            audience=ACR_AUDIENCE,
            connection_verify=self.ca,
            **TIMEOUTS,
        )


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(
            f"{name} is not set: these tests run through `cargo test -p acrylic --test e2e python`, "
            "which starts acrylic and describes it in ACRYLIC_TEST_* variables",
            pytrace=False,
        )
    return value


@pytest.fixture(scope="session")
def server() -> Server:
    return Server(
        url=_required("ACRYLIC_TEST_URL"),
        ca=_required("ACRYLIC_TEST_CA"),
        tenant=_required("ACRYLIC_TEST_TENANT"),
        login_server=_required("ACRYLIC_TEST_LOGIN_SERVER"),
    )


# ---- the device sign-in page, as a person uses it ------------------------------


class _FormParser(html.parser.HTMLParser):
    """The first ``<form>`` of a page: its action, method and fields."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.method = None
        self.fields = []  # (tag, name, type, value)
        self._in_form = False
        self._seen_form = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and not self._seen_form:
            self._in_form = self._seen_form = True
            self.action = a.get("action", "")
            self.method = (a.get("method") or "get").lower()
        elif self._in_form and tag in ("input", "button") and a.get("name"):
            self.fields.append((tag, a["name"], (a.get("type") or "").lower(), a.get("value") or ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False


class DevicePagePerson:
    """Answers DeviceCodeCredential's prompt like a person: opens
    ``verification_uri`` in a "browser" (requests, trusting the server's CA),
    fills in the form it finds there (code, username, password) and presses
    the approve or decline button. Runs on a thread, as the device keeps
    polling meanwhile; :attr:`outcome` holds the page's answer."""

    def __init__(self, server: Server, user: User, *, approve: bool):
        self.server = server
        self.user = user
        self.approve = approve
        self.outcome = None
        self.error = None
        self.thread = None

    def prompt(self, verification_uri, user_code, expires_on):
        assert verification_uri.startswith(self.server.url + "/"), verification_uri
        self.thread = threading.Thread(
            target=self._sign_in, args=(verification_uri, user_code), daemon=True
        )
        self.thread.start()

    def _sign_in(self, verification_uri, user_code):
        try:
            self.outcome = sign_in_on_device_page(
                self.server, verification_uri, user_code, self.user, approve=self.approve
            )
        except Exception as e:  # reported by the test through .error
            self.error = e

    def wait(self):
        assert self.thread is not None, "DeviceCodeCredential never showed its prompt"
        self.thread.join(timeout=60)
        if self.error is not None:
            raise self.error
        return self.outcome


def sign_in_on_device_page(server: Server, verification_uri, user_code, user: User, *, approve=True):
    """GETs the device page, fills its form and submits it; returns the
    answer page's text (status must be 200)."""
    # `verify` per request: requests lets REQUESTS_CA_BUNDLE override a
    # session-wide one.
    with requests.Session() as browser:
        page = browser.get(verification_uri, verify=server.ca, timeout=30)
        assert page.status_code == 200, f"GET {verification_uri}: {page.status_code}\n{page.text}"
        assert page.headers["Content-Type"].startswith("text/html"), page.headers
        form = _FormParser()
        form.feed(page.text)
        assert form.method == "post", f"no POST form on the device page:\n{page.text}"
        wanted_button = "approve" if approve else "deny"
        data = {}
        for tag, name, kind, value in form.fields:
            lowered = name.lower()
            if tag == "button" or kind == "submit":
                if value.lower() == wanted_button:
                    data[name] = value
            elif "code" in lowered:
                data[name] = user_code
            elif kind == "password":
                data[name] = user.password
            elif "user" in lowered or kind == "email":
                data[name] = user.username
            else:
                data[name] = value
        assert any(v == user_code for v in data.values()), f"no code field in {form.fields}"
        assert user.password in data.values(), f"no password field in {form.fields}"
        target = urllib.parse.urljoin(verification_uri, form.action or verification_uri)
        answer = browser.post(target, data=data, verify=server.ca, timeout=30)
        assert answer.status_code == 200, f"POST {target}: {answer.status_code}\n{answer.text}"
        return answer.text


# ---- images ---------------------------------------------------------------------


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Image:
    manifest: dict
    digest: str
    config: bytes
    layer: bytes


def push_image(client: ContainerRegistryClient, repository: str, tag: str, *, layer_size: int = 1024) -> Image:
    """Uploads a config and one layer with ``upload_blob`` and sets an OCI
    manifest naming them with ``set_manifest``; returns what was pushed."""
    layer = (tag.encode() * (layer_size // max(len(tag), 1) + 1))[:layer_size]
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [sha256_digest(layer)]}}
    ).encode()
    for blob in (config, layer):
        digest, size = client.upload_blob(repository, io.BytesIO(blob))
        assert digest == sha256_digest(blob)
        assert size == len(blob)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256_digest(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": sha256_digest(layer), "size": len(layer)}],
    }
    digest = client.set_manifest(repository, manifest, tag=tag, media_type=OCI_MANIFEST)
    assert digest.startswith("sha256:"), digest
    return Image(manifest=manifest, digest=digest, config=config, layer=layer)


def download(client: ContainerRegistryClient, repository: str, digest: str) -> bytes:
    stream = client.download_blob(repository, digest)
    return b"".join(stream)
