"""Issue #3 §5: a user signs in with azure-identity's DeviceCodeCredential; a
person (a thread with ``requests``) opens the verification page the prompt
names, types the code, the username and the password, and approves. The
credential's token then drives ContainerRegistryClient. A declined sign-in
fails the credential.

User (created by crates/cli/tests/e2e/python.rs): PUSHER holds AcrPush and
AcrDelete on the registry.
"""

import pytest
from azure.core.exceptions import ClientAuthenticationError

from conftest import ACR_AUDIENCE, download, push_image, sha256_digest


def test_device_code_sign_in_drives_the_registry_client(server):
    pusher = server.user("pusher")
    credential, person = server.device_code_credential(pusher, approve=True)

    token = credential.get_token(ACR_AUDIENCE + "/.default")
    assert token.token.count(".") == 2, "a JWT"
    page = person.wait()
    assert "signed in" in page, page
    assert pusher.username in page, page

    # The same credential (its cached token, no second prompt) works the registry.
    with server.registry(credential) as client:
        image = push_image(client, "device/app", "v1")
        assert "device/app" in list(client.list_repository_names())
        assert client.get_manifest("device/app", "v1").digest == image.digest
        assert download(client, "device/app", sha256_digest(image.config)) == image.config
        assert [t.name for t in client.list_tag_properties("device/app")] == ["v1"]
        client.delete_repository("device/app")
        assert "device/app" not in list(client.list_repository_names())


def test_declined_device_sign_in_fails_the_credential(server):
    credential, person = server.device_code_credential(server.user("pusher"), approve=False)
    with pytest.raises(ClientAuthenticationError) as refused:
        credential.get_token(ACR_AUDIENCE + "/.default")
    page = person.wait()
    assert "declined" in page, page
    assert "access_denied" in str(refused.value) or "declined" in str(refused.value), str(refused.value)
