//! The province speaks to its stations, timed (issue 20): one real
//! Mosquitto on loopback, `LOA_BENCH_STATIONS` real `loa run` stations
//! (default 20) and `LOA_BENCH_SUBSCRIBERS` simulated ones (default 2,000:
//! MQTT clients in this process, subscribed as a station is). A typed
//! emergency to all is published with the real `loa publish`; printed: the
//! time from publishing to its first sample at each real station (read from
//! the ledgers; goal p99 ≤ 3 s) and to delivery at each simulated one; then
//! a 1 MB audio bulletin (retained, as `loa publish --file` sends it) to
//! the simulated subscribers; the broker's CPU and peak memory. Everything
//! is on one machine: no 4G latency, no clustered broker. Prints, never
//! asserts. `cargo bench --bench province`; needs mosquitto,
//! mosquitto-clients and espeak-ng (`make bench`).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "measure/mod.rs"]
mod measure;
use common::mqtt;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn station(root: &Path, id: &str, port: u16, key: &str) -> (PathBuf, SocketAddr) {
    let dir = root.join(id);
    std::fs::create_dir_all(dir.join("audio")).unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], common::free_port()));
    let pw = root.join("broker").join(format!("{id}.pw"));
    std::fs::write(
        dir.join("station.toml"),
        format!(
            "[station]\nname = \"{id}\"\naudio_dir = \"audio\"\ndata_dir = \"var\"\n\
             [api]\nlisten = \"{addr}\"\n[output]\nkind = \"null\"\n\
             [fleet]\nstation_id = \"{id}\"\ndistrict = \"d\"\n\
             [upstream]\nbroker = \"mqtt://127.0.0.1:{port}\"\nusername = \"{id}\"\n\
             password_file = \"{}\"\nkeys = [\"{key}\"]\n",
            pw.display()
        ),
    )
    .unwrap();
    (dir, addr)
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn line(what: &str, v: &[f64], of: usize) {
    println!(
        "{what}: {} of {of}; p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        v.len(),
        pct(v.to_vec(), 0.5),
        pct(v.to_vec(), 0.99),
        pct(v.to_vec(), 1.0)
    );
}

/// `n` subscribers as the user `sim`: each sends (topic kind, when) for
/// every message; answers once all are subscribed.
fn simulate(
    rt: &tokio::runtime::Runtime,
    port: u16,
    n: usize,
) -> std::sync::mpsc::Receiver<(bool, SystemTime)> {
    let (tx, rx) = std::sync::mpsc::channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    for i in 0..n {
        let (tx, ready) = (tx.clone(), ready_tx.clone());
        rt.spawn(async move {
            let mut o = MqttOptions::new(format!("sim-{i}"), "127.0.0.1", port);
            o.set_credentials("sim", "pw-sim")
                .set_keep_alive(Duration::from_secs(60))
                .set_max_packet_size(2 << 20, 2 << 20);
            let (client, mut ev) = AsyncClient::new(o, 4);
            client
                .subscribe("loa/v1/all/bulletin", QoS::AtLeastOnce)
                .await
                .unwrap();
            client
                .subscribe("loa/v1/audio/+", QoS::AtLeastOnce)
                .await
                .unwrap();
            let mut subs = 0;
            loop {
                match ev.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        subs += 1;
                        if subs == 2 {
                            let _ = ready.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send((p.topic.starts_with("loa/v1/audio/"), SystemTime::now()));
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
                }
            }
        });
    }
    for _ in 0..n {
        ready_rx
            .recv_timeout(Duration::from_secs(120))
            .expect("every subscriber subscribed");
    }
    rx
}

fn ms_since(t: SystemTime, from: SystemTime) -> f64 {
    t.duration_since(from)
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

fn main() {
    measure::require("mosquitto", "mosquitto");
    measure::require("espeak-ng", "espeak-ng");
    let real = env_count("LOA_BENCH_STATIONS", 20);
    let sims = env_count("LOA_BENCH_SUBSCRIBERS", 2000);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let keyfile = root.join("tinh.key");
    let key = mqtt::loa(&["publish", "keygen", "--out", keyfile.to_str().unwrap()]);
    let ids: Vec<String> = (0..real).map(|i| format!("r{i}")).collect();
    let mut users: Vec<(&str, &str)> = ids.iter().map(|i| (i.as_str(), "d")).collect();
    users.push(("sim", "d"));
    let broker = mqtt::Broker::start(root, &users, "");
    let stations: Vec<_> = ids
        .iter()
        .map(|id| station(root, id, broker.port, &key))
        .collect();
    let daemons: Vec<_> = stations
        .iter()
        .map(|(dir, addr)| common::Daemon::start(&dir.join("station.toml"), *addr))
        .collect();
    for (_, addr) in &stations {
        let give_up = Instant::now() + Duration::from_secs(120);
        while common::metric(*addr, "loa_upstream_connected") != Some(1.0) {
            assert!(Instant::now() < give_up, "a station never connected");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let t = Instant::now();
    let rx = simulate(&rt, broker.port, sims);
    println!(
        "{real} stations and {sims} subscribers connected ({:.1} s for the subscribers)",
        t.elapsed().as_secs_f64()
    );
    let cpu0 = measure::live_cpu(broker.pid).unwrap_or_default();

    let url = broker.url();
    let pw = broker.password_file("tinh");
    let send = |extra: &[&str]| {
        let mut args = vec!["publish", "--broker", &url, "--username", "tinh"];
        args.extend([
            "--password-file",
            pw.to_str().unwrap(),
            "--key",
            keyfile.to_str().unwrap(),
        ]);
        args.extend(extra);
        mqtt::loa(&args)
    };
    let sent = SystemTime::now();
    send(&[
        "--priority",
        "emergency",
        "--text",
        "Bão số ba đang vào bờ.",
        "--targets",
        "all",
    ]);
    let mut delivered = Vec::new();
    while delivered.len() < sims {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok((false, at)) => delivered.push(ms_since(at, sent)),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let mut first_sample = Vec::new();
    for (dir, _) in &stations {
        let db = dir.join("var/airtime.db");
        let rows = common::wait_for_rows(
            &db,
            "the emergency",
            Duration::from_secs(120),
            |r| r.iter().any(|r| r.started_at.is_some()),
            String::new,
        );
        let row = rows.iter().find(|r| r.started_at.is_some()).unwrap();
        let at = chrono::DateTime::parse_from_rfc3339(row.started_at.as_deref().unwrap()).unwrap();
        first_sample.push(ms_since(SystemTime::from(at), sent));
    }
    line(
        "emergency, publish to first sample at the real stations",
        &first_sample,
        real,
    );
    line(
        "emergency, publish to delivery at the simulated subscribers",
        &delivered,
        sims,
    );

    // 1 MB of audio, retained, to every simulated subscriber (the real
    // stations fetch audio only for bulletins that name them).
    let wav = root.join("bulletin.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 22050,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for i in 0..(512 * 1024) {
        w.write_sample(((i as f64 * 0.05).sin() * 8000.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
    let sent = SystemTime::now();
    send(&[
        "--priority",
        "normal",
        "--file",
        wav.to_str().unwrap(),
        "--targets",
        "station:nobody",
    ]);
    let mut audio = Vec::new();
    while audio.len() < sims {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok((true, at)) => audio.push(ms_since(at, sent)),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    line(
        "1 MB audio, publish to delivery at the simulated subscribers",
        &audio,
        sims,
    );
    let cpu = measure::live_cpu(broker.pid)
        .unwrap_or_default()
        .saturating_sub(cpu0);
    let hwm = std::fs::read_to_string(format!("/proc/{}/status", broker.pid))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
        .unwrap_or_default();
    println!(
        "broker: {:.2} s of CPU for both sends; peak resident memory {hwm} kB",
        cpu.as_secs_f64()
    );
    drop(daemons);
    rt.shutdown_background();
}
