//! The query list (`tests/data/promql_queries.txt`): one query per line; `#` starts
//! a comment line; `# group: NAME [FLAG]` starts a group of queries. Flags:
//! - `[error]`: every server must reject each query (only status and `errorType` are
//!   compared);
//! - `[empty]`: the reference must answer each query with an empty result;
//! - `[wall]`: the queries read the timestamp-less `diff_vanishing` series, so they
//!   are evaluated at the two wall-clock times around its disappearance instead of
//!   on the grid;
//! - `[optional: WORD]`: the harness may answer 400 `bad_data` with an error message
//!   naming the construct (containing WORD) instead of a result; any other answer
//!   must match.
//!
//! `${t:K}` in a query stands for the Unix time in seconds of grid step K.

/// How a group's queries are checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Evaluated on the grid; must succeed on Prometheus.
    Grid,
    /// Must be rejected by every server.
    Error,
    /// Evaluated on the grid; the reference must find nothing.
    Empty,
    /// Evaluated at wall-clock times around `diff_vanishing`'s disappearance.
    Wall,
    /// Evaluated on the grid; the harness may report the construct (named by the
    /// word) unsupported.
    Optional(String),
}

/// One query of the list.
#[derive(Clone, Debug)]
pub struct Query {
    /// The PromQL text.
    pub text: String,
    /// The name of its group.
    pub group: String,
    /// How it is checked.
    pub kind: Kind,
}

/// The queries of `list`, in order. Panics on a malformed list (a query before any
/// group, an unknown flag).
pub fn parse(list: &str) -> Vec<Query> {
    let mut group: Option<(String, Kind)> = None;
    let mut out = Vec::new();
    for (n, line) in list.lines().enumerate() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix("# group:") {
            let header = header.trim();
            let (name, kind) = match header.split_once(" [") {
                None => (header, Kind::Grid),
                Some((name, flag)) => match flag.strip_suffix(']') {
                    Some("error") => (name, Kind::Error),
                    Some("empty") => (name, Kind::Empty),
                    Some("wall") => (name, Kind::Wall),
                    Some(flag) if flag.starts_with("optional: ") => {
                        let word = flag["optional: ".len()..].trim();
                        (name, Kind::Optional(word.to_owned()))
                    }
                    _ => panic!("line {}: unknown group flag [{flag}", n + 1),
                },
            };
            group = Some((name.trim().to_owned(), kind));
        } else if !line.is_empty() && !line.starts_with('#') {
            let (name, kind) = group
                .clone()
                .unwrap_or_else(|| panic!("line {}: query before any group", n + 1));
            out.push(Query {
                text: line.to_owned(),
                group: name,
                kind,
            });
        }
    }
    out
}

/// `text` with every `${t:K}` replaced by `seconds(K)`. Panics on a malformed
/// placeholder.
pub fn expand(text: &str, seconds: impl Fn(usize) -> i64) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("${t:") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 4..];
        let end = tail
            .find('}')
            .unwrap_or_else(|| panic!("unclosed placeholder in {text:?}"));
        let step: usize = tail[..end]
            .parse()
            .unwrap_or_else(|_| panic!("bad step in {text:?}"));
        out.push_str(&seconds(step).to_string());
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The groups of `queries` in order of first appearance, with their kinds and
/// sizes.
pub fn groups(queries: &[Query]) -> Vec<(String, Kind, usize)> {
    let mut groups: Vec<(String, Kind, usize)> = Vec::new();
    for q in queries {
        match groups.iter_mut().find(|(g, _, _)| *g == q.group) {
            Some((_, _, n)) => *n += 1,
            None => groups.push((q.group.clone(), q.kind.clone(), 1)),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_flags_and_placeholders() {
        let list = "# group: a\nx\n# comment\n\n# group: b [optional: sub]\ny[1m:]\n";
        let queries = parse(list);
        assert_eq!(queries.len(), 2);
        assert_eq!(
            (queries[0].group.as_str(), &queries[0].kind),
            ("a", &Kind::Grid)
        );
        assert_eq!(queries[1].kind, Kind::Optional("sub".into()));
        assert_eq!(
            groups(&queries),
            vec![
                ("a".into(), Kind::Grid, 1),
                ("b".into(), Kind::Optional("sub".into()), 1)
            ]
        );
        assert_eq!(expand("x @ ${t:2}.5", |k| 100 + k as i64), "x @ 102.5");
    }
}
