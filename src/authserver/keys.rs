//! Signing keys (JWT) and HMAC secrets (opaque codes and refresh tokens).
//!
//! Signing keys are PEM private keys: PKCS#1 RSA (`RSA PRIVATE KEY`), SEC1 EC (`EC PRIVATE KEY`)
//! or PKCS#8 (`PRIVATE KEY`: RSA, EC P-256/P-384/P-521, Ed25519). The algorithm follows the key
//! (RSA -> RS256, P-256 -> ES256, P-384 -> ES384, P-521 -> ES512, Ed25519 -> EdDSA) and the `kid`
//! is the key's RFC 7638 SHA-256 thumbprint, base64url.

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, EcdsaSigningAlgorithm,
    Ed25519KeyPair, RsaKeyPair,
};
use aws_lc_rs::{constant_time, hmac, rand as lc_rand};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

use super::error::AuthServerError;

/// One private key with everything derived from it.
pub struct SigningKey {
    pub kid: String,
    pub algorithm: Algorithm,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    /// Public JWK with `kid`, `alg` and `use: sig`.
    pub jwk: Jwk,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("algorithm", &self.algorithm).finish()
    }
}

impl SigningKey {
    fn from_encoding(encoding: EncodingKey, algorithm: Algorithm) -> Result<Self, String> {
        let mut jwk = Jwk::from_encoding_key(&encoding, algorithm).map_err(|e| format!("cannot derive JWK: {e}"))?;
        let kid = jwk.thumbprint(ThumbprintHash::SHA256).map_err(|e| format!("cannot compute thumbprint: {e}"))?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| format!("cannot derive public key: {e}"))?;
        Ok(Self { kid, algorithm, encoding, decoding, jwk })
    }

    /// Parses one PEM private key.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let (label, der) = parse_pem(pem)?;
        match label.as_str() {
            "RSA PRIVATE KEY" => {
                RsaKeyPair::from_der(&der).map_err(|e| format!("invalid PKCS#1 RSA key: {e}"))?;
                Self::from_encoding(EncodingKey::from_rsa_der(&der), Algorithm::RS256)
            }
            "EC PRIVATE KEY" => {
                for (alg, jwt_alg) in ec_algorithms() {
                    if let Ok(pair) = EcdsaKeyPair::from_private_key_der(alg, &der) {
                        let pkcs8 = pair.to_pkcs8v1().map_err(|_| "cannot re-encode the EC key".to_owned())?;
                        return Self::from_encoding(EncodingKey::from_ec_der(pkcs8.as_ref()), jwt_alg);
                    }
                }
                Err("EC key is not on P-256 or P-384".into())
            }
            "PRIVATE KEY" => {
                for (alg, jwt_alg) in ec_algorithms() {
                    if EcdsaKeyPair::from_pkcs8(alg, &der).is_ok() {
                        return Self::from_encoding(EncodingKey::from_ec_der(&der), jwt_alg);
                    }
                }
                if RsaKeyPair::from_pkcs8(&der).is_ok() {
                    // jsonwebtoken wants PKCS#1 for RSA: its PEM loader unwraps PKCS#8 for us.
                    let enc = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| format!("invalid RSA key: {e}"))?;
                    return Self::from_encoding(enc, Algorithm::RS256);
                }
                if let Ok(pair) = Ed25519KeyPair::from_pkcs8(&der) {
                    // JWK export needs PKCS#8 v1.
                    let v1 = pair.to_pkcs8v1().map_err(|_| "cannot re-encode the Ed25519 key".to_owned())?;
                    return Self::from_encoding(EncodingKey::from_ed_der(v1.as_ref()), Algorithm::EdDSA);
                }
                Err("PKCS#8 key is neither RSA, EC (P-256/P-384) nor Ed25519".into())
            }
            other => Err(format!("unsupported PEM block `{other}`: expected an RSA or EC private key")),
        }
    }

    /// A fresh ES256 (P-256) key, for development setups without configured keys.
    pub fn ephemeral() -> Result<Self, String> {
        let rng = lc_rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| "key generation failed".to_owned())?;
        Self::from_encoding(EncodingKey::from_ec_der(pkcs8.as_ref()), Algorithm::ES256)
    }
}

/// The EC curves jsonwebtoken 12 can sign with (it has no ES512, so P-521 keys are refused).
fn ec_algorithms() -> [(&'static EcdsaSigningAlgorithm, Algorithm); 2] {
    [(&ECDSA_P256_SHA256_FIXED_SIGNING, Algorithm::ES256), (&ECDSA_P384_SHA384_FIXED_SIGNING, Algorithm::ES384)]
}

/// The first private-key block of a PEM document: its label and DER bytes.
fn parse_pem(pem: &str) -> Result<(String, Vec<u8>), String> {
    let mut lines = pem.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line.strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----")) else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        for l in lines.by_ref() {
            if l == end {
                closed = true;
                break;
            }
            if l.contains(':') {
                return Err(format!("PEM block `{label}` has headers (encrypted keys are not supported)"));
            }
            body.push_str(l);
        }
        if !closed {
            return Err(format!("PEM block `{label}` is not terminated"));
        }
        if !label.ends_with("PRIVATE KEY") {
            continue; // e.g. `EC PARAMETERS` before the key
        }
        let der = STANDARD.decode(body.as_bytes()).map_err(|e| format!("PEM block `{label}` is not base64: {e}"))?;
        return Ok((label.to_owned(), der));
    }
    Err("no PEM private key found".into())
}

/// The active signing key first, then the verification-only (fallback) keys.
#[derive(Debug)]
pub struct KeySet {
    keys: Vec<SigningKey>,
}

impl KeySet {
    pub fn load(pems: &[String]) -> Result<Self, AuthServerError> {
        if pems.is_empty() {
            tracing::warn!("no signing key configured: using an ephemeral ES256 key (tokens die on restart)");
            return Ok(Self { keys: vec![SigningKey::ephemeral().map_err(AuthServerError::Crypto)?] });
        }
        let keys = pems
            .iter()
            .enumerate()
            .map(|(index, pem)| {
                SigningKey::from_pem(pem).map_err(|reason| AuthServerError::SigningKey { index, reason })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { keys })
    }

    /// Test-only (defect `reuse-ephemeral-signing-key`): one ephemeral key per process, so it
    /// wrongly survives a restart.
    pub fn process_wide_ephemeral() -> Result<Self, AuthServerError> {
        static PKCS8: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        let der = PKCS8.get_or_init(|| {
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &lc_rand::SystemRandom::new())
                .map(|d| d.as_ref().to_vec())
                .unwrap_or_default()
        });
        let key = SigningKey::from_encoding(EncodingKey::from_ec_der(der), Algorithm::ES256)
            .map_err(AuthServerError::Crypto)?;
        Ok(Self { keys: vec![key] })
    }

    pub fn active(&self) -> &SigningKey {
        &self.keys[0]
    }

    pub fn all(&self) -> &[SigningKey] {
        &self.keys
    }

    /// Every key, active first (docs KE:104-107: fallback keys stay valid for verification).
    pub fn jwks(&self) -> JwkSet {
        JwkSet { keys: self.keys.iter().map(|k| k.jwk.clone()).collect() }
    }
}

/// HMAC-SHA256 secrets: the first mints, all verify (rotation).
pub struct HmacSecrets {
    keys: Vec<hmac::Key>,
}

impl std::fmt::Debug for HmacSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HmacSecrets({} keys)", self.keys.len())
    }
}

/// The minimum HMAC secret length (docs KE:113-115).
pub const MIN_HMAC_SECRET_LEN: usize = 32;

impl HmacSecrets {
    pub fn load(secrets: &[Vec<u8>]) -> Result<Self, AuthServerError> {
        if secrets.is_empty() {
            tracing::warn!(
                "no HMAC secret configured: using an ephemeral one (codes and refresh tokens die on restart)"
            );
            let mut bytes = [0u8; 32];
            lc_rand::fill(&mut bytes).map_err(|_| AuthServerError::Crypto("random generator failed".into()))?;
            return Ok(Self { keys: vec![hmac::Key::new(hmac::HMAC_SHA256, &bytes)] });
        }
        let mut keys = Vec::with_capacity(secrets.len());
        for (index, s) in secrets.iter().enumerate() {
            if s.len() < MIN_HMAC_SECRET_LEN {
                return Err(AuthServerError::HmacSecret {
                    index,
                    reason: format!("HMAC secret is {} bytes; at least {MIN_HMAC_SECRET_LEN} are required", s.len()),
                });
            }
            keys.push(hmac::Key::new(hmac::HMAC_SHA256, s));
        }
        Ok(Self { keys })
    }

    /// Test-only (defect `reuse-ephemeral-hmac-secret`): one ephemeral secret per process, so it
    /// wrongly survives a restart.
    pub fn process_wide_ephemeral() -> Self {
        static SECRET: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
        let bytes = SECRET.get_or_init(random_bytes::<32>);
        Self { keys: vec![hmac::Key::new(hmac::HMAC_SHA256, bytes)] }
    }

    /// Test-only (defect `accept-short-hmac-secret`): no length check.
    pub fn load_unchecked(secrets: &[Vec<u8>]) -> Result<Self, AuthServerError> {
        if secrets.is_empty() {
            return Self::load(secrets);
        }
        Ok(Self { keys: secrets.iter().map(|s| hmac::Key::new(hmac::HMAC_SHA256, s)).collect() })
    }

    /// Mints an opaque token `<prefix><random>.<signature>`; returns it with its storage id
    /// (the signature, so the store never holds a usable token).
    pub fn mint(&self, prefix: &str) -> (String, String) {
        let random = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        let sig = URL_SAFE_NO_PAD.encode(hmac::sign(&self.keys[0], format!("{prefix}{random}").as_bytes()));
        (format!("{prefix}{random}.{sig}"), sig)
    }

    /// Verifies a token minted by [`mint`](Self::mint) under any configured secret and returns its
    /// storage id; `None` for anything malformed or signed with an unknown secret.
    pub fn verify(&self, prefix: &str, token: &str) -> Option<String> {
        let rest = token.strip_prefix(prefix)?;
        let (random, sig) = rest.split_once('.')?;
        let sig_bytes = URL_SAFE_NO_PAD.decode(sig).ok()?;
        let msg = format!("{prefix}{random}");
        self.keys.iter().any(|k| hmac::verify(k, msg.as_bytes(), &sig_bytes).is_ok()).then(|| sig.to_owned())
    }
}

/// `N` bytes from the system CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The system generator does not fail on supported platforms; a failure here is fatal anyway.
    lc_rand::fill(&mut b).expect("system random generator");
    b
}

/// A random URL-safe string with `n` bytes of entropy.
pub fn random_token(n_bytes: usize) -> String {
    let mut b = vec![0u8; n_bytes];
    lc_rand::fill(&mut b).expect("system random generator");
    URL_SAFE_NO_PAD.encode(b)
}

/// Constant-time string comparison.
pub fn ct_eq(a: &str, b: &str) -> bool {
    constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// base64url(SHA-256(verifier)), RFC 7636 §4.2.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `openssl ecparam -name prime256v1 -genkey` (with its `EC PARAMETERS` block).
    pub const EC_SEC1_PEM: &str = "-----BEGIN EC PARAMETERS-----
BggqhkjOPQMBBw==
-----END EC PARAMETERS-----
-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIC0FHlY/i+GjVXl1m/EZaA4fw4DmCvAgNuqG8UClhqUMoAoGCCqGSM49
AwEHoUQDQgAELTsVXeaVjD6DHrCctoNWB/zbzO2H1CViOeVyFerSpOwyBsqPaDkB
EZxjNfbj34ychP/Y06lVYMy7dS6W11iXiA==
-----END EC PRIVATE KEY-----
";

    /// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`, as the docs show (KE:79).
    pub const RSA_PKCS8_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQC1si+vnS6jKAxV
oioqebTf2bbFO8q9rQHVXe/u73dqdpOTMr/HCdy5+rGJ/RmU4tus+X9RP0Hi00CY
tBL7alXilp7jgKKhyrlpwjawdQHtLvrcqS5bymi5rOLvAyAeE5//N83+Am9SoN0h
Yba9/SwMVbvqIA0h5G6efXGcjxLW/PhzfY7CqvuGd8Mr4AKFRU3l3iiTtDujYdvj
MUmPtf8WD+qDoDnpiVXYcLZiFVhgk+XUliOFQAQcbBCSPkn4Hjb4+wn1l/Q634Se
qyshkjvG/djMRSp2F91HM3kGJ3AVk8GqdjIz3miH2q3vz3D2BaOeA/0YyExPKPXK
vuZO4OArAgMBAAECggEAUp9L6u4tenjoHvqmdPkyJEbCw26ck2L8PfPA+uR+53Uz
R1Dg/1f/PL0AhbCHtPnyDfbIjAAZbFVG/wmHxjcFBgwbBXYFvk/Kv4pWxyf1786Y
ucXe9FOXCrPQ4AIKVVL0QyCztcmSqL7Iv3jJGhzprlRAJsdbYWmYWc7OXnR7CzJq
QIl/q3IUPaKnoqq9V4JOqRcJdQRedI7sKJYX1UbdJSEJspqc1vOagEbtmgbGCtgp
sweBuUgJaJrmWzfjHo3Dq5+Larv78sw7QAGacKUs2IgBkTamlChIYeBxpwG4ncMi
SezchSDEVn0ourXX4DX5+7ZdTBSJJaAkTrxvKfQ4eQKBgQDifw1No0U1m1tMJ06c
Ia6PDeftxEMCJ/cSzI9vhePeN+vG8+FZ0uTXxjYeCxouesVl80+O3dEfJqWccmmq
H6Ey6PaMzGXsZGm9AXtxVjD1JEMy3enKzdTubaQQ2zhYd/riA8IbquGzplAI7AY9
R2cIUBCe9BSyBQOW0HmH7pik8wKBgQDNXS9VF0pj7bBrcbG80jmE6ZDRa9y5+pL+
hgO4YP8ZPnhDklHrCCJdWi5HHr4JEKX6tHRoNda8Kxz8rmh771kItN6izyq/tlTP
bLsEDwOCjfwvoBcKZsaFbg0nZNmYIzpfaqX2Qw1VSHksspqZdli7h2YTlvlIwkkf
tklJYN4F6QKBgHlccphjH7Z1pBnOBgUK1ym33co9G1qQZ4cfLMwpBcwQUrmr+9fR
dOVZQ64dbM3y4sqZ8Mswd9klMB///jY19H3+7fzLmOFtfGrV3HsCIAF6iLc8yQTt
/WY0QXD2xd5Bi6CHOv7wNTe5qbDeJwm2tLJzlDRXvK8WmLG6yyPW6NuZAoGAdER9
t78n7stzRmFoL28WAZn605YtsV2cO13EXW8M/k3P6PG+T0Kbsh6MdNeC3779OaNR
BG721DHUh3p2zTQFRFiic6q2mTOxcH4uo22cnx2j2ZLZeJoXaxOTfuoqB2hqc/r9
Wx87PT163UOBI8FNG17c+9pN6FOW8s1RUKn3CYECgYAlD7RpsDZwdpDK+loaSVkV
58TUg7EtraD+EX0fRwAocQ60Vckk0JH1uAqY27bhqyDrlpb1LW3gAicaijU4UZW1
uHKojMtIfgtDy2YVqDBHT/4Xw17WgA54EVPNRrRsATgfn19FJsWruJ5xyofxgg2j
/+bCQIuy8QLGNIfioHKB1A==
-----END PRIVATE KEY-----
";

    pub const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIEG57P7QdgECvytPh1xZEQOLZYHJGO/jpRH9D956DTjS
-----END PRIVATE KEY-----
";

    #[test]
    fn ephemeral_key_has_thumbprint_kid() {
        let k = SigningKey::ephemeral().unwrap();
        assert_eq!(k.algorithm, Algorithm::ES256);
        assert_eq!(k.kid.len(), 43);
        assert_eq!(k.jwk.common.key_id.as_deref(), Some(k.kid.as_str()));
    }

    #[test]
    fn pem_keys_load_with_their_algorithms() {
        let ec = SigningKey::from_pem(EC_SEC1_PEM).unwrap();
        assert_eq!(ec.algorithm, Algorithm::ES256);
        let rsa = SigningKey::from_pem(RSA_PKCS8_PEM).unwrap();
        assert_eq!(rsa.algorithm, Algorithm::RS256);
        let ed = SigningKey::from_pem(ED25519_PEM).unwrap();
        assert_eq!(ed.algorithm, Algorithm::EdDSA);
        assert!(SigningKey::from_pem("not a key").is_err());
        let set = KeySet::load(&[RSA_PKCS8_PEM.to_owned(), EC_SEC1_PEM.to_owned()]).unwrap();
        assert_eq!(set.active().kid, rsa.kid);
        assert_eq!(set.jwks().keys.len(), 2);
        // Sign with each and verify with the derived public key.
        for k in [&ec, &rsa, &ed] {
            let mut h = jsonwebtoken::Header::new(k.algorithm);
            h.kid = Some(k.kid.clone());
            let tok = jsonwebtoken::encode(&h, &serde_json::json!({"sub": "x", "exp": 4_000_000_000u64}), &k.encoding)
                .unwrap();
            let mut v = jsonwebtoken::Validation::new(k.algorithm);
            v.validate_aud = false;
            jsonwebtoken::decode::<serde_json::Value>(&tok, &k.decoding, &v).unwrap();
        }
    }

    #[test]
    fn hmac_round_trip_and_rotation() {
        let a = HmacSecrets::load(&[vec![1u8; 32]]).unwrap();
        let (tok, id) = a.mint("x_");
        assert_eq!(a.verify("x_", &tok).as_deref(), Some(id.as_str()));
        assert!(a.verify("y_", &tok).is_none());
        let rotated = HmacSecrets::load(&[vec![2u8; 32], vec![1u8; 32]]).unwrap();
        assert!(rotated.verify("x_", &tok).is_some());
        let other = HmacSecrets::load(&[vec![2u8; 32]]).unwrap();
        assert!(other.verify("x_", &tok).is_none());
        assert!(HmacSecrets::load(&[vec![1u8; 31]]).is_err());
    }

    #[test]
    fn s256_matches_rfc7636_appendix_b() {
        assert_eq!(s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }
}
