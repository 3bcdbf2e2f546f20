//! Times and durations as every display writes them.

/// A time in a video as `m:ss`, or with `decimals` digits of seconds (`1:05.2`).
pub fn clock(t: f64, decimals: usize) -> String {
    let t = t.max(0.0);
    let minutes = (t / 60.0) as u64;
    if decimals == 0 {
        return format!("{minutes}:{:02}", t as u64 % 60);
    }
    let width = decimals + 3;
    format!("{minutes}:{:0width$.decimals$}", t - minutes as f64 * 60.0)
}

/// A duration as `1h02m`, `3m05s` or `42s`.
pub fn short_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_and_durations() {
        assert_eq!(clock(65.24, 0), "1:05");
        assert_eq!(clock(65.24, 1), "1:05.2");
        assert_eq!(clock(5.5, 2), "0:05.50");
        assert_eq!(short_duration(3720.0), "1h02m");
    }
}
