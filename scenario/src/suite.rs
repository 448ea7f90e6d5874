//! The scenario suite policies are judged on: families of days, each
//! instance drawn from a seed (levels, phase, the flash crowd's moment
//! vary with it), so a policy tuned on some seeds is judged on days it
//! has not seen.
//!
//! Rates are in the report calibration's units (one 30 mCPU proxy holds
//! 11 calls/s) and stay within a 20-replica tier.

use std::{fmt, ops::RangeInclusive, str::FromStr};

use thiserror::Error;

use crate::{
    generate::{diurnal_rates, step_rates},
    milano::interpolate,
    random::Rng,
};

/// Seeds to tune a policy's parameters on: enough that a margin chosen
/// here has met the rare seed (a step landing just after a decision, a
/// flash on a small tier) before the evaluation seeds show it.
pub const TUNING_SEEDS: RangeInclusive<u64> = 1..=40;
/// Seeds to report a policy on: never used for tuning.
pub const EVALUATION_SEEDS: RangeInclusive<u64> = 1000..=1009;

#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "unknown scenario family `{0}` (step, diurnal, fast-diurnal, flash-crowd, milano, random-walk, all)"
)]
pub struct UnknownFamily(pub String);

/// One shape of load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// The report's rising steps (4.2) with a seeded start and increment.
    Step,
    /// A cosine day over 24 h, seeded peak, trough and phase.
    Diurnal,
    /// A 3 h cosine day: the rate outruns a margin during a boot.
    FastDiurnal,
    /// A steady load jumping to 1.6x within one second at a seeded moment
    /// for a seeded number of minutes.
    FlashCrowd,
    /// A Milano-shaped weekday (night trough, late-morning peak, lunch
    /// dip, afternoon plateau) played in 3 h as the report did (4.5),
    /// each hour's level and the start hour seeded.
    Milano,
    /// A bounded random walk over 2 h: no shape a forecast can learn.
    RandomWalk,
}

impl Family {
    pub const ALL: [Self; 6] = [
        Self::Step,
        Self::Diurnal,
        Self::FastDiurnal,
        Self::FlashCrowd,
        Self::Milano,
        Self::RandomWalk,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Step => "step",
            Self::Diurnal => "diurnal",
            Self::FastDiurnal => "fast-diurnal",
            Self::FlashCrowd => "flash-crowd",
            Self::Milano => "milano",
            Self::RandomWalk => "random-walk",
        }
    }

    /// `all` or one family's name.
    pub fn parse_set(text: &str) -> Result<Vec<Self>, UnknownFamily> {
        if text == "all" {
            return Ok(Self::ALL.to_vec());
        }
        text.split(',').map(|t| t.trim().parse()).collect()
    }

    /// The per-second rate of this family's instance for `seed`.
    #[must_use]
    pub fn rates(self, seed: u64) -> Vec<f64> {
        let mut rng = Rng::mixed(seed, self as u64 + 1);
        match self {
            Self::Step => {
                let start = rng.between(8.0, 16.0);
                let inc = rng.between(4.0, 8.0);
                step_rates(start, inc, 300, 1800)
            }
            Self::Diurnal => shifted_day(&mut rng, 86_400, (35.0, 50.0)),
            Self::FastDiurnal => shifted_day(&mut rng, 10_800, (40.0, 60.0)),
            Self::FlashCrowd => {
                let base = rng.between(15.0, 30.0);
                let at = rng.between(1800.0, 5400.0) as usize;
                let lasts = rng.between(180.0, 900.0) as usize;
                (0..7200)
                    .map(|t| {
                        if (at..at + lasts).contains(&t) {
                            base * 1.6
                        } else {
                            base
                        }
                    })
                    .collect()
            }
            Self::Milano => {
                let peak = rng.between(35.0, 50.0);
                let start = (rng.next_u64() % 24) as usize;
                let hours: Vec<f64> = (0..24)
                    .map(|h| MILANO_WEEKDAY[(start + h) % 24] * rng.between(0.9, 1.1))
                    .collect();
                let top = hours.iter().copied().fold(0.0, f64::max);
                let values: Vec<f64> = hours.iter().map(|v| v / top * peak).collect();
                interpolate(&values, 450.0)
            }
            Self::RandomWalk => {
                let mut rate = rng.between(15.0, 35.0);
                (0..7200)
                    .map(|_| {
                        rate += rng.between(-0.6, 0.6);
                        if !(4.0..=60.0).contains(&rate) {
                            rate = rate.clamp(4.0, 60.0);
                        }
                        rate
                    })
                    .collect()
            }
        }
    }
}

/// Call activity per hour of a Milano weekday relative to its busiest
/// hour, as the dataset's call-in + call-out curves look (night near 5 %,
/// a late-morning peak, a lunch dip, an afternoon plateau, a falling
/// evening). A shape, not the data: the importer reads the real files.
const MILANO_WEEKDAY: [f64; 24] = [
    0.10, 0.06, 0.04, 0.03, 0.03, 0.05, 0.12, 0.30, 0.60, 0.85, 0.95, 1.00, 0.90, 0.80, 0.85, 0.90,
    0.92, 0.95, 0.90, 0.75, 0.55, 0.40, 0.28, 0.18,
];

/// A cosine day of `secs` seconds (one period) starting at a seeded phase.
fn shifted_day(rng: &mut Rng, secs: u64, peak: (f64, f64)) -> Vec<f64> {
    let peak = rng.between(peak.0, peak.1);
    let trough = rng.between(4.0, 8.0);
    let phase = (rng.unit() * secs as f64) as usize;
    diurnal_rates(peak, trough, secs, secs + phase as u64).split_off(phase)
}

impl FromStr for Family {
    type Err = UnknownFamily;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFamily(s.to_owned()))
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_gives_one_day_and_seeds_differ() {
        for family in Family::ALL {
            let a = family.rates(1000);
            assert_eq!(a, family.rates(1000), "{family} is deterministic");
            assert_ne!(a, family.rates(1001), "{family} differs by seed");
            assert_ne!(a, family.rates(1), "{family}: tuning seed 1 is another day");
            assert!(
                a.iter().all(|r| r.is_finite() && (0.0..=100.0).contains(r)),
                "{family} stays within a 20-replica tier"
            );
        }
        assert_eq!(Family::Diurnal.rates(3).len(), 86_400);
        assert_eq!(Family::Milano.rates(3).len(), 10_800);
    }

    #[test]
    fn the_flash_crowd_jumps_within_one_second() {
        let r = Family::FlashCrowd.rates(7);
        let jump = r.windows(2).position(|w| w[1] > w[0] * 1.5).expect("jump");
        assert!((1800..5400).contains(&jump), "{jump}");
        assert!((r[jump + 1] / r[jump] - 1.6).abs() < 1e-9);
    }

    #[test]
    fn names_round_trip_and_all_is_every_family() {
        for f in Family::ALL {
            assert_eq!(f.name().parse::<Family>(), Ok(f));
        }
        assert_eq!(Family::parse_set("all").expect("all").len(), 6);
        assert_eq!(
            Family::parse_set("step,milano"),
            Ok(vec![Family::Step, Family::Milano])
        );
        assert!(Family::parse_set("sine").is_err());
    }
}
