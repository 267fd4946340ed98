use super::*;
use chrono::Duration;

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn manifest(now: DateTime<Utc>) -> Manifest {
    Manifest {
        id: "bt-1".into(),
        publisher: "So TTTT".into(),
        issued: now,
        expires: now + Duration::hours(2),
        priority: Level::Emergency,
        title: "Bão số 3".into(),
        text: Some("Bão số 3 đang vào bờ.".into()),
        audio: None,
        targets: "all".into(),
        schedule: None,
        repeat: None,
    }
}

fn check_for(
    msg: &[u8],
    station: &str,
    district: Option<&str>,
    seen: bool,
) -> Result<Manifest, Refusal> {
    let keys = [key(1).verifying_key().to_bytes()];
    let me = Me {
        station_id: station,
        district,
        keys: &keys,
    };
    verify(msg, &me, Utc::now(), |_| seen)
}

fn check_msg(msg: &[u8]) -> Result<Manifest, Refusal> {
    check_for(msg, "s1", Some("thach-ha"), false)
}

#[test]
fn a_signed_manifest_for_this_station_is_obeyed() {
    let m = manifest(Utc::now());
    assert_eq!(check_msg(&sign(&m, &key(1))).unwrap(), m);
}

#[test]
fn an_unsigned_message_is_refused() {
    let m = manifest(Utc::now());
    let bare = serde_json::to_vec(&m).unwrap();
    assert_eq!(check_msg(&bare).unwrap_err().code(), "unsigned");
    let mut env: serde_json::Value = serde_json::from_slice(&sign(&m, &key(1))).unwrap();
    env["signature"] = "".into();
    let msg = serde_json::to_vec(&env).unwrap();
    assert_eq!(check_msg(&msg).unwrap_err().code(), "unsigned");
}

#[test]
fn an_unknown_key_is_refused() {
    let msg = sign(&manifest(Utc::now()), &key(2));
    assert_eq!(check_msg(&msg).unwrap_err().code(), "unknown_key");
    // Naming a trusted key while signing with another is an alteration.
    let mut env: serde_json::Value = serde_json::from_slice(&msg).unwrap();
    env["key"] = key_text(&key(1).verifying_key()).into();
    let msg = serde_json::to_vec(&env).unwrap();
    assert_eq!(check_msg(&msg).unwrap_err().code(), "altered");
}

#[test]
fn an_altered_manifest_is_refused() {
    let msg = sign(&manifest(Utc::now()), &key(1));
    let text = String::from_utf8(msg).unwrap();
    let altered = text.replacen("Bão số 3 đang", "Bão số 9 đang", 1);
    assert_ne!(text, altered);
    assert_eq!(check_msg(altered.as_bytes()).unwrap_err().code(), "altered");
    let retarget = text.replacen(r#"\"targets\":\"all\""#, r#"\"targets\":\"station:s9\""#, 1);
    assert_ne!(text, retarget);
    assert_eq!(
        check_msg(retarget.as_bytes()).unwrap_err().code(),
        "altered"
    );
}

#[test]
fn an_expired_manifest_is_refused() {
    let mut m = manifest(Utc::now() - Duration::hours(3));
    m.expires = Utc::now() - Duration::seconds(1);
    let r = check_msg(&sign(&m, &key(1))).unwrap_err();
    assert_eq!(r.code(), "expired", "{r}");
}

#[test]
fn a_manifest_seen_before_is_refused() {
    let msg = sign(&manifest(Utc::now()), &key(1));
    let r = check_for(&msg, "s1", None, true).unwrap_err();
    assert_eq!(r, Refusal::AlreadySeen("bt-1".into()));
}

#[test]
fn a_manifest_for_other_stations_is_refused() {
    let mut m = manifest(Utc::now());
    m.targets = "district:ky-anh".into();
    let msg = sign(&m, &key(1));
    assert_eq!(check_msg(&msg).unwrap_err().code(), "not_for_us");
    assert!(check_for(&msg, "s1", Some("ky-anh"), false).is_ok());
    m.targets = "station:s2,s3".into();
    let msg = sign(&m, &key(1));
    assert_eq!(check_msg(&msg).unwrap_err().code(), "not_for_us");
    assert!(check_for(&msg, "s3", None, false).is_ok());
}

#[test]
fn an_oversize_message_is_refused_before_parsing() {
    let mut msg = sign(&manifest(Utc::now()), &key(1));
    msg.resize(MAX_MESSAGE + 1, b' ');
    assert_eq!(
        check_msg(&msg).unwrap_err(),
        Refusal::Oversize(MAX_MESSAGE + 1)
    );
}

#[test]
fn manifests_out_of_bounds_are_refused_even_when_signed() {
    let now = Utc::now();
    type Change = Box<dyn Fn(&mut Manifest)>;
    let cases: Vec<(&str, Change)> = vec![
        (
            "life",
            Box::new(|m| m.expires = m.issued + Duration::days(40)),
        ),
        (
            "future",
            Box::new(|m| m.issued = Utc::now() + Duration::hours(1)),
        ),
        (
            "both",
            Box::new(|m| {
                m.audio = Some(AudioRef {
                    sha256: "0".repeat(64),
                    size: 10,
                    ext: "mp3".into(),
                })
            }),
        ),
        ("neither", Box::new(|m| m.text = None)),
        ("id", Box::new(|m| m.id = "../x".into())),
        ("publisher", Box::new(|m| m.publisher = "a\nb".into())),
        ("targets", Box::new(|m| m.targets = "everyone".into())),
        (
            "days",
            Box::new(|m| {
                m.schedule = Some(Schedule {
                    days: vec![8],
                    ..Default::default()
                })
            }),
        ),
    ];
    for (what, change) in cases {
        let mut m = manifest(now);
        change(&mut m);
        let r = check_msg(&sign(&m, &key(1))).unwrap_err();
        assert_eq!(r.code(), "malformed", "{what}: {r}");
    }
}
