//! Go duration strings as the CRDs accept them (`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`):
//! `1h`, `168h`, `10m`, `90s`, `1h30m`, `1.5h`. Checked arithmetic: no input panics.

use std::time::Duration;

/// Parses a Go duration string (no sign, at least one `<number><unit>` group).
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    const UNITS: [(&str, u128); 8] = [
        ("ns", 1),
        ("us", 1_000),
        ("µs", 1_000),
        ("μs", 1_000),
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    let bad = || format!("{text:?} is not a Go duration (e.g. 1h, 168h, 10m, 90s, 1h30m)");
    if text.is_empty() {
        return Err(bad());
    }
    let mut rest = text;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if int_len == 0 {
            return Err(bad());
        }
        let (int_part, after) = rest.split_at(int_len);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(f) => {
                let flen = f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len());
                if flen == 0 {
                    return Err(bad());
                }
                f.split_at(flen)
            }
            None => ("", after),
        };
        // Longest unit first so `ms` wins over `m`.
        let mut units = UNITS;
        units.sort_by_key(|(u, _)| std::cmp::Reverse(u.len()));
        let Some((unit, nanos)) = units.iter().find(|(u, _)| after.starts_with(u)) else {
            return Err(bad());
        };
        rest = &after[unit.len()..];
        let int: u128 = int_part.parse().map_err(|_| bad())?;
        let mut value = int.checked_mul(*nanos).ok_or_else(bad)?;
        if !frac_part.is_empty() {
            let digits = &frac_part[..frac_part.len().min(18)];
            let frac: u128 = digits.parse().map_err(|_| bad())?;
            let scale = 10u128.pow(digits.len() as u32);
            value = value.checked_add(frac.checked_mul(*nanos).ok_or_else(bad)? / scale).ok_or_else(bad)?;
        }
        total = total.checked_add(value).ok_or_else(bad)?;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| bad())?;
    Ok(Duration::new(secs, (total % 1_000_000_000) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_documented_values() {
        assert_eq!(parse_go_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_go_duration("168h").unwrap(), Duration::from_secs(168 * 3600));
        assert_eq!(parse_go_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_go_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_go_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_go_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_go_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_go_duration("3µs").unwrap(), Duration::from_micros(3));
    }

    #[test]
    fn rejects_what_the_crd_pattern_rejects() {
        for bad in ["", "7d", "h", "1", "-1h", "1.h", "1h 30m", "99999999999999999999999999999999999999h", "1e3s"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }
}
