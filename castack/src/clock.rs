//! Calendar arithmetic for the two date forms AWS signing and STS answers use:
//! SigV4's `X-Amz-Date` (`20260101T120000Z`, ISO 8601 basic format in UTC) and the
//! `Expiration` of STS credentials (`2026-01-01T12:00:00Z`, optionally with a
//! fraction). Days are converted with Howard Hinnant's `days_from_civil` /
//! `civil_from_days` (http://howardhinnant.github.io/date_algorithms.html), valid for
//! any proleptic Gregorian date; times are whole seconds since the epoch.

/// `YYYYMMDDTHHMMSSZ` for `secs` since the epoch.
pub(crate) fn amz_date(secs: u64) -> String {
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// Seconds since the epoch of an `X-Amz-Date` value; `None` unless it is exactly
/// `YYYYMMDDTHHMMSSZ` with a valid date and time.
pub(crate) fn parse_amz_date(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = text.get(range)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok()).flatten()
    };
    to_secs((num(0..4)?, num(4..6)?, num(6..8)?), (num(9..11)?, num(11..13)?, num(13..15)?))
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (what moto and STS
/// send as `Expiration`); the fraction is dropped.
pub(crate) fn parse_iso8601(text: &str) -> Option<u64> {
    let text = text.trim().strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let time = time.split_once('.').map_or(time, |(whole, _)| whole);
    let numbers = |text: &str, sep: char| -> Option<Vec<u32>> {
        text.split(sep).map(|it| it.bytes().all(|c| c.is_ascii_digit()).then(|| it.parse().ok()).flatten()).collect()
    };
    let (date, time) = (numbers(date, '-')?, numbers(time, ':')?);
    let (&[y, mo, d], &[h, mi, s]) = (&date[..], &time[..]) else { return None };
    to_secs((y, mo, d), (h, mi, s))
}

fn to_secs((year, month, day): (u32, u32, u32), (hour, minute, second): (u32, u32, u32)) -> Option<u64> {
    let valid = (1970..=9999).contains(&year)
        && (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 61;
    let days = u64::try_from(days_from_civil(year as i64, month, day)).ok()?;
    valid.then_some(days * 86_400 + u64::from(hour * 3600 + minute * 60 + second))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        // `date -u -d @1440938160 +%Y%m%dT%H%M%SZ` is the SigV4 test suite's time.
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
        assert_eq!(parse_amz_date("20000229T000000Z"), Some(951_782_400));
        for bad in ["20150830T123600", "2015083T1236000Z", "20150230T000000Z", "20151330T000000Z", "+0150830T123600Z"] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
        assert_eq!(parse_iso8601("2015-08-30T12:36:00Z"), Some(1_440_938_160));
        assert_eq!(parse_iso8601("2015-08-30T12:36:00.120235Z"), Some(1_440_938_160));
        for bad in ["2015-08-30T12:36:00", "2015-08-30 12:36:00Z", "2015-08-30T12:36Z", "x"] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }
}
