//! Durations written as Prometheus writes them (`30s`, `5m`, `1h30m`, `250ms`), for
//! `--ttl` and `--simulate-interval`.
//!
//! The syntax is Prometheus's `model.ParseDuration`: one or more `<integer><unit>`
//! parts with units `y` (365 days), `w`, `d`, `h`, `m`, `s`, `ms`, each at most once
//! and from the largest to the smallest. A lone `0` is zero.

use std::time::Duration;

/// The units, largest first, with their length in milliseconds.
const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

/// Parses a Prometheus duration; the error says what is wrong with `text`.
pub fn parse(text: &str) -> Result<Duration, String> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let bad = |why: &str| {
        format!(
            "invalid duration {text:?}: {why} (write it as Prometheus does: 30s, 5m, 1h30m, 250ms)"
        )
    };
    if text.is_empty() {
        return Err(bad("empty"));
    }
    let mut rest = text;
    let mut millis: u64 = 0;
    // Index into UNITS of the next unit allowed: each smaller than the one before.
    let mut next = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad("expected a number"));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| bad("number too large"))?;
        rest = &rest[digits..];
        let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..letters];
        rest = &rest[letters..];
        let Some(i) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(if unit.is_empty() {
                bad("missing unit")
            } else {
                bad(&format!("unknown unit {unit:?}"))
            });
        };
        if i < next {
            return Err(bad("units must go from largest to smallest, each once"));
        }
        next = i + 1;
        millis = number
            .checked_mul(UNITS[i].1)
            .and_then(|part| millis.checked_add(part))
            .ok_or_else(|| bad("too large"))?;
    }
    Ok(Duration::from_millis(millis))
}

/// Parses a Prometheus duration that must be longer than zero.
pub fn parse_positive(text: &str) -> Result<Duration, String> {
    let duration = parse(text)?;
    if duration.is_zero() {
        return Err(format!("invalid duration {text:?}: must be longer than 0"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_durations_are_read() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("1s", 1000),
            ("30s", 30_000),
            ("250ms", 250),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("2d", 172_800_000),
            ("1w", 604_800_000),
            ("1y", 31_536_000_000),
            ("1h0m5s10ms", 3_605_010),
            ("0s", 0),
        ];
        for &(text, millis) in cases {
            assert_eq!(parse(text), Ok(Duration::from_millis(millis)), "{text}");
        }
    }

    #[test]
    fn bad_durations_say_why() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("5", "missing unit"),
            ("5x", "unknown unit \"x\""),
            ("1.5s", "missing unit"),
            ("s", "expected a number"),
            ("-1s", "expected a number"),
            ("30m1h", "largest to smallest"),
            ("1s1s", "largest to smallest"),
            (" 1s", "expected a number"),
            ("99999999999999999999s", "too large"),
            ("600000000y", "too large"),
        ];
        for &(text, why) in cases {
            let err = parse(text).expect_err(text);
            assert!(err.contains(why), "{text:?}: {err:?} lacks {why:?}");
            assert!(err.contains("30s, 5m"), "{text:?}: {err:?}");
        }
    }

    #[test]
    fn zero_is_refused_where_a_positive_duration_is_needed() {
        assert!(parse_positive("0s").unwrap_err().contains("longer than 0"));
        assert_eq!(parse_positive("1s"), Ok(Duration::from_secs(1)));
    }
}
