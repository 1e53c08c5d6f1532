//! The features a target can claim, and which features each scenario exercises.
//!
//! The mapping is a table over feature-file paths, tags and step text ([`RULES`]), not a tag
//! on every scenario: helpers and vendors add scenarios without touching it, and a test asserts
//! that every scenario under `features/` maps to at least one feature.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cucumber::gherkin::{self, GherkinEnv};

/// Always claimed: what every target must pass.
pub const CORE: &str = "core";

/// The vocabulary of a target file's `features:` (name, one-line meaning).
pub const FEATURES: &[(&str, &str)] = &[
    (
        CORE,
        "the gateway itself: MCP over Streamable HTTP, tool aggregation, outgoingAuth defaults, bad input (always claimed)",
    ),
    (
        "embedded-auth-server",
        "the embedded OAuth authorization server: discovery, authorize, token, PKCE, refresh, issued JWTs, keys, lifespans",
    ),
    ("multi-upstream", "several upstreamProviders chained in one login, in the configured order"),
    ("upstream-inject", "outgoing upstreamInject: a stored upstream token forwarded to a backend"),
    ("token-exchange", "outgoing tokenExchange (RFC 8693) of a stored upstream token or the vMCP JWT"),
    ("xaa", "outgoing cross-application access: ID-JAG at the IdP, then RFC 7523 at the target authorization server"),
    ("aws-sts", "outgoing awsSts: AWS STS credentials for a backend"),
    ("header-injection", "outgoing headerInjection: a static header from a Secret"),
    ("outgoing-discovery", "outgoingAuth.source discovered: each backend's own externalAuthConfigRef is used"),
    ("mcp-server-entry", "MCPServerEntry: a remote MCP endpoint as a backend"),
    ("skip-token-injection", "disableUpstreamTokenInjection: clients log in, backends get no upstream token"),
    ("cimd", "Client ID Metadata Documents: URL client IDs without registration"),
    ("dcr", "dynamic client registration (RFC 7591) of MCP clients at the embedded server, with baselineClientScopes"),
    ("upstream-dcr", "the embedded server registers itself with an upstream provider (dcrConfig)"),
    (
        "token-response-mapping",
        "tokenResponseMapping and identityFromToken for providers with non-standard token responses",
    ),
    ("redis-sentinel", "Redis Sentinel session storage for the embedded server (the harness starts containers)"),
    (
        "oidc-incoming",
        "incoming OIDC auth through an MCPOIDCConfig: JWKS, audience, introspection, service-account tokens",
    ),
    ("anonymous-incoming", "incoming auth type anonymous: no token needed"),
    ("passthrough-headers", "passthroughHeaders: listed client headers forwarded to backends"),
    ("kubernetes-conditions", "configuration errors reported as status conditions on the Kubernetes resources"),
    ("cli-config", "the non-Kubernetes configuration (vmcp.yaml plus authserver-config.yaml) of `thv vmcp serve`"),
];

/// What a rule looks at.
#[derive(Debug, Clone, Copy)]
pub enum Select {
    /// The feature file's path under `features/` starts with this (a folder or one file).
    Path(&'static str),
    /// A feature, rule or scenario tag (without `@`) is exactly this.
    Tag(&'static str),
    /// A tag starts with this (`claim-Q`).
    TagPrefix(&'static str),
    /// A step (background steps included) contains one of `any` and none of `unless`.
    Step { any: &'static [&'static str], unless: &'static [&'static str] },
}

/// One row of the mapping: scenarios `select` picks exercise `features`.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub select: Select,
    pub features: &'static [&'static str],
}

const fn rule(select: Select, features: &'static [&'static str]) -> Rule {
    Rule { select, features }
}

/// A scenario exercises the union of the features of every rule that selects it.
pub const RULES: &[Rule] = &[
    // Folders: the page a scenario comes from.
    rule(Select::Path("embedded-auth-server-vmcp/"), &["embedded-auth-server"]),
    rule(Select::Path("redis-session-storage/"), &["embedded-auth-server", "redis-sentinel"]),
    rule(Select::Path("backend-auth/"), &[CORE]),
    rule(Select::Path("vmcp-authentication/"), &[CORE]),
    // Files that are about one feature.
    rule(Select::Path("embedded-auth-server-vmcp/cimd.feature"), &["cimd"]),
    rule(Select::Path("embedded-auth-server-vmcp/upstream-dcr.feature"), &["upstream-dcr"]),
    rule(Select::Path("embedded-auth-server-vmcp/provider-responses.feature"), &["token-response-mapping"]),
    rule(Select::Path("embedded-auth-server-vmcp/skip-token-injection.feature"), &["skip-token-injection"]),
    rule(Select::Path("vmcp-authentication/oidc.feature"), &["oidc-incoming"]),
    // The documented embedded-server example deployed as the starting point.
    rule(
        Select::Step { any: &["from \"guides-vmcp/embedded-auth-server-vmcp.mdx\""], unless: &[] },
        &["embedded-auth-server"],
    ),
    // The harness's logins register their client (RFC 7591) unless they use a CIMD document.
    rule(
        Select::Step {
            any: &[
                "registered",
                "registers",
                "starts a login",
                "completes a login",
                "attempts a login",
                "tries to log in",
                "SDK client logs in",
            ],
            unless: &["client ID metadata document"],
        },
        &["dcr"],
    ),
    rule(Select::Step { any: &["the VirtualMCPServer reports "], unless: &[] }, &["kubernetes-conditions"]),
    // Tags: the claims and flows a scenario is about.
    rule(Select::TagPrefix("claim-M"), &["multi-upstream"]),
    rule(Select::Tag("claim-O15"), &["upstream-inject"]),
    rule(Select::Tag("claim-O16"), &["upstream-inject"]),
    rule(Select::Tag("claim-O17"), &["upstream-inject", "mcp-server-entry"]),
    rule(Select::Tag("remote-entry"), &["mcp-server-entry"]),
    rule(Select::Tag("token-exchange"), &["token-exchange"]),
    rule(Select::Tag("claim-T4"), &["token-exchange"]),
    rule(Select::Tag("xaa"), &["xaa"]),
    rule(Select::Tag("aws-sts"), &["aws-sts"]),
    rule(Select::Tag("header-injection"), &["header-injection"]),
    rule(Select::Tag("claim-O6"), &["header-injection"]),
    rule(Select::Tag("claim-O7"), &["header-injection"]),
    rule(Select::Tag("claim-O1"), &["outgoing-discovery"]),
    rule(Select::Tag("claim-O5"), &["outgoing-discovery"]),
    rule(Select::Tag("claim-O9"), &["outgoing-discovery"]),
    rule(Select::Tag("external-idp"), &["oidc-incoming"]),
    rule(Select::Tag("anonymous"), &["anonymous-incoming"]),
    rule(Select::Tag("claim-J3"), &["anonymous-incoming"]),
    rule(Select::Tag("passthrough"), &["passthrough-headers"]),
    rule(Select::Tag("rfc7591"), &["dcr"]),
    rule(Select::Tag("claim-R1"), &["dcr"]),
    rule(Select::Tag("as-baseline"), &["dcr"]),
    rule(Select::Tag("as-baseline-unsupported"), &["dcr"]),
    rule(Select::Tag("redis-replicas"), &["redis-sentinel"]),
    rule(Select::TagPrefix("claim-S"), &["redis-sentinel"]),
    rule(Select::TagPrefix("claim-D"), &["upstream-dcr"]),
    rule(Select::TagPrefix("claim-Q"), &["cli-config"]),
    rule(Select::TagPrefix("claim-E"), &["kubernetes-conditions"]),
];

/// Whether `name` is in [`FEATURES`].
pub fn is_known(name: &str) -> bool {
    FEATURES.iter().any(|(n, _)| *n == name)
}

/// The feature names, for error messages.
pub fn known_names() -> String {
    FEATURES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// What the mapping needs to know about a scenario.
#[derive(Debug, Clone, Copy)]
pub struct ScenarioView<'a> {
    /// Path under `features/` (`backend-auth/xaa.feature`).
    pub feature_path: &'a str,
    /// Feature, rule and scenario tags without `@`.
    pub tags: &'a [String],
    /// Background and scenario step texts.
    pub steps: &'a [String],
}

/// The features a scenario exercises (possibly only [`CORE`]; empty when no rule selects it).
pub fn exercised(scenario: ScenarioView<'_>) -> BTreeSet<&'static str> {
    let mut out = BTreeSet::new();
    for rule in RULES {
        let hit = match rule.select {
            Select::Path(prefix) => scenario.feature_path.starts_with(prefix),
            Select::Tag(tag) => scenario.tags.iter().any(|t| t == tag),
            Select::TagPrefix(prefix) => scenario.tags.iter().any(|t| t.starts_with(prefix)),
            Select::Step { any, unless } => scenario
                .steps
                .iter()
                .any(|s| any.iter().any(|a| s.contains(a)) && !unless.iter().any(|u| s.contains(u))),
        };
        if hit {
            out.extend(rule.features.iter().copied());
        }
    }
    out
}

/// Features of `exercised` that the claim set lacks (`claimed == None`: everything is claimed).
pub fn unclaimed<'a>(exercised: &BTreeSet<&'a str>, claimed: Option<&BTreeSet<String>>) -> Vec<&'a str> {
    let Some(claimed) = claimed else { return Vec::new() };
    exercised.iter().copied().filter(|f| *f != CORE && !claimed.contains(*f)).collect()
}

/// One scenario of the suite as written (outlines once, by their template name).
#[derive(Debug, Clone)]
pub struct ScenarioInfo {
    pub feature_path: String,
    pub feature_name: String,
    pub name: String,
    pub line: usize,
    pub tags: Vec<String>,
    pub steps: Vec<String>,
    /// Scenario Outline: its name may hold `<placeholders>`.
    pub outline: bool,
}

impl ScenarioInfo {
    /// `ScenarioResult::key()`: `<feature path>: <scenario name>`.
    pub fn key(&self) -> String {
        format!("{}: {}", self.feature_path, self.name)
    }

    pub fn view(&self) -> ScenarioView<'_> {
        ScenarioView { feature_path: &self.feature_path, tags: &self.tags, steps: &self.steps }
    }

    /// Whether a baseline key names this scenario (an outline's placeholders match anything).
    pub fn matches_key(&self, key: &str) -> bool {
        if key == self.key() {
            return true;
        }
        if !self.outline || !self.name.contains('<') {
            return false;
        }
        let mut pattern = format!("^{}: ", regex::escape(&self.feature_path));
        for (i, part) in self.name.split('<').enumerate() {
            let literal = if i == 0 { part } else { part.split_once('>').map(|(_, rest)| rest).unwrap_or(part) };
            if i > 0 {
                pattern.push_str(".+");
            }
            pattern.push_str(&regex::escape(literal));
        }
        pattern.push('$');
        regex::Regex::new(&pattern).is_ok_and(|re| re.is_match(key))
    }
}

/// Every scenario under `root` (`features/`), in path order.
pub fn catalogue(root: &Path) -> Result<Vec<ScenarioInfo>, String> {
    let mut files = Vec::new();
    collect_feature_files(root, &mut files)?;
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let feature = gherkin::Feature::parse_path(&file, GherkinEnv::default())
            .map_err(|e| format!("{}: {e}", file.display()))?;
        let feature_path = file.strip_prefix(root).unwrap_or(&file).display().to_string();
        let background = |b: Option<&gherkin::Background>| -> Vec<String> {
            b.map(|b| b.steps.iter().map(|s| s.value.clone()).collect()).unwrap_or_default()
        };
        let mut add = |scenario: &gherkin::Scenario, rule: Option<&gherkin::Rule>| {
            let tags = feature.tags.iter().chain(rule.iter().flat_map(|r| &r.tags)).chain(&scenario.tags).cloned();
            let mut steps = background(feature.background.as_ref());
            steps.extend(background(rule.and_then(|r| r.background.as_ref())));
            steps.extend(scenario.steps.iter().map(|s| s.value.clone()));
            out.push(ScenarioInfo {
                feature_path: feature_path.clone(),
                feature_name: feature.name.clone(),
                name: scenario.name.clone(),
                line: scenario.position.line,
                tags: tags.collect(),
                steps,
                outline: !scenario.examples.is_empty(),
            });
        };
        for scenario in &feature.scenarios {
            add(scenario, None);
        }
        for rule in &feature.rules {
            for scenario in &rule.scenarios {
                add(scenario, Some(rule));
            }
        }
    }
    Ok(out)
}

fn collect_feature_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.is_dir() {
            collect_feature_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "feature") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("features")
    }

    #[test]
    fn every_rule_names_known_features() {
        for rule in RULES {
            for f in rule.features {
                assert!(is_known(f), "RULES names the unknown feature {f:?} ({:?})", rule.select);
            }
        }
        let names: BTreeSet<_> = FEATURES.iter().map(|(n, _)| n).collect();
        assert_eq!(names.len(), FEATURES.len(), "FEATURES lists a name twice");
    }

    /// New scenarios cannot fall through: each must be selected by a rule of [`RULES`].
    #[test]
    fn every_scenario_under_features_maps_to_a_feature() {
        let scenarios = catalogue(&features_root()).expect("features/ parses");
        assert!(scenarios.len() > 50, "only {} scenarios found under features/", scenarios.len());
        let unmapped: Vec<String> =
            scenarios.iter().filter(|s| exercised(s.view()).is_empty()).map(ScenarioInfo::key).collect();
        assert!(
            unmapped.is_empty(),
            "scenarios no rule of src/vendor/features.rs RULES maps to a feature (add a path, tag or step rule):\n  {}",
            unmapped.join("\n  ")
        );
    }

    #[test]
    fn the_mapping_follows_paths_tags_and_steps() {
        let scenarios = catalogue(&features_root()).expect("features/ parses");
        let find = |path: &str, name_part: &str| {
            let s = scenarios
                .iter()
                .find(|s| s.feature_path == path && s.name.contains(name_part))
                .unwrap_or_else(|| panic!("no scenario {path}: …{name_part}…"));
            exercised(s.view())
        };
        let complete = find("embedded-auth-server-vmcp/complete-example.feature", "logs in through GitHub then Google");
        for f in ["embedded-auth-server", "multi-upstream", "upstream-inject", "dcr"] {
            assert!(complete.contains(f), "complete example lacks {f}: {complete:?}");
        }
        let cimd = find("embedded-auth-server-vmcp/cimd.feature", "client_id is not its own URL");
        assert!(cimd.contains("cimd") && !cimd.contains("dcr"), "{cimd:?}");
        // This one also logs in with a registered client, as the docs say CIMD keeps DCR open.
        let both = find("embedded-auth-server-vmcp/cimd.feature", "fetched once");
        assert!(both.contains("cimd") && both.contains("dcr"), "{both:?}");
        let xaa = find("backend-auth/xaa.feature", "Step A");
        assert!(xaa.contains("xaa") && xaa.contains("embedded-auth-server"), "{xaa:?}");
        let http_issuer = find("embedded-auth-server-vmcp/authorization-server.feature", "http issuer");
        assert!(http_issuer.contains("kubernetes-conditions"), "{http_issuer:?}");
        let anonymous = find("vmcp-authentication/anonymous.feature", "without any token");
        assert!(anonymous.contains("anonymous-incoming"), "{anonymous:?}");
    }

    #[test]
    fn unclaimed_ignores_core_and_lists_the_rest() {
        let ex: BTreeSet<&str> = [CORE, "xaa", "embedded-auth-server"].into_iter().collect();
        let claimed: BTreeSet<String> = ["embedded-auth-server".to_string()].into_iter().collect();
        assert_eq!(unclaimed(&ex, Some(&claimed)), vec!["xaa"]);
        assert!(unclaimed(&ex, None).is_empty());
        let only_core: BTreeSet<&str> = [CORE].into_iter().collect();
        assert!(unclaimed(&only_core, Some(&BTreeSet::new())).is_empty());
    }

    #[test]
    fn outline_keys_match_their_examples() {
        let s = ScenarioInfo {
            feature_path: "a/b.feature".into(),
            feature_name: "B".into(),
            name: "Header <header> is refused".into(),
            line: 1,
            tags: vec![],
            steps: vec![],
            outline: true,
        };
        assert!(s.matches_key("a/b.feature: Header <header> is refused"));
        assert!(s.matches_key("a/b.feature: Header Host is refused"));
        assert!(!s.matches_key("a/b.feature: Header Host is accepted"));
    }
}
