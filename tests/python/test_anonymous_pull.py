"""Issue #3 §5 / acr-auth.md §3.4: with anonymous pull enabled on the registry
(crates/cli/tests/e2e/python.rs runs ``acrylic acr update
--anonymous-pull-enabled true``), ``ContainerRegistryClient(credential=None)``
lists repositories and pulls manifests and blobs; its pushes and deletions are
refused. The image is pushed first by a signed-in user (PUSHER, AcrPush +
AcrDelete, through the device code flow).
"""

import io

import pytest
from azure.core.exceptions import ClientAuthenticationError

from conftest import download, push_image, sha256_digest

REPO = "public/app"


@pytest.fixture(scope="module")
def image(server):
    credential, person = server.device_code_credential(server.user("pusher"))
    with server.registry(credential) as client:
        pushed = push_image(client, REPO, "v1")
    assert "signed in" in person.wait()
    return pushed


def test_anonymous_client_lists_and_pulls(server, image):
    with server.registry(None) as anonymous:
        assert REPO in list(anonymous.list_repository_names())
        for reference in ("v1", image.digest):
            got = anonymous.get_manifest(REPO, reference)
            assert got.digest == image.digest
            assert got.manifest == image.manifest
        assert download(anonymous, REPO, sha256_digest(image.layer)) == image.layer
        assert download(anonymous, REPO, sha256_digest(image.config)) == image.config


def test_anonymous_client_cannot_push_or_delete(server, image):
    with server.registry(None) as anonymous:
        for what, refused_call in (
            ("upload_blob", lambda: anonymous.upload_blob(REPO, io.BytesIO(b"anonymous"))),
            ("set_manifest", lambda: anonymous.set_manifest(REPO, image.manifest, tag="anonymous")),
            ("delete_tag", lambda: anonymous.delete_tag(REPO, "v1")),
            ("delete_repository", lambda: anonymous.delete_repository(REPO)),
            ("update_tag_properties", lambda: anonymous.update_tag_properties(REPO, "v1", can_write=False)),
        ):
            # Anonymous callers are asked to authenticate (401), as ACR does.
            with pytest.raises(ClientAuthenticationError) as refused:
                refused_call()
            assert refused.value.status_code == 401, f"{what}: {refused.value}"
            assert "authentication required" in str(refused.value), f"{what}: {refused.value}"

        # Nothing changed.
        assert anonymous.get_manifest(REPO, "v1").digest == image.digest

