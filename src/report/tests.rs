use super::airtime::*;
use super::format::*;
use super::*;
use crate::ledger::test_util::{airing, TZ};
use crate::ledger::{Airing, Outcome, Settled, Source};
use chrono::TimeZone;

fn local(m: u32, d: u32, h: u32) -> DateTime<Utc> {
    TZ.with_ymd_and_hms(2026, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn october() -> Filter {
    Filter {
        from: Some(local(10, 1, 0)),
        to: Some(local(11, 1, 0)),
        campaign: None,
    }
}

fn campaigns() -> Vec<Campaign> {
    let c = |id: &str, title: &str, target| Campaign {
        id: id.into(),
        title: title.into(),
        window: None,
        target_minutes: target,
    };
    vec![
        c("c1", "Tiêm chủng mở rộng", Some(10.0)),
        c("c2", "Phòng cháy", None),
        c("c3", "Bầu cử", Some(30.0)),
    ]
}

fn settled(
    bulletin: &str,
    title: &str,
    campaign: Option<&str>,
    when: DateTime<Utc>,
    outcome: Outcome,
    aired: f64,
) -> Settled {
    Settled {
        airing: Airing {
            title: title.into(),
            ..airing(bulletin, campaign, when)
        },
        started_at: (aired > 0.0).then_some(when),
        ended_at: None,
        aired_seconds: aired,
        outcome,
        reason: None,
    }
}

/// The known rows; expected sums are worked out by hand in the tests.
fn ledger() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::open(&dir.path().join("airtime.db"), TZ).unwrap();
    use Outcome::*;
    let b1 =
        |when, outcome, aired| settled("b1", "Thông điệp 5K", Some("c1"), when, outcome, aired);
    l.record_all([
        b1(local(10, 2, 6), Completed, 120.0),
        b1(local(10, 3, 6), Completed, 120.0),
        b1(local(10, 4, 6), Interrupted, 30.0),
        settled("b2", "Lịch tiêm", Some("c1"), local(10, 5, 6), Failed, 0.0),
        settled("b2", "Lịch tiêm", Some("c1"), local(10, 6, 6), Missed, 0.0),
        settled(
            "b3",
            "Mùa khô",
            Some("c2"),
            local(10, 7, 17),
            Completed,
            90.0,
        ),
        settled("b3", "Mùa khô", Some("c2"), local(10, 8, 17), Skipped, 0.0),
        settled("b4", "Thời tiết", None, local(10, 9, 6), Completed, 60.0),
        settled("b5", "Cũ", Some("c-old"), local(10, 10, 6), Completed, 45.0),
        // Outside October: left out.
        b1(local(11, 1, 6), Completed, 120.0),
        b1(local(9, 30, 23), Completed, 120.0),
    ])
    .unwrap();
    (dir, l)
}

fn counts(plays: u64, done: u64, int: u64, fail: u64, miss: u64, skip: u64, s: f64) -> Counts {
    Counts {
        plays,
        completed: done,
        interrupted: int,
        failed: fail,
        missed: miss,
        skipped: skip,
        cancelled: 0,
        aired_seconds: s,
        relay_seconds: 0.0,
        heard_seconds: 0.0,
        heard_rows: 0,
    }
}

#[test]
fn relay_minutes_are_shown_apart_from_local_minutes() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::open(&dir.path().join("airtime.db"), TZ).unwrap();
    let mut relay = settled(
        "vov1",
        "Tiếp âm VOV1",
        None,
        local(10, 2, 6),
        Outcome::Completed,
        540.0,
    );
    relay.airing.source = Source::Relay;
    let file = settled(
        "b4",
        "Thời tiết",
        None,
        local(10, 2, 7),
        Outcome::Completed,
        60.0,
    );
    l.record_all([relay, file]).unwrap();
    let r = report(&l, &campaigns(), &october()).unwrap();
    assert_eq!(r.total.aired_minutes(), 10.0);
    assert_eq!(r.total.relay_minutes(), 9.0);
    assert_eq!(r.total.local_minutes(), 1.0);
    let csv = format_report(&r, Format::Csv);
    assert!(
        csv.contains("Phút đã phát,Phút tiếp âm,Phút nội dung địa phương,"),
        "{csv}"
    );
    assert!(
        csv.contains(",Tiếp âm VOV1,1,1,0,0,0,0,0,9.00,9.00,0.00,"),
        "{csv}"
    );
    assert!(
        csv.contains(",tổng cộng,,,,,2,2,0,0,0,0,0,10.00,9.00,1.00,"),
        "{csv}"
    );
    let v: serde_json::Value = serde_json::from_str(&format_report(&r, Format::Json)).unwrap();
    assert_eq!(v["total"]["relay_minutes"], 9.0);
    assert_eq!(v["total"]["local_minutes"], 1.0);
    let table = format_report(&r, Format::Table);
    assert!(table.contains("Phút tiếp âm"), "{table}");
}

#[test]
fn totals_on_known_rows() {
    let (_d, l) = ledger();
    let r = report(&l, &campaigns(), &october()).unwrap();
    let ids: Vec<_> = r.campaigns.iter().map(|c| c.campaign.as_deref()).collect();
    assert_eq!(
        ids,
        [Some("c1"), Some("c2"), Some("c3"), Some("c-old"), None]
    );

    let c1 = &r.campaigns[0];
    assert_eq!(c1.title, "Tiêm chủng mở rộng");
    // b2's failure came before it started: no play.
    assert_eq!(c1.counts, counts(3, 2, 1, 1, 1, 0, 270.0));
    assert_eq!(c1.counts.aired_minutes(), 4.5);
    assert_eq!(c1.percent_of_target(), Some(45.0));
    let b: Vec<_> = c1
        .bulletins
        .iter()
        .map(|b| (&*b.bulletin, &*b.title))
        .collect();
    // By title, whatever the ids.
    assert_eq!(b, [("b2", "Lịch tiêm"), ("b1", "Thông điệp 5K")]);
    assert_eq!(c1.bulletins[0].counts, counts(0, 0, 0, 1, 1, 0, 0.0));
    assert_eq!(c1.bulletins[1].counts, counts(3, 2, 1, 0, 0, 0, 270.0));

    assert_eq!(r.campaigns[1].counts, counts(1, 1, 0, 0, 0, 1, 90.0));
    assert_eq!(r.campaigns[1].percent_of_target(), None);
    let c3 = &r.campaigns[2];
    assert_eq!(c3.counts, Counts::default());
    assert!(c3.bulletins.is_empty());
    assert_eq!(c3.percent_of_target(), Some(0.0));
    assert_eq!(r.campaigns[3].title, "c-old");
    assert_eq!(r.campaigns[3].counts, counts(1, 1, 0, 0, 0, 0, 45.0));
    assert_eq!(r.campaigns[4].title, NO_CAMPAIGN);
    assert_eq!(r.campaigns[4].counts, counts(1, 1, 0, 0, 0, 0, 60.0));
    assert_eq!(r.total, counts(6, 5, 1, 1, 1, 1, 465.0));

    let table = format_report(&r, Format::Table);
    assert!(
        table.contains("Kỳ báo cáo: từ 01/10/2026 đến hết 31/10/2026 (giờ UTC+07:00)"),
        "{table}"
    );
    let total = table.lines().find(|l| l.starts_with(TOTAL)).unwrap();
    assert!(total.ends_with(" 7,75"), "{total}");
    let c1_line = table.lines().find(|l| l.starts_with("Tiêm chủng")).unwrap();
    let tail: Vec<_> = c1_line.split_whitespace().rev().take(3).collect();
    assert_eq!(tail, ["45,0", "10,00", "4,50"], "{c1_line}");
}

#[test]
fn table_columns_align_by_characters_not_bytes() {
    let (_d, l) = ledger();
    let table = format_report(
        &report(&l, &campaigns(), &october()).unwrap(),
        Format::Table,
    );
    let header = table.lines().find(|l| l.starts_with("Chiến dịch")).unwrap();
    let end_of = |line: &str, needle: &str| {
        let at = line.find(needle).unwrap() + needle.len();
        line[..at].chars().count()
    };
    let col_end = end_of(header, "Lượt phát");
    // Rows whose first cells differ in byte length but not in chars.
    for start in ["Tiêm chủng", "Phòng cháy", "Bầu cử", TOTAL] {
        let line = table.lines().find(|l| l.starts_with(start)).unwrap();
        let plays = line
            .split_whitespace()
            .find(|w| w.parse::<u64>().is_ok())
            .unwrap();
        let at = line.find(&format!(" {plays} ")).unwrap() + 1 + plays.len();
        assert_eq!(line[..at].chars().count(), col_end, "{line}\n{table}");
    }
    assert_eq!(
        crate::table::width("Vie\u{0302}\u{0323}t"),
        4,
        "decomposed tone marks take no column"
    );
}

#[test]
fn campaign_filter_applies() {
    let (_d, l) = ledger();
    let f = Filter {
        campaign: Some("c1".into()),
        ..october()
    };
    let r = report(&l, &campaigns(), &f).unwrap();
    assert_eq!(r.campaigns.len(), 1);
    assert_eq!(r.campaigns[0].campaign.as_deref(), Some("c1"));
    assert_eq!(r.total, r.campaigns[0].counts);
    assert!(format_report(&r, Format::Table).contains("Chiến dịch: c1"));

    let f = Filter {
        campaign: Some("c3".into()),
        ..october()
    };
    let r = report(&l, &campaigns(), &f).unwrap();
    assert_eq!(r.campaigns.len(), 1);
    assert_eq!(r.total, Counts::default());
}

#[test]
fn empty_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::open(&dir.path().join("airtime.db"), TZ).unwrap();
    let r = report(&l, &campaigns(), &Filter::default()).unwrap();
    assert_eq!(
        r.campaigns.len(),
        3,
        "station campaigns listed, no empty no-campaign group"
    );
    assert_eq!(r.total, Counts::default());
    let table = format_report(&r, Format::Table);
    assert!(table.contains("từ đầu sổ đến nay"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("Bầu cử")), "{table}");
    let v: serde_json::Value = serde_json::from_str(&format_report(&r, Format::Json)).unwrap();
    assert_eq!(v["total"]["plays"], 0);
    assert_eq!(v["from"], serde_json::Value::Null);

    let r = report(&l, &[], &Filter::default()).unwrap();
    assert!(format_report(&r, Format::Table).contains("Không có chiến dịch"));
    let csv = format_report(&r, Format::Csv);
    assert_eq!(
        csv.matches("\r\n").count(),
        2 + LEGEND.len(),
        "header, total and legend only: {csv}"
    );
    assert_eq!(format_airtime(&[], Format::Json), "[]\n");
    assert!(format_airtime(&[], Format::Table).starts_with("Không có lượt phát"));
}

#[test]
fn json_shape() {
    let (_d, l) = ledger();
    let r = report(&l, &campaigns(), &october()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&format_report(&r, Format::Json)).unwrap();
    assert_eq!(v["from"], "2026-10-01T00:00:00.000+07:00");
    let c1 = &v["campaigns"][0];
    let mut keys: Vec<_> = c1.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "aired_minutes",
            "aired_seconds",
            "bulletins",
            "campaign",
            "cancelled",
            "completed",
            "failed",
            "heard_minutes",
            "interrupted",
            "local_minutes",
            "missed",
            "percent_of_target",
            "plays",
            "relay_minutes",
            "skipped",
            "target_minutes",
            "title"
        ]
    );
    assert_eq!(c1["campaign"], "c1");
    assert_eq!(c1["aired_minutes"], 4.5);
    assert_eq!(c1["target_minutes"], 10.0);
    assert_eq!(c1["percent_of_target"], 45.0);
    assert_eq!(c1["bulletins"][0]["bulletin"], "b2");
    assert_eq!(c1["bulletins"][1]["plays"], 3);
    assert_eq!(v["campaigns"][1]["target_minutes"], serde_json::Value::Null);
    assert_eq!(v["campaigns"][4]["campaign"], serde_json::Value::Null);
    assert_eq!(v["total"]["aired_minutes"], 7.75);
}

#[test]
fn csv_has_bom_and_quotes_commas_quotes_and_newlines() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::open(&dir.path().join("airtime.db"), TZ).unwrap();
    let title = "Thông báo \"khẩn\", họp\ndân";
    l.record_all([settled(
        "b1",
        title,
        Some("c1"),
        local(10, 2, 6),
        Outcome::Completed,
        61.0,
    )])
    .unwrap();
    let quoted = "\"Thông báo \"\"khẩn\"\", họp\ndân\"";

    let r = report(&l, &campaigns(), &october()).unwrap();
    let csv = format_report(&r, Format::Csv);
    assert!(csv.starts_with("\u{feff}Từ,Đến trước,Loại dòng,"), "{csv}");
    let bulletin_row = format!(
        "2026-10-01 00:00:00,2026-11-01 00:00:00,bản tin,c1,Tiêm chủng mở rộng,b1,{quoted},1,1,0,0,0,0,0,1.02,0.00,1.02,,\r\n"
    );
    assert!(csv.contains(&bulletin_row), "{csv}");
    assert!(
        csv.contains(
            ",cộng chiến dịch,c1,Tiêm chủng mở rộng,,,1,1,0,0,0,0,0,1.02,0.00,1.02,10.00,10.2\r\n"
        ),
        "{csv}"
    );
    assert!(
        csv.contains(",tổng cộng,,,,,1,1,0,0,0,0,0,1.02,0.00,1.02,,\r\n"),
        "{csv}"
    );

    let table = format_report(&r, Format::Table);
    assert!(table.contains("Thông báo \"khẩn\", họp dân"), "{table}");
    assert!(!table.lines().any(|l| l.starts_with("dân")), "{table}");

    let rows = l.rows(&Filter::default()).unwrap();
    let csv = format_airtime(&rows, Format::Csv);
    assert!(csv.starts_with("\u{feff}Giờ dự kiến,"), "{csv}");
    assert!(
        csv.contains(&format!("2026-10-02 06:00:00,2026-10-02 06:00:00,,b1,{quoted},c1,,thường,theo lịch,hoàn thành,,120.000,61.000,")),
        "{csv}"
    );
}

#[test]
fn airtime_listing_formats() {
    let (_d, l) = ledger();
    let rows = l.rows(&october()).unwrap();
    assert_eq!(rows.len(), 9);
    let table = format_airtime(&rows, Format::Table);
    let first = table.lines().nth(2).unwrap();
    assert!(
        first.starts_with("02/10/2026 06:00:00  06:00:00  Thông điệp 5K"),
        "{table}"
    );
    assert!(
        first.contains("hoàn thành") && first.ends_with("120,0"),
        "{first}"
    );
    assert!(
        table.contains("bị ngắt") && table.contains("bỏ qua"),
        "{table}"
    );
    assert!(table.ends_with("9 lượt, 7,75 phút đã phát\n"), "{table}");

    let v: serde_json::Value = serde_json::from_str(&format_airtime(&rows, Format::Json)).unwrap();
    let a = v.as_array().unwrap();
    assert_eq!(a.len(), 9);
    assert_eq!(a[0]["outcome"], "completed");
    assert_eq!(a[0]["priority"], "normal");
    assert_eq!(a[0]["source"], "schedule");
    assert_eq!(a[0]["scheduled_at"], "2026-10-02T06:00:00.000+07:00");
    assert_eq!(a[0]["campaign"], "c1");
    assert_eq!(a[7]["campaign"], serde_json::Value::Null);
}

#[test]
fn period_wording() {
    let p = period_vi(Some(local(10, 1, 6)), Some(local(10, 1, 12)), TZ);
    assert_eq!(
        p,
        "từ 01/10/2026 06:00 đến trước 01/10/2026 12:00 (giờ UTC+07:00)"
    );
}

#[test]
fn format_values_are_the_command_line_names_without_help() {
    use clap::ValueEnum;
    let values: Vec<_> = Format::value_variants()
        .iter()
        .map(|f| f.to_possible_value().unwrap())
        .collect();
    let names: Vec<_> = values.iter().map(|v| v.get_name()).collect();
    assert_eq!(names, ["table", "csv", "json"]);
    // With help on a value, `--help` turns the one-line list of
    // possible values into a paragraph per value.
    assert!(values.iter().all(|v| v.get_help().is_none()));
}

/// The listing's reasons come from the catalogue: Vietnamese in the table
/// and the CSV, code, arguments and both texts in the JSON.
#[test]
fn airtime_listing_renders_reasons_from_their_codes() {
    use crate::reason::Reason;
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::open(&dir.path().join("airtime.db"), TZ).unwrap();
    let cut = Reason::InterruptedByEmergency {
        bulletin: "bao-lu".into(),
        title: "Báo lũ".into(),
    };
    let mut row = settled("a", "A", None, local(10, 2, 6), Outcome::Interrupted, 30.0);
    row.reason = Some(cut.into());
    l.record_all([row]).unwrap();
    let rows = l.rows(&october()).unwrap();
    let vi = "bị ngắt để phát tin khẩn cấp «Báo lũ»";
    let table = format_airtime(&rows, Format::Table);
    assert!(table.contains(vi), "{table}");
    assert!(!table.contains("interrupted by"), "{table}");
    let csv = format_airtime(&rows, Format::Csv);
    assert!(csv.contains(vi), "{csv}");
    let v: serde_json::Value = serde_json::from_str(&format_airtime(&rows, Format::Json)).unwrap();
    assert_eq!(v[0]["reason_code"], "interrupted_by_emergency");
    assert_eq!(v[0]["reason_args"]["title"], "Báo lũ");
    assert_eq!(v[0]["reason_vi"], vi);
    assert_eq!(
        v[0]["reason"],
        "interrupted by emergency \"bao-lu\" (Báo lũ)"
    );
    assert_eq!(v[0]["reason_details"], serde_json::json!([]));
}

/// The days of a period, as the report gives them: from the first day's
/// start to the start of the day after the last.
fn days(
    from: (i32, u32, u32),
    to: (i32, u32, u32),
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let day = |(y, m, d): (i32, u32, u32)| {
        TZ.with_ymd_and_hms(y, m, d, 0, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    };
    let (y, m, d) = to;
    let after = chrono::NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .succ_opt()
        .unwrap();
    (
        Some(day(from)),
        Some(day((
            chrono::Datelike::year(&after),
            chrono::Datelike::month(&after),
            chrono::Datelike::day(&after),
        ))),
    )
}

fn windowed(from: &str, to: &str, target: f64) -> Campaign {
    Campaign {
        id: "cds".into(),
        title: "Chuyển đổi số".into(),
        window: Some(crate::config::Window {
            from: crate::config::parse_date_spec(from).unwrap(),
            to: crate::config::parse_date_spec(to).unwrap(),
        }),
        target_minutes: Some(target),
    }
}

#[test]
fn a_target_is_prorated_to_the_days_of_its_window_inside_the_period() {
    let october = windowed("2026-10-01", "2026-10-31", 310.0);
    // 16 October to 15 November: 16 of the window's 31 days.
    let (f, t) = days((2026, 10, 16), (2026, 11, 15));
    assert_eq!(target_in(&october, f, t, TZ), Some(160.0));
    // The whole window, or more: the whole target.
    let (f, t) = days((2026, 9, 1), (2026, 12, 31));
    assert_eq!(target_in(&october, f, t, TZ), Some(310.0));
    // A December report never had an October target: no target, no percent.
    let (f, t) = days((2026, 12, 1), (2026, 12, 31));
    assert_eq!(target_in(&october, f, t, TZ), None);
    // Open ends are bounded by the window.
    assert_eq!(target_in(&october, None, None, TZ), Some(310.0));
    let (_, t) = days((2026, 10, 1), (2026, 10, 10));
    assert_eq!(target_in(&october, None, t, TZ), Some(100.0));
    // No window: the target is the period's, whatever it is.
    let plain = Campaign {
        window: None,
        ..october.clone()
    };
    let (f, t) = days((2026, 12, 1), (2026, 12, 31));
    assert_eq!(target_in(&plain, f, t, TZ), Some(310.0));
    // An annual window across the new year: 15 Dec–15 Jan is 32 days, and
    // 1–31 January holds 15 of them.
    let tet = windowed("12-15", "01-15", 320.0);
    let (f, t) = days((2027, 1, 1), (2027, 1, 31));
    assert_eq!(target_in(&tet, f, t, TZ), Some(150.0));
    let (f, t) = days((2027, 3, 1), (2027, 3, 31));
    assert_eq!(target_in(&tet, f, t, TZ), None);
}

#[test]
fn the_report_shows_the_prorated_target_and_none_outside_the_window() {
    let (_dir, ledger) = ledger();
    let campaigns = vec![windowed("2026-10-01", "2026-10-31", 310.0)];
    // The campaign's line in the report over `(from, to)`.
    let cds = |(from, to)| {
        let r = report(
            &ledger,
            &campaigns,
            &Filter {
                from,
                to,
                campaign: None,
            },
        )
        .unwrap();
        let found = r
            .campaigns
            .into_iter()
            .find(|c| c.campaign.as_deref() == Some("cds"));
        found.unwrap()
    };
    let late_october = cds(days((2026, 10, 16), (2026, 11, 15)));
    assert_eq!(late_october.target_minutes, Some(160.0));
    let cds = cds(days((2026, 12, 1), (2026, 12, 31)));
    assert_eq!(cds.target_minutes, None);
    assert_eq!(cds.percent_of_target(), None);
}

/// The report over `crate::ledger::test_util::ten_queued`.
fn ten_queued_report() -> (tempfile::TempDir, Report) {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::open(&dir.path().join("airtime.db"), TZ).unwrap();
    l.record_all(crate::ledger::test_util::ten_queued())
        .unwrap();
    let r = report(&l, &campaigns(), &october()).unwrap();
    (dir, r)
}

#[test]
fn an_operators_cancellations_are_counted_apart_not_as_plays() {
    let (_d, r) = ten_queued_report();
    let want = Counts {
        plays: 1,
        completed: 1,
        missed: 1,
        skipped: 1,
        cancelled: 7,
        aired_seconds: 120.0,
        ..Counts::default()
    };
    assert_eq!(r.total, want);

    let csv = format_report(&r, Format::Csv);
    assert!(csv.contains(",Bỏ lỡ,Bỏ qua,Đã huỷ,Phút đã phát,"), "{csv}");
    assert!(
        csv.contains(",tổng cộng,,,,,1,1,0,0,1,1,7,2.00,0.00,2.00,,\r\n"),
        "{csv}"
    );
    let v: serde_json::Value = serde_json::from_str(&format_report(&r, Format::Json)).unwrap();
    let t = &v["total"];
    assert_eq!(
        [
            &t["plays"],
            &t["completed"],
            &t["missed"],
            &t["skipped"],
            &t["cancelled"]
        ],
        [1, 1, 1, 1, 7]
    );
    let table = format_report(&r, Format::Table);
    let total = table.lines().find(|l| l.starts_with(TOTAL)).unwrap();
    let cells: Vec<_> = total.split_whitespace().skip(2).take(7).collect();
    assert_eq!(cells, ["1", "1", "0", "0", "1", "1", "7"], "{table}");
}

#[test]
fn the_legend_tells_missed_skipped_and_cancelled_apart() {
    let (_d, r) = ten_queued_report();
    let table = format_report(&r, Format::Table);
    let csv = format_report(&r, Format::Csv);
    for (vi, means, _, _) in LEGEND {
        assert!(table.contains(&format!("  {vi}: {means}\n")), "{table}");
        assert!(csv.contains(&format!(",chú thích,,,{vi},")), "{csv}");
    }
    let words: Vec<_> = LEGEND.iter().map(|l| l.0).collect();
    assert_eq!(words, COUNT_HEADERS, "one line per count column, in order");
    let meaning = |w: &str| LEGEND.iter().find(|l| l.0 == w).unwrap().1;
    assert!(meaning("Đã huỷ").contains("không tính là lỗi của đài"));
    assert_ne!(meaning("Bỏ lỡ"), meaning("Bỏ qua"));
}

#[test]
fn bulletins_come_by_title_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::open(&dir.path().join("airtime.db"), TZ).unwrap();
    let day = local(10, 2, 6);
    // Ids in the opposite order of the titles.
    l.record_all([
        settled("a", "Zalo", Some("c1"), day, Outcome::Completed, 60.0),
        settled("b", "Mùa khô", Some("c1"), day, Outcome::Completed, 60.0),
        settled("c", "Bầu cử", Some("c1"), day, Outcome::Completed, 60.0),
    ])
    .unwrap();
    let r = report(&l, &campaigns(), &october()).unwrap();
    let titles: Vec<_> = r.campaigns[0].bulletins.iter().map(|b| &*b.title).collect();
    assert_eq!(titles, ["Bầu cử", "Mùa khô", "Zalo"]);
    let at = |s: &str, w: &str| s.find(w).unwrap_or_else(|| panic!("{w} in {s}"));
    for fmt in [Format::Csv, Format::Json, Format::Table] {
        let s = format_report(&r, fmt);
        assert!(at(&s, "Bầu cử") < at(&s, "Mùa khô"), "{s}");
        assert!(at(&s, "Mùa khô") < at(&s, "Zalo"), "{s}");
    }
}

#[test]
fn csv_numbers_use_the_point_the_page_says_and_no_cell_is_a_formula() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::open(&dir.path().join("airtime.db"), TZ).unwrap();
    let evil = "=HYPERLINK(\"http://x\",\"y\")";
    l.record_all([
        settled(
            "b1",
            evil,
            Some("c1"),
            local(10, 2, 6),
            Outcome::Completed,
            90.0,
        ),
        settled(
            "b2",
            "@SUM(A1)",
            None,
            local(10, 2, 7),
            Outcome::Completed,
            30.0,
        ),
        settled(
            "b3",
            "+1+1",
            None,
            local(10, 2, 8),
            Outcome::Completed,
            30.0,
        ),
        settled(
            "b4",
            "-2-2",
            None,
            local(10, 2, 9),
            Outcome::Completed,
            30.0,
        ),
        settled(
            "b5",
            "\tx",
            None,
            local(10, 2, 10),
            Outcome::Completed,
            30.0,
        ),
    ])
    .unwrap();
    let mut c = campaigns();
    c[0].title = "+Tiêm chủng".into();
    let r = report(&l, &c, &october()).unwrap();
    let csv = format_report(&r, Format::Csv);
    // What the page says of the CSV's numbers, and the CSV's numbers.
    let (note, _) = CSV_NUMBERS;
    assert!(
        note.contains("dấu chấm") && note.contains("12.50"),
        "{note}"
    );
    assert!(csv.contains(",1.50,0.00,1.50,10.00,15.0\r\n"), "{csv}");
    assert!(!csv.contains(",1,50,"), "{csv}");
    for line in csv.lines() {
        let mut in_quotes = false;
        let mut cell = String::new();
        let mut cells = Vec::new();
        for ch in line.chars() {
            match ch {
                '"' => in_quotes = !in_quotes,
                ',' if !in_quotes => cells.push(std::mem::take(&mut cell)),
                _ => cell.push(ch),
            }
        }
        cells.push(cell);
        for cell in cells {
            let risky = cell.starts_with(['=', '+', '@', '\t', '\r'])
                || (cell.starts_with('-') && cell.parse::<f64>().is_err());
            assert!(!risky, "cell {cell:?} of {line:?}");
        }
    }
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
    assert!(csv.contains(",'+Tiêm chủng,"), "{csv}");
    assert!(csv.contains(",'@SUM(A1),"), "{csv}");
    assert!(csv.contains(",'-2-2,"), "{csv}");
}
