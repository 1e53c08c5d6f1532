//! `GET /oauth/callback`: finish one upstream leg, go to the next, or issue the code.
//!
//! The pending authorization is consumed on first use, and the answer is only accepted from the
//! provider the user was sent to (the provider name is in the pending record). Any failure after
//! a leg stored tokens deletes the whole session's upstream tokens.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};

use super::AuthServer;
use super::authorize::Params;
use super::error::{CallbackError, RedirectError, found, with_query};
use super::store::{AuthCodeRecord, PendingAuthorization, ResolvedUser, StoredUpstreamTokens, now_unix};
use super::upstream::UpstreamError;
use crate::storage::StorageError;

/// Prefix of issued authorization codes.
pub const CODE_PREFIX: &str = "vmcp_ac_";

#[derive(Debug, thiserror::Error)]
enum LegError {
    #[error("upstream `{0}` is no longer configured")]
    UnknownProvider(String),
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("upstream `{provider}` vouches for another user than the first leg of the chain")]
    IdentityMismatch { provider: String },
}

pub async fn callback(State(s): State<Arc<AuthServer>>, RawQuery(query): RawQuery) -> Response {
    match s.callback_request(query.as_deref().unwrap_or("")).await {
        Ok(location) => found(&location),
        Err(e) => e.into_response(),
    }
}

impl AuthServer {
    /// Handles the upstream's redirect; returns where to send the user agent next.
    pub async fn callback_request(&self, query: &str) -> Result<String, CallbackError> {
        let p = Params::parse(query.as_bytes());
        let state =
            p.get("state").ok().flatten().ok_or_else(|| CallbackError::BadRequest("missing state parameter".into()))?;
        let error = p.get("error").ok().flatten();
        let code = p.get("code").ok().flatten();
        if error.is_none() && code.is_none() {
            return Err(CallbackError::BadRequest("missing code parameter".into()));
        }
        let pending = self
            .store()
            .take_pending(state)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "callback: storage failure");
                CallbackError::Unavailable("authentication service temporarily unavailable".into())
            })?
            .ok_or_else(|| CallbackError::BadRequest("authorization request not found or expired".into()))?;
        let to_client = |error: &'static str, desc: &str| {
            CallbackError::Redirect(RedirectError::new(
                &pending.client.redirect_uri,
                error,
                desc,
                Some(&pending.client.state),
            ))
        };
        let code = match (error, code) {
            (Some(upstream_error), _) => {
                tracing::info!(provider = %pending.provider, upstream_error, "upstream refused the authorization");
                self.discard_session(&pending.session_id).await;
                return Err(to_client("access_denied", "upstream authentication failed"));
            }
            (None, Some(code)) => code,
            (None, None) => return Err(CallbackError::BadRequest("missing code parameter".into())),
        };
        match self.complete_leg(&pending, code).await {
            Ok(location) => Ok(location),
            Err(e) => {
                tracing::warn!(provider = %pending.provider, error = %e, "upstream leg failed");
                self.discard_session(&pending.session_id).await;
                if self.defects.is_on(crate::defects::Defect::UpstreamErrorsAsAccessDenied) {
                    return Err(to_client("access_denied", "failed to complete the upstream authorization"));
                }
                Err(to_client("server_error", "failed to complete the upstream authorization"))
            }
        }
    }

    async fn discard_session(&self, session_id: &str) {
        if let Err(e) = self.store().delete_upstream_tokens(session_id).await {
            tracing::error!(error = %e, "cannot delete the upstream tokens of an aborted login");
        }
    }

    async fn complete_leg(&self, pending: &PendingAuthorization, code: &str) -> Result<String, LegError> {
        let (index, upstream) =
            self.upstream(&pending.provider).ok_or_else(|| LegError::UnknownProvider(pending.provider.clone()))?;
        let tokens = upstream.exchange_code(&self.http, code, &pending.upstream_code_verifier).await?;
        let identity = upstream.identity(&self.http, &tokens, &pending.upstream_nonce).await?;
        let store = self.store();
        let user = match &pending.user {
            // A later leg of the chain must resolve to the user of the first leg.
            Some(u) => {
                let linked = store.link_identity(&upstream.name, &identity.subject, &u.user_id).await?;
                if linked != u.user_id && !self.defects.is_on(crate::defects::Defect::SkipChainIdentityCheck) {
                    return Err(LegError::IdentityMismatch { provider: upstream.name.clone() });
                }
                u.clone()
            }
            None => ResolvedUser {
                user_id: store.user_for_identity(&upstream.name, &identity.subject).await?,
                name: identity.name.clone(),
                email: identity.email.clone(),
            },
        };
        let row = StoredUpstreamTokens {
            provider: upstream.name.clone(),
            access_token: tokens.access_token.clone(),
            refresh_token: tokens.refresh_token.clone(),
            id_token: tokens.id_token.clone(),
            expires_at: tokens.expires_at(),
            upstream_subject: identity.subject.clone(),
            user_id: user.user_id.clone(),
            client_id: pending.client.client_id.clone(),
        };
        store.put_upstream_tokens(&pending.session_id, &row, self.config.lifespans.refresh_token).await?;

        let order = self.chain_order();
        let next = order.iter().position(|&i| i == index).and_then(|step| order.get(step + 1));
        if let Some(&next) = next {
            return Ok(self.start_leg(next, pending.client.clone(), pending.session_id.clone(), Some(user)).await?);
        }
        let (code, id) = self.hmac.mint(CODE_PREFIX);
        let lifespan = self.config.lifespans.auth_code;
        let record = AuthCodeRecord {
            client: pending.client.clone(),
            user,
            session_id: pending.session_id.clone(),
            expires_at: now_unix().saturating_add(lifespan.as_secs()),
        };
        let kept = if self.defects.is_on(crate::defects::Defect::IgnoreAuthCodeLifespan) {
            lifespan.saturating_mul(10).saturating_add(std::time::Duration::from_secs(60))
        } else {
            lifespan
        };
        store.put_code(&id, &record, kept).await?;
        Ok(with_query(&pending.client.redirect_uri, &[("code", code), ("state", pending.client.state.clone())]))
    }
}
