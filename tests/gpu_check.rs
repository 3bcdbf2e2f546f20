//! `scripts/gpu-check.sh` and `reelmatch models check`, run CPU against CPU: the bundle is
//! prepared, every role runs on both "devices", parity passes, each pace is its count over its
//! time, and a report that differs fails: a vector just past the cosine threshold (and one just
//! inside it passes), a vector or a whole role missing, a misheard word, a vector turned around.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use crate::common;

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn script(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gpu-check.sh"))
        .args(args)
        .env("REELMATCH_TEST_ASSETS", common::assets())
        .env("GPU_CHECK_BATCHES", "1,4")
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .unwrap()
}

#[test]
fn gpu_check_compares_two_devices_and_fails_on_a_difference() {
    let work = tempfile::tempdir().unwrap();
    let bundle = work.path().join("gpu bündle");
    let out = script(&["prepare".as_ref(), bundle.as_os_str()]);
    assert!(out.status.success(), "prepare: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_dir(bundle.join("frames")).unwrap().count(), 16);

    let bin = env!("CARGO_BIN_EXE_reelmatch");
    let out = script(&["run".as_ref(), bin.as_ref(), bundle.as_os_str(), "cpu".as_ref(), "cpu".as_ref()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "run: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.trim_end().ends_with("PASS"), "{stdout}");
    for row in ["| image batch 1 |", "| image batch 4 |", "| text batch 4 |", "| speech (", "| WER 0.000 ok |"] {
        assert!(stdout.contains(row), "no `{row}` in:\n{stdout}");
    }

    let a: Value = serde_json::from_str(&std::fs::read_to_string(bundle.join("check-a.json")).unwrap()).unwrap();
    assert_eq!(a["device"], "cpu");
    let images = a["image"]["vectors"].as_array().unwrap();
    assert_eq!(images.len(), 16);
    assert_eq!(images[0].as_array().unwrap().len(), 2048);
    assert_eq!(a["image"]["random_weights"], true);
    assert_eq!(a["text"]["vectors"].as_array().unwrap().len(), 4);
    // Each pace is its count over its seconds, for every batch asked, and the table shows it.
    let b_report: Value = serde_json::from_str(&std::fs::read_to_string(bundle.join("check-b.json")).unwrap()).unwrap();
    for (role, unit) in [("image", "images/s"), ("text", "documents/s")] {
        let batches: Vec<u64> =
            a[role]["rates"].as_array().unwrap().iter().map(|r| r["batch"].as_u64().unwrap()).collect();
        assert_eq!(batches, [1, 4], "{role}");
        for (ra, rb) in a[role]["rates"].as_array().unwrap().iter().zip(b_report[role]["rates"].as_array().unwrap()) {
            for r in [ra, rb] {
                let (per_s, count, secs) =
                    (r["per_s"].as_f64().unwrap(), r["count"].as_f64().unwrap(), r["seconds"].as_f64().unwrap());
                assert!(count >= 8.0 && secs > 0.0, "{role}: {r}");
                assert!((per_s - count / secs).abs() <= 1e-9 * per_s, "{role}: {r}");
            }
            let start = format!("| {role} batch {} | min cosine ", ra["batch"]);
            let end = format!(
                " ok | {:.1} {unit} | {:.1} {unit} |",
                ra["per_s"].as_f64().unwrap(),
                rb["per_s"].as_f64().unwrap()
            );
            let row = stdout.lines().find(|l| l.starts_with(&start)).unwrap_or_default();
            assert!(row.contains(&end), "no `{start}…{end}` in:\n{stdout}");
        }
    }
    let speech = &a["speech"];
    let (audio, secs, factor) = (
        speech["audio_seconds"].as_f64().unwrap(),
        speech["seconds"].as_f64().unwrap(),
        speech["real_time_factor"].as_f64().unwrap(),
    );
    assert!((factor * secs - audio).abs() < 1e-6 * audio, "{speech}");
    assert!(audio > 10.0 && audio < 120.0, "the bundle's lyric lines last under two minutes: {audio}");
    // The speech is espeak-ng reading the lyric lines: the transcript has their words.
    let heard = a["speech"]["text"].as_str().unwrap().to_lowercase();
    for word in ["walking", "closer", "river"] {
        assert!(heard.contains(word), "`{word}` not in {heard}");
    }
    assert!(a["speech"]["real_time_factor"].as_f64().unwrap() > 1.0);

    let compare = |b: &Value, name: &str| {
        let changed = work.path().join(format!("{name}.json"));
        std::fs::write(&changed, serde_json::to_string(b).unwrap()).unwrap();
        let report = work.path().join(format!("{name}.md"));
        let a_path = bundle.join("check-a.json");
        let out = script(&["compare".as_ref(), a_path.as_os_str(), changed.as_os_str(), report.as_os_str()]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(stdout, std::fs::read_to_string(&report).unwrap(), "{name}: the report is what it printed");
        (out.status.code(), stdout)
    };
    let same = compare(&a, "same");
    assert_eq!(same.0, Some(0), "{}", same.1);
    assert!(same.1.trim_end().ends_with("PASS"), "{}", same.1);

    // One image vector with some components' signs flipped: its cosine to the original is
    // 1 − 2·(their share of its squared length). Just above the script's 0.9999 it passes,
    // just below it fails.
    let flipped = |share: f64| {
        let mut b = a.clone();
        let v = b["image"]["vectors"][3].as_array_mut().unwrap();
        let total: f64 = v.iter().map(|x| x.as_f64().unwrap().powi(2)).sum();
        let mut order: Vec<usize> = (0..v.len()).collect();
        order.sort_by(|&i, &j| v[i].as_f64().unwrap().abs().total_cmp(&v[j].as_f64().unwrap().abs()));
        let mut flipped_share = 0.0;
        for i in order {
            let x = v[i].as_f64().unwrap();
            if flipped_share + x * x / total > share {
                break;
            }
            flipped_share += x * x / total;
            v[i] = Value::from(-x);
        }
        assert!(flipped_share > share * 0.5, "enough small components to flip");
        (b, 1.0 - 2.0 * flipped_share)
    };
    let (near, cosine) = flipped(0.00004);
    let (code, out) = compare(&near, "near");
    assert!(cosine > 0.9999 && cosine < 0.99999, "{cosine}");
    assert_eq!(code, Some(0), "a cosine of {cosine} passes: {out}");
    let (off, cosine) = flipped(0.0001);
    let (code, out) = compare(&off, "off");
    assert!(cosine < 0.9999, "{cosine}");
    assert_eq!(code, Some(1), "a cosine of {cosine} fails: {out}");
    assert!(out.contains("| image batch 1 | min cosine 0.9998") && out.contains(" FAIL |"), "{out}");

    // A text vector missing, a role missing, and a transcript a word off each fail.
    let mut short = a.clone();
    short["text"]["vectors"].as_array_mut().unwrap().pop();
    let (code, out) = compare(&short, "short");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.lines().any(|l| l.starts_with("| text batch 1 |") && l.contains(" FAIL |")), "{out}");
    let mut no_speech = a.clone();
    no_speech.as_object_mut().unwrap().remove("speech");
    let (code, out) = compare(&no_speech, "no-speech");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("| speech | missing on cpu FAIL"), "{out}");
    // Words misheard: up to 2 % of them is within the script's limit, more is not.
    let words: Vec<&str> = heard.split_whitespace().collect();
    let misheard = |k: usize| {
        let mut b = a.clone();
        let text: Vec<&str> = words.iter().enumerate().map(|(i, w)| if i < k { "banana" } else { w }).collect();
        b["speech"]["text"] = Value::from(text.join(" "));
        compare(&b, &format!("misheard-{k}"))
    };
    let within = words.len() * 2 / 100;
    assert!(within >= 1, "{} words", words.len());
    let (code, out) = misheard(within);
    assert_eq!(code, Some(0), "{within} of {} words misheard is within 2 %: {out}", words.len());
    let (code, out) = misheard(within + 2);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.lines().any(|l| l.starts_with("| speech (") && l.contains(" FAIL |")), "{out}");

    // One image vector turned around: parity fails, and the script says so.
    let mut b = a.clone();
    let v = b["image"]["vectors"][3].as_array_mut().unwrap();
    v.iter_mut().for_each(|x| *x = Value::from(-x.as_f64().unwrap()));
    let (code, out) = compare(&b, "negated");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("min cosine -1.000000 FAIL") && out.trim_end().ends_with("FAIL"), "{out}");
}
