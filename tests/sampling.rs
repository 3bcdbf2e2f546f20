//! The duration-dependent sampling policy on real generated videos around each threshold.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use crate::common;

use common::{make_video, test_config, Gen};
use reelmatch::media::{probe, sample_frames, SampleSpec};
use reelmatch::Cancel;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(600);

#[test]
fn frame_counts_follow_the_seed_policy_around_each_threshold() {
    let config = test_config("");
    let dir = tempfile::tempdir().unwrap();
    // (duration, rate the seed paper prescribes)
    let cases = [(199.0, 2.0), (200.0, 1.0), (250.0, 1.0), (300.0, 1.0), (301.0, 0.5), (320.0, 0.5)];
    for (seconds, want_fps) in cases {
        let path = dir.path().join(format!("len {seconds}.mp4"));
        make_video(&path, Gen { seconds, size: "32x32", rate: 4, tone_hz: None, ..Gen::default() });
        let p = probe("ffprobe", &path).unwrap();
        let fps = config.sampling.fps_for(p.duration_s);
        assert_eq!(fps, want_fps, "{seconds} s video");
        let mut times = Vec::new();
        let spec = SampleSpec { fps, short_side: 32 };
        let n = sample_frames("ffmpeg", &path, spec, LIMIT, &Cancel::new(), |f| {
            assert_eq!(f.width.min(f.height), 32);
            assert_eq!(f.rgb.len(), (f.width * f.height * 3) as usize);
            times.push(f.t_s);
            Ok(())
        })
        .unwrap();
        let expected = seconds * want_fps;
        assert!((n as f64 - expected).abs() <= 1.0, "{seconds} s at {want_fps} fps: {n} frames, expected {expected}");
        assert!(times.windows(2).all(|w| w[1] > w[0]), "timestamps increase");
        assert!(*times.last().unwrap() < seconds, "timestamps within the video");
    }
}

#[test]
fn cancelling_stops_sampling() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.mp4");
    make_video(&path, Gen { seconds: 60.0, size: "32x32", tone_hz: None, ..Gen::default() });
    let cancel = Cancel::new();
    let mut seen = 0;
    let result = sample_frames("ffmpeg", &path, SampleSpec { fps: 2.0, short_side: 32 }, LIMIT, &cancel, |_| {
        seen += 1;
        if seen == 5 {
            cancel.cancel();
        }
        Ok(())
    });
    assert!(matches!(result, Err(reelmatch::Error::Cancelled)), "{result:?}");
    assert_eq!(seen, 5);
}
