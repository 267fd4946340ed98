//! The printed report as a Vietnamese administrative document (Nghị định
//! 30/2020/NĐ-CP), read back from the PDF page by page.

use super::rig::*;

/// The report's PDF as text, page by page (`pdftotext -layout`).
pub(crate) fn pdf_pages(pdf: &Path) -> Vec<String> {
    let out = Command::new("pdftotext")
        .arg("-layout")
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext is missing: install Debian's poppler-utils (`make test-deps`)");
    assert!(out.status.success(), "pdftotext {}", pdf.display());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut pages: Vec<String> = text.split('\x0c').map(str::to_string).collect();
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    pages
}

/// Print what the browser shows to `name`.pdf under the screenshots, and
/// read it back.
pub(crate) async fn print_pdf(b: &Browser, name: &str) -> Vec<String> {
    let pdf =
        b.c.print(
            PrintConfiguration::builder()
                .background(true)
                .build()
                .unwrap(),
        )
        .await
        .expect("print to PDF");
    let path = b.shots.join(format!("{name}.pdf"));
    std::fs::write(&path, &pdf).unwrap();
    pdf_pages(&path)
}

/// Bulletins in October 2026's ledger: bulletin `j` airs every day from
/// the `j + 1`th, so a period ending on day `k` reports `k` of them.
pub(crate) const PRINT_BULLETINS: u32 = 31;
pub(crate) const PRINT_CAMPAIGNS: u32 = 8;

/// A month of rows for `report_prints_as_an_administrative_document`.
pub(crate) fn october_ledger(db: &Path) {
    use chrono::TimeZone;
    use loa::config::Priority;
    use loa::ledger::{Airing, Ledger, Outcome, Settled, Source};
    let tz = chrono_tz::Asia::Ho_Chi_Minh;
    let mut l = Ledger::open(db, tz).unwrap();
    let mut rows = Vec::new();
    for j in 0..PRINT_BULLETINS {
        for d in (j + 1)..=31 {
            let at = tz
                .with_ymd_and_hms(2026, 10, d, 6, 0, 0)
                .unwrap()
                .with_timezone(&chrono::Utc);
            let missed = (j + d) % 9 == 0;
            rows.push(Settled {
                airing: Airing {
                    occurrence: format!("b{j}@{d}"),
                    bulletin: format!("b{j:02}"),
                    title: format!("Bản tin số {j:02}"),
                    campaign: Some(format!("c{}", j % PRINT_CAMPAIGNS)),
                    program: None,
                    priority: Priority::Normal,
                    source: Source::Schedule,
                    file: format!("b{j}.mp3"),
                    scheduled_at: at,
                    planned_seconds: 180.0,
                    requested_by: None,
                },
                started_at: (!missed).then_some(at),
                ended_at: (!missed).then_some(at),
                aired_seconds: if missed { 0.0 } else { 180.0 },
                outcome: if missed {
                    Outcome::Missed
                } else {
                    Outcome::Completed
                },
                reason: None,
            });
        }
    }
    l.record_all(rows).unwrap();
}

/// The printed report is a Vietnamese administrative document (Nghị định
/// 30/2020/NĐ-CP): issuing body and number, national heading, place and
/// date line, "Trang i/n" on every page, and "Nơi nhận:" with the
/// signatures on the page that ends the table, whatever its length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(crate) async fn report_prints_as_an_administrative_document() {
    let _alone = ONE_BROWSER.lock().await;
    for tool in ["pdftotext", "pdftoppm"] {
        assert!(
            Command::new(tool).arg("-v").output().is_ok(),
            "{tool} is missing: install Debian's poppler-utils (`make test-deps`)"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = root.join("station.toml");
    let campaigns: String = (0..PRINT_CAMPAIGNS)
        .map(|c| format!("[[campaign]]\nid = \"c{c}\"\ntitle = \"Chiến dịch tuyên truyền số {c}\"\ntarget_minutes = 600\n"))
        .collect();
    std::fs::write(
        &config,
        format!(
            r#"
[station]
name = "Đài truyền thanh xã Thạch Hà"
data_dir = "var"
[output]
kind = "null"
[api]
listen = "{addr}"
[report]
authority = "Ủy ban nhân dân xã Thạch Hà"
number_prefix = "BC-ĐTT"
place = "Thạch Hà"
preparer_name = "Nguyễn Thị Lan"
head_title = "Chủ tịch UBND xã"
head_name = "Trần Văn Hùng"
{campaigns}"#
        ),
    )
    .unwrap();
    std::fs::create_dir(root.join("var")).unwrap();
    october_ledger(&root.join("var/airtime.db"));
    let cfg = config.to_str().unwrap();
    add_user(cfg, "xem", "viewer");
    let _daemon = Daemon::start(&config, addr);
    let shots = repo("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let (_driver, port) = start_driver(root);
    let c = session(port, &root.join("chromium-profile"), &[], json!({})).await;
    let b = Browser {
        c,
        base: format!("http://{addr}"),
        shots: shots.clone(),
        findings: std::sync::Mutex::new(Vec::new()),
    };
    b.sign_in("xem", PASSWORD).await;

    // The whole month: three pages of tables, then the annex.
    b.goto("/bao-cao?tu=2026-10-01&den=2026-10-31").await;
    b.wait_text(".paper-head", "ỦY BAN NHÂN DÂN XÃ THẠCH HÀ")
        .await;
    let pages = print_pdf(&b, "bao-cao-giay").await;
    let n = pages.len();
    assert!(n >= 3, "a month should print on 3+ pages, got {n}");
    for (i, p) in pages.iter().enumerate() {
        let want = format!("Trang {}/{n}", i + 1);
        assert!(p.contains(&want), "page {} lacks {want:?}:\n{p}", i + 1);
    }
    let first = &pages[0];
    for want in [
        "ỦY BAN NHÂN DÂN XÃ THẠCH HÀ",
        "ĐÀI TRUYỀN THANH",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "/BC-ĐTT",
        "Thạch Hà, ngày",
        "BÁO CÁO THỜI LƯỢNG PHÁT SÓNG",
        "từ 01/10/2026 đến hết 31/10/2026",
    ] {
        assert!(first.contains(want), "page 1 lacks {want:?}:\n{first}");
    }
    assert!(
        !first.contains("Đài truyền thanh xã Thạch Hà,"),
        "the date line names the place, not the station:\n{first}"
    );
    let end = pages
        .iter()
        .position(|p| p.contains("Tổng cộng"))
        .expect("the total is printed");
    assert!(end > 0, "the table should run past page 1");
    for p in &pages[..=end] {
        assert!(
            p.contains("Chiến dịch / bản tin"),
            "the table's header on every page:\n{p}"
        );
    }
    for want in [
        "Nơi nhận:",
        "- Lưu: VT.",
        "NGƯỜI LẬP BIỂU",
        "CHỦ TỊCH UBND XÃ",
        "Trần Văn Hùng",
    ] {
        assert!(
            pages[end].contains(want),
            "page {} (the total's) lacks {want:?}:\n{}",
            end + 1,
            pages[end]
        );
    }
    assert!(
        pages[end + 1..].iter().any(|p| p.contains("PHỤ LỤC")),
        "the chart and what did not air follow as an annex"
    );
    // Each page as a picture, to look at.
    let png = Command::new("pdftoppm")
        .args(["-png", "-r", "60"])
        .arg(shots.join("bao-cao-giay.pdf"))
        .arg(shots.join("bao-cao-giay"))
        .status()
        .unwrap();
    assert!(png.success());

    signatures_stay_with_the_total(&b).await;
    printed_in_english(&b).await;
    b.goto("/bao-cao?lang=vi").await;
    b.c.close().await.unwrap();
}

/// Whatever the table's length, the signatures end the page of its total
/// with at least one of its rows: never alone on a page.
pub(crate) async fn signatures_stay_with_the_total(b: &Browser) {
    for k in 1..=PRINT_BULLETINS {
        b.goto(&format!("/bao-cao?tu=2026-10-01&den=2026-10-{k:02}"))
            .await;
        b.wait_text(".paper-title", &format!("đến hết {k:02}/10/2026"))
            .await;
        let pages = print_pdf(b, "bao-cao-giay-ngan").await;
        let end = pages
            .iter()
            .position(|p| p.contains("Tổng cộng"))
            .unwrap_or_else(|| panic!("{k} days: no total"));
        let p = &pages[end];
        assert!(
            p.contains("NGƯỜI LẬP BIỂU") && p.contains("Nơi nhận:"),
            "{k} days: the signatures left the total's page {}:\n{p}",
            end + 1
        );
        assert!(
            p.contains("Bản tin số") || p.contains("Chiến dịch tuyên truyền"),
            "{k} days: the total and signatures are alone on page {}:\n{p}",
            end + 1
        );
    }
}

/// English: the national heading is the document's form and stays.
pub(crate) async fn printed_in_english(b: &Browser) {
    b.goto("/bao-cao?tu=2026-10-01&den=2026-10-31&lang=en")
        .await;
    b.wait_text(".paper-title", "AIRTIME REPORT").await;
    let pages = print_pdf(b, "bao-cao-giay-en").await;
    let n = pages.len();
    for (i, p) in pages.iter().enumerate() {
        let want = format!("Page {}/{n}", i + 1);
        assert!(p.contains(&want), "page {} lacks {want:?}:\n{p}", i + 1);
    }
    for want in [
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "No.:",
        "Thạch Hà, date",
    ] {
        assert!(
            pages[0].contains(want),
            "page 1 lacks {want:?}:\n{}",
            pages[0]
        );
    }
    assert!(pages.iter().any(|p| p.contains("Recipients:")));
}
