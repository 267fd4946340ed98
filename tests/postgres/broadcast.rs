//! The province's report of one broadcast (issue 20): rows carry the
//! broadcast id to PostgreSQL, and the report filters by it.

use super::*;

/// Rows the province's bulletins aired reach its database with their
/// broadcast id, and its report can be asked for one broadcast: the totals
/// are what the test's own rows of that broadcast sum to, for a whole
/// month (which otherwise reads the monthly sums) and for another period.
#[test]
fn the_province_report_of_one_broadcast() {
    let pg = Postgres::start();
    let url = pg.url();
    let stations = [Station::new("31260", &url), Station::new("31261", &url)];
    // (station, broadcast or none, day of October, outcome, aired seconds)
    let rows: [(usize, Option<&str>, u32, Outcome, f64); 9] = [
        (0, Some("b-bao"), 2, Outcome::Completed, 30.5),
        (0, Some("b-bao"), 2, Outcome::Completed, 30.5),
        (0, Some("b-hop"), 2, Outcome::Completed, 45.0),
        (0, None, 2, Outcome::Completed, 60.0),
        (1, Some("b-bao"), 2, Outcome::Interrupted, 12.0),
        (1, Some("b-bao"), 20, Outcome::Completed, 30.5),
        (1, Some("b-hop"), 2, Outcome::Skipped, 0.0),
        (1, Some("b-hop"), 3, Outcome::Completed, 45.0),
        (1, None, 2, Outcome::Completed, 60.0),
    ];
    for (n, s) in stations.iter().enumerate() {
        let mut l = Ledger::open(&s.ledger_path(), TZ).unwrap();
        let mine = rows.iter().enumerate().filter(|(_, r)| r.0 == n);
        let settled: Vec<Settled> = mine
            .map(|(i, &(_, broadcast, day, outcome, aired))| {
                let when = TZ
                    .with_ymd_and_hms(2026, 10, day, 8, i as u32, 0)
                    .unwrap()
                    .with_timezone(&Utc);
                let stamp = loa::timefmt::rfc3339(when, TZ);
                let (occurrence, source, priority) = match broadcast {
                    Some(b) if i % 2 == 0 => (
                        format!("emergency:{i}/province:{b}@{stamp}"),
                        Source::Province,
                        Priority::Emergency,
                    ),
                    Some(b) => (
                        format!("operator:{i}/province:{b}@{stamp}"),
                        Source::Province,
                        Priority::Normal,
                    ),
                    None => (format!("sang@{stamp}"), Source::Schedule, Priority::Normal),
                };
                Settled {
                    airing: Airing {
                        occurrence,
                        title: "Tin".into(),
                        bulletin: "tinh/x.mp3".into(),
                        campaign: None,
                        program: None,
                        priority,
                        source,
                        file: "tinh/x.mp3".into(),
                        scheduled_at: when,
                        planned_seconds: 60.0,
                        requested_by: Some("So TTTT".into()),
                    },
                    started_at: (aired > 0.0).then_some(when),
                    ended_at: None,
                    aired_seconds: aired,
                    outcome,
                    reason: (outcome == Outcome::Skipped).then(|| Reason::Dequeued.into()),
                }
            })
            .collect();
        l.record_all(settled).unwrap();
    }
    common::attack::add_user(&stations[0].config(), "van-hanh", "mat-khau-van-hanh");
    let daemons: Vec<Daemon> = stations.iter().map(|s| s.start()).collect();
    wait_until("both stations shipped", Duration::from_secs(60), || {
        stations
            .iter()
            .all(|s| central(&pg, &s.id).len() == s.closed().len())
    });
    assert_eq!(
        pg.psql("SELECT count(*) FROM loa_airtime WHERE broadcast = 'b-bao'"),
        "4"
    );
    // The report page has the field, and its CSV is the CLI's.
    let cookie = sign_in(stations[0].addr, "van-hanh", "mat-khau-van-hanh");
    let query = "tu=2026-10-01&den=2026-10-31&pham_vi=tinh&ban_tin=b-hop";
    let (code, page) = get_with_cookie(stations[0].addr, &format!("/bao-cao?{query}"), &cookie);
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("name=\"ban_tin\""), "{page}");
    assert!(page.contains("value=\"b-hop\""), "{page}");
    let (code, csv) = get_with_cookie(stations[0].addr, &format!("/bao-cao.csv?{query}"), &cookie);
    assert_eq!(code, 200, "{csv}");
    let october_csv = |more: &[&str]| {
        let mut args = vec!["report", "--postgres", &url, "--from", "2026-10-01"];
        args.extend(["--to", "2026-10-31", "--format", "csv"]);
        args.extend(more);
        loa(&args)
    };
    let cli_csv = october_csv(&["--broadcast", "b-hop"]);
    assert!(csv.ends_with(&cli_csv), "{csv}\n---\n{cli_csv}");
    let whole = october_csv(&[]);
    assert_ne!(
        whole, cli_csv,
        "the broadcast's report is not the whole province's"
    );
    drop(daemons);
    for (broadcast, days) in [("b-bao", 1..=31), ("b-hop", 1..=31), ("b-bao", 2..=2)] {
        let mine: Vec<_> = rows
            .iter()
            .filter(|r| r.1 == Some(broadcast) && days.contains(&r.2))
            .collect();
        let seconds: f64 = mine.iter().map(|r| r.4).sum();
        let on_air = mine.iter().filter(|r| r.4 > 0.0).count() as u64;
        let (from, to) = (
            format!("2026-10-{:02}", days.start()),
            format!("2026-10-{:02}", days.end()),
        );
        let fleet: Value = serde_json::from_str(&loa(&[
            "report",
            "--postgres",
            &url,
            "--broadcast",
            broadcast,
            "--from",
            &from,
            "--to",
            &to,
            "--format",
            "json",
        ]))
        .unwrap();
        let total = &fleet["total"]["report"]["total"];
        let what = format!("{broadcast} {from}..{to}: {total:#}");
        assert_eq!(total["aired_seconds"].as_f64(), Some(seconds), "{what}");
        assert_eq!(total["plays"].as_u64(), Some(on_air), "{what}");
        let per_station: Vec<f64> = fleet["stations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["report"]["total"]["aired_seconds"].as_f64().unwrap())
            .collect();
        let own: Vec<f64> = (0..2)
            .map(|n| mine.iter().filter(|r| r.0 == n).map(|r| r.4).sum())
            .collect();
        assert_eq!(per_station, own, "{what}");
    }
}
