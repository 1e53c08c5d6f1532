//! `vmcp-conformance run --target-file vendor.yaml`: who the implementation is, how to reach it,
//! the features it claims, and its baseline. Strict: an unknown field or feature is an error
//! naming the field and the valid values.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::baseline::Baseline;
use super::features;
use crate::report::Implementation;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetFile {
    pub implementation: ImplementationSpec,
    pub target: TargetSpec,
    /// Feature names from `vendor::features::FEATURES` (`core` is always claimed).
    pub features: Vec<String>,
    /// Expected failures (and quarantine), relative to the target file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<PathBuf>,
    /// A separate quarantine file in the baseline format, relative to the target file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImplementationSpec {
    pub name: String,
    pub version: String,
    /// One contact or a list (e-mail, GitHub handle, URL).
    #[serde(default)]
    pub contact: Contacts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Contacts {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

/// How the harness reaches the implementation; the fields of the other kinds stay unset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub kind: TargetKindName,
    /// command: the template started per scenario (`thv vmcp serve --config {config} --host {host} --port {port}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// url / kubernetes: where the running implementation answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// url / kubernetes: the address the harness serves its mocks on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mocks_listen: Option<String>,
    /// kubernetes: the namespace scenarios are applied into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// kubernetes: the kubeconfig file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKindName {
    Reference,
    Command,
    Url,
    Kubernetes,
}

impl TargetKindName {
    /// The `--target` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reference => "reference",
            Self::Command => "command",
            Self::Url => "url",
            Self::Kubernetes => "kubernetes",
        }
    }
}

impl TargetFile {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut file = Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        // Relative paths are relative to the target file, as a vendor writes them.
        let dir = path.parent().unwrap_or(Path::new("."));
        for p in [&mut file.baseline, &mut file.quarantine].into_iter().flatten() {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        }
        Ok(file)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let value: serde_json::Value = serde_saphyr::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
        let file: Self = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            if path == "." { e.inner().to_string() } else { format!("{path}: {}", e.inner()) }
        })?;
        for (i, f) in file.features.iter().enumerate() {
            if !features::is_known(f) {
                return Err(format!("features[{i}]: unknown feature {f:?}; valid: {}", features::known_names()));
            }
        }
        let t = &file.target;
        let needs = |field: &str, value: &Option<String>| match value {
            Some(v) if !v.trim().is_empty() => Ok(()),
            _ => Err(format!("target.{field}: required for target kind {}", t.kind.as_str())),
        };
        match t.kind {
            TargetKindName::Command => needs("command", &t.command)?,
            TargetKindName::Url | TargetKindName::Kubernetes => needs("url", &t.url)?,
            TargetKindName::Reference => {}
        }
        if file.implementation.name.trim().is_empty() {
            return Err("implementation.name: empty".into());
        }
        Ok(file)
    }

    /// The report's [`Implementation`].
    pub fn implementation(&self) -> Implementation {
        let i = &self.implementation;
        Implementation {
            name: i.name.clone(),
            version: i.version.clone(),
            contact: match &i.contact {
                Contacts::None => Vec::new(),
                Contacts::One(c) => vec![c.clone()],
                Contacts::Many(c) => c.clone(),
            },
            url: i.url.clone(),
        }
    }

    /// The claimed features, `core` included.
    pub fn claimed(&self) -> BTreeSet<String> {
        self.features.iter().cloned().chain([features::CORE.to_string()]).collect()
    }

    /// The baseline and quarantine files merged (empty when the file names none).
    pub fn load_baseline(&self) -> Result<Baseline, String> {
        let mut out = Baseline::default();
        for p in [&self.baseline, &self.quarantine].into_iter().flatten() {
            out.merge(Baseline::load(p)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "implementation: {name: X, version: '1'}\ntarget: {kind: reference}\nfeatures: [xaa]\n";

    #[test]
    fn a_minimal_file_parses_and_claims_core() {
        let f = TargetFile::parse(MINIMAL).unwrap();
        assert_eq!(f.claimed(), ["core", "xaa"].into_iter().map(String::from).collect());
        assert_eq!(f.implementation().contact, Vec::<String>::new());
    }

    #[test]
    fn unknown_fields_name_the_field_and_the_valid_ones() {
        let e = TargetFile::parse(&format!("{MINIMAL}colour: blue\n")).unwrap_err();
        assert!(e.contains("colour") && e.contains("features"), "{e}");
        let e = TargetFile::parse(
            "implementation: {name: X, version: '1', mail: a}\ntarget: {kind: reference}\nfeatures: []\n",
        )
        .unwrap_err();
        assert!(e.starts_with("implementation") && e.contains("mail") && e.contains("contact"), "{e}");
        let e = TargetFile::parse("implementation: {name: X, version: '1'}\ntarget: {kind: docker}\nfeatures: []\n")
            .unwrap_err();
        assert!(e.contains("target.kind") && e.contains("command") && e.contains("kubernetes"), "{e}");
    }

    #[test]
    fn unknown_features_list_the_vocabulary() {
        let e = TargetFile::parse(
            "implementation: {name: X, version: '1'}\ntarget: {kind: reference}\nfeatures: [xaa, sso]\n",
        )
        .unwrap_err();
        assert!(e.contains("features[1]") && e.contains("\"sso\"") && e.contains("token-exchange"), "{e}");
    }

    #[test]
    fn each_kind_needs_its_settings() {
        let e = TargetFile::parse("implementation: {name: X, version: '1'}\ntarget: {kind: command}\nfeatures: []\n")
            .unwrap_err();
        assert!(e.contains("target.command"), "{e}");
        let e = TargetFile::parse("implementation: {name: X, version: '1'}\ntarget: {kind: url}\nfeatures: []\n")
            .unwrap_err();
        assert!(e.contains("target.url"), "{e}");
    }

    /// The example the README shows loads, names real features and a baseline that parses.
    #[test]
    fn the_thv_example_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/target-thv.yaml");
        let f = TargetFile::load(&path).unwrap();
        assert_eq!(f.target.kind, TargetKindName::Command);
        assert!(f.target.command.as_deref().is_some_and(|c| c.contains("thv vmcp serve") && c.contains("{config}")));
        assert!(f.claimed().contains("embedded-auth-server"));
        let baseline = f.load_baseline().unwrap();
        let scenarios = features::catalogue(&Path::new(env!("CARGO_MANIFEST_DIR")).join("features")).unwrap();
        let problems = baseline.problems(&scenarios, super::super::baseline::Date::today());
        assert!(problems.is_empty(), "{problems:#?}");
    }
}
