//! The Vietnamese reading of numbers, dates and times, written out in words
//! before a notice goes to the speech engine: engines read "10/10" as
//! "mười trên mười" or spell the digits, where listeners expect
//! "mười tháng mười".
//!
//! Rules followed (the standard reading, as on national radio):
//! - units after a tens digit of 2 or more: 1 → "mốt", 4 → "tư", 5 → "lăm"
//!   ("hai mươi mốt", "hai mươi tư", "hai mươi lăm"); after "mười" only 5
//!   changes ("mười lăm", but "mười một", "mười bốn");
//! - a zero tens digit before a unit is "linh" ("một trăm linh năm");
//! - a group of three digits after a higher one is read whole, with
//!   "không trăm" ("hai nghìn không trăm hai mươi sáu"); groups of zeros
//!   are left out ("một triệu");
//! - scales: nghìn, triệu, tỷ; `.` groups thousands and `,` is the decimal
//!   point ("2,5" → "hai phẩy năm"), as Vietnamese write them;
//! - numbers with a leading zero (phone numbers) are read digit by digit;
//! - `d/m/yyyy` → "ngày … tháng … năm …", `d/m` → "… tháng …" (month 4 is
//!   "tư"), `HH:MM`, `5h30`, `5h` → "… giờ …", `50%` → "… phần trăm".

use std::sync::LazyLock;

use regex::{Captures, Regex};

const DIGITS: [&str; 10] = [
    "không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín",
];
/// Longest number read as a number; longer runs of digits are read one by one.
const MAX_NUMBER_DIGITS: usize = 15;

/// A notice's text with its numbers, dates and times written out.
pub fn normalize(text: &str) -> String {
    static TOKEN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(concat!(
            r"(?P<date>\b(?P<dd>\d{1,2})/(?P<dm>\d{1,2})/(?P<dy>\d{4})\b)",
            r"|(?P<dm2>\b(?P<d2>\d{1,2})/(?P<m2>\d{1,2})\b)",
            r"|(?P<time>\b(?P<th>\d{1,2})(?::|h)(?P<tm>\d{2})\b)",
            r"|(?P<hour>\b(?P<hh>\d{1,2})h\b)",
            r"|(?P<num>\b\d{1,3}(?:\.\d{3})+(?:,\d+)?\b|\b\d+(?:,\d+)?\b)(?P<pct>\s?%)?",
        ))
        .expect("the pattern is valid")
    });
    let out = TOKEN.replace_all(text, |c: &Captures| {
        // "ngày 1/10/2026" already says "ngày".
        let start = c.get(0).map_or(0, |m| m.start());
        let after_ngay = text[..start].trim_end().to_lowercase().ends_with("ngày");
        read_token(c, after_ngay).unwrap_or_else(|| c[0].into())
    });
    // Whatever matched but made no sense (31/13) is left as written.
    out.into_owned()
}

fn read_token(c: &Captures, after_ngay: bool) -> Option<String> {
    let n = |name: &str| c.name(name).and_then(|m| m.as_str().parse::<u64>().ok());
    if c.name("date").is_some() {
        let (d, m, y) = (n("dd")?, n("dm")?, n("dy")?);
        valid_day_month(d, m)?;
        return Some(format!(
            "{}{} tháng {} năm {}",
            if after_ngay { "" } else { "ngày " },
            number(d),
            month(m),
            number(y)
        ));
    }
    if c.name("dm2").is_some() {
        let (d, m) = (n("d2")?, n("m2")?);
        valid_day_month(d, m)?;
        return Some(format!("{} tháng {}", number(d), month(m)));
    }
    if c.name("time").is_some() {
        let (h, m) = (n("th")?, n("tm")?);
        if h > 24 || m > 59 {
            return None;
        }
        return Some(match m {
            0 => format!("{} giờ", number(h)),
            1..=9 => format!("{} giờ {} phút", number(h), number(m)),
            _ => format!("{} giờ {}", number(h), number(m)),
        });
    }
    if c.name("hour").is_some() {
        let h = n("hh")?;
        return (h <= 24).then(|| format!("{} giờ", number(h)));
    }
    let raw = c.name("num")?.as_str();
    let words = decimal(raw)?;
    Some(if c.name("pct").is_some() {
        format!("{words} phần trăm")
    } else {
        words
    })
}

fn valid_day_month(d: u64, m: u64) -> Option<()> {
    ((1..=31).contains(&d) && (1..=12).contains(&m)).then_some(())
}

/// A month's name after "tháng": the fourth is "tư".
fn month(m: u64) -> String {
    if m == 4 {
        "tư".into()
    } else {
        number(m)
    }
}

/// `1.000.000`, `2,5` or `0912345678` in words.
fn decimal(raw: &str) -> Option<String> {
    let (int, frac) = match raw.split_once(',') {
        Some((i, f)) => (i, Some(f)),
        None => (raw, None),
    };
    let int: String = int.chars().filter(|c| *c != '.').collect();
    let mut words = if (int.len() > 1 && int.starts_with('0')) || int.len() > MAX_NUMBER_DIGITS {
        spell(&int)
    } else {
        number(int.parse().ok()?)
    };
    if let Some(f) = frac {
        words.push_str(" phẩy ");
        words.push_str(&if f.starts_with('0') || f.len() > 3 {
            spell(f)
        } else {
            number(f.parse().ok()?)
        });
    }
    Some(words)
}

/// Digit by digit: "0912" → "không chín một hai".
fn spell(digits: &str) -> String {
    digits
        .chars()
        .filter_map(|c| c.to_digit(10))
        .map(|d| DIGITS[d as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// A whole number in words.
pub fn number(n: u64) -> String {
    if n == 0 {
        return DIGITS[0].into();
    }
    const SCALES: [&str; 4] = ["", "nghìn", "triệu", "tỷ"];
    // Groups of three digits, lowest first; beyond "tỷ", the count of tỷ
    // is itself read as a number.
    if n >= 1_000_000_000_000 {
        let (high, low) = (n / 1_000_000_000, n % 1_000_000_000);
        let mut s = format!("{} tỷ", number(high));
        if low > 0 {
            s.push(' ');
            s.push_str(&below_billion(low, true));
        }
        return s;
    }
    let mut groups = Vec::new();
    let mut m = n;
    while m > 0 {
        groups.push(m % 1000);
        m /= 1000;
    }
    let mut parts: Vec<String> = Vec::new();
    for (i, &g) in groups.iter().enumerate().rev() {
        if g == 0 {
            continue;
        }
        let leading = i == groups.len() - 1;
        let mut s = hundreds(g, !leading);
        if !SCALES[i].is_empty() {
            s.push(' ');
            s.push_str(SCALES[i]);
        }
        parts.push(s);
    }
    parts.join(" ")
}

/// The part of a large number below one tỷ, after a higher group.
fn below_billion(n: u64, after_higher: bool) -> String {
    let groups = [n / 1_000_000, n / 1000 % 1000, n % 1000];
    let names = ["triệu", "nghìn", ""];
    let mut parts = Vec::new();
    let mut higher = after_higher;
    for (g, name) in groups.into_iter().zip(names) {
        if g == 0 {
            continue;
        }
        let mut s = hundreds(g, higher);
        if !name.is_empty() {
            s.push(' ');
            s.push_str(name);
        }
        parts.push(s);
        higher = true;
    }
    parts.join(" ")
}

/// A group of up to three digits; `full`: a higher group precedes it, so
/// its hundreds are read even when zero ("không trăm").
fn hundreds(n: u64, full: bool) -> String {
    let (h, rest) = (n / 100, n % 100);
    if h == 0 && !full {
        return tens(rest);
    }
    let mut s = format!("{} trăm", DIGITS[h as usize]);
    match rest {
        0 => {}
        1..=9 => {
            s.push_str(" linh ");
            s.push_str(DIGITS[rest as usize]);
        }
        _ => {
            s.push(' ');
            s.push_str(&tens(rest));
        }
    }
    s
}

/// 0–99.
fn tens(n: u64) -> String {
    let (t, u) = ((n / 10) as usize, (n % 10) as usize);
    match (t, u) {
        (0, u) => DIGITS[u].into(),
        (1, 0) => "mười".into(),
        (1, 5) => "mười lăm".into(),
        (1, u) => format!("mười {}", DIGITS[u]),
        (t, 0) => format!("{} mươi", DIGITS[t]),
        (t, 1) => format!("{} mươi mốt", DIGITS[t]),
        (t, 4) => format!("{} mươi tư", DIGITS[t]),
        (t, 5) => format!("{} mươi lăm", DIGITS[t]),
        (t, u) => format!("{} mươi {}", DIGITS[t], DIGITS[u]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers() {
        let cases = [
            (0, "không"),
            (5, "năm"),
            (10, "mười"),
            (11, "mười một"),
            (14, "mười bốn"),
            (15, "mười lăm"),
            (20, "hai mươi"),
            (21, "hai mươi mốt"),
            (24, "hai mươi tư"),
            (25, "hai mươi lăm"),
            (99, "chín mươi chín"),
            (100, "một trăm"),
            (101, "một trăm linh một"),
            (104, "một trăm linh bốn"),
            (105, "một trăm linh năm"),
            (110, "một trăm mười"),
            (115, "một trăm mười lăm"),
            (121, "một trăm hai mươi mốt"),
            (1000, "một nghìn"),
            (1005, "một nghìn không trăm linh năm"),
            (2026, "hai nghìn không trăm hai mươi sáu"),
            (15_300, "mười lăm nghìn ba trăm"),
            (1_000_000, "một triệu"),
            (1_000_500, "một triệu năm trăm"),
            (2_500_000, "hai triệu năm trăm nghìn"),
            (3_000_000_000, "ba tỷ"),
            (1_000_000_000_000, "một nghìn tỷ"),
        ];
        for (n, want) in cases {
            assert_eq!(number(n), want, "{n}");
        }
    }

    #[test]
    fn dates_and_times() {
        let cases = [
            ("10/10", "mười tháng mười"),
            ("17:30", "mười bảy giờ ba mươi"),
            (
                "1/10/2026",
                "ngày một tháng mười năm hai nghìn không trăm hai mươi sáu",
            ),
            ("30/4", "ba mươi tháng tư"),
            ("24/12", "hai mươi tư tháng mười hai"),
            ("5h30", "năm giờ ba mươi"),
            ("5h", "năm giờ"),
            ("7:05", "bảy giờ năm phút"),
            ("07:00", "bảy giờ"),
            ("5 giờ", "năm giờ"),
        ];
        for (text, want) in cases {
            assert_eq!(normalize(text), want, "{text}");
        }
    }

    #[test]
    fn numbers_in_a_sentence() {
        assert_eq!(
            normalize("Từ 7:30 ngày 10/10, 21 hộ được hỗ trợ 1.500.000 đồng, tăng 15%."),
            "Từ bảy giờ ba mươi ngày mười tháng mười, hai mươi mốt hộ được hỗ trợ \
             một triệu năm trăm nghìn đồng, tăng mười lăm phần trăm."
        );
        assert_eq!(normalize("lãi 2,5 %"), "lãi hai phẩy năm phần trăm");
        assert_eq!(
            normalize("Ngày 2/9/1945"),
            "Ngày hai tháng chín năm một nghìn chín trăm bốn mươi lăm"
        );
        assert_eq!(
            normalize("gọi 0912345678"),
            "gọi không chín một hai ba bốn năm sáu bảy tám"
        );
    }

    #[test]
    fn nonsense_is_left_as_written() {
        assert_eq!(normalize("tỉ số 45/13"), "tỉ số 45/13");
        assert_eq!(normalize("lúc 25:70"), "lúc 25:70");
        assert_eq!(normalize("không có số"), "không có số");
    }
}
