//! Benchmark: `loa check` on a large station — 1,000 bulletins, 200 audio
//! files, 20 programmes — run as the real binary. Goal: under 1 s.
//! Then how its cost grows: 5,000, 10,000 and 20,000 bulletins (what a
//! reload loads too, through the same loader). Goal: linear, a 20k/5k
//! ratio near 4 (it was about 13: a warning per item re-counted the lines
//! before it). Prints figures; asserts nothing.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let station = big_station(dir.path());
    let bin = env!("CARGO_BIN_EXE_loa");
    let best = best_check(bin, &station, 5);
    println!(
        "check: 1000 bulletins, 200 audio files, 20 programmes: best of 5 {:.1} ms (goal < 1000 ms)",
        best.as_secs_f64() * 1e3
    );
    growth(bin, dir.path());
}

/// The best of `runs` runs of `loa check` on `station`, which must pass.
fn best_check(bin: &str, station: &Path, runs: usize) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        let out = Command::new(bin)
            .args(["check", "--config"])
            .arg(station)
            .output()
            .expect("run loa check");
        let took = t.elapsed();
        assert!(
            out.status.success(),
            "loa check failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        best = best.min(took);
    }
    best
}

/// `loa check` at 5k, 10k and 20k bulletins, and the ratios.
fn growth(bin: &str, dir: &Path) {
    let mut took = Vec::new();
    for n in [5_000, 10_000, 20_000] {
        let best = best_check(bin, &scaled_station(dir, n), 3);
        println!(
            "check: {n} bulletins ({} programmes, 2 in 5 with a warning each): best of 3 {:.0} ms",
            n / 10,
            best.as_secs_f64() * 1e3
        );
        took.push(best.as_secs_f64());
    }
    println!(
        "check growth: 10k/5k {:.2}, 20k/5k {:.2} (goal about 2 and 4: linear; quadratic would be 4 and 16)",
        took[1] / took[0],
        took[2] / took[0]
    );
}

/// A station of `n` bulletins over one audio file: the first fifth in
/// programmes (one of 5 items per 10 bulletins), of the rest half air at a
/// time of day and half only when queued (a warning each); one campaign
/// per 50 bulletins. Returns the station file's path.
fn scaled_station(dir: &Path, n: usize) -> std::path::PathBuf {
    let audio = dir.join("audio");
    std::fs::create_dir_all(&audio).unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("audio/jingles/nhac-hieu.mp3");
    std::fs::copy(sample, audio.join("one.mp3")).unwrap();
    let mut s =
        String::from("[station]\nname = \"Bench\"\naudio_dir = \"audio\"\ndata_dir = \"var\"\n");
    let campaigns = n / 50;
    for c in 0..campaigns {
        let _ = write!(
            s,
            "[[campaign]]\nid = \"c{c}\"\ntitle = \"Chiến dịch {c}\"\n"
        );
    }
    for b in 0..n {
        let _ = write!(
            s,
            "[[bulletin]]\nid = \"b{b}\"\ntitle = \"Bản tin số {b}\"\nfile = \"one.mp3\"\ncampaign = \"c{}\"\n",
            b % campaigns
        );
        // Programmes take the first fifth; of the rest, every other one
        // airs at a time of day.
        if b >= n / 5 && b % 2 == 0 {
            let _ = writeln!(s, "at = [\"{:02}:{:02}\"]", 6 + b % 12, b % 60);
        }
    }
    for p in 0..n / 10 {
        let items: Vec<String> = (0..5)
            .map(|i| format!("\"b{}\"", (p * 5 + i) % (n / 5)))
            .collect();
        let _ = write!(
            s,
            "[[program]]\nid = \"p{p}\"\ntitle = \"Chương trình {p}\"\nat = [\"{:02}:{:02}\"]\nitems = [{}]\n",
            5 + p % 14,
            p % 60,
            items.join(", ")
        );
    }
    let path = dir.join(format!("station-{n}.toml"));
    std::fs::write(&path, s).unwrap();
    path
}

/// Write a station with 1,000 bulletins over 200 audio files (copies of the
/// sample bulletins) into `dir`; returns the station file's path.
pub fn big_station(dir: &Path) -> std::path::PathBuf {
    let samples: Vec<_> = [
        "jingles/nhac-hieu.mp3",
        "cds/thong-diep.mp3",
        "cds/binh-dan-hoc-vu-so.mp3",
        "cds/di-tung-ngo.mp3",
        "thong-bao/thoi-tiet.mp3",
        "thong-bao/lich-tiem-chung.mp3",
        "khan-cap/canh-bao-bao.mp3",
        "jingles/ket-thuc.mp3",
    ]
    .iter()
    .map(|p| Path::new(env!("CARGO_MANIFEST_DIR")).join("audio").join(p))
    .collect();
    let audio = dir.join("audio");
    std::fs::create_dir_all(&audio).unwrap();
    for i in 0..200 {
        std::fs::copy(
            &samples[i % samples.len()],
            audio.join(format!("f{i:03}.mp3")),
        )
        .unwrap();
    }
    let mut s = String::from(
        "[station]\nname = \"Bench\"\naudio_dir = \"audio\"\ndata_dir = \"var\"\n\
         [quiet]\nhours = [\"22:00-05:00\"]\n",
    );
    for c in 0..20 {
        let _ = write!(
            s,
            "[[campaign]]\nid = \"c{c}\"\ntitle = \"Chiến dịch {c}\"\nfrom = \"2026-{:02}-01\"\nto = \"2026-{:02}-28\"\n",
            c % 12 + 1,
            c % 12 + 1
        );
    }
    for b in 0..1000 {
        let _ = write!(
            s,
            "[[bulletin]]\nid = \"b{b}\"\ntitle = \"Bản tin số {b}\"\nfile = \"f{:03}.mp3\"\n",
            b % 200
        );
        if b % 2 == 0 {
            let _ = writeln!(s, "campaign = \"c{}\"", b % 20);
        }
        if b % 10 == 0 {
            let _ = writeln!(s, "cron = \"{} 6,17 * * 1-6\"", b % 60);
        } else {
            let _ = writeln!(
                s,
                "at = [\"{:02}:{:02}\", \"{:02}:{:02}\"]\ndays = \"mon-sat\"",
                5 + b % 2,
                b % 60,
                16 + b % 2,
                (b * 7) % 60
            );
        }
    }
    for p in 0..20 {
        let items: Vec<String> = (0..5).map(|i| format!("\"b{}\"", p * 50 + i)).collect();
        let _ = write!(
            s,
            "[[program]]\nid = \"p{p}\"\ntitle = \"Chương trình {p}\"\nat = [\"{:02}:30\"]\ndays = \"mon-sat\"\nitems = [{}]\n",
            5 + p % 14,
            items.join(", ")
        );
    }
    let path = dir.join("station.toml");
    std::fs::write(&path, s).unwrap();
    path
}
