//! Cedar authorization of MCP requests (guides-vmcp/authentication.mdx#authorize-requests,
//! concepts/cedar-policies.mdx, reference/authz-policy-reference.mdx), with the cedar-policy crate.
//!
//! The request is `Client::"<sub>"` (every claim as a `claim_`-prefixed attribute, groups and
//! roles as `THVGroup` parents), `Action::"call_tool"`, `Tool::"<advertised name>"` (tool
//! arguments as `arg_` attributes); the context carries the same `claim_` and `arg_` values.
//! Forbid wins, then permit, else deny. `tools/list` is filtered with the same `call_tool` rule.
//!
//! DECISIONS.md: claims come from the validated token, or with an embedded authorization server
//! from the primary upstream provider's access token (an opaque one denies, no fallback to the
//! vMCP JWT's claims); a denied call is HTTP 403 with a JSON-RPC error.

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;

use base64::Engine as _;
use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicySet, Request,
    RestrictedExpression,
};
use serde_json::{Map, Value};

use super::embedded::UpstreamTokens;
use super::incoming::Identity;

/// Claims nested deeper than this are dropped (authz-policy-reference.mdx#claim-type-mapping).
const MAX_CLAIM_DEPTH: usize = 10;
/// Claims read for groups when `groupClaimName` is not set, in this order.
const DEFAULT_GROUP_CLAIMS: &[&str] = &["groups", "roles", "cognito:groups"];

/// `incomingAuth.authzConfig` as the gateway runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthzConfig {
    /// Cedar policies, each a complete policy text.
    pub policies: Vec<String>,
    /// `entitiesJson` (a Cedar entities JSON array); `None` means `[]`.
    pub entities_json: Option<String>,
    pub group_claim_name: Option<String>,
    pub role_claim_name: Option<String>,
    /// With an embedded authorization server: the upstream whose token supplies the claims
    /// (`primaryUpstreamProvider`, else the first upstream).
    pub claims_provider: Option<String>,
}

/// A Cedar configuration that failed to load: refused at start-up.
#[derive(Debug, thiserror::Error)]
pub enum AuthzLoadError {
    #[error("incomingAuth.authzConfig.inline.policies: {0} (docs: concepts/cedar-policies.mdx)")]
    Policies(String),
    #[error("incomingAuth.authzConfig.inline.entitiesJson: {0}")]
    Entities(String),
    #[error("incomingAuth.authzConfig.inline.policies is empty: Cedar denies everything without a policy")]
    NoPolicy,
}

/// Loaded policies and static entities.
pub struct Authz {
    config: AuthzConfig,
    policies: PolicySet,
    entities: Vec<Entity>,
    /// Defect `authz-ignore-group-claims` only.
    ignore_group_claims: bool,
    /// Defect `authz-drop-nested-claims` only: object claims are not converted.
    drop_nested_claims: bool,
}

impl std::fmt::Debug for Authz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authz").field("policies", &self.config.policies.len()).finish()
    }
}

/// The outcome of one authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Denied, with the reason for logs and the error message.
    Deny(String),
}

impl Authz {
    pub fn new(config: AuthzConfig) -> Result<Self, AuthzLoadError> {
        if config.policies.iter().all(|p| p.trim().is_empty()) {
            return Err(AuthzLoadError::NoPolicy);
        }
        let policies =
            PolicySet::from_str(&config.policies.join("\n")).map_err(|e| AuthzLoadError::Policies(e.to_string()))?;
        let entities = match config.entities_json.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Vec::new(),
            Some(json) => Entities::from_json_str(json, None)
                .map_err(|e| AuthzLoadError::Entities(e.to_string()))?
                .iter()
                .cloned()
                .collect(),
        };
        Ok(Self { config, policies, entities, ignore_group_claims: false, drop_nested_claims: false })
    }

    /// Defect `authz-ignore-group-claims`: no `THVGroup` parents.
    pub fn ignoring_group_claims(mut self, on: bool) -> Self {
        self.ignore_group_claims = on;
        self
    }

    /// Defect `authz-drop-nested-claims`: object-valued claims are left out.
    pub fn dropping_nested_claims(mut self, on: bool) -> Self {
        self.drop_nested_claims = on;
        self
    }

    /// Whether `identity` may call the tool advertised as `tool` with `arguments`.
    pub fn call_tool(&self, identity: &Identity, tool: &str, arguments: Option<&Map<String, Value>>) -> Verdict {
        match self.decide(identity, tool, arguments) {
            Ok(true) => Verdict::Allow,
            Ok(false) => Verdict::Deny(format!("no Cedar policy permits call_tool on Tool::\"{tool}\"")),
            Err(reason) => Verdict::Deny(reason),
        }
    }

    fn decide(&self, identity: &Identity, tool: &str, arguments: Option<&Map<String, Value>>) -> Result<bool, String> {
        let mut claims = self.claims(identity)?;
        if self.drop_nested_claims {
            claims.retain(|_, v| !v.is_object());
        }
        let sub = claims.get("sub").and_then(Value::as_str).unwrap_or(&identity.subject).to_owned();
        let principal = uid("Client", &sub)?;
        let claim_attrs: Vec<(String, RestrictedExpression)> =
            claims.iter().filter_map(|(k, v)| Some((format!("claim_{k}"), to_cedar(v, 0)?))).collect();
        let arg_attrs: Vec<(String, RestrictedExpression)> =
            arguments.into_iter().flatten().filter_map(|(k, v)| Some((format!("arg_{k}"), to_cedar(v, 0)?))).collect();
        let parents: HashSet<EntityUid> =
            self.groups(&claims).iter().map(|g| uid("THVGroup", g)).collect::<Result<_, _>>()?;
        let principal_entity = Entity::new(principal.clone(), claim_attrs.iter().cloned().collect(), parents)
            .map_err(|e| format!("principal entity: {e}"))?;
        let resource = uid("Tool", tool)?;
        let resource_entity = Entity::new(resource.clone(), arg_attrs.iter().cloned().collect(), HashSet::new())
            .map_err(|e| format!("resource entity: {e}"))?;
        let mut all = self.entities.clone();
        all.retain(|e| e.uid() != principal && e.uid() != resource);
        all.push(principal_entity);
        all.push(resource_entity);
        let entities = Entities::from_entities(all, None).map_err(|e| format!("entities: {e}"))?;
        let context =
            Context::from_pairs(claim_attrs.into_iter().chain(arg_attrs)).map_err(|e| format!("context: {e}"))?;
        let request = Request::new(principal, uid("Action", "call_tool")?, resource, context, None)
            .map_err(|e| format!("request: {e}"))?;
        let response = Authorizer::new().is_authorized(&request, &self.policies, &entities);
        // An evaluation error in a policy counts as not matching; with no permit, that denies
        // (cedar-policies.mdx: "an evaluation error, which ToolHive treats as a deny").
        Ok(response.decision() == Decision::Allow)
    }

    /// The claims the principal is built from.
    fn claims(&self, identity: &Identity) -> Result<Map<String, Value>, String> {
        let Some(provider) = &self.config.claims_provider else { return Ok(identity.claims.clone()) };
        let tokens: &BTreeMap<String, UpstreamTokens> = &identity.upstream_tokens;
        let stored = tokens.get(provider).ok_or_else(|| {
            format!("no stored token of the primary upstream provider `{provider}` to read claims from")
        })?;
        // embedded-auth-server-vmcp.mdx#select-the-primary-upstream-provider: the access token.
        jwt_claims(&stored.access_token).ok_or_else(|| {
            format!("the primary upstream provider `{provider}`'s token is opaque: no claims to authorize")
        })
    }

    /// Group and role names for `THVGroup` parents.
    fn groups(&self, claims: &Map<String, Value>) -> Vec<String> {
        if self.ignore_group_claims {
            return Vec::new();
        }
        let mut names: Vec<&str> = Vec::new();
        match self.config.group_claim_name.as_deref().filter(|s| !s.is_empty()) {
            Some(name) => names.push(name),
            None => {
                if let Some(first) = DEFAULT_GROUP_CLAIMS.iter().find(|c| claims.contains_key(**c)) {
                    names.push(first);
                }
            }
        }
        if let Some(role) = self.config.role_claim_name.as_deref().filter(|s| !s.is_empty()) {
            names.push(role);
        }
        let mut out = Vec::new();
        for name in names {
            match claims.get(name) {
                Some(Value::String(s)) => out.extend(s.split_whitespace().map(str::to_owned)),
                Some(Value::Array(items)) => out.extend(items.iter().filter_map(Value::as_str).map(str::to_owned)),
                _ => {}
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

fn uid(type_name: &str, id: &str) -> Result<EntityUid, String> {
    let t = EntityTypeName::from_str(type_name).map_err(|e| format!("entity type {type_name}: {e}"))?;
    Ok(EntityUid::from_type_name_and_id(t, EntityId::new(id)))
}

/// The payload of a JWT, unverified (an upstream token the embedded server stored at login).
fn jwt_claims(token: &str) -> Option<Map<String, Value>> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A JSON claim as a Cedar value (authz-policy-reference.mdx#claim-type-mapping); `None` drops
/// it (null, too deep, a number Cedar cannot hold).
fn to_cedar(value: &Value, depth: usize) -> Option<RestrictedExpression> {
    if depth > MAX_CLAIM_DEPTH {
        return None;
    }
    match value {
        Value::Null => None,
        Value::Bool(b) => Some(RestrictedExpression::new_bool(*b)),
        Value::String(s) => Some(RestrictedExpression::new_string(s.clone())),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Some(RestrictedExpression::new_long(i)),
            None => decimal(n.as_f64()?).map(RestrictedExpression::new_decimal),
        },
        Value::Array(items) => Some(RestrictedExpression::new_set(items.iter().filter_map(|v| to_cedar(v, depth + 1)))),
        Value::Object(fields) => RestrictedExpression::new_record(
            fields.iter().filter_map(|(k, v)| Some((k.clone(), to_cedar(v, depth + 1)?))),
        )
        .ok(),
    }
}

/// Cedar's `decimal` literal: at most four fractional digits, within the i64 range scaled by 10^4.
fn decimal(f: f64) -> Option<String> {
    if !f.is_finite() || f.abs() >= 922_337_203_685_477.0 {
        return None;
    }
    let text = format!("{f:.4}");
    let trimmed = text.trim_end_matches('0');
    Some(if trimmed.ends_with('.') { format!("{trimmed}0") } else { trimmed.to_owned() })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn authz(policies: &[&str]) -> Authz {
        Authz::new(AuthzConfig {
            policies: policies.iter().map(|p| p.to_string()).collect(),
            entities_json: None,
            group_claim_name: None,
            role_claim_name: None,
            claims_provider: None,
        })
        .unwrap()
    }

    fn user(claims: Value) -> Identity {
        let claims = claims.as_object().cloned().unwrap_or_default();
        Identity {
            subject: claims.get("sub").and_then(Value::as_str).unwrap_or("u").into(),
            claims,
            ..Identity::anonymous()
        }
    }

    #[test]
    fn documented_inline_policy_allows_only_search() {
        let a = authz(&[r#"permit(principal, action == Action::"call_tool", resource == Tool::"search");"#]);
        let u = user(json!({"sub": "alice"}));
        assert_eq!(a.call_tool(&u, "search", None), Verdict::Allow);
        assert!(matches!(a.call_tool(&u, "delete", None), Verdict::Deny(_)));
    }

    #[test]
    fn claims_groups_and_arguments_reach_cedar() {
        let a = authz(&[
            r#"permit(principal, action == Action::"call_tool", resource) when { principal.claim_roles.contains("admin") };"#,
            r#"permit(principal in THVGroup::"eng", action == Action::"call_tool", resource == Tool::"t");"#,
            r#"permit(principal, action == Action::"call_tool", resource == Tool::"w") when { context.arg_city == "Oslo" && context.claim_act.sub == "agent" };"#,
            r#"forbid(principal, action, resource == Tool::"t") when { principal.claim_blocked == true };"#,
        ]);
        assert_eq!(a.call_tool(&user(json!({"sub": "a", "roles": ["admin"]})), "x", None), Verdict::Allow);
        assert_eq!(a.call_tool(&user(json!({"sub": "a", "groups": ["eng"]})), "t", None), Verdict::Allow);
        let blocked = user(json!({"sub": "a", "groups": ["eng"], "blocked": true}));
        assert!(matches!(a.call_tool(&blocked, "t", None), Verdict::Deny(_)));
        let args = json!({"city": "Oslo"}).as_object().cloned().unwrap();
        let agent = user(json!({"sub": "a", "act": {"sub": "agent"}}));
        assert_eq!(a.call_tool(&agent, "w", Some(&args)), Verdict::Allow);
        assert!(matches!(a.call_tool(&user(json!({"sub": "a"})), "w", Some(&args)), Verdict::Deny(_)));
    }

    #[test]
    fn claims_from_an_opaque_upstream_token_deny() {
        let mut a = authz(&[r#"permit(principal, action, resource);"#]);
        a.config.claims_provider = Some("github".into());
        let mut u = user(json!({"sub": "vmcp-user"}));
        u.upstream_tokens.insert(
            "github".into(),
            UpstreamTokens { access_token: "gho_opaque".into(), id_token: None, expires_at: None },
        );
        let Verdict::Deny(reason) = a.call_tool(&u, "x", None) else { panic!("opaque must deny") };
        assert!(reason.contains("opaque"), "{reason}");
    }

    #[test]
    fn bad_policies_and_decimals() {
        let err = Authz::new(AuthzConfig {
            policies: vec!["permit(".into()],
            entities_json: None,
            group_claim_name: None,
            role_claim_name: None,
            claims_provider: None,
        })
        .unwrap_err();
        assert!(err.to_string().contains("inline.policies"), "{err}");
        assert_eq!(decimal(1.5).as_deref(), Some("1.5"));
        assert_eq!(decimal(2.0).as_deref(), Some("2.0"));
        assert!(decimal(f64::NAN).is_none());
        let mut deep = json!("leaf");
        for _ in 0..12 {
            deep = json!({ "n": deep });
        }
        assert!(to_cedar(&deep, 0).is_some(), "outer levels stay; only the part below 10 is dropped");
    }
}
