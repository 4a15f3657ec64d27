//! Speed of a whole simulation: the shipped burst scenario (518 jobs, 6 simulated hours).
//! Target (issue 4): well under 5 s of wall time on a 2-core machine. A second benchmark runs
//! it with the invariant checker on (the default of every run), to show the checker's cost.
//!
//! Run: `cargo bench --bench simulate`.

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use simrun::scenario::{ScenarioOverrides, load_scenario};
use simrun::sim::world::{RunOptions, run};

fn benches(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/burst.toml");
    let scenario =
        load_scenario(&path, &ScenarioOverrides::default()).expect("shipped scenario loads");
    let mut g = c.benchmark_group("simulate");
    g.sample_size(10);
    g.bench_function("burst.toml (6 h, 518 jobs)", |b| {
        b.iter(|| {
            run(
                &scenario,
                &RunOptions {
                    skip_invariants: true,
                    ..RunOptions::default()
                },
            )
            .expect("runs")
            .jobs
            .len()
        })
    });
    // The same run with the invariant checker on (every run's default): its overhead.
    g.bench_function("burst.toml with invariant checks", |b| {
        b.iter(|| {
            run(&scenario, &RunOptions::default())
                .expect("runs")
                .jobs
                .len()
        })
    });
    g.finish();
}

criterion_group!(simulate_benches, benches);
criterion_main!(simulate_benches);
