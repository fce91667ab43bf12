//! [`TargetGroup`]: targets sharing labels, from one source, and the JSON and YAML
//! forms file_sd files and http_sd endpoints use:
//!
//! ```json
//! [{"targets": ["127.0.10.1:9100"], "labels": {"env": "dev"}}]
//! ```
//!
//! As Prometheus reads them: each target becomes `__address__`; `labels` and
//! `targets` may be missing or null; label names must be valid (a `__` prefix is
//! allowed); JSON ignores unknown keys, YAML rejects them.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use promsdk::labels::{is_valid_label_name, LabelPair, LabelSet};
use serde::Deserialize;

/// A set of targets with common labels, from one source of one provider.
///
/// ```
/// use promsdk_harness::discovery::TargetGroup;
/// let groups = TargetGroup::from_json(br#"[{"targets": ["127.0.10.1:9100"], "labels": {"env": "dev"}}]"#, "f.json").unwrap();
/// assert_eq!(groups[0].source, "f.json:0");
/// assert_eq!(groups[0].targets[0].get("__address__"), Some("127.0.10.1:9100"));
/// assert_eq!(groups[0].labels.get("env"), Some("dev"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetGroup {
    /// Identifies the group within its provider: a later group with the same source
    /// replaces it.
    pub source: String,
    /// One label set per target, each with at least `__address__`; shared, so a group
    /// handed from a provider through the discovery manager to the scrape pools is one
    /// list, and a pool sees an unchanged group as the same list.
    pub targets: Arc<[LabelSet]>,
    /// Labels of every target of the group (a target's own labels win).
    pub labels: LabelSet,
}

/// A group as written in a file or an http_sd answer.
#[derive(Deserialize)]
struct JsonGroup {
    #[serde(default)]
    targets: Option<Vec<Arc<str>>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// The same, rejecting unknown keys (YAML is read strictly, as Prometheus does).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlGroup {
    #[serde(default)]
    targets: Option<Vec<Arc<str>>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

impl TargetGroup {
    /// A group of targets at `addresses` (each a `__address__`), without labels.
    ///
    /// ```
    /// use promsdk_harness::discovery::TargetGroup;
    /// let g = TargetGroup::of("s", &["127.0.10.1:9100"]);
    /// assert_eq!(g.targets[0].get("__address__"), Some("127.0.10.1:9100"));
    /// ```
    pub fn of(source: &str, addresses: &[&str]) -> TargetGroup {
        TargetGroup {
            source: source.to_owned(),
            targets: addresses.iter().map(|&a| address(a.into())).collect(),
            labels: LabelSet::empty(),
        }
    }

    /// Reads a JSON list of groups; group `i` gets source `"{source}:{i}"`.
    pub fn from_json(body: &[u8], source: &str) -> Result<Vec<TargetGroup>, String> {
        let raw: Vec<Option<JsonGroup>> =
            serde_json::from_slice(body).map_err(|e| e.to_string())?;
        raw.into_iter()
            .enumerate()
            .map(|(i, g)| {
                let g = g.ok_or_else(|| format!("nil target group item found (index {i})"))?;
                Self::build(source, i, g.targets, g.labels)
            })
            .collect()
    }

    /// Reads a YAML list of groups; group `i` gets source `"{source}:{i}"`.
    pub fn from_yaml(body: &[u8], source: &str) -> Result<Vec<TargetGroup>, String> {
        let raw: Option<Vec<Option<YamlGroup>>> =
            serde_norway::from_slice(body).map_err(|e| e.to_string())?;
        raw.unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, g)| {
                let g = g.ok_or_else(|| format!("nil target group item found (index {i})"))?;
                Self::build(source, i, g.targets, g.labels)
            })
            .collect()
    }

    fn build(
        source: &str,
        index: usize,
        targets: Option<Vec<Arc<str>>>,
        labels: Option<BTreeMap<String, String>>,
    ) -> Result<TargetGroup, String> {
        Self::assemble(
            source,
            index,
            targets.unwrap_or_default().into_iter().map(address),
            labels.unwrap_or_default(),
        )
    }

    /// Group `index` of `source`, with its targets and its labels (names checked as
    /// Prometheus does).
    pub(crate) fn assemble<N: Into<Arc<str>> + AsRef<str>, V: Into<Arc<str>>>(
        source: &str,
        index: usize,
        targets: impl Iterator<Item = LabelSet>,
        labels: BTreeMap<N, V>,
    ) -> Result<TargetGroup, String> {
        let mut pairs = Vec::with_capacity(labels.len());
        for (name, value) in labels {
            if !is_valid_label_name(name.as_ref()) {
                return Err(format!("{:?} is not a valid label name", name.as_ref()));
            }
            pairs.push(LabelPair::new(name, value));
        }
        let labels = LabelSet::from_vec("", pairs).map_err(|e| e.to_string())?;
        Ok(TargetGroup {
            source: format!("{source}:{index}"),
            targets: targets.collect(),
            labels,
        })
    }

    /// This group with `name` set to `value` in its labels (replacing any value).
    pub fn with_label(mut self, name: &str, value: &str) -> TargetGroup {
        let mut pairs: Vec<LabelPair> = self
            .labels
            .pairs()
            .iter()
            .filter(|p| &*p.name != name)
            .cloned()
            .collect();
        pairs.push(LabelPair::new(name, value));
        self.labels = LabelSet::from_vec("", pairs).unwrap_or_default();
        self
    }

    /// A target's labels over its group's, unsorted (the text shared, not copied).
    pub fn merged_pairs(target: &LabelSet, group: &LabelSet) -> Vec<LabelPair> {
        let mut pairs: Vec<LabelPair> = target.pairs().to_vec();
        pairs.extend(
            group
                .pairs()
                .iter()
                .filter(|p| target.get(&p.name).is_none())
                .cloned(),
        );
        pairs
    }
}

/// The name `__address__`, shared by every target's label.
static ADDRESS_NAME: OnceLock<Arc<str>> = OnceLock::new();

/// The label set `{__address__="…"}`.
pub(crate) fn address(address: Arc<str>) -> LabelSet {
    let name = ADDRESS_NAME.get_or_init(|| "__address__".into());
    LabelSet::from_vec("", vec![LabelPair::new(Arc::clone(name), address)])
        .unwrap_or_else(|_| unreachable!("one label cannot repeat"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_yaml_read_as_prometheus() {
        let json = br#"[{"targets": ["127.0.10.1:9100", "127.0.10.2:9100"], "labels": {"env": "dev", "__meta_x": "y"}, "extra": 1},
                        {"labels": null}, {"targets": null}]"#;
        let groups = TargetGroup::from_json(json, "a.json").unwrap();
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[0].targets.len(), 2);
        assert_eq!(groups[0].labels.get("__meta_x"), Some("y"));
        assert_eq!(groups[2].source, "a.json:2");
        assert!(groups[1].targets.is_empty() && groups[2].labels.is_empty());

        let yaml = b"- targets: ['127.0.10.1:9100']\n  labels:\n    env: dev\n";
        let groups = TargetGroup::from_yaml(yaml, "a.yml").unwrap();
        assert_eq!(groups[0].labels.get("env"), Some("dev"));
        assert!(TargetGroup::from_yaml(b"", "e.yml").unwrap().is_empty());
    }

    #[test]
    fn bad_input_is_an_error_naming_the_problem() {
        let cases: &[(&str, &[u8], bool, &str)] = &[
            (
                "bad label name",
                br#"[{"labels": {"1x": "y"}}]"#,
                true,
                "\"1x\" is not a valid label name",
            ),
            (
                "targets not a list",
                br#"[{"targets": "127.0.10.1:9100"}]"#,
                true,
                "invalid type",
            ),
            (
                "null group",
                br#"[null]"#,
                true,
                "nil target group item found (index 0)",
            ),
            ("not a list", br#"{"targets": []}"#, true, "invalid type"),
            (
                "yaml unknown key",
                b"- targetz: []\n",
                false,
                "unknown field `targetz`",
            ),
            (
                "yaml wrong type",
                b"- targets: {a: b}\n",
                false,
                "invalid type",
            ),
        ];
        for (name, body, json, want) in cases {
            let err = if *json {
                TargetGroup::from_json(body, "f").unwrap_err()
            } else {
                TargetGroup::from_yaml(body, "f").unwrap_err()
            };
            assert!(err.contains(want), "{name}: {err}");
        }
    }

    #[test]
    fn target_labels_override_group_labels() {
        let g = TargetGroup {
            source: "s".into(),
            targets: [LabelSet::from_vec(
                "",
                vec![
                    LabelPair::new("__address__", "127.0.10.1:1"),
                    LabelPair::new("env", "t"),
                ],
            )
            .unwrap()]
            .into(),
            labels: LabelSet::from_pairs("", &[("env", "g"), ("dc", "x")]).unwrap(),
        };
        let t =
            LabelSet::from_vec("", TargetGroup::merged_pairs(&g.targets[0], &g.labels)).unwrap();
        assert_eq!(
            format!("{t:?}"),
            r#"{__address__="127.0.10.1:1", dc="x", env="t"}"#
        );
    }
}
