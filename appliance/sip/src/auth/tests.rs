//! Client ↔ server behaviour of the whole module, in virtual time.

use super::*;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::time::Duration;

const REALM: &str = "kantoor.example.nl";
const SECRET: [u8; 32] = [7; 32];
/// An arbitrary instant (January 2027) as time since the Unix epoch.
const T0: Duration = Duration::from_secs(1_800_000_001);

fn server() -> DigestServer {
    DigestServer::new(REALM, SECRET, DigestServerConfig::default())
}

fn users(name: &str) -> Option<StoredCredential> {
    match name {
        "201" => Some(StoredCredential::Password("geheim-201".into())),
        "202" => Some(StoredCredential::ha1_from_password(
            "202",
            REALM,
            "geheim-202",
        )),
        _ => None,
    }
}

fn answer(challenges: &[String], user: &str, password: &str) -> String {
    let refs: Vec<&str> = challenges.iter().map(String::as_str).collect();
    DigestClient::default()
        .respond(
            &refs,
            "REGISTER",
            "sip:kantoor.example.nl",
            user,
            password,
            [9; 16],
            1,
        )
        .unwrap()
        .into_string()
}

#[test]
fn client_and_server_agree_for_password_and_ha1_storage() {
    let s = server();
    let ch = s.challenge(T0, false);
    assert_eq!(ch.len(), 2);
    assert!(ch[0].contains("algorithm=SHA-256") && ch[1].contains("algorithm=MD5"));
    for (user, pw) in [("201", "geheim-201"), ("202", "geheim-202")] {
        let v = s.verify(T0, "REGISTER", &answer(&ch, user, pw), users);
        assert!(
            matches!(&v, Verdict::Authenticated { username, algorithm: Algorithm::Sha256, .. } if username == user),
            "{v:?}"
        );
    }
}

#[test]
fn md5_only_client_is_accepted() {
    let s = server();
    let ch = s.challenge(T0, false);
    let v = s.verify(
        T0,
        "REGISTER",
        &answer(&ch[1..], "201", "geheim-201"),
        users,
    );
    assert!(matches!(
        v,
        Verdict::Authenticated {
            algorithm: Algorithm::Md5,
            ..
        }
    ));
}

#[test]
fn algorithm_not_offered_is_rejected() {
    let s = DigestServer::new(
        REALM,
        SECRET,
        DigestServerConfig {
            algorithms: vec![Algorithm::Sha256],
            ..DigestServerConfig::default()
        },
    );
    let sha = s.challenge(T0, false);
    let md5 = vec![sha[0].replace("SHA-256", "MD5")];
    assert_eq!(
        s.verify(T0, "REGISTER", &answer(&md5, "201", "geheim-201"), users),
        Verdict::Rejected
    );
}

#[test]
fn method_is_covered_by_the_response() {
    let s = server();
    let auth = answer(&s.challenge(T0, false), "201", "geheim-201");
    assert_eq!(s.verify(T0, "INVITE", &auth, users), Verdict::Rejected);
}

#[test]
fn nonce_goes_stale_after_its_lifetime() {
    let s = server();
    let auth = answer(&s.challenge(T0, false), "201", "geheim-201");
    let lifetime = Duration::from_mins(5);
    assert!(matches!(
        s.verify(T0 + lifetime, "REGISTER", &auth, users),
        Verdict::Authenticated { .. }
    ));
    assert_eq!(
        s.verify(
            T0 + lifetime + Duration::from_secs(1),
            "REGISTER",
            &auth,
            users
        ),
        Verdict::Stale
    );
    // A stale nonce with a wrong password is a plain rejection.
    let wrong = answer(&s.challenge(T0, false), "201", "fout");
    assert_eq!(
        s.verify(T0 + lifetime * 2, "REGISTER", &wrong, users),
        Verdict::Rejected
    );
    // The stale challenge says so.
    assert!(
        s.challenge(T0, true)
            .iter()
            .all(|c| c.ends_with("stale=true"))
    );
}

#[test]
fn nonce_survives_a_restart_with_the_same_secret() {
    let auth = answer(&server().challenge(T0, false), "201", "geheim-201");
    let restarted = server();
    assert!(matches!(
        restarted.verify(T0 + Duration::from_secs(5), "REGISTER", &auth, users),
        Verdict::Authenticated { .. }
    ));
    let new_secret = DigestServer::new(REALM, [8; 32], DigestServerConfig::default());
    assert_eq!(
        new_secret.verify(T0, "REGISTER", &auth, users),
        Verdict::Rejected
    );
}

#[test]
fn tampered_nonce_is_rejected() {
    let s = server();
    let ch = s.challenge(T0, false);
    let Ok(Challenge::Digest(c)) = Challenge::parse(&ch[0]) else {
        panic!()
    };
    // Flip one character of the nonce in the challenge, then answer it
    // correctly: the response is right for the tampered nonce, the MAC is not.
    let mut nonce = c.nonce.clone().into_bytes();
    nonce[3] = if nonce[3] == b'A' { b'B' } else { b'A' };
    let tampered = ch[0].replace(&c.nonce, std::str::from_utf8(&nonce).unwrap());
    let auth = answer(&[tampered], "201", "geheim-201");
    assert_eq!(s.verify(T0, "REGISTER", &auth, users), Verdict::Rejected);
    // A self-made nonce of the right shape (timestamp + 32-byte tag) is
    // equally worthless.
    let mut raw = [0u8; 40];
    raw[..8].copy_from_slice(&T0.as_secs().to_be_bytes());
    let forged_nonce = URL_SAFE_NO_PAD.encode(raw);
    assert_eq!(forged_nonce.len(), c.nonce.len());
    let forged = ch[0].replace(&c.nonce, &forged_nonce);
    let auth = answer(&[forged], "201", "geheim-201");
    assert_eq!(s.verify(T0, "REGISTER", &auth, users), Verdict::Rejected);
}

#[test]
fn wrong_realm_is_rejected() {
    let s = server();
    let ch: Vec<String> = s
        .challenge(T0, false)
        .iter()
        .map(|c| c.replace(REALM, "andere.example"))
        .collect();
    let auth = answer(&ch, "201", "geheim-201");
    assert_eq!(s.verify(T0, "REGISTER", &auth, users), Verdict::Rejected);
}

#[test]
fn replay_from_another_realm_is_rejected() {
    // Two realms served with the same secret: a valid answer in one realm,
    // re-labelled or not, never authenticates in the other.
    let a = server();
    let b = DigestServer::new("andere.example", SECRET, DigestServerConfig::default());
    let other_users =
        |n: &str| (n == "201").then(|| StoredCredential::Password("geheim-201".into()));
    let auth_b = answer(&b.challenge(T0, false), "201", "geheim-201");
    assert!(matches!(
        b.verify(T0, "REGISTER", &auth_b, other_users),
        Verdict::Authenticated { .. }
    ));
    assert_eq!(a.verify(T0, "REGISTER", &auth_b, users), Verdict::Rejected);
    let relabelled = auth_b.replace("andere.example", REALM);
    assert_eq!(
        a.verify(T0, "REGISTER", &relabelled, users),
        Verdict::Rejected
    );
}

#[test]
fn unknown_user_and_wrong_password_get_identical_verdicts() {
    let s = server();
    let ch = s.challenge(T0, false);
    let mut lookups = 0;
    let unknown = s.verify(T0, "REGISTER", &answer(&ch, "999", "geheim-201"), |u| {
        lookups += 1;
        users(u)
    });
    let wrong_pw = s.verify(T0, "REGISTER", &answer(&ch, "201", "geheim-999"), users);
    let wrong_ha1 = s.verify(T0, "REGISTER", &answer(&ch, "202", "geheim-999"), users);
    assert_eq!(unknown, Verdict::Rejected);
    assert_eq!(wrong_pw, unknown);
    assert_eq!(wrong_ha1, unknown);
    assert_eq!(format!("{unknown:?}"), format!("{wrong_pw:?}"));
    assert_eq!(lookups, 1);
}

#[test]
fn no_qop_answers_need_server_opt_in() {
    let strict = server();
    let lenient = DigestServer::new(
        REALM,
        SECRET,
        DigestServerConfig {
            allow_no_qop: true,
            ..DigestServerConfig::default()
        },
    );
    // An RFC 2069 phone ignores qop: emulate by stripping it from the challenge.
    let ch: Vec<String> = strict
        .challenge(T0, false)
        .iter()
        .map(|c| c.replace(", qop=\"auth\"", ""))
        .collect();
    let auth = answer(&ch, "201", "geheim-201");
    assert!(!auth.contains("qop"));
    assert_eq!(
        strict.verify(T0, "REGISTER", &auth, users),
        Verdict::Rejected
    );
    assert!(matches!(
        lenient.verify(T0, "REGISTER", &auth, users),
        Verdict::Authenticated { .. }
    ));
}

#[test]
fn other_schemes_and_garbage_are_classified() {
    let s = server();
    assert_eq!(
        s.verify(
            T0,
            "REGISTER",
            "NoOneKnowsThisScheme opaque-data=here",
            users
        ),
        Verdict::OtherScheme
    );
    assert_eq!(
        s.verify(T0, "REGISTER", "Digest username=\"201\"", users),
        Verdict::Malformed(AuthParseError::MissingParam { name: "realm" })
    );
}

#[test]
fn session_preauthorises_refresh_accepted_by_server() {
    let s = server();
    let ch = s.challenge(T0, false);
    let refs: Vec<&str> = ch.iter().map(String::as_str).collect();
    let mut session = ClientSession::default();
    let uri = "sip:kantoor.example.nl";
    let first = session
        .handle_challenge(&refs, "REGISTER", uri, "201", "geheim-201", [1; 16])
        .unwrap();
    assert!(matches!(
        s.verify(T0, "REGISTER", first.as_str(), users),
        Verdict::Authenticated { .. }
    ));
    let refresh = session
        .preauthorize("REGISTER", uri, "201", "geheim-201", [2; 16])
        .unwrap();
    assert!(refresh.as_str().contains("nc=00000002"));
    let later = T0 + Duration::from_mins(2);
    assert!(matches!(
        s.verify(later, "REGISTER", refresh.as_str(), users),
        Verdict::Authenticated { .. }
    ));
    // Much later the nonce is stale; the server says so and the session recovers.
    let much_later = T0 + Duration::from_hours(1);
    let old = session
        .preauthorize("REGISTER", uri, "201", "geheim-201", [3; 16])
        .unwrap();
    assert_eq!(
        s.verify(much_later, "REGISTER", old.as_str(), users),
        Verdict::Stale
    );
    let ch = s.challenge(much_later, true);
    let refs: Vec<&str> = ch.iter().map(String::as_str).collect();
    let retry = session
        .handle_challenge(&refs, "REGISTER", uri, "201", "geheim-201", [4; 16])
        .unwrap();
    assert!(session.last_challenge_stale());
    assert!(matches!(
        s.verify(much_later, "REGISTER", retry.as_str(), users),
        Verdict::Authenticated { .. }
    ));
}

/// xorshift64*: deterministic, dependency-free randomness for the mutation loop.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_header_values_never_panic() {
    let s = DigestServer::new(
        REALM,
        SECRET,
        DigestServerConfig {
            allow_no_qop: true,
            algorithms: vec![
                Algorithm::Sha256,
                Algorithm::Md5,
                Algorithm::Sha256Sess,
                Algorithm::Md5Sess,
            ],
            ..DigestServerConfig::default()
        },
    );
    let ch = s.challenge(T0, false);
    let mut seeds: Vec<String> = ch.clone();
    seeds.push(answer(&ch, "201", "geheim-201"));
    seeds.push(answer(&ch[1..], "202", "geheim-202"));
    seeds.push("NoOneKnowsThisScheme opaque-data=here".into());
    seeds.push(r#"Digest username="Jürgen \"J\"", realm="r", nonce="", uri="sip:x", response="", qop=auth-int, nc=ffffffff, cnonce="""#.into());
    let alphabet: &[u8] = b"\"\\,= \t\r\nazAZ09-_/+\x00\xc3\xbc\xff";
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut authenticated = 0;
    for _ in 0..20_000 {
        let mut bytes = seeds[rng.below(seeds.len())].clone().into_bytes();
        for _ in 0..=rng.below(4) {
            let pos = rng.below(bytes.len() + 1);
            match rng.below(5) {
                0 if pos < bytes.len() => bytes[pos] = alphabet[rng.below(alphabet.len())],
                1 => bytes.insert(pos, alphabet[rng.below(alphabet.len())]),
                2 if pos < bytes.len() => {
                    bytes.remove(pos);
                }
                3 => bytes.truncate(pos),
                _ => {
                    let start = rng.below(bytes.len() + 1);
                    let end = (start + rng.below(16)).min(bytes.len());
                    let chunk = bytes[start..end].to_vec();
                    let at = pos.min(bytes.len());
                    bytes.splice(at..at, chunk);
                }
            }
        }
        let value = String::from_utf8_lossy(&bytes);
        let _ = Challenge::parse(&value);
        let _ = Credentials::parse(&value);
        let refs = [value.as_ref()];
        let _ = DigestClient::default().respond(&refs, "REGISTER", "sip:x", "u", "p", [0; 16], 1);
        if let Verdict::Authenticated { .. } = s.verify(T0, "REGISTER", &value, users) {
            authenticated += 1;
        }
    }
    // Mutations that only touch ignorable whitespace may still authenticate,
    // but most must not.
    println!("mutations still authenticating: {authenticated}");
    assert!(authenticated < 2_000, "{authenticated}");
}
