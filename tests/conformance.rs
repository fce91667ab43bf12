//! Conformance of the parsers against the suite in `$PROMSDK_CONFORMANCE_DIR` (see
//! `scripts/conformance.sh`): the OpenMetrics parser test suite and Prometheus's own
//! parser inputs. Every case must get the expected verdict, and every valid case must
//! parse to the samples of its `.expected.json` (names, labels, values, timestamps,
//! exemplars). Without the variable the test says so and checks nothing.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use promsdk::parser::{Entry, ParsedSample, Parser};
use promsdk::Format;
use serde_json::Value as Json;

struct Case {
    name: String,
    input: PathBuf,
    format: Format,
    valid: bool,
    expected: Option<PathBuf>,
}

fn cases(dir: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    let manifest = fs::read_to_string(dir.join("openmetrics/manifest.jsonl"))
        .expect("openmetrics/manifest.jsonl");
    for line in manifest.lines().filter(|l| !l.trim().is_empty()) {
        let entry: Json = serde_json::from_str(line).expect("manifest line");
        let name = entry["case"].as_str().expect("case").to_owned();
        let case_dir = dir.join("openmetrics").join(&name);
        let test: Json = serde_json::from_str(
            &fs::read_to_string(case_dir.join("test.json")).expect("test.json"),
        )
        .expect("test.json is JSON");
        let valid = test["shouldParse"].as_bool().expect("shouldParse");
        assert_eq!(
            valid,
            entry["expected"] == "valid",
            "{name}: manifest and test.json disagree"
        );
        let expected = case_dir.join("metrics.expected.json");
        cases.push(Case {
            name: format!("openmetrics/{name}"),
            input: case_dir.join(test["file"].as_str().unwrap_or("metrics")),
            format: Format::OpenMetrics,
            valid,
            expected: expected.exists().then_some(expected),
        });
    }
    for (sub, format) in [("text", Format::Text), ("openmetrics", Format::OpenMetrics)] {
        let mut files: Vec<_> = fs::read_dir(dir.join("prom").join(sub))
            .expect("prom dir")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| !p.to_string_lossy().ends_with(".expected.json"))
            .collect();
        files.sort();
        for input in files {
            let expected = PathBuf::from(format!("{}.expected.json", input.display()));
            // Prometheus's inputs carry no verdict of their own: a file is valid when
            // the reference parser produced samples for it (see scripts/conformance.sh).
            let valid = expected.exists();
            cases.push(Case {
                name: format!(
                    "prom/{sub}/{}",
                    input.file_name().unwrap().to_string_lossy()
                ),
                input,
                format,
                valid,
                expected: valid.then_some(expected),
            });
        }
    }
    cases
}

fn number_matches(want: &Json, got: f64) -> bool {
    match want {
        Json::String(s) => match s.as_str() {
            "NaN" => got.is_nan(),
            "+Inf" | "Inf" => got == f64::INFINITY,
            "-Inf" => got == f64::NEG_INFINITY,
            _ => false,
        },
        Json::Number(n) => n.as_f64() == Some(got),
        _ => false,
    }
}

fn timestamp_matches(want: &Json, got: Option<i128>) -> bool {
    match (want, got) {
        (Json::Null, None) => true,
        (Json::Number(n), Some(ms)) => match (n.as_i64(), n.as_u64()) {
            (Some(w), _) => i128::from(w) == ms,
            (None, Some(w)) => i128::from(w) == ms,
            // Beyond 64 bits the JSON reader only has the nearest f64.
            _ => n.as_f64() == Some(ms as f64),
        },
        _ => false,
    }
}

fn labels_of(json: &Json) -> BTreeMap<String, String> {
    json.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn compare_sample(want: &Json, got: &ParsedSample<'_>) -> Result<(), String> {
    let got_labels: BTreeMap<String, String> = got
        .labels
        .iter()
        .map(|(n, v)| (n.to_owned(), v.into_owned()))
        .collect();
    let what = format!("line {} ({})", got.line, got.name);
    if want["name"] != got.name {
        return Err(format!("{what}: name, expected {}", want["name"]));
    }
    if labels_of(&want["labels"]) != got_labels {
        return Err(format!(
            "{what}: labels {got_labels:?}, expected {}",
            want["labels"]
        ));
    }
    if !number_matches(&want["value"], got.value) {
        return Err(format!(
            "{what}: value {}, expected {}",
            got.value, want["value"]
        ));
    }
    let ts = got.timestamp.map(|t| t.as_millis());
    if !timestamp_matches(&want["timestamp_ms"], ts) {
        return Err(format!(
            "{what}: timestamp {ts:?}, expected {}",
            want["timestamp_ms"]
        ));
    }
    match (&want["exemplar"], &got.exemplar) {
        (Json::Null, None) => Ok(()),
        (w, Some(e)) if !w.is_null() => {
            let labels: BTreeMap<String, String> = e
                .labels
                .iter()
                .map(|(n, v)| (n.to_owned(), v.into_owned()))
                .collect();
            let ts = e.timestamp.map(|t| t.as_millis());
            if labels != labels_of(&w["labels"])
                || !number_matches(&w["value"], e.value)
                || !timestamp_matches(&w["timestamp_ms"], ts)
            {
                return Err(format!("{what}: exemplar {e:?}, expected {w}"));
            }
            Ok(())
        }
        (w, e) => Err(format!("{what}: exemplar {e:?}, expected {w}")),
    }
}

fn check(case: &Case) -> Result<(), String> {
    let body = fs::read(&case.input).map_err(|e| format!("cannot read input: {e}"))?;
    let parsed: Result<Vec<Entry<'_>>, _> = Parser::new(&body, case.format).collect();
    let entries = match (parsed, case.valid) {
        (Ok(entries), true) => entries,
        (Err(e), false) => {
            assert!(
                e.line >= 1 && e.column >= 1,
                "{}: error position {e}",
                case.name
            );
            return Ok(());
        }
        (Ok(_), false) => return Err("accepted, but the case is invalid".into()),
        (Err(e), true) => return Err(format!("rejected a valid case: {e}")),
    };
    let Some(expected) = &case.expected else {
        return Ok(());
    };
    let oracle: Json = serde_json::from_str(
        &fs::read_to_string(expected).map_err(|e| format!("cannot read oracle: {e}"))?,
    )
    .map_err(|e| format!("oracle is not JSON: {e}"))?;
    let want: Vec<&Json> = oracle["families"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["samples"].as_array().into_iter().flatten())
        .collect();
    let got: Vec<&ParsedSample<'_>> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Sample(s) => Some(s),
            _ => None,
        })
        .collect();
    for (w, g) in want.iter().zip(&got) {
        compare_sample(w, g)?;
    }
    if want.len() != got.len() {
        return Err(format!("{} samples, expected {}", got.len(), want.len()));
    }
    Ok(())
}

#[test]
fn conformance_suite() {
    let Some(dir) = std::env::var_os("PROMSDK_CONFORMANCE_DIR") else {
        eprintln!("PROMSDK_CONFORMANCE_DIR is not set: run scripts/conformance.sh");
        return;
    };
    let cases = cases(Path::new(&dir));
    assert!(!cases.is_empty(), "no cases under {dir:?}");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| check(c).err().map(|e| format!("FAIL {}: {e}", c.name)))
        .collect();
    let valid = cases.iter().filter(|c| c.valid).count();
    eprintln!(
        "conformance: {} cases ({valid} valid, {} invalid), {} failed",
        cases.len(),
        cases.len() - valid,
        failures.len()
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
