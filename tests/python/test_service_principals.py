"""Issue #4 §5: service principals through Microsoft's own Python clients.

azure-identity's ``ClientSecretCredential`` and ``CertificateCredential``
sign in to acrylic's directory with the custom authority
(``authority=``, ``disable_instance_discovery=True``,
``connection_verify=``), and ``ContainerRegistryClient`` with them lists and
pushes as the service principals' roles allow. ``ClientAssertionCredential``
presents a federated token from an OIDC issuer this test serves on
127.0.0.1 (it skips discovery and POSTs straight to
``{authority}/{tenant}/oauth2/v2.0/token``, spec/clients.md).

Service principals (made by crates/cli/tests/e2e/python_sp.rs with
``acrylic ad sp create-for-rbac``), in ``ACRYLIC_TEST_SP_<NAME>_APP_ID`` and
``_SECRET`` (or ``_CERT_FILE``):

- PUSHER: AcrPush + AcrDelete, a client secret;
- PULLER: AcrPull, a client secret;
- CERT: AcrPush, a certificate made with ``--create-cert``;
- FED: AcrPull, a client secret the test does not use; the test adds a
  federated credential for its own issuer with the owner's Graph token.
"""

import base64
import http.server
import json
import os
import threading
import time
import uuid

import jwt
import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import CertificateCredential, ClientAssertionCredential, ClientSecretCredential
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import ACR_AUDIENCE, TIMEOUTS, download, push_image

# An Azure CLI client id: the owner's Graph token for test setup.
AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set (run through `cargo test -p acrylic --test e2e python_sp`)", pytrace=False)
    return value


def app_id(name: str) -> str:
    return env(f"ACRYLIC_TEST_SP_{name}_APP_ID")


def secret_credential(server, name: str, secret: str | None = None) -> ClientSecretCredential:
    return ClientSecretCredential(
        tenant_id=server.tenant,
        client_id=app_id(name),
        client_secret=secret or env(f"ACRYLIC_TEST_SP_{name}_SECRET"),
        authority=server.url,
        disable_instance_discovery=True,
        connection_verify=server.ca,
        **TIMEOUTS,
    )


def test_client_secret_credential_gets_an_app_token(server):
    credential = secret_credential(server, "PUSHER")
    claims = jwt_claims(credential.get_token(ACR_AUDIENCE + "/.default").token)
    assert claims["idtyp"] == "app", claims
    assert claims["appid"] == app_id("PUSHER"), claims
    assert claims["appidacr"] == "1", claims
    assert claims["tid"] == server.tenant, claims
    assert claims["aud"].rstrip("/") == ACR_AUDIENCE, claims


def test_a_wrong_secret_is_refused(server):
    credential = secret_credential(server, "PUSHER", secret="not-the-secret-8Q~xxxxxxxxxxxxxxxxxxxxxx")
    with pytest.raises(ClientAuthenticationError) as refused:
        credential.get_token(ACR_AUDIENCE + "/.default")
    assert "AADSTS7000215" in str(refused.value), str(refused.value)


def test_the_pusher_pushes_lists_and_deletes(server):
    with server.registry(secret_credential(server, "PUSHER")) as client:
        image = push_image(client, "sp/app", "v1")
        assert "sp/app" in list(client.list_repository_names())
        assert download(client, "sp/app", image.manifest["layers"][0]["digest"]) == image.layer
        tags = [t.name for t in client.list_tag_properties("sp/app")]
        assert "v1" in tags, tags
        push_image(client, "sp/scratch", "gone")
        client.delete_repository("sp/scratch")
        assert "sp/scratch" not in list(client.list_repository_names())


def test_the_puller_lists_and_pulls_but_cannot_push(server):
    with server.registry(secret_credential(server, "PUSHER")) as pusher:
        image = push_image(pusher, "sp/pulled", "v1")
    with server.registry(secret_credential(server, "PULLER")) as client:
        assert "sp/pulled" in list(client.list_repository_names())
        got = client.get_manifest("sp/pulled", "v1")
        assert got.digest == image.digest
        with pytest.raises((HttpResponseError, ClientAuthenticationError)) as refused:
            push_image(client, "sp/pulled", "v2")
        message = str(refused.value).lower()
        assert "denied" in message or "unauthorized" in message or "authentication" in message, message


def test_certificate_credential_pushes(server):
    credential = CertificateCredential(
        tenant_id=server.tenant,
        client_id=app_id("CERT"),
        certificate_path=env("ACRYLIC_TEST_SP_CERT_CERT_FILE"),
        authority=server.url,
        disable_instance_discovery=True,
        connection_verify=server.ca,
        **TIMEOUTS,
    )
    claims = jwt_claims(credential.get_token(ACR_AUDIENCE + "/.default").token)
    assert claims["appidacr"] == "2", claims
    assert claims["appid"] == app_id("CERT"), claims
    with server.registry(credential) as client:
        image = push_image(client, "sp/cert", "v1")
        assert client.get_manifest("sp/cert", "v1").digest == image.digest


# ---- a federated credential from an issuer this test serves ----------------------


class Issuer:
    """An OIDC issuer on 127.0.0.1: discovery, JWKS, and tokens it signs."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": issuer.url + "/keys"}
                elif self.path == "/keys":
                    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(issuer.key.public_key()))
                    jwk.update({"kid": issuer.kid, "use": "sig", "alg": "RS256"})
                    body = {"keys": [jwk]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def token(self, subject: str, audience: str = "api://AzureADTokenExchange") -> str:
        now = int(time.time())
        pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        claims = {"iss": self.url, "sub": subject, "aud": audience, "iat": now, "nbf": now, "exp": now + 300}
        return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": self.kid})

    def close(self):
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def issuer():
    i = Issuer()
    yield i
    i.close()


def owner_graph_token(server) -> str:
    """The owner's Graph token: the password grant, for test setup only."""
    r = requests.post(
        f"{server.url}/{server.tenant}/oauth2/v2.0/token",
        data={
            "client_id": AZURE_CLI_CLIENT_ID,
            "grant_type": "password",
            "username": env("ACRYLIC_TEST_OWNER_USERNAME"),
            "password": env("ACRYLIC_TEST_OWNER_PASSWORD"),
            "scope": "https://graph.microsoft.com/.default",
        },
        verify=server.ca,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def test_client_assertion_credential_with_a_federated_token(server, issuer):
    subject = "system:serviceaccount:ci:builder"
    r = requests.post(
        f"{server.url}/v1.0/applications/{app_id('FED')}/federatedIdentityCredentials",
        json={"name": "ci-builder", "issuer": issuer.url, "subject": subject},
        headers={"Authorization": f"Bearer {owner_graph_token(server)}"},
        verify=server.ca,
        timeout=30,
    )
    assert r.status_code == 201, r.text

    credential = ClientAssertionCredential(
        tenant_id=server.tenant,
        client_id=app_id("FED"),
        func=lambda: issuer.token(subject),
        authority=server.url,
        connection_verify=server.ca,
        **TIMEOUTS,
    )
    claims = jwt_claims(credential.get_token(ACR_AUDIENCE + "/.default").token)
    assert claims["appid"] == app_id("FED"), claims
    with server.registry(credential) as client:
        assert isinstance(list(client.list_repository_names()), list)

    # Another subject is refused, naming what did not match.
    wrong = ClientAssertionCredential(
        tenant_id=server.tenant,
        client_id=app_id("FED"),
        func=lambda: issuer.token("system:serviceaccount:ci:intruder"),
        authority=server.url,
        connection_verify=server.ca,
        **TIMEOUTS,
    )
    with pytest.raises(ClientAuthenticationError) as refused:
        wrong.get_token(ACR_AUDIENCE + "/.default")
    assert "AADSTS70021" in str(refused.value), str(refused.value)
