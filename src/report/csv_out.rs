//! The four CSV files of `--out DIR` (issue 4 item 9): `jobs.csv`, `machines.csv`,
//! `timeline.csv`, `events.csv`.
//!
//! Every file starts with its header row; lines end with `\n`; fields are quoted only when
//! they contain a comma, quote or line break (the `csv` crate's defaults). Times are seconds
//! since the scenario start written `S.mmm` from integer milliseconds (never through a float);
//! a cell is empty where the job or machine never reached that point. Money is USD with six
//! decimals.

use std::io::Write;

use super::{fmt_ms, fmt_opt_ms, fmt_usd};
use crate::sim::records::{EventRow, JobRecord, MachineRecord, TimelineRow};

/// `jobs.csv` header.
pub const JOBS_HEADER: [&str; 8] = [
    "id",
    "runner",
    "arrival_s",
    "start_s",
    "end_s",
    "machine",
    "outcome",
    "failure_reason",
];

/// `machines.csv` header.
pub const MACHINES_HEADER: [&str; 8] = [
    "name",
    "runner",
    "created_s",
    "ready_s",
    "removed_s",
    "jobs",
    "end_state",
    "cost_usd",
];

/// `timeline.csv` header.
pub const TIMELINE_HEADER: [&str; 8] = [
    "time_s",
    "runner",
    "creating",
    "idle",
    "acquired",
    "used",
    "removing",
    "pending_jobs",
];

/// `events.csv` header.
pub const EVENTS_HEADER: [&str; 5] = ["time_s", "runner", "machine", "event", "reason"];

/// Writes `jobs.csv`: one row per job in the given order. `start_s` is when the job's script
/// started on a machine (`JobRecord::start`), not when the runner picked it; `outcome` is
/// `succeeded`, `failed`, `running` or `pending`.
///
/// Errors: any I/O error of `out`.
pub fn write_jobs<W: Write>(out: W, jobs: &[JobRecord]) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(JOBS_HEADER)?;
    for j in jobs {
        w.write_record([
            j.id.to_string(),
            j.runner.clone().unwrap_or_default(),
            fmt_ms(j.arrival.as_millis()),
            fmt_opt_ms(j.start.map(|t| t.as_millis())),
            fmt_opt_ms(j.end.map(|t| t.as_millis())),
            j.machine.clone().unwrap_or_default(),
            j.outcome.as_str().to_string(),
            j.failure_reason.clone().unwrap_or_default(),
        ])?;
    }
    w.flush()
}

/// Writes `machines.csv`: one row per machine record; `cost_usd` is the machine's bill in USD
/// rounded to 1e-6 (six decimals).
///
/// Errors: any I/O error of `out`.
pub fn write_machines<W: Write>(out: W, machines: &[MachineRecord]) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(MACHINES_HEADER)?;
    for m in machines {
        w.write_record([
            m.name.clone(),
            m.runner.clone(),
            fmt_ms(m.created.as_millis()),
            fmt_opt_ms(m.ready.map(|t| t.as_millis())),
            fmt_opt_ms(m.removed.map(|t| t.as_millis())),
            m.jobs.to_string(),
            m.end_state.clone(),
            fmt_usd(m.cost_usd),
        ])?;
    }
    w.flush()
}

/// Writes `timeline.csv`: machine counts per state (spec §2.1) and pending jobs of one runner,
/// one row per record.
///
/// Errors: any I/O error of `out`.
pub fn write_timeline<W: Write>(out: W, rows: &[TimelineRow]) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(TIMELINE_HEADER)?;
    for t in rows {
        w.write_record([
            fmt_ms(t.time.as_millis()),
            t.runner.clone(),
            t.creating.to_string(),
            t.idle.to_string(),
            t.acquired.to_string(),
            t.used.to_string(),
            t.removing.to_string(),
            t.pending_jobs.to_string(),
        ])?;
    }
    w.flush()
}

/// Writes `events.csv`: the decision log with GitLab Runner's reason strings; `runner` and
/// `machine` are empty when the event has none.
///
/// Errors: any I/O error of `out`.
pub fn write_events<W: Write>(out: W, rows: &[EventRow]) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(EVENTS_HEADER)?;
    for e in rows {
        w.write_record([
            fmt_ms(e.time.as_millis()).as_str(),
            &e.runner,
            &e.machine,
            &e.event,
            &e.reason,
        ])?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    fn text(write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
        let mut buf = Vec::new();
        write(&mut buf).expect("write");
        String::from_utf8(buf).expect("utf-8")
    }

    #[test]
    fn jobs_csv_exact() {
        let r = fixture::records();
        let got = text(|w| write_jobs(w, &r.jobs));
        // Job 4 never ended, job 5 never started and has no runner: empty cells.
        let expected = "\
id,runner,arrival_s,start_s,end_s,machine,outcome,failure_reason
1,r1,0.000,6.000,66.000,m1,succeeded,
2,r1,1.000,32.500,92.345,m2,succeeded,
3,r1,2.000,93.000,95.000,m1,failed,runner_system_failure
4,r1,10.000,101.000,,m2,running,
5,,120.000,,,,pending,
";
        assert_eq!(got, expected);
    }

    #[test]
    fn machines_csv_exact() {
        let r = fixture::records();
        let got = text(|w| write_machines(w, &r.machines));
        let expected = "\
name,runner,created_s,ready_s,removed_s,jobs,end_state,cost_usd
m1,r1,0.000,4.000,150.000,2,removed,0.007600
m2,r1,1.500,30.000,,2,used,0.009200
m3,r1,40.000,,,0,creation_failed,0.001500
m4,r1,50.000,80.000,,0,orphaned,0.013500
";
        assert_eq!(got, expected);
    }

    #[test]
    fn timeline_csv_exact() {
        let r = fixture::records();
        let got = text(|w| write_timeline(w, &r.timeline));
        let expected = "\
time_s,runner,creating,idle,acquired,used,removing,pending_jobs
0.000,r1,0,1,0,0,0,1
1.500,r1,1,0,0,1,0,2
";
        assert_eq!(got, expected);
    }

    #[test]
    fn events_csv_exact_with_quoting() {
        let r = fixture::records();
        let got = text(|w| write_events(w, &r.events));
        // A reason with a comma and quotes is quoted, inner quotes doubled (RFC 4180).
        let expected = "\
time_s,runner,machine,event,reason
0.000,r1,,runner started,
1.500,r1,m2,creation started,too few idle machines
150.000,r1,m1,removal requested,\"idle, too many \"\"idle\"\"\"
";
        assert_eq!(got, expected);
    }

    #[test]
    fn empty_inputs_give_header_only() {
        assert_eq!(
            text(|w| write_events(w, &[])),
            "time_s,runner,machine,event,reason\n"
        );
        assert_eq!(
            text(|w| write_jobs(w, &[])),
            format!("{}\n", JOBS_HEADER.join(","))
        );
    }
}
