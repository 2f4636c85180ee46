//! Access tokens the emulator issues and Key Vault accepts: HS256 JWTs signed with a per-process key.
//!
//! They look like Entra tokens to a client (three base64url parts, `aud`, `oid`, `appid`, `tid`,
//! `exp`), and only this process can mint ones its Key Vault accepts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::state::lock;

type HmacSha256 = Hmac<Sha256>;

/// Who a token was issued to.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Claims {
    pub(crate) aud: String,
    pub(crate) iss: String,
    pub(crate) iat: i64,
    pub(crate) nbf: i64,
    pub(crate) exp: i64,
    pub(crate) appid: String,
    pub(crate) oid: String,
    pub(crate) sub: String,
    pub(crate) tid: String,
    pub(crate) idtyp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) xms_mirid: Option<String>,
}

/// Why a presented token is not accepted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TokenProblem {
    /// Not three parts, bad base64 or JSON, or a signature this process did not make.
    Invalid,
    /// Past its `exp`.
    Expired,
}

/// Signs and verifies tokens with a key that lives only in this process.
pub(crate) struct TokenIssuer {
    key: [u8; 32],
    /// Tokens whose signature was checked, with their claims: a client sends the same token
    /// with every request, and decoding it each time would be most of the cost of an answer.
    verified: Mutex<HashMap<String, Arc<Claims>>>,
}

/// Verified tokens remembered at most; the memory is emptied when it is full.
const VERIFIED_KEPT: usize = 64;

impl TokenIssuer {
    pub(crate) fn new() -> Self {
        Self {
            key: rand::random(),
            verified: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn issue(&self, claims: &Claims) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        let signature = URL_SAFE_NO_PAD.encode(self.sign(signing_input.as_bytes()));
        format!("{signing_input}.{signature}")
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        <HmacSha256 as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length")
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        let mut mac = self.mac();
        mac.update(input);
        mac.finalize().into_bytes().to_vec()
    }

    /// Checks the signature and expiry; the caller checks the audience and roles.
    pub(crate) fn verify(&self, token: &str, now: i64) -> Result<Arc<Claims>, TokenProblem> {
        let known = lock(&self.verified).get(token).cloned();
        let claims = match known {
            Some(claims) => claims,
            None => {
                let claims = Arc::new(self.check_signature(token)?);
                let mut verified = lock(&self.verified);
                if verified.len() >= VERIFIED_KEPT {
                    verified.clear();
                }
                verified.insert(token.to_owned(), claims.clone());
                claims
            }
        };
        if claims.exp <= now {
            return Err(TokenProblem::Expired);
        }
        Ok(claims)
    }

    /// The claims of a token this process signed.
    fn check_signature(&self, token: &str) -> Result<Claims, TokenProblem> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenProblem::Invalid);
        };
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenProblem::Invalid)?;
        let mut mac = self.mac();
        mac.update(header.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| TokenProblem::Invalid)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenProblem::Invalid)?;
        serde_json::from_slice(&payload).map_err(|_| TokenProblem::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            aud: "https://vault.azure.net".into(),
            iss: "https://sts.windows.net/t/".into(),
            iat: 0,
            nbf: 0,
            exp,
            appid: "a".into(),
            oid: "o".into(),
            sub: "o".into(),
            tid: "t".into(),
            idtyp: "app".into(),
            xms_mirid: None,
        }
    }

    #[test]
    fn round_trip_and_refusals() {
        let issuer = TokenIssuer::new();
        let token = issuer.issue(&claims(100));
        assert_eq!(issuer.verify(&token, 50), Ok(Arc::new(claims(100))));
        // Remembered once verified, and still refused once expired.
        assert_eq!(issuer.verify(&token, 50), Ok(Arc::new(claims(100))));
        assert_eq!(issuer.verify(&token, 100), Err(TokenProblem::Expired));
        assert_eq!(
            TokenIssuer::new().verify(&token, 50),
            Err(TokenProblem::Invalid)
        );
        let mut forged = token.clone();
        forged.push('A');
        assert_eq!(issuer.verify(&forged, 50), Err(TokenProblem::Invalid));
        assert_eq!(issuer.verify("a.b", 50), Err(TokenProblem::Invalid));
    }
}
