//! Which idle values apply in each hour of a week (for `simrun check`): every second of the
//! week is evaluated with GitLab Runner's period selection (spec §1.2: last matching entry wins,
//! no inheritance) and in-period test (§1.3), so window edges and 5/6-field periods (Q5) show
//! up as partial shares.

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use super::model::{IdleSettings, MachineConfig};

/// One hour of the week.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct HourRow {
    /// The hour's start, RFC 3339 in the display zone.
    pub start: String,
    /// Weekday and time label in the display zone, e.g. `Mon 09:00`.
    pub label: String,
    /// The values in force for most of the hour.
    pub settings: IdleSettingsView,
    /// Where they come from: `root` or `autoscaling[i]`.
    pub source: String,
    /// Share of the hour's 3600 seconds in which some autoscaling entry is active (0.0–1.0).
    pub active_share: f64,
    /// Seconds of the hour per source (`root`, `autoscaling[i]`) that won at least one second,
    /// in source order.
    pub seconds_by_source: Vec<(String, u32)>,
}

/// [`IdleSettings`] for output.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct IdleSettingsView {
    /// `IdleCount`.
    pub idle_count: i64,
    /// `IdleCountMin`.
    pub idle_count_min: i64,
    /// `IdleScaleFactor`.
    pub idle_scale_factor: f64,
    /// `IdleTime` in seconds.
    pub idle_time: i64,
}

impl From<IdleSettings> for IdleSettingsView {
    fn from(s: IdleSettings) -> Self {
        IdleSettingsView {
            idle_count: s.idle_count,
            idle_count_min: s.idle_count_min,
            idle_scale_factor: s.idle_scale_factor,
            idle_time: s.idle_time,
        }
    }
}

/// The Monday (00:00 in `zone`) of the week that contains `day`.
pub fn week_start(day: Date, zone: &TimeZone) -> Result<Timestamp, jiff::Error> {
    let back = i64::from(day.weekday().to_monday_zero_offset());
    let monday = day.checked_sub(back.days())?;
    debug_assert_eq!(monday.weekday(), Weekday::Monday);
    zone.to_timestamp(monday.at(0, 0, 0, 0))
}

/// Evaluates 168 consecutive hours from `start`, labelling them in `display`.
pub fn week_table(m: &MachineConfig, start: Timestamp, display: &TimeZone) -> Vec<HourRow> {
    let n_sources = m.autoscaling.len() + 1;
    let source_name = |i: usize| {
        if i == 0 {
            "root".to_string()
        } else {
            format!("autoscaling[{}]", i - 1)
        }
    };
    let mut rows = Vec::with_capacity(168);
    for h in 0..168i64 {
        let hour_start = Timestamp::from_second(start.as_second() + h * 3600).unwrap_or(start);
        let mut counts = vec![0u32; n_sources];
        for s in 0..3600i64 {
            let t = Timestamp::from_second(hour_start.as_second() + s).unwrap_or(hour_start);
            let active = m.idle_at(t);
            counts[active.entry.map_or(0, |e| e + 1)] += 1;
        }
        let (best, _) = counts
            .iter()
            .enumerate()
            .max_by(|(ia, a), (ib, b)| a.cmp(b).then(ib.cmp(ia)))
            .unwrap_or((0, &0));
        let settings = if best == 0 {
            m.idle
        } else {
            m.autoscaling[best - 1].idle
        };
        let local = display.to_datetime(hour_start);
        let label = format!(
            "{} {:02}:{:02}",
            weekday_short(local.weekday()),
            local.hour(),
            local.minute()
        );
        rows.push(HourRow {
            start: hour_start
                .to_zoned_datetime(display.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string(),
            label,
            settings: settings.into(),
            source: source_name(best),
            active_share: f64::from(3600 - counts[0]) / 3600.0,
            seconds_by_source: counts
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(i, c)| (source_name(i), *c))
                .collect(),
        });
    }
    rows
}

/// `Mon`, `Tue`, …
pub fn weekday_short(w: Weekday) -> &'static str {
    match w {
        Weekday::Monday => "Mon",
        Weekday::Tuesday => "Tue",
        Weekday::Wednesday => "Wed",
        Weekday::Thursday => "Thu",
        Weekday::Friday => "Fri",
        Weekday::Saturday => "Sat",
        Weekday::Sunday => "Sun",
    }
}
