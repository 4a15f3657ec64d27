//! Speed of the hot config paths: the in-period test (called on every Acquire in simulations
//! and 604 800 times per runner for `simrun check`'s week table) and loading a config.
//!
//! Run: `cargo bench --bench periods`.

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::tz::TimeZone;
use simrun::config::week::{week_start, week_table};
use simrun::config::{LoadOptions, load_config_str};

const CONFIG: &str = include_str!("../scenarios/configs/gce-runner.toml");

fn benches(c: &mut Criterion) {
    let loaded = load_config_str("gce-runner.toml", CONFIG, &LoadOptions::default())
        .expect("shipped config loads");
    let machine = loaded.config.runners[0]
        .machine
        .clone()
        .expect("docker+machine runner");
    let t0: jiff::Timestamp = "2026-03-02T08:00:00Z".parse().expect("instant");
    c.bench_function("idle_at (one Acquire's period selection)", |b| {
        let mut s = 0i64;
        b.iter(|| {
            s = (s + 1) % 604_800;
            let t = jiff::Timestamp::from_second(t0.as_second() + s).expect("instant");
            std::hint::black_box(machine.idle_at(t))
        })
    });
    c.bench_function("load_config_str (shipped GCE config)", |b| {
        b.iter(|| {
            load_config_str(
                "gce-runner.toml",
                std::hint::black_box(CONFIG),
                &LoadOptions::default(),
            )
            .is_ok()
        })
    });
    let start =
        week_start("2026-03-02".parse().expect("date"), &TimeZone::UTC).expect("week start");
    let mut g = c.benchmark_group("check");
    g.sample_size(10);
    g.bench_function("week_table (604 800 seconds)", |b| {
        b.iter(|| week_table(&machine, start, &TimeZone::UTC).len())
    });
    g.finish();
}

criterion_group!(config_benches, benches);
criterion_main!(config_benches);
