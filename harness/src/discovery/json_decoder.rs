//! [`JsonDecoder`]: reads a polled source's JSON answer (an http_sd endpoint) as
//! [`TargetGroup::from_json`] does, remembering the previous answer so that what did
//! not change is shared instead of decoded again.
//!
//! A fleet's answer changes little between polls. The answer is read without copying
//! its strings; a group with the same addresses and labels as in the previous good
//! answer comes back as the previous group (its label sets shared, not rebuilt), and a
//! changed group reuses the label set of every target address it had before. Nothing
//! but the decoded groups is kept. Downstream this is what makes a small change cheap: a pool
//! sees an unchanged group's targets as the very same label sets and compares them by
//! address, and the previous answer's groups are not freed and rebuilt.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use promsdk::LabelSet;
use serde::Deserialize;

use super::target_group::address;
use super::TargetGroup;

/// A group as written in the answer, its strings borrowed from it where they need no
/// unescaping.
#[derive(Deserialize)]
struct BorrowedGroup<'a> {
    #[serde(default, borrow)]
    targets: Option<Vec<Cow<'a, str>>>,
    #[serde(default, borrow)]
    labels: Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
}

/// One group of the last good answer: its own labels as the answer gave them, and
/// the group it became.
struct Decoded {
    labels: LabelSet,
    group: TargetGroup,
}

/// Decodes successive answers of one source, group `i` getting source
/// `"{source}:{i}"`, each group passed through `finish` (http_sd adds `__meta_url`).
///
/// ```
/// use promsdk_harness::discovery::json_decoder::JsonDecoder;
/// let mut d = JsonDecoder::new("sd");
/// let first = d.decode(br#"[{"targets": ["127.0.10.1:9100"]}, {"targets": ["127.0.10.2:9100"]}]"#, |g| g).unwrap();
/// let second = d.decode(br#"[{"targets": ["127.0.10.1:9100"]}, {"targets": ["127.0.10.3:9100"]}]"#, |g| g).unwrap();
/// assert_eq!(second[0], first[0]);
/// assert_eq!(second[1].targets[0].get("__address__"), Some("127.0.10.3:9100"));
/// assert!(d.decode(b"[null]", |g| g).unwrap_err().contains("nil target group item found (index 0)"));
/// // A failed answer leaves the previous one remembered.
/// assert_eq!(d.decode(br#"[{"targets": ["127.0.10.1:9100"]}]"#, |g| g).unwrap()[0], first[0]);
/// ```
pub struct JsonDecoder {
    source: String,
    last: Vec<Decoded>,
}

impl std::fmt::Debug for JsonDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonDecoder")
            .field("source", &self.source)
            .field("groups", &self.last.len())
            .finish()
    }
}

impl JsonDecoder {
    /// A decoder for `source`'s answers, remembering nothing yet.
    pub fn new(source: impl Into<String>) -> Self {
        JsonDecoder {
            source: source.into(),
            last: Vec::new(),
        }
    }

    /// Reads a JSON list of groups, with the errors of [`TargetGroup::from_json`]. On
    /// success the answer is remembered for the next call; on error the previous one
    /// stays.
    pub fn decode(
        &mut self,
        body: &[u8],
        finish: impl Fn(TargetGroup) -> TargetGroup,
    ) -> Result<Vec<TargetGroup>, String> {
        let raw: Vec<Option<BorrowedGroup<'_>>> = match serde_json::from_slice(body) {
            Ok(raw) => raw,
            // Read again for the error, exactly as `from_json` reports it.
            Err(e) => {
                return Err(TargetGroup::from_json(body, &self.source)
                    .err()
                    .unwrap_or(e.to_string()))
            }
        };
        let mut decoded = Vec::with_capacity(raw.len());
        for (i, g) in raw.into_iter().enumerate() {
            let g = g.ok_or_else(|| format!("nil target group item found (index {i})"))?;
            let previous = self.last.get(i);
            let targets = g.targets.unwrap_or_default();
            let labels = g.labels.unwrap_or_default();
            let decoded_group = match previous {
                Some(p) if unchanged(p, &targets, &labels) => Decoded {
                    labels: p.labels.clone(),
                    group: p.group.clone(),
                },
                _ => {
                    let mut before = Reuse::new(
                        previous.map_or(&[][..], |p| &p.group.targets[..]),
                        targets.len(),
                    );
                    let targets = targets
                        .into_iter()
                        .enumerate()
                        .map(|(j, a)| before.get(j, &a).unwrap_or_else(|| address(a.into())));
                    let group = TargetGroup::assemble(&self.source, i, targets, labels)?;
                    Decoded {
                        labels: group.labels.clone(),
                        group: finish(group),
                    }
                }
            };
            decoded.push(decoded_group);
        }
        let groups = decoded.iter().map(|d| d.group.clone()).collect();
        self.last = decoded;
        Ok(groups)
    }
}

/// Whether a group of the answer is the group `previous` came from: the same
/// addresses in the same order and the same labels.
fn unchanged(
    previous: &Decoded,
    targets: &[Cow<'_, str>],
    labels: &BTreeMap<Cow<'_, str>, Cow<'_, str>>,
) -> bool {
    let before = &previous.group.targets;
    before.len() == targets.len()
        && before
            .iter()
            .zip(targets)
            .all(|(t, a)| only_address(t) == Some(a))
        && previous.labels.len() == labels.len()
        && previous
            .labels
            .pairs()
            .iter()
            .zip(labels)
            .all(|(p, (n, v))| *p.name == **n && *p.value == **v)
}

/// The previous targets of a group, found by address: at the same position (a target
/// list mostly keeps its order, and a replaced target is new anyway), or, when the
/// list grew or shrank and positions shifted, through an index built on first need.
/// A target not found is built anew, which costs an allocation, never correctness.
struct Reuse<'a> {
    targets: &'a [LabelSet],
    shifted: bool,
    by_address: Option<HashMap<&'a str, &'a LabelSet, foldhash::fast::RandomState>>,
}

impl<'a> Reuse<'a> {
    /// The previous `targets`, for a list of `len` targets.
    fn new(targets: &'a [LabelSet], len: usize) -> Self {
        Reuse {
            targets,
            shifted: targets.len() != len,
            by_address: None,
        }
    }

    /// The previous target that was exactly `{__address__="<address>"}`.
    fn get(&mut self, position: usize, address: &str) -> Option<LabelSet> {
        if let Some(t) = self
            .targets
            .get(position)
            .filter(|t| only_address(t) == Some(address))
        {
            return Some(t.clone());
        }
        if !self.shifted {
            return None;
        }
        let targets = self.targets;
        let index = self.by_address.get_or_insert_with(|| {
            targets
                .iter()
                .filter_map(|t| Some((only_address(t)?, t)))
                .collect()
        });
        index.get(address).map(|&t| t.clone())
    }
}

/// The address of a target that is `{__address__="…"}` and nothing else.
fn only_address(target: &LabelSet) -> Option<&str> {
    match target.pairs() {
        [p] if &*p.name == "__address__" => Some(&p.value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(addresses: &[&[&str]]) -> Vec<u8> {
        serde_json::to_vec(
            &addresses
                .iter()
                .enumerate()
                .map(
                    |(i, a)| serde_json::json!({"targets": a, "labels": {"rack": format!("r{i}")}}),
                )
                .collect::<Vec<_>>(),
        )
        .unwrap()
    }

    fn same(a: &LabelSet, b: &LabelSet) -> bool {
        // Equal and the same allocation: shared, not rebuilt.
        a == b && std::ptr::eq(a.pairs().as_ptr(), b.pairs().as_ptr())
    }

    #[test]
    fn decodes_as_from_json_and_shares_what_did_not_change() {
        let mut d = JsonDecoder::new("u");
        let body = answer(&[&["127.0.10.1:1", "127.0.10.2:1"], &["127.0.10.3:1"]]);
        let first = d
            .decode(&body, |g| g.with_label("__meta_url", "u"))
            .unwrap();
        let plain: Vec<TargetGroup> = TargetGroup::from_json(&body, "u")
            .unwrap()
            .into_iter()
            .map(|g| g.with_label("__meta_url", "u"))
            .collect();
        assert_eq!(first, plain);

        // Group 0 unchanged; group 1 gains a target in front and keeps the old one.
        let body = answer(&[
            &["127.0.10.1:1", "127.0.10.2:1"],
            &["127.0.10.9:1", "127.0.10.3:1"],
        ]);
        let second = d
            .decode(&body, |g| g.with_label("__meta_url", "u"))
            .unwrap();
        assert!(same(&second[0].labels, &first[0].labels));
        assert!(same(&second[0].targets[1], &first[0].targets[1]));
        assert!(
            same(&second[1].targets[1], &first[1].targets[0]),
            "moved target reused"
        );
        assert_eq!(
            second[1].targets[0].get("__address__"),
            Some("127.0.10.9:1")
        );
        assert_eq!(second[1].labels.get("__meta_url"), Some("u"));
        assert_eq!(second[1].source, "u:1");
    }

    #[test]
    fn errors_match_from_json_and_keep_the_last_answer() {
        let mut d = JsonDecoder::new("u");
        let good = answer(&[&["127.0.10.1:1"]]);
        let first = d.decode(&good, |g| g).unwrap();
        for bad in [
            &br#"[{"labels": {"1x": "y"}}]"#[..],
            br#"[{"targets": "127.0.10.1:9100"}]"#,
            br#"[null]"#,
            br#"{"targets": []}"#,
            b"[",
        ] {
            let want = TargetGroup::from_json(bad, "u").unwrap_err();
            assert_eq!(d.decode(bad, |g| g).unwrap_err(), want);
        }
        let again = d.decode(&good, |g| g).unwrap();
        assert!(same(&again[0].targets[0], &first[0].targets[0]));
    }

    #[test]
    fn escaped_strings_decode() {
        let mut d = JsonDecoder::new("u");
        let g = d
            .decode(
                br#"[{"targets": ["127.0.10.1:1"], "labels": {"a": "x\"y\u00e9"}}]"#,
                |g| g,
            )
            .unwrap();
        assert_eq!(g[0].labels.get("a"), Some("x\"y\u{e9}"));
    }
}
