//! Benchmark: `loa check` on a large station — 1,000 bulletins, 200 audio
//! files, 20 programmes — run as the real binary. Goal: under 1 s.
//! Prints figures; asserts nothing.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let station = big_station(dir.path());
    let bin = env!("CARGO_BIN_EXE_loa");
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let out = Command::new(bin)
            .args(["check", "--config"])
            .arg(&station)
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
    println!(
        "check: 1000 bulletins, 200 audio files, 20 programmes: best of 5 {:.1} ms (goal < 1000 ms)",
        best.as_secs_f64() * 1e3
    );
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
