use super::*;

const UID: &str = "6f1c2a9e-1b7d-4c55-9a0e-3f2b8c1d4e5f";
const NOW: i64 = 1_767_225_600;
const NONCE: &str = "0123456789abcdef";

fn key(material: &str) -> SigningKey {
    SigningKey::from_material(material.as_bytes()).unwrap()
}

fn halt(uid: &str) -> RequestParts<'_> {
    RequestParts {
        method: "POST",
        path: "/v1/halt",
        uid,
        body: br#"{"reason":"test"}"#,
    }
}

fn presented(h: &SignedHeaders) -> Presented<'_> {
    Presented {
        timestamp: Some(&h.timestamp),
        nonce: Some(&h.nonce),
        uid: Some(&h.uid),
        signature: Some(&h.signature),
    }
}

#[test]
fn a_signed_request_verifies_with_the_current_or_the_previous_key() {
    let old = key("old-material-0123456789abcdef0123456789");
    let new = key("new-material-0123456789abcdef0123456789");
    let keys = [new.public_key(), old.public_key()];
    for signer in [&new, &old] {
        let h = signer.sign(&halt(UID), NOW, NONCE);
        let v = verify(&keys, &halt(UID), &presented(&h), NOW + 5).unwrap();
        assert_eq!(v.timestamp, NOW);
        assert_eq!(v.nonce, NONCE);
    }
    // A key the engine does not hold is refused.
    let stranger = key("stranger-material-0123456789abcdef01234");
    let h = stranger.sign(&halt(UID), NOW, NONCE);
    assert_eq!(
        verify(&keys, &halt(UID), &presented(&h), NOW),
        Err(Refusal::BadSignature)
    );
}

#[test]
fn every_signed_part_is_bound() {
    let k = key("material-0123456789abcdef0123456789abcdef");
    let keys = [k.public_key()];
    let h = k.sign(&halt(UID), NOW, NONCE);
    let other_body = RequestParts {
        body: br#"{"reason":"other"}"#,
        ..halt(UID)
    };
    let other_path = RequestParts {
        path: "/v1/resume",
        ..halt(UID)
    };
    for request in [other_body, other_path] {
        assert_eq!(
            verify(&keys, &request, &presented(&h), NOW),
            Err(Refusal::BadSignature)
        );
    }
    let mut forged = h.clone();
    forged.timestamp = (NOW + 1).to_string();
    assert_eq!(
        verify(&keys, &halt(UID), &presented(&forged), NOW),
        Err(Refusal::BadSignature)
    );
    let mut forged = h.clone();
    forged.nonce = "fedcba9876543210".into();
    assert_eq!(
        verify(&keys, &halt(UID), &presented(&forged), NOW),
        Err(Refusal::BadSignature)
    );
}

#[test]
fn another_bots_request_is_refused_even_with_its_header_rewritten() {
    let k = key("material-0123456789abcdef0123456789abcdef");
    let keys = [k.public_key()];
    let for_other = k.sign(&halt("other-uid"), NOW, NONCE);
    assert_eq!(
        verify(&keys, &halt(UID), &presented(&for_other), NOW),
        Err(Refusal::OtherBot)
    );
    let mut rewritten = for_other;
    rewritten.uid = UID.into();
    assert_eq!(
        verify(&keys, &halt(UID), &presented(&rewritten), NOW),
        Err(Refusal::BadSignature)
    );
}

#[test]
fn stale_beyond_thirty_seconds_either_way() {
    let k = key("material-0123456789abcdef0123456789abcdef");
    let keys = [k.public_key()];
    let h = k.sign(&halt(UID), NOW, NONCE);
    for now in [NOW - 30, NOW + 30] {
        assert!(verify(&keys, &halt(UID), &presented(&h), now).is_ok());
    }
    assert_eq!(
        verify(&keys, &halt(UID), &presented(&h), NOW + 31),
        Err(Refusal::Stale { skew_secs: -31 })
    );
    assert_eq!(
        verify(&keys, &halt(UID), &presented(&h), NOW - 31),
        Err(Refusal::Stale { skew_secs: 31 })
    );
    assert!(
        Refusal::Stale { skew_secs: 31 }
            .to_string()
            .contains("at most 30s")
    );
}

#[test]
fn missing_headers_name_the_header() {
    let k = key("material-0123456789abcdef0123456789abcdef");
    let h = k.sign(&halt(UID), NOW, NONCE);
    let full = presented(&h);
    let cases = [
        (
            Presented {
                timestamp: None,
                ..full
            },
            TIMESTAMP_HEADER,
        ),
        (
            Presented {
                nonce: None,
                ..full
            },
            NONCE_HEADER,
        ),
        (Presented { uid: None, ..full }, BOT_UID_HEADER),
        (
            Presented {
                signature: None,
                ..full
            },
            SIGNATURE_HEADER,
        ),
    ];
    for (p, header) in cases {
        let refusal = verify(&[k.public_key()], &halt(UID), &p, NOW).unwrap_err();
        assert_eq!(refusal, Refusal::Unsigned(header));
        assert!(refusal.to_string().contains(header), "{refusal}");
    }
    let mut bad = h.clone();
    bad.nonce = "short".into();
    assert!(matches!(
        verify(&[k.public_key()], &halt(UID), &presented(&bad), NOW),
        Err(Refusal::Malformed(NONCE_HEADER, _))
    ));
}

#[test]
fn the_nonce_cache_refuses_a_replay_within_the_window_and_forgets_after_it() {
    let mut cache = NonceCache::default();
    let v = Verified {
        timestamp: NOW + MAX_SKEW_SECS,
        nonce: NONCE.into(),
    };
    cache.admit(&v, NOW).unwrap();
    // Still within the window of its timestamp: a replay.
    assert_eq!(
        cache.admit(&v, NOW + 2 * MAX_SKEW_SECS),
        Err(Refusal::Replayed)
    );
    let other = Verified {
        timestamp: NOW,
        nonce: "another-nonce-0001".into(),
    };
    cache.admit(&other, NOW).unwrap();
    // Past it, the entry is dropped (verify refuses the request as stale).
    cache
        .admit(
            &Verified {
                timestamp: NOW + 100,
                nonce: "a-third-nonce-0001".into(),
            },
            NOW + 100,
        )
        .unwrap();
    assert_eq!(cache.len(), 1);
}

#[test]
fn keys_derive_from_material_and_parse_back() {
    let a = key("material-0123456789abcdef0123456789abcdef");
    let same = SigningKey::from_material(b"  material-0123456789abcdef0123456789abcdef\n").unwrap();
    assert_eq!(a.public_key(), same.public_key());
    let text = format!(
        "# current\n{}\n\n{}\n",
        a.public_key(),
        key("b-0123456789abcdef0123456789abcdef0").public_key()
    );
    let keys = parse_public_keys(&text).unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], a.public_key());
    assert!(!format!("{a:?}").contains("material"));
    let err = SigningKey::from_material(b"short").unwrap_err();
    assert!(
        err.contains("5 bytes") && err.contains("/dev/urandom"),
        "{err}"
    );
    let err = parse_public_keys("# nothing\n").unwrap_err();
    assert!(err.contains("no public key"), "{err}");
    let err = parse_public_keys("AAAA\n").unwrap_err();
    assert!(err.contains("line 1") && err.contains("32 bytes"), "{err}");
}
