//! Timestamps in any time base, compared exactly, and rounded to microseconds the way
//! ffmpeg rounds them (`av_rescale_q`, to nearest, halves away from zero).

use crate::nut::Rational;
use std::cmp::Ordering;

/// `ticks` of `time_base` seconds.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct Timestamp {
    pub ticks: i64,
    pub time_base: Rational,
}

impl Timestamp {
    pub fn new(ticks: i64, time_base: Rational) -> Timestamp {
        Timestamp { ticks, time_base }
    }

    /// `ticks * num` over `den`, as exact integers.
    fn parts(self) -> (i128, i128) {
        (
            i128::from(self.ticks) * i128::from(self.time_base.num),
            i128::from(self.time_base.den),
        )
    }

    pub fn seconds(self) -> f64 {
        self.ticks as f64 * self.time_base.as_f64()
    }

    /// Microseconds, rounded as `av_rescale_q(ticks, time_base, 1/1000000)` rounds them.
    pub fn micros(self) -> i64 {
        let (num, den) = self.parts();
        let scaled = num * 1_000_000;
        let rounded = (2 * scaled.abs() + den) / (2 * den);
        (rounded * scaled.signum()) as i64
    }

    /// Microseconds rounded down (a time not after this one).
    pub fn micros_floor(self) -> i64 {
        let (num, den) = self.parts();
        (num * 1_000_000).div_euclid(den) as i64
    }
}

/// Seconds as ffmpeg's options take them, exactly: `12.345678`, `-0.000001`.
pub fn seconds_text(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    format!("{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Timestamp {}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, da) = self.parts();
        let (b, db) = other.parts();
        (a * db).cmp(&(b * da))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_times_in_different_bases_compare_equal() {
        let ms = Timestamp::new(17, Rational::new(1, 1000));
        let nut = Timestamp::new(1088, Rational::new(1, 64000));
        assert_eq!(ms, nut);
        assert!(Timestamp::new(1089, Rational::new(1, 64000)) > ms);
        assert_eq!(ms.micros(), 17_000);
    }

    #[test]
    fn microseconds_round_like_ffmpeg() {
        // 1001/30000 s = 33366.67 us; 1/3 us rounds down, 1/2 us away from zero.
        let ntsc = Rational::new(1001, 30000);
        assert_eq!(Timestamp::new(1, ntsc).micros(), 33_367);
        assert_eq!(Timestamp::new(1, ntsc).micros_floor(), 33_366);
        assert_eq!(Timestamp::new(1, Rational::new(1, 2_000_000)).micros(), 1);
        assert_eq!(Timestamp::new(-1, Rational::new(1, 2_000_000)).micros(), -1);
        assert_eq!(seconds_text(1_234_567), "1.234567");
        assert_eq!(seconds_text(-5), "-0.000005");
    }
}
