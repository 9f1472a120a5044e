use acrylic_authz::{Principal, RepoAction};
use acrylic_model::{ObjectId, RegistryId, RepositoryName, TenantId};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;
use crate::{AccessEntry, AcrylicClaim, generate_es256, generate_rs256};

const NOW: i64 = 1_800_000_000;
const AUD: &str = "myreg.acrylic.test:5000";

fn ring() -> (KeyRing, KeyMaterial) {
    let ring = KeyRing::new();
    let key = generate_es256().unwrap();
    ring.add(&key, Purpose::Registry, None, 0).unwrap();
    (ring, key)
}

fn access(now: i64) -> AccessClaims {
    let rid = RegistryId::new_random();
    let name = RepositoryName::parse("hello-world").unwrap();
    AccessClaims::new(
        AcrylicClaim::new(
            &Principal::Admin {
                registry: rid.clone(),
            },
            false,
        ),
        "myreg".into(),
        AUD,
        rid,
        vec![AccessEntry::repository(&name, &[RepoAction::Pull])],
        now,
        crate::ACCESS_TOKEN_LIFETIME,
    )
}

fn directory(tid: TenantId, now: i64) -> DirectoryClaims {
    DirectoryClaims {
        aud: "https://management.core.windows.net/".into(),
        iss: format!("https://sts.acrylic.test/{tid}/"),
        iat: now,
        nbf: now,
        exp: now + 3600,
        tid,
        oid: ObjectId::new_random(),
        sub: "sub".into(),
        upn: Some("owner@acrylic.test".into()),
        name: Some("Owner".into()),
        idtyp: "user".into(),
        scp: Some("user_impersonation".into()),
        appid: Some("04b07795-8ddb-461a-bbee-02f9e1bf7b46".into()),
        ver: "1.0".into(),
    }
}

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn parts(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

fn payload(token: &str) -> serde_json::Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts(token)[1]).unwrap()).unwrap()
}

#[test]
fn access_token_round_trip() {
    let (ring, key) = ring();
    let claims = access(NOW);
    let token = ring.mint_access(&claims).unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts(&token)[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], key.kid.as_str());
    assert_eq!(header["typ"], "JWT");
    assert_eq!(ring.verify_access(&token, AUD, NOW + 60).unwrap(), claims);
    // login servers compare case-insensitively
    assert!(ring.verify_access(&token, &AUD.to_uppercase(), NOW).is_ok());
}

#[test]
fn refresh_token_round_trip_and_kinds_do_not_mix() {
    let (ring, _) = ring();
    let a = access(NOW);
    let r = RefreshClaims::new(
        a.acrylic.clone(),
        "myreg".into(),
        AUD,
        a.rid.clone(),
        vec!["*".into()],
        NOW,
    );
    let refresh = ring.mint_refresh(&r).unwrap();
    assert_eq!(ring.verify_refresh(&refresh, AUD, NOW).unwrap(), r);
    assert!(matches!(
        ring.verify_access(&refresh, AUD, NOW),
        Err(TokenError::WrongKind {
            expected: "access_token",
            ..
        })
    ));
    let access = ring.mint_access(&a).unwrap();
    assert!(matches!(
        ring.verify_refresh(&access, AUD, NOW),
        Err(TokenError::WrongKind {
            expected: "refresh_token",
            ..
        })
    ));
}

#[test]
fn alg_none_is_refused() {
    let (ring, key) = ring();
    let token = ring.mint_access(&access(NOW)).unwrap();
    let p = parts(&token);
    let header = b64(&serde_json::json!({"alg": "none", "typ": "JWT", "kid": key.kid}));
    for forged in [
        format!("{header}.{}.", p[1]),
        format!("{header}.{}.{}", p[1], p[2]),
    ] {
        assert_eq!(
            ring.verify_access(&forged, AUD, NOW),
            Err(TokenError::Algorithm {
                found: "none".into(),
                purpose: "registry"
            })
        );
    }
}

#[test]
fn hs256_is_refused_even_keyed_with_the_public_key() {
    let (ring, key) = ring();
    // The classic confusion attack: HMAC keyed with the public key.
    let public = serde_json::to_vec(&ring.registry_jwks()).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(key.kid.clone());
    let forged = jsonwebtoken::encode(
        &header,
        &access(NOW),
        &jsonwebtoken::EncodingKey::from_secret(&public).unwrap(),
    )
    .unwrap();
    assert!(matches!(
        ring.verify_access(&forged, AUD, NOW),
        Err(TokenError::Algorithm { found, .. }) if found == "HS256"
    ));
}

#[test]
fn unknown_or_missing_kid_is_refused() {
    let (ring, _) = ring();
    let token = ring.mint_access(&access(NOW)).unwrap();
    let p = parts(&token);
    let wrong = b64(&serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": "AAAA:BBBB"}));
    assert!(matches!(
        ring.verify_access(&format!("{wrong}.{}.{}", p[1], p[2]), AUD, NOW),
        Err(TokenError::UnknownKey { kid: Some(k), .. }) if k == "AAAA:BBBB"
    ));
    let none = b64(&serde_json::json!({"alg": "ES256", "typ": "JWT"}));
    assert!(matches!(
        ring.verify_access(&format!("{none}.{}.{}", p[1], p[2]), AUD, NOW),
        Err(TokenError::UnknownKey { kid: None, .. })
    ));
}

#[test]
fn a_key_with_the_same_kid_but_other_bytes_does_not_verify() {
    let (ring, key) = ring();
    let impostor = KeyRing::new();
    let mut other = generate_es256().unwrap();
    other.kid = key.kid.clone();
    impostor.add(&other, Purpose::Registry, None, 0).unwrap();
    let forged = impostor.mint_access(&access(NOW)).unwrap();
    assert_eq!(
        ring.verify_access(&forged, AUD, NOW),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn tampered_payload_or_signature_is_refused() {
    let (ring, _) = ring();
    let token = ring.mint_access(&access(NOW)).unwrap();
    let p = parts(&token);
    // widen the grant: pull → pull,push,delete
    let mut claims = payload(&token);
    claims["access"][0]["actions"] = serde_json::json!(["pull", "push", "delete"]);
    let widened = format!("{}.{}.{}", p[0], b64(&claims), p[2]);
    assert_eq!(
        ring.verify_access(&widened, AUD, NOW),
        Err(TokenError::BadSignature)
    );
    // flip one signature character in the middle (keeps valid base64url)
    let mut sig: Vec<u8> = p[2].clone().into_bytes();
    let i = sig.len() / 2;
    sig[i] = if sig[i] == b'A' { b'B' } else { b'A' };
    let flipped = format!("{}.{}.{}", p[0], p[1], String::from_utf8(sig).unwrap());
    assert_eq!(
        ring.verify_access(&flipped, AUD, NOW),
        Err(TokenError::BadSignature)
    );
    // garbage
    assert!(matches!(
        ring.verify_access("not-a-jwt", AUD, NOW),
        Err(TokenError::Malformed(_))
    ));
    assert!(matches!(
        ring.verify_access("a.b.c.d", AUD, NOW),
        Err(TokenError::Malformed(_))
    ));
    assert!(matches!(
        ring.verify_access("", AUD, NOW),
        Err(TokenError::Malformed(_))
    ));
}

#[test]
fn expiry_and_not_before() {
    let (ring, _) = ring();
    let claims = access(NOW);
    let token = ring.mint_access(&claims).unwrap();
    assert!(ring.verify_access(&token, AUD, claims.exp - 1).is_ok());
    assert!(
        ring.verify_access(&token, AUD, claims.exp + LEEWAY - 1)
            .is_ok(),
        "within leeway"
    );
    assert_eq!(
        ring.verify_access(&token, AUD, claims.exp + LEEWAY),
        Err(TokenError::Expired { exp: claims.exp })
    );
    assert_eq!(
        ring.verify_access(&token, AUD, NOW + 86_400),
        Err(TokenError::Expired { exp: claims.exp })
    );
    assert!(
        ring.verify_access(&token, AUD, NOW - LEEWAY).is_ok(),
        "within leeway"
    );
    assert_eq!(
        ring.verify_access(&token, AUD, NOW - LEEWAY - 1),
        Err(TokenError::NotYetValid { nbf: NOW })
    );
}

#[test]
fn wrong_audience_is_refused() {
    let (ring, _) = ring();
    let token = ring.mint_access(&access(NOW)).unwrap();
    assert_eq!(
        ring.verify_access(&token, "other.acrylic.test:5000", NOW),
        Err(TokenError::WrongAudience {
            found: AUD.into(),
            expected: "other.acrylic.test:5000".into()
        })
    );
}

#[test]
fn rotation_publishes_first_signs_later_and_removal_revokes() {
    let (ring, old) = ring();
    let new = generate_es256().unwrap();
    ring.add(&new, Purpose::Registry, None, NOW + 100).unwrap();
    let kids: Vec<_> = ring
        .registry_jwks()
        .keys
        .iter()
        .filter_map(|k| k.common.key_id.clone())
        .collect();
    assert_eq!(kids.len(), 2, "the next key is published before it signs");
    let kid_of = |t: &str| -> String {
        let h: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts(t)[0]).unwrap()).unwrap();
        h["kid"].as_str().unwrap().to_owned()
    };
    let before = ring.mint_access(&access(NOW)).unwrap();
    let after = ring.mint_access(&access(NOW + 100)).unwrap();
    assert_eq!(kid_of(&before), old.kid);
    assert_eq!(kid_of(&after), new.kid);
    assert!(ring.verify_access(&before, AUD, NOW + 100).is_ok());
    assert!(ring.verify_access(&after, AUD, NOW + 100).is_ok());
    // retiring the new key makes the old one sign again; both still verify
    assert!(ring.retire(&new.kid, NOW + 200));
    assert_eq!(
        kid_of(&ring.mint_access(&access(NOW + 200)).unwrap()),
        old.kid
    );
    assert!(ring.verify_access(&after, AUD, NOW + 200).is_ok());
    assert!(!ring.retire("no-such-kid", NOW));
    assert!(ring.remove(&old.kid));
    assert!(matches!(
        ring.verify_access(&before, AUD, NOW + 100),
        Err(TokenError::UnknownKey { .. })
    ));
    assert!(!ring.remove(&old.kid));
    assert_eq!(
        ring.mint_access(&access(NOW + 200)),
        Err(TokenError::NoSigningKey {
            purpose: "registry"
        }),
        "the only key left is retired"
    );
}

#[test]
fn minting_needs_an_active_key() {
    let ring = KeyRing::new();
    assert_eq!(
        ring.mint_access(&access(NOW)),
        Err(TokenError::NoSigningKey {
            purpose: "registry"
        })
    );
    ring.add(&generate_es256().unwrap(), Purpose::Registry, None, NOW + 1)
        .unwrap();
    assert!(ring.mint_access(&access(NOW)).is_err(), "not active yet");
    assert!(ring.mint_access(&access(NOW + 1)).is_ok());
}

#[test]
fn add_checks_purpose_algorithm_and_tenant() {
    let ring = KeyRing::new();
    let es = generate_es256().unwrap();
    let rs = generate_rs256().unwrap();
    let t = TenantId::new_random();
    assert!(ring.add(&rs, Purpose::Registry, None, 0).is_err());
    assert!(ring.add(&es, Purpose::Directory, Some(t), 0).is_err());
    assert!(ring.add(&es, Purpose::Registry, Some(t), 0).is_err());
    assert!(ring.add(&rs, Purpose::Directory, None, 0).is_err());
    assert!(!ring.contains(Purpose::Registry, None));
    ring.add(&es, Purpose::Registry, None, 0).unwrap();
    ring.add(&rs, Purpose::Directory, Some(t), 0).unwrap();
    assert!(ring.contains(Purpose::Registry, None));
    assert!(ring.contains(Purpose::Directory, Some(&t)));
    assert!(!ring.contains(Purpose::Directory, Some(&TenantId::new_random())));
}

#[test]
fn directory_tokens_per_tenant() {
    let ring = KeyRing::new();
    let (ta, tb) = (TenantId::new_random(), TenantId::new_random());
    let (ka, kb) = (generate_rs256().unwrap(), generate_rs256().unwrap());
    ring.add(&ka, Purpose::Directory, Some(ta), 0).unwrap();
    ring.add(&kb, Purpose::Directory, Some(tb), 0).unwrap();
    ring.add(&generate_es256().unwrap(), Purpose::Registry, None, 0)
        .unwrap();

    let claims = directory(ta, NOW);
    let token = ring.mint_directory(&claims).unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts(&token)[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], ka.kid.as_str());
    assert_eq!(ring.verify_directory(&token, NOW).unwrap(), claims);
    assert_eq!(payload(&token)["ver"], "1.0");

    // A directory token is not a registry token, and vice versa.
    assert!(matches!(
        ring.verify_access(&token, AUD, NOW),
        Err(TokenError::Algorithm { found, purpose: "registry" }) if found == "RS256"
    ));
    let reg = ring.mint_access(&access(NOW)).unwrap();
    assert!(matches!(
        ring.verify_directory(&reg, NOW),
        Err(TokenError::Algorithm { found, purpose: "directory" }) if found == "ES256"
    ));

    // Tenant A's key signing a token that claims tenant B.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(ka.kid.clone());
    let key = crate::keys::encoding_key(ka.algorithm, &ka.pkcs8_der).unwrap();
    let cross = jsonwebtoken::encode(&header, &directory(tb, NOW), &key).unwrap();
    assert!(matches!(
        ring.verify_directory(&cross, NOW),
        Err(TokenError::WrongTenant { .. })
    ));

    assert!(matches!(
        ring.verify_directory(&token, NOW + 3600 + LEEWAY),
        Err(TokenError::Expired { .. })
    ));

    // JWKS: each tenant publishes only its own keys, as RSA signing keys.
    let jwks = serde_json::to_value(ring.directory_jwks(&ta)).unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks["keys"][0]["kid"], ka.kid.as_str());
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    assert_eq!(jwks["keys"][0]["use"], "sig");
    assert!(jwks["keys"][0].get("d").is_none(), "no private parts");
    assert!(ring.directory_jwks(&TenantId::new_random()).keys.is_empty());
    let reg_jwks = serde_json::to_value(ring.registry_jwks()).unwrap();
    assert_eq!(reg_jwks["keys"][0]["kty"], "EC");
    assert_eq!(reg_jwks["keys"][0]["crv"], "P-256");
    assert!(reg_jwks["keys"][0].get("d").is_none());
}
