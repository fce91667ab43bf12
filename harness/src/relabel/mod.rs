//! Relabeling as Prometheus 2.42 does it (`model/relabel`): a [`RelabelConfig`] is one
//! `relabel_configs` or `metric_relabel_configs` rule of prometheus.yml, validated as
//! Prometheus validates it and compiled once; [`process`] applies a list of rules to a
//! label set, keeping, changing or dropping it.
//!
//! ```
//! use promsdk::LabelSet;
//! use promsdk_harness::relabel::{process, RelabelConfig};
//!
//! let rules: Vec<RelabelConfig> = serde_norway::from_str(r#"
//! - source_labels: [__meta_port]
//!   regex: '9\d+'
//!   action: keep
//! - source_labels: [__address__, __meta_port]
//!   regex: '(.+):\d+;(\d+)'
//!   replacement: '${1}:$2'
//!   target_label: __address__
//! "#).unwrap();
//! let target = LabelSet::from_vec("", vec![
//!     promsdk::labels::LabelPair::new("__address__", "127.0.10.1:80"),
//!     promsdk::labels::LabelPair::new("__meta_port", "9100"),
//! ]).unwrap();
//! let out = process(&target, &rules).expect("kept");
//! assert_eq!(out.get("__address__"), Some("127.0.10.1:9100"));
//!
//! let err = serde_norway::from_str::<Vec<RelabelConfig>>("- action: hashmod\n  target_label: t\n").unwrap_err();
//! assert!(err.to_string().contains("requires non-zero modulus"), "{err}");
//! ```
//!
//! Defaults are Prometheus's: `separator: ;`, `regex: (.*)`, `replacement: $1`,
//! `action: replace`. A key written with no value (YAML null) takes Go's zero value,
//! as in Prometheus: an empty separator, regex or replacement.

mod process;
mod regex;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use promsdk::labels::is_valid_label_name;

pub use self::process::process;
use self::regex::Template;
pub use self::regex::{GoRegex, RegexError};

/// What a relabeling rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Writes the expanded `replacement` to the (expanded) `target_label` when `regex`
    /// matches the joined source values; an empty result deletes the target label.
    Replace,
    /// Drops the label set unless `regex` matches the joined source values.
    Keep,
    /// Drops the label set when `regex` matches the joined source values.
    Drop,
    /// Drops the label set unless the joined source values equal `target_label`'s value.
    KeepEqual,
    /// Drops the label set when the joined source values equal `target_label`'s value.
    DropEqual,
    /// Sets `target_label` to the MD5 of the joined source values modulo `modulus`.
    HashMod,
    /// Copies each label whose name matches `regex` to the name `replacement` expands to.
    LabelMap,
    /// Deletes every label whose name matches `regex`.
    LabelDrop,
    /// Deletes every label whose name does not match `regex`.
    LabelKeep,
    /// Sets `target_label` to the joined source values in lower case.
    Lowercase,
    /// Sets `target_label` to the joined source values in upper case.
    Uppercase,
}

impl Action {
    const ALL: [Action; 11] = [
        Action::Replace,
        Action::Keep,
        Action::Drop,
        Action::KeepEqual,
        Action::DropEqual,
        Action::HashMod,
        Action::LabelMap,
        Action::LabelDrop,
        Action::LabelKeep,
        Action::Lowercase,
        Action::Uppercase,
    ];

    /// The name as prometheus.yml writes it (`replace`, `hashmod`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }

    /// Whether the action writes `target_label` (and so requires it).
    fn writes_target(self) -> bool {
        matches!(
            self,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        )
    }
}

impl FromStr for Action {
    type Err = RelabelError;

    /// Parses an action name, ignoring case as Prometheus does.
    fn from_str(s: &str) -> Result<Self, RelabelError> {
        let lower = s.to_lowercase();
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == lower)
            .ok_or_else(|| RelabelError::UnknownAction(s.to_owned()))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a relabeling rule is invalid; the messages are Prometheus 2.42's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RelabelError {
    /// `action` names no action.
    #[error("unknown relabel action {0:?}")]
    UnknownAction(String),
    /// `action` is written with no value.
    #[error("relabel action cannot be empty")]
    EmptyAction,
    /// `regex` does not compile.
    #[error(transparent)]
    Regex(#[from] RegexError),
    /// A `source_labels` entry is not a label name.
    #[error("{0:?} is not a valid label name")]
    SourceLabel(String),
    /// `hashmod` without a `modulus` (or with 0).
    #[error("relabel configuration for hashmod requires non-zero modulus")]
    ZeroModulus,
    /// An action that writes `target_label` has none.
    #[error("relabel configuration for {0} action requires 'target_label' value")]
    MissingTargetLabel(Action),
    /// `target_label` is not a label name (nor, for the actions that expand it, a
    /// name with `$` references).
    #[error("{label:?} is invalid 'target_label' for {action} action")]
    InvalidTargetLabel {
        /// The target label as written.
        label: String,
        /// The action.
        action: Action,
    },
    /// `replacement` set for an action that takes none.
    #[error("'replacement' can not be set for {0} action")]
    ReplacementSet(Action),
    /// A `labelmap` replacement that cannot expand to a label name.
    #[error("{replacement:?} is invalid 'replacement' for {action} action")]
    InvalidReplacement {
        /// The replacement as written.
        replacement: String,
        /// The action.
        action: Action,
    },
    /// `keepequal`/`dropequal` with fields other than `source_labels` and
    /// `target_label`.
    #[error("{0} action requires only 'source_labels' and `target_label`, and no other fields")]
    EqualExtraFields(Action),
    /// `labeldrop`/`labelkeep` with fields other than `regex`.
    #[error("{0} action requires only 'regex', and no other fields")]
    LabelExtraFields(Action),
}

/// One relabeling rule, validated and with its regex and templates compiled.
/// Built by deserializing prometheus.yml (see the [module doc](self)); two rules are
/// equal when they are written alike.
#[derive(Clone)]
pub struct RelabelConfig {
    source_labels: Vec<String>,
    separator: String,
    regex: GoRegex,
    modulus: u64,
    target_label: String,
    replacement: String,
    action: Action,
    /// `target_label` as a template (`replace` expands it).
    target: Template,
    /// `replacement` as a template.
    replacement_t: Template,
}

impl RelabelConfig {
    /// The action.
    pub fn action(&self) -> Action {
        self.action
    }

    /// The labels whose values are joined.
    pub fn source_labels(&self) -> &[String] {
        &self.source_labels
    }

    /// What the source values are joined with.
    pub fn separator(&self) -> &str {
        &self.separator
    }

    /// The anchored regex.
    pub fn regex(&self) -> &GoRegex {
        &self.regex
    }

    /// The `hashmod` modulus (0 when unset).
    pub fn modulus(&self) -> u64 {
        self.modulus
    }

    /// The target label as written.
    pub fn target_label(&self) -> &str {
        &self.target_label
    }

    /// The replacement as written.
    pub fn replacement(&self) -> &str {
        &self.replacement
    }
}

impl PartialEq for RelabelConfig {
    fn eq(&self, other: &Self) -> bool {
        self.source_labels == other.source_labels
            && self.separator == other.separator
            && self.regex == other.regex
            && self.modulus == other.modulus
            && self.target_label == other.target_label
            && self.replacement == other.replacement
            && self.action == other.action
    }
}

impl fmt::Debug for RelabelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelabelConfig")
            .field("source_labels", &self.source_labels)
            .field("separator", &self.separator)
            .field("regex", &self.regex.as_str())
            .field("modulus", &self.modulus)
            .field("target_label", &self.target_label)
            .field("replacement", &self.replacement)
            .field("action", &self.action)
            .finish()
    }
}

/// A rule as written. A key that is absent is `None`; one written with no value is
/// `Some(None)` (Go's zero value).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelabelConfig {
    source_labels: Option<Vec<SourceLabel>>,
    #[serde(default, deserialize_with = "present")]
    separator: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    regex: Option<Option<GoRegex>>,
    #[serde(default, deserialize_with = "present")]
    modulus: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    target_label: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    replacement: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    action: Option<Option<Action>>,
}

/// A key that is present, its value possibly null.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A `source_labels` entry, checked as a label name where it is written.
struct SourceLabel(String);

impl<'de> Deserialize<'de> for SourceLabel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        if !is_valid_label_name(&name) {
            return Err(serde::de::Error::custom(RelabelError::SourceLabel(name)));
        }
        Ok(SourceLabel(name))
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for GoRegex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        GoRegex::new(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for RelabelConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawRelabelConfig::deserialize(d)?;
        RelabelConfig::validate(raw).map_err(serde::de::Error::custom)
    }
}

const DEFAULT_SEPARATOR: &str = ";";
const DEFAULT_REGEX: &str = "(.*)";
const DEFAULT_REPLACEMENT: &str = "$1";

/// Whether `s` is a label name with `$` references: Prometheus's `relabelTarget`,
/// `^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$` with Go's ASCII `\w`.
fn is_valid_target_template(s: &str) -> bool {
    static RE: std::sync::LazyLock<::regex::Regex> = std::sync::LazyLock::new(|| {
        ::regex::Regex::new(
            r"^(?:(?:[a-zA-Z_]|\$(?:\{[0-9A-Za-z_]+\}|[0-9A-Za-z_]+))+[0-9A-Za-z_]*)+$",
        )
        .unwrap_or_else(|e| unreachable!("constant regex: {e}"))
    });
    RE.is_match(s)
}

impl RelabelConfig {
    /// Fills in the defaults and checks the rule as Prometheus's
    /// `relabel.Config.UnmarshalYAML` does, in the same order.
    fn validate(raw: RawRelabelConfig) -> Result<Self, RelabelError> {
        let regex_written = raw.regex.is_some();
        let regex = match raw.regex {
            None => GoRegex::new(DEFAULT_REGEX)?,
            Some(None) => GoRegex::new("")?,
            Some(Some(re)) => re,
        };
        let action = match raw.action {
            None => Action::Replace,
            Some(None) => return Err(RelabelError::EmptyAction),
            Some(Some(a)) => a,
        };
        let or_default = |v: Option<Option<String>>, default: &str| {
            v.map_or(default.to_owned(), Option::unwrap_or_default)
        };
        let separator = or_default(raw.separator, DEFAULT_SEPARATOR);
        let target_label = or_default(raw.target_label, "");
        let replacement = or_default(raw.replacement, DEFAULT_REPLACEMENT);
        let modulus = raw.modulus.flatten().unwrap_or(0);
        let source_labels_written = raw.source_labels.is_some();
        let source_labels: Vec<String> = raw
            .source_labels
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.0)
            .collect();

        use Action::*;
        if modulus == 0 && action == HashMod {
            return Err(RelabelError::ZeroModulus);
        }
        if action.writes_target() && target_label.is_empty() {
            return Err(RelabelError::MissingTargetLabel(action));
        }
        let invalid_target = || RelabelError::InvalidTargetLabel {
            label: target_label.clone(),
            action,
        };
        if matches!(
            action,
            Replace | Lowercase | Uppercase | KeepEqual | DropEqual
        ) && !is_valid_target_template(&target_label)
        {
            return Err(invalid_target());
        }
        if matches!(action, Lowercase | Uppercase | KeepEqual | DropEqual)
            && replacement != DEFAULT_REPLACEMENT
        {
            return Err(RelabelError::ReplacementSet(action));
        }
        if action == LabelMap && !is_valid_target_template(&replacement) {
            return Err(RelabelError::InvalidReplacement {
                replacement,
                action,
            });
        }
        if action == HashMod && !is_valid_label_name(&target_label) {
            return Err(invalid_target());
        }
        // Prometheus compares the regex with the default one by identity, so any
        // regex written counts as set.
        if matches!(action, KeepEqual | DropEqual)
            && (regex_written
                || modulus != 0
                || separator != DEFAULT_SEPARATOR
                || replacement != DEFAULT_REPLACEMENT)
        {
            return Err(RelabelError::EqualExtraFields(action));
        }
        if matches!(action, LabelDrop | LabelKeep)
            && (source_labels_written
                || !target_label.is_empty()
                || modulus != 0
                || separator != DEFAULT_SEPARATOR
                || replacement != DEFAULT_REPLACEMENT)
        {
            return Err(RelabelError::LabelExtraFields(action));
        }
        Ok(RelabelConfig {
            target: Template::new(&target_label, &regex),
            replacement_t: Template::new(&replacement, &regex),
            source_labels,
            separator,
            regex,
            modulus,
            target_label,
            replacement,
            action,
        })
    }
}

#[cfg(test)]
mod tests;
