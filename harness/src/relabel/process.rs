//! [`process`]: applying rules to a label set, changing a copy only once a rule
//! changes something.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;

use promsdk::labels::{is_valid_label_name, LabelPair, LabelSet};

use super::regex::{Groups, Template};
use super::{Action, RelabelConfig};

/// Applies `configs` in order to `labels`, as Prometheus's `relabel.Process`: `None`
/// when a rule drops the label set, otherwise the resulting set. With no rules the
/// input is returned as is; otherwise labels with empty values are gone from the
/// result (an empty value is a missing label). A set no rule changes is returned
/// without being copied.
///
/// ```
/// use promsdk::LabelSet;
/// use promsdk_harness::relabel::{process, RelabelConfig};
/// let drop: Vec<RelabelConfig> =
///     serde_norway::from_str("- {source_labels: [__name__], regex: 'go_.*', action: drop}").unwrap();
/// let set = |name: &str| LabelSet::from_vec("", vec![promsdk::labels::LabelPair::new("__name__", name)]).unwrap();
/// assert_eq!(process(&set("go_goroutines"), &drop), None);
/// assert_eq!(process(&set("up"), &drop), Some(set("up")));
/// ```
pub fn process(labels: &LabelSet, configs: &[RelabelConfig]) -> Option<LabelSet> {
    if configs.is_empty() {
        return Some(labels.clone());
    }
    let mut work = Work::new(labels);
    let mut scratch = Scratch::default();
    for cfg in configs {
        if !cfg.apply(&mut work, &mut scratch) {
            return None;
        }
    }
    Some(work.finish())
}

/// Buffers reused across the rules of one [`process`] call.
#[derive(Default)]
struct Scratch {
    value: String,
    target: String,
    result: String,
}

impl RelabelConfig {
    /// Applies this rule; false when it drops the label set.
    fn apply(&self, work: &mut Work<'_>, s: &mut Scratch) -> bool {
        s.value.clear();
        for (i, name) in self.source_labels.iter().enumerate() {
            if i > 0 {
                s.value.push_str(&self.separator);
            }
            s.value.push_str(work.get(name));
        }
        let val = s.value.as_str();
        match self.action {
            Action::Drop => return !self.regex.is_match(val),
            Action::Keep => return self.regex.is_match(val),
            Action::DropEqual => return work.get(&self.target_label) != val,
            Action::KeepEqual => return work.get(&self.target_label) == val,
            Action::Replace => {
                let Some(groups) = self.regex.captures(val) else {
                    return true;
                };
                let target = expand(&self.target, &groups, &mut s.target);
                if !is_valid_label_name(target) {
                    work.set(&self.target_label, "");
                    return true;
                }
                let result = expand(&self.replacement_t, &groups, &mut s.result);
                if result.is_empty() {
                    work.set(&self.target_label, "");
                } else {
                    work.set(target, result);
                }
            }
            Action::Lowercase | Action::Uppercase => {
                go_case(val, self.action == Action::Uppercase, &mut s.result);
                work.set(&self.target_label, &s.result);
            }
            Action::HashMod => {
                let digest = md5::compute(val.as_bytes()).0;
                let mut low = [0u8; 8];
                low.copy_from_slice(&digest[8..]);
                let m = u64::from_be_bytes(low) % self.modulus;
                work.set(&self.target_label, &m.to_string());
            }
            Action::LabelMap => {
                let mut mapped: Vec<(String, Arc<str>)> = Vec::new();
                // Most names do not match: `is_match` tells without building the
                // groups (which allocates), so only the names that do pay for them.
                for pair in work.pairs().iter().filter(|p| self.regex.is_match(&p.name)) {
                    if let Some(groups) = self.regex.captures(&pair.name) {
                        s.result.clear();
                        self.replacement_t.expand_into(&groups, &mut s.result);
                        mapped.push((s.result.clone(), Arc::clone(&pair.value)));
                    }
                }
                for (name, value) in mapped {
                    work.set(&name, &value);
                }
            }
            Action::LabelDrop => work.retain(|name| !self.regex.is_match(name)),
            Action::LabelKeep => work.retain(|name| self.regex.is_match(name)),
        }
        true
    }
}

/// The expansion of `template` for `groups`, in `buf` unless it is a literal.
fn expand<'a>(template: &'a Template, groups: &Groups<'_>, buf: &'a mut String) -> &'a str {
    if let Some(literal) = template.literal() {
        return literal;
    }
    buf.clear();
    template.expand_into(groups, buf);
    buf
}

/// `s` in lower (or upper) case into `out`, as Go's `strings.ToLower`/`ToUpper`: one
/// character for one. Where Rust's mapping of a character is several characters
/// (`ß` → `SS`), Go's single-character mapping is kept by taking the one Rust gives
/// for lower case (`İ` → `i`) and leaving the character as it is for upper case.
fn go_case(s: &str, upper: bool, out: &mut String) {
    out.clear();
    if s.is_ascii() {
        out.push_str(s);
        if upper {
            out.make_ascii_uppercase();
        } else {
            out.make_ascii_lowercase();
        }
        return;
    }
    for c in s.chars() {
        let mapped = if upper {
            let mut it = c.to_uppercase();
            match (it.next(), it.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        } else {
            c.to_lowercase().next().unwrap_or(c)
        };
        out.push(mapped);
    }
}

/// How many label names [`interned`] keeps at most: names are few in practice, and a
/// rule making names out of data cannot grow the table past this.
const MAX_INTERNED: usize = 4096;

static NAMES: OnceLock<RwLock<HashSet<Arc<str>>>> = OnceLock::new();

/// `name` as a shared string: the names rules add (`target_label`, labelmap's) are
/// the same for every target or series they apply to, so each is allocated once.
fn interned(name: &str) -> Arc<str> {
    let names = NAMES.get_or_init(RwLock::default);
    if let Some(found) = names.read().get(name) {
        return Arc::clone(found);
    }
    let mut names = names.write();
    if let Some(found) = names.get(name) {
        return Arc::clone(found);
    }
    let name: Arc<str> = name.into();
    if names.len() < MAX_INTERNED {
        names.insert(Arc::clone(&name));
    }
    name
}

/// The label set a rule works on: the input until a rule changes it, then an owned
/// copy, sorted by name, without empty values.
struct Work<'a> {
    base: &'a LabelSet,
    owned: Option<Vec<LabelPair>>,
}

impl<'a> Work<'a> {
    fn new(base: &'a LabelSet) -> Self {
        let owned = base.pairs().iter().any(|p| p.value.is_empty()).then(|| {
            base.pairs()
                .iter()
                .filter(|p| !p.value.is_empty())
                .cloned()
                .collect()
        });
        Work { base, owned }
    }

    fn pairs(&self) -> &[LabelPair] {
        self.owned.as_deref().unwrap_or(self.base.pairs())
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.pairs().binary_search_by(|p| (*p.name).cmp(name))
    }

    /// The value of `name`, empty when absent.
    fn get(&self, name: &str) -> &str {
        self.find(name).map_or("", |i| &self.pairs()[i].value)
    }

    fn owned(&mut self) -> &mut Vec<LabelPair> {
        let base = self.base;
        self.owned.get_or_insert_with(|| base.pairs().to_vec())
    }

    /// Sets `name` to `value`; an empty value deletes the label.
    fn set(&mut self, name: &str, value: &str) {
        match (self.find(name), value.is_empty()) {
            (Ok(i), false) if *self.pairs()[i].value == *value => {}
            (Ok(i), false) => self.owned()[i].value = value.into(),
            (Ok(i), true) => {
                self.owned().remove(i);
            }
            (Err(i), false) => self
                .owned()
                .insert(i, LabelPair::new(interned(name), value)),
            (Err(_), true) => {}
        }
    }

    /// Keeps the labels whose names pass `keep`.
    fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        if self.pairs().iter().all(|p| keep(&p.name)) {
            return;
        }
        self.owned().retain(|p| keep(&p.name));
    }

    fn finish(self) -> LabelSet {
        match self.owned {
            None => self.base.clone(),
            // Cannot fail: the names are unique.
            Some(pairs) => LabelSet::from_vec("", pairs).unwrap_or_default(),
        }
    }
}
