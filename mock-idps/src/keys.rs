//! The RSA key an OIDC mock signs ID tokens with. Generated with aws-lc-rs (the project's one
//! crypto stack) instead of a PEM checked into the tree, so no private key lives in git.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

/// Why a key could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("RSA key generation failed")]
    Generate,
    #[error("unexpected DER structure in generated key: {0}")]
    Der(&'static str),
    #[error("signing failed: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// An RS256 signing key with its public half as a JWK.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    /// base64url modulus and exponent, as JWKs carry them.
    n: String,
    e: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh RSA 2048 key with the given `kid`.
    pub fn generate(kid: &str) -> Result<Self, KeyError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
        let pkcs8 = pair.as_der().map_err(|_| KeyError::Generate)?;
        // jsonwebtoken's aws-lc backend wants PKCS#1 RSAPrivateKey; aws-lc-rs exports PKCS#8.
        let pkcs1 = pkcs8_to_pkcs1(pkcs8.as_ref())?;
        let (n, e) = rsa_public_components(pair.public_key().as_ref())?;
        Ok(Self {
            kid: kid.to_owned(),
            encoding: EncodingKey::from_rsa_der(pkcs1),
            n: URL_SAFE_NO_PAD.encode(n),
            e: URL_SAFE_NO_PAD.encode(e),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (`kty`, `alg`, `use`, `kid`, `n`, `e`).
    pub fn jwk(&self) -> serde_json::Value {
        serde_json::json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid, "n": self.n, "e": self.e})
    }

    /// A JWK Set holding only this key.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.jwk()] })
    }

    /// Signs `claims` as an RS256 JWT whose header names this key's `kid`.
    pub fn sign<T: serde::Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }
}

/// One DER TLV: (tag, contents, rest).
fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), KeyError> {
    let (&tag, rest) = input.split_first().ok_or(KeyError::Der("truncated tag"))?;
    let (&first, mut rest) = rest.split_first().ok_or(KeyError::Der("truncated length"))?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return Err(KeyError::Der("bad length"));
        }
        let (bytes, tail) = rest.split_at(count);
        rest = tail;
        bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    if rest.len() < len {
        return Err(KeyError::Der("truncated contents"));
    }
    let (contents, rest) = rest.split_at(len);
    Ok((tag, contents, rest))
}

fn expect<'a>(input: &'a [u8], tag: u8, what: &'static str) -> Result<(&'a [u8], &'a [u8]), KeyError> {
    let (t, contents, rest) = tlv(input)?;
    if t == tag { Ok((contents, rest)) } else { Err(KeyError::Der(what)) }
}

/// PrivateKeyInfo ::= SEQUENCE { version INTEGER, algorithm SEQUENCE, privateKey OCTET STRING, .. }
fn pkcs8_to_pkcs1(der: &[u8]) -> Result<&[u8], KeyError> {
    let (info, _) = expect(der, 0x30, "PrivateKeyInfo")?;
    let (_, rest) = expect(info, 0x02, "version")?;
    let (_, rest) = expect(rest, 0x30, "algorithm")?;
    let (key, _) = expect(rest, 0x04, "privateKey")?;
    Ok(key)
}

/// DER INTEGERs carry a leading zero when the top bit is set; JWKs do not.
fn strip_sign(x: &[u8]) -> &[u8] {
    let zeros = x.iter().take_while(|b| **b == 0).count();
    &x[zeros.min(x.len().saturating_sub(1))..]
}

/// RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }, minus sign bytes.
fn rsa_public_components(der: &[u8]) -> Result<(&[u8], &[u8]), KeyError> {
    let (seq, _) = expect(der, 0x30, "RSAPublicKey")?;
    let (n, rest) = expect(seq, 0x02, "modulus")?;
    let (e, _) = expect(rest, 0x02, "exponent")?;
    Ok((strip_sign(n), strip_sign(e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation, jwk::Jwk};

    #[test]
    fn signs_tokens_the_jwk_verifies() -> Result<(), Box<dyn std::error::Error>> {
        let key = SigningKey::generate("k1")?;
        let token = key.sign(&serde_json::json!({"sub": "x", "exp": 4_000_000_000u64}))?;
        let jwk: Jwk = serde_json::from_value(key.jwk())?;
        let mut v = Validation::new(Algorithm::RS256);
        v.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<serde_json::Value>(&token, &DecodingKey::from_jwk(&jwk)?, &v)?;
        assert_eq!(data.claims["sub"], "x");
        assert_eq!(data.header.kid.as_deref(), Some("k1"));
        assert!(tlv(&[0x30]).is_err());
        assert!(tlv(&[0x30, 0x85, 0, 0, 0, 0, 0]).is_err());
        Ok(())
    }
}
