//! Numbers as the exposition formats write them: sample values (the shortest text that
//! reads back as the same `f64`, whole numbers without a call), bucket bounds and
//! quantiles as Go's `strconv` writes them, OpenMetrics' canonical floats, integers and
//! millisecond timestamps as seconds.

/// Two decimal digits for each of 0 to 99.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes `v` as ryu writes whole numbers (`123.0`, `-0.0`) so that it ends right before
/// `end` in `out`, and returns where it starts; `None` (possibly after writing part of
/// it) unless `v` is whole and below 1e15 in magnitude, or if it does not fit.
///
/// Two digits per step from a table, right to left, in place: no call, no copy.
#[inline(always)]
pub(super) fn whole_number_before(out: &mut [u8], end: usize, v: f64) -> Option<usize> {
    // `as` truncates toward zero (NaN gives 0, infinities saturate) in one instruction,
    // where `fract()` calls libm's `trunc` on baseline x86-64.
    let whole = v as i64;
    if whole as f64 != v || v.abs() >= 1e15 {
        return None;
    }
    let mut at = end.checked_sub(2)?;
    out.get_mut(at..end)?.copy_from_slice(b".0");
    let mut n = whole.unsigned_abs();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        at = at.checked_sub(2)?;
        out.get_mut(at..at + 2)?
            .copy_from_slice(DIGIT_PAIRS.get(pair..pair + 2)?);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        at = at.checked_sub(2)?;
        out.get_mut(at..at + 2)?
            .copy_from_slice(DIGIT_PAIRS.get(pair..pair + 2)?);
    } else {
        at = at.checked_sub(1)?;
        *out.get_mut(at)? = b'0' + n as u8;
    }
    // Negative numbers and -0.0 (which ryu writes `-0.0`).
    if v.is_sign_negative() {
        at = at.checked_sub(1)?;
        *out.get_mut(at)? = b'-';
    }
    Some(at)
}

/// Appends a sample value: `NaN`, `+Inf`, `-Inf`, or the shortest decimal that reads
/// back as the same `f64` (always with a `.` or an exponent, e.g. `1.0`, `1e-7`).
pub(crate) fn write_f64(buf: &mut Vec<u8>, v: f64) {
    // Whole numbers below 1e15 (most counters) take the integer formatter: the same
    // text as `ryu` writes for them (`123.0`), several times faster.
    let mut whole = [0; 24];
    if let Some(at) = whole_number_before(&mut whole, 24, v) {
        buf.extend_from_slice(whole.get(at..).unwrap_or_default());
    } else if !write_non_finite(buf, v) {
        buf.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    }
}

/// Appends an unsigned integer.
pub(crate) fn write_u64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends a signed integer.
pub(crate) fn write_i64(buf: &mut Vec<u8>, v: i64) {
    buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

fn write_non_finite(buf: &mut Vec<u8>, v: f64) -> bool {
    match non_finite(v) {
        Some(s) => {
            buf.extend_from_slice(s);
            true
        }
        None => false,
    }
}

/// The text of a NaN or infinite value: `NaN`, `+Inf`, `-Inf`; `None` for a finite one.
#[inline(always)]
pub(super) fn non_finite(v: f64) -> Option<&'static [u8]> {
    if v.is_nan() {
        Some(b"NaN")
    } else if v == f64::INFINITY {
        Some(b"+Inf")
    } else if v == f64::NEG_INFINITY {
        Some(b"-Inf")
    } else {
        None
    }
}

/// Appends `v` exactly as Go's `strconv.FormatFloat(v, 'g', -1, 64)` does, with
/// client_golang's special values (`+Inf`, `-Inf`, `NaN`, and `0` for both zeros):
/// `1`, `0.5`, `100000`, `1e+06`, `1e-05`. This is how client_golang writes `le` and
/// `quantile` in the text format, so our series carry the same label values as a Go
/// exporter's.
pub(crate) fn write_go_float(buf: &mut Vec<u8>, v: f64) {
    if write_non_finite(buf, v) {
        return;
    }
    if v == 0.0 {
        buf.push(b'0');
        return;
    }
    let mut ryu_buf = ryu::Buffer::new();
    let d = Digits::parse(ryu_buf.format_finite(v));
    if v < 0.0 {
        buf.push(b'-');
    }
    let digits = &d.digits[..d.len];
    let exp = d.point - 1;
    if !(-4..6).contains(&exp) {
        // %e: d.ddde±XX, at least two exponent digits.
        buf.push(digits[0]);
        if digits.len() > 1 {
            buf.push(b'.');
            buf.extend_from_slice(&digits[1..]);
        }
        buf.push(b'e');
        buf.push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            buf.push(b'0');
        }
        write_u64(buf, u64::from(e));
    } else if d.point <= 0 {
        buf.extend_from_slice(b"0.");
        buf.extend(std::iter::repeat_n(b'0', d.point.unsigned_abs() as usize));
        buf.extend_from_slice(digits);
    } else {
        let point = d.point as usize;
        if point >= digits.len() {
            buf.extend_from_slice(digits);
            buf.extend(std::iter::repeat_n(b'0', point - digits.len()));
        } else {
            buf.extend_from_slice(&digits[..point]);
            buf.push(b'.');
            buf.extend_from_slice(&digits[point..]);
        }
    }
}

/// Appends `v` as OpenMetrics canonical numbers want it for `le` and `quantile`: Go's
/// `%g` with `.0` appended when there is neither a `.` nor an exponent (`1.0`, `0.5`,
/// `1e+06`, `+Inf`), as client_golang's OpenMetrics writer does.
pub(crate) fn write_canonical_float(buf: &mut Vec<u8>, v: f64) {
    let start = buf.len();
    write_go_float(buf, v);
    if v.is_finite() && !buf[start..].iter().any(|&b| b == b'.' || b == b'e') {
        buf.extend_from_slice(b".0");
    }
}

/// The significant decimal digits of a finite non-zero number and where its decimal
/// point goes: the value is `0.d1d2d3… × 10^point`.
struct Digits {
    digits: [u8; 24],
    len: usize,
    point: i32,
}

impl Digits {
    /// Reads ryu's shortest round-trip output (`123.45`, `0.00012`, `1.5e-7`, `1e30`).
    fn parse(s: &str) -> Digits {
        let s = s.trim_start_matches('-');
        let (mantissa, exp) = match s.split_once(['e', 'E']) {
            Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
            None => (s, 0),
        };
        let int_len = mantissa.find('.').unwrap_or(mantissa.len());
        let mut out = Digits {
            digits: [0; 24],
            len: 0,
            point: int_len as i32 + exp,
        };
        for b in mantissa.bytes().filter(u8::is_ascii_digit) {
            if out.len == 0 && b == b'0' {
                // A leading zero moves the point left.
                out.point -= 1;
                continue;
            }
            if out.len < out.digits.len() {
                out.digits[out.len] = b;
                out.len += 1;
            }
        }
        while out.len > 1 && out.digits[out.len - 1] == b'0' {
            out.len -= 1;
        }
        out
    }
}

/// Appends a millisecond timestamp as seconds with up to three decimals
/// (`1700000000.123`, `1700000000`), exactly, without going through a float.
pub(crate) fn write_ms_as_seconds(buf: &mut Vec<u8>, ms: i64) {
    if ms < 0 {
        buf.push(b'-');
    }
    let abs = ms.unsigned_abs();
    write_u64(buf, abs / 1000);
    let frac = abs % 1000;
    if frac != 0 {
        let digits = [
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        let len = if frac % 100 == 0 {
            1
        } else if frac % 10 == 0 {
            2
        } else {
            3
        };
        buf.push(b'.');
        buf.extend_from_slice(&digits[..len]);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn go(v: f64) -> String {
        let mut buf = Vec::new();
        write_go_float(&mut buf, v);
        String::from_utf8(buf).unwrap()
    }

    fn canonical(v: f64) -> String {
        let mut buf = Vec::new();
        write_canonical_float(&mut buf, v);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn go_g_formatting_matches_strconv() {
        // Expected strings are what Go's strconv.FormatFloat(v, 'g', -1, 64) prints.
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (-1.0, "-1"),
            (0.0, "0"),
            (-0.0, "0"),
            (0.5, "0.5"),
            (2.5, "2.5"),
            (10.0, "10"),
            (0.005, "0.005"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e-10, "1e-10"),
            (100000.0, "100000"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (1e23, "1e+23"),
            (1.1e23, "1.1e+23"),
            (1e100, "1e+100"),
            (-0.00012, "-0.00012"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for &(v, want) in cases {
            assert_eq!(go(v), want, "formatting {v:e}");
        }
    }

    #[test]
    fn canonical_numbers_follow_the_openmetrics_examples() {
        // The spec's own lists of canonical renderings.
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (0.001, "0.001"),
            (0.002, "0.002"),
            (0.01, "0.01"),
            (0.1, "0.1"),
            (0.9, "0.9"),
            (0.95, "0.95"),
            (0.99, "0.99"),
            (0.999, "0.999"),
            (1.0, "1.0"),
            (1.7, "1.7"),
            (10.0, "10.0"),
            (1e-10, "1e-10"),
            (1e-9, "1e-09"),
            (1e-5, "1e-05"),
            (1e-4, "0.0001"),
            (100000.0, "100000.0"),
            (1e6, "1e+06"),
            (1e10, "1e+10"),
            (f64::INFINITY, "+Inf"),
        ];
        for &(v, want) in cases {
            assert_eq!(canonical(v), want, "canonical {v:e}");
        }
    }

    #[test]
    fn go_formatting_round_trips() {
        for v in [0.1, 3.0e-7, 6.02214076e23, 1.0 / 3.0, 299792458.0, 4.9e-300] {
            let s = go(v);
            assert_eq!(s.parse::<f64>().unwrap(), v, "{s}");
        }
    }

    #[test]
    fn sample_values() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1.0"),
            (0.25, "0.25"),
            (-3.5, "-3.5"),
            (1e21, "1e21"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for &(v, want) in cases {
            let mut buf = Vec::new();
            write_f64(&mut buf, v);
            assert_eq!(buf, want.as_bytes(), "value {v:e}");
        }
    }

    #[test]
    fn millisecond_timestamps_as_seconds() {
        let cases: &[(i64, &str)] = &[
            (1_700_000_000_123, "1700000000.123"),
            (1_700_000_000_000, "1700000000"),
            (1_700_000_000_500, "1700000000.5"),
            (1_700_000_000_050, "1700000000.05"),
            (1_700_000_000_007, "1700000000.007"),
            (0, "0"),
            (-1, "-0.001"),
            (-1500, "-1.5"),
            (i64::MIN, "-9223372036854775.808"),
        ];
        for &(ms, want) in cases {
            let mut buf = Vec::new();
            write_ms_as_seconds(&mut buf, ms);
            assert_eq!(buf, want.as_bytes(), "{ms} ms");
        }
    }

    #[test]
    fn whole_numbers_are_written_as_ryu_writes_them() {
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            42.0,
            1e14,
            999_999_999_999_999.0,
            1e15,
            -1e15,
        ];
        values.extend((0..64).map(|i| (1u64 << i) as f64));
        values.extend((0..64).map(|i| -((1u64 << i) as f64)));
        for v in values {
            let mut buf = Vec::new();
            write_f64(&mut buf, v);
            let expected = ryu::Buffer::new().format_finite(v).to_owned();
            assert_eq!(String::from_utf8(buf).unwrap(), expected, "{v:e}");
        }
    }

    /// Values for the sample-value tests: whole numbers of every digit count and sign
    /// (the table path), the bounds of that path, fractions, extremes, NaN, infinities,
    /// and pseudo-random bit patterns and whole numbers.
    pub(in crate::encoding) fn sample_value_cases(random: usize) -> Vec<f64> {
        let mut values = vec![
            0.0,
            -0.0,
            0.5,
            -2.5,
            0.1,
            1e-7,
            123_456_789.5,
            -1_234_567.25,
            999_999_999_999_999.0,
            -999_999_999_999_999.0,
            999_999_999_999_999.5,
            1e15,
            -1e15,
            1e15 + 1.0,
            9_007_199_254_740_993.0,
            1e21,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let mut p = 1.0;
        for _ in 0..=15 {
            for d in [-1.0, 0.0, 1.0, 7.0] {
                values.push(p + d);
                values.push(-(p + d));
            }
            p *= 10.0;
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..random {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(f64::from_bits(x));
            values.push((x % 2_000_000_000_000_000) as f64 - 1e15);
            values.push((x % 100_000) as f64);
        }
        values
    }

    /// The value as the text format writes it, independently of `write_f64`.
    pub(in crate::encoding) fn reference_value(v: f64) -> String {
        if v.is_nan() {
            "NaN".into()
        } else if v.is_infinite() {
            if v > 0.0 { "+Inf" } else { "-Inf" }.into()
        } else {
            ryu::Buffer::new().format_finite(v).into()
        }
    }

    #[test]
    fn sample_values_are_written_as_ryu_writes_them() {
        for v in sample_value_cases(if cfg!(miri) { 20 } else { 2000 }) {
            let mut buf = b"<".to_vec();
            write_f64(&mut buf, v);
            assert_eq!(buf[1..], *reference_value(v).as_bytes(), "{v:e}");
        }
    }
}
