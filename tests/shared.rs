//! The shared catalog on a real PostgreSQL 18 + pgvector server (a throwaway cluster from the
//! test assets): schema set-up and its errors, a library exported from SQLite answering as the
//! embedded backend does (exact, and HNSW against exact), distributed ingestion by several
//! worker processes, killed at random, that loses and duplicates nothing, and the dashboard of a
//! second process showing what another process adds, live, and answering a query.
#![allow(clippy::unwrap_used)] // a test: a failed unwrap is the failure report

use crate::common;

use common::{assets, bin, make_video, postgres, random_resnet, song, Gen};
use reelmatch::catalog::RunRecords;
use reelmatch::config::IndexKind;
use reelmatch::search::approx::IndexChoice;
use reelmatch::search::{search, Query, SearchLibrary, Weights};
use reelmatch::shared::search::{load, SharedSearch};
use reelmatch::shared::SharedCatalog;
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap() + &String::from_utf8_lossy(&out.stderr)
}

fn json_of(cmd: &mut Command) -> Value {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// (id order, title, score) of `similar --json`.
fn ranking(v: &Value) -> Vec<(String, f64)> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["title"].as_str().unwrap().to_string(), h["score"].as_f64().unwrap()))
        .collect()
}

/// Two rankings of the same library agree: the same videos with scores within 5e-3, in the
/// same order wherever two results are further apart than that. The embedded index takes
/// centred cosines from uncentred products in f32; with random ResNet weights frames barely
/// differ after centring (cosines of 0.9999 before it), and that loses digits: up to 1.8e-3 was
/// seen, and the features themselves vary by as much with the matrix products' threading, so
/// near-ties may swap.
fn same_ranking(query: &[&str], e: &[(String, f64)], p: &[(String, f64)]) {
    const NOISE: f64 = 5e-3;
    for (te, se) in e {
        let sp = p.iter().find(|(tp, _)| tp == te).map(|(_, s)| *s);
        assert!(sp.is_some_and(|sp| (se - sp).abs() < NOISE), "{query:?}: the same scores: {e:?} vs {p:?}");
    }
    let at = |title: &String| p.iter().position(|(t, _)| t == title).unwrap();
    for (i, (ti, si)) in e.iter().enumerate() {
        for (tj, sj) in &e[i + 1..] {
            if si - sj > NOISE {
                assert!(at(ti) < at(tj), "{query:?}: the same order: {e:?} vs {p:?}");
            }
        }
    }
}

#[test]
fn schema_set_up_is_versioned_and_its_errors_say_what_to_do() {
    let pg = postgres();
    // Not set up yet: queries say to migrate.
    let err = SharedCatalog::open(&pg.url()).err().unwrap().to_string();
    assert!(err.contains("migrate"), "{err}");
    let out = run_ok(bin().args(["--catalog", &pg.url(), "migrate"]));
    assert!(out.contains(&format!("schema 0 → {}", reelmatch::shared::LATEST)), "{out}");
    let out = run_ok(bin().args(["--catalog", &pg.url(), "migrate"]));
    assert!(out.contains("up to date"), "{out}");
    let mut cat = SharedCatalog::open(&pg.url()).unwrap();
    assert_eq!(cat.schema_version().unwrap(), reelmatch::shared::LATEST);

    // A schema from a newer build is refused, naming what to do.
    let mut admin = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    admin.batch_execute("UPDATE reelmatch_schema SET version = 99").unwrap();
    let err = SharedCatalog::open(&pg.url()).err().unwrap().to_string();
    assert!(err.contains("schema 99") && err.contains("upgrade reelmatch"), "{err}");

    // A user who may not enable pgvector is told how to get it.
    let url = pg.create_database("plain").unwrap();
    let mut plain = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    plain.batch_execute("CREATE ROLE visitor LOGIN; REVOKE CREATE ON SCHEMA public FROM PUBLIC").unwrap();
    let visitor = url.replace("postgres@", "visitor@");
    let out = bin().args(["--catalog", &visitor, "migrate"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("pgvector") && err.contains("CREATE EXTENSION vector"), "{err}");

    // A server that is not there, and a database that is not there.
    drop(cat);
    let gone = "postgres://postgres@127.0.0.1:1/reelmatch";
    let out = bin().args(["--catalog", gone, "library"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach the PostgreSQL server") && err.contains("pg_isready"), "{err}");
    let out = bin().args(["--catalog", &pg.url_of("nosuchdb"), "migrate"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nosuchdb") && err.contains("createdb"), "{err}");
}

#[test]
fn an_exported_library_answers_on_postgres_as_it_does_embedded() {
    let pg = postgres();
    let work = tempfile::tempdir().unwrap();
    let media = work.path().join("media with spaces");
    std::fs::create_dir_all(&media).unwrap();
    for (name, source, lyrics) in [
        ("rain", "testsrc2", "Waiting all night for the summer rain to fall on the city"),
        ("gold", "smptebars", "Seven bars of gold and blue standing still and waiting for you"),
        ("spiral", "mandelbrot", "Falling deeper into the spiral the closer I get the more I find"),
        ("cells", "cellauto", "Cells are born and cells decay the patterns change from day to day"),
    ] {
        song(&media, name, lyrics, source, None);
    }
    make_video(&media.join("Ünïcode silent.mp4"), Gen { source: "rgbtestsrc", tone_hz: None, ..Gen::default() });
    let resnet = work.path().join("resnet");
    std::fs::create_dir_all(&resnet).unwrap();
    random_resnet(&resnet.join("model.safetensors"));
    let m = assets().join("models");
    let config = work.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[sampling]\nframe_short_side = 64\n[models]\noffline = true\n[models.image]\npath = {:?}\n\
             [models.speech]\npath = {:?}\n[models.text]\npath = {:?}\n[search.traps]\nset_aside = false\n\
             [train]\nepochs = 3\naugmented_views = 0\n",
            resnet,
            m.join("whisper-tiny.en"),
            m.join("all-minilm-l6-v2")
        ),
    )
    .unwrap();
    let lib = work.path().join("lib");
    let local = || {
        let mut c = bin();
        c.arg("--library").arg(&lib).arg("--config").arg(&config);
        c
    };
    run_ok(local().arg("ingest").arg(&media));
    let out = run_ok(local().args(["library", "export", "--to", &pg.url()]));
    assert!(out.contains("5 video(s) uploaded"), "{out}");
    let out = run_ok(local().args(["library", "export", "--to", &pg.url()]));
    assert!(out.contains("0 video(s) uploaded") && out.contains("5 already there"), "a second export skips: {out}");

    let shared = || {
        let mut c = local();
        c.args(["--catalog", &pg.url()]);
        c
    };
    let listed = json_of(shared().args(["library", "--json"]));
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 5);
    assert!(listed.iter().all(|v| v["status"] == "ready" && v["frames"].as_i64().unwrap() > 0), "{listed:?}");

    for query in [vec!["rain"], vec!["spiral"], vec!["Ünïcode silent"], vec!["--lyrics", "summer rain on the city"]] {
        let mut a = local();
        let mut b = shared();
        for c in [&mut a, &mut b] {
            c.arg("similar").args(&query).args(["--json", "--space", "backbone"]);
        }
        let (embedded, on_pg) = (json_of(&mut a), json_of(&mut b));
        let (e, p) = (ranking(&embedded), ranking(&on_pg));
        assert_eq!(e.len(), p.len(), "{query:?}: {e:?} vs {p:?}");
        assert!(e.len() >= 4 || query[0] == "--lyrics", "{query:?}: {e:?}");
        same_ranking(&query, &e, &p);
        assert_eq!(embedded["space"], on_pg["space"]);
    }
    trains_and_judges_on_the_catalog(&pg.url(), &local, &shared, &work.path().join("second machine"), &config);

    // And back down: a new embedded library imported from the catalog answers the same.
    let back = work.path().join("back");
    let out = run_ok(bin().arg("--library").arg(&back).arg("--config").arg(&config).args([
        "library",
        "import",
        "--from",
        &pg.url(),
    ]));
    assert!(out.contains("5 video(s) imported"), "{out}");
    let out = run_ok(bin().arg("--library").arg(&back).arg("--config").arg(&config).args([
        "library",
        "import",
        "--from",
        &pg.url(),
    ]));
    assert!(out.contains("0 video(s) imported") && out.contains("5 already here"), "a second import skips: {out}");
    let original = common::library_json(&lib);
    let imported = common::library_json(&back);
    let summary = |rows: &[Value]| -> Vec<(String, i64, i64, Value)> {
        let mut v: Vec<_> = rows
            .iter()
            .map(|r| {
                let n = |k: &str| r[k].as_i64().unwrap();
                (
                    r["title"].as_str().unwrap().to_string(),
                    n("frames_train"),
                    n("frames_test"),
                    r["transcript_language"].clone(),
                )
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    assert_eq!(summary(&original), summary(&imported), "the same videos, splits and transcripts");
    for query in [vec!["gold"], vec!["--lyrics", "seven bars of gold"]] {
        let mut a = local();
        let mut b = bin();
        b.arg("--library").arg(&back).arg("--config").arg(&config);
        for c in [&mut a, &mut b] {
            c.arg("similar").args(&query).args(["--json", "--space", "backbone"]);
        }
        let (e, p) = (ranking(&json_of(&mut a)), ranking(&json_of(&mut b)));
        assert_eq!(e.len(), p.len(), "{query:?}: {e:?} vs {p:?}");
        same_ranking(&query, &e, &p);
    }

    // The best frame's image is in the database, named by its frame id (searched in SQL).
    let on_pg = json_of(shared().args(["similar", "rain", "--json", "--space", "backbone"]));
    let file = on_pg["results"][0]["frames"][0]["match_file"].as_str().unwrap().to_string();
    let id: i64 = file.strip_prefix("frame:").unwrap().parse().unwrap();
    let mut cat = SharedCatalog::open(&pg.url()).unwrap();
    let jpeg = reelmatch::shared::search::frame_jpeg(&mut cat, id).unwrap().unwrap();
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "a JPEG");
}

/// `train`, `runs`, `eval` and `dupes` on the catalog at `url` (`shared` runs a command on it,
/// `local` on the embedded library it was exported from): the run is recorded in the catalog
/// (a second machine's `runs` lists it), its classes, splits and epochs are the embedded run's,
/// `eval` and `dupes` find what they find embedded, and a decision is kept in the catalog.
fn trains_and_judges_on_the_catalog(
    url: &str,
    local: &dyn Fn() -> Command,
    shared: &dyn Fn() -> Command,
    second: &Path,
    config: &Path,
) {
    let sorted = |v: &Value| {
        let mut t: Vec<String> = v.as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
        t.sort();
        t
    };
    let on_pg = json_of(shared().args(["train", "--json"]));
    let embedded = json_of(local().args(["train", "--json"]));
    assert_eq!(on_pg["status"], "done", "{on_pg}");
    for key in ["classes", "epochs", "train_frames", "test_frames", "augmented_frames"] {
        assert_eq!(on_pg[key], embedded[key], "{key}: {on_pg} vs {embedded}");
    }
    assert_eq!(sorted(&on_pg["class_titles"]), sorted(&embedded["class_titles"]));
    let run = on_pg["run"].as_i64().unwrap();

    // Another machine (its own library folder) sees the run in the catalog.
    let mut elsewhere = bin();
    elsewhere.arg("--library").arg(second).arg("--config").arg(config).args(["--catalog", url]);
    let runs = json_of(elsewhere.args(["runs", "--json"]));
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["run"], run);
    assert_eq!(runs[0]["status"], "done");
    assert_eq!(runs[0]["epochs"], 3);
    assert_eq!(runs[0]["active"], true);
    assert_eq!(runs[0]["test_accuracy"], on_pg["test_accuracy"]);
    let shown = json_of(shared().args(["runs", "show", &run.to_string(), "--json"]));
    assert_eq!(shown["epochs"].as_array().unwrap().len(), 3, "{shown}");
    assert!(!shown["steps"].as_array().unwrap().is_empty(), "step losses are kept: {shown}");
    assert_eq!(sorted(&shown["run"]["classes"]), sorted(&on_pg["class_titles"]));
    let mut cat = SharedCatalog::open(url).unwrap();
    let mut admin = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let row = cat.run(run).unwrap().unwrap();
    let ids: Vec<i64> =
        admin.query("SELECT id FROM videos ORDER BY id", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    let mut class_ids = row.class_ids.clone();
    class_ids.sort();
    assert_eq!(class_ids.len(), row.classes.len());
    assert!(
        class_ids.iter().all(|id| ids.contains(id)),
        "classes named by the catalog's ids: {class_ids:?} in {ids:?}"
    );
    let head = cat.run_head(run).unwrap().unwrap();
    assert!(head.len() > 100, "the head's bytes are in the catalog");
    assert_eq!(head, std::fs::read(on_pg["head"].as_str().unwrap()).unwrap(), "the last epoch's head");
    // A run whose trainer went silent (killed, machine lost) reads as stopped, naming it.
    admin
        .execute(
            "UPDATE runs SET status = 'running', updated_at = now() - interval '11 minutes' WHERE id = $1",
            &[&run],
        )
        .unwrap();
    let silent = cat.run(run).unwrap().unwrap();
    assert_eq!(silent.status, reelmatch::types::RunStatus::Stopped);
    assert!(silent.error.as_deref().unwrap_or_default().contains("no news from"), "{silent:?}");
    admin.execute("UPDATE runs SET updated_at = now() - interval '9 minutes' WHERE id = $1", &[&run]).unwrap();
    assert_eq!(cat.run(run).unwrap().unwrap().status, reelmatch::types::RunStatus::Running, "not silent long enough");
    admin.execute("UPDATE runs SET status = 'done', updated_at = now() WHERE id = $1", &[&run]).unwrap();
    // The dashboard's curve is a bounded read however long the run: 1000 more steps give at
    // most 240 points, with the true count and last loss.
    let before = cat.latest_run().unwrap().unwrap();
    assert_eq!(before.steps as usize, shown["steps"].as_array().unwrap().len());
    admin
        .execute(
            "INSERT INTO run_steps (run_id, step, epoch, loss) SELECT $1, 100000 + i, 3, i FROM generate_series(1, 1000) i",
            &[&run],
        )
        .unwrap();
    let long = cat.latest_run().unwrap().unwrap();
    assert_eq!(long.steps, before.steps + 1000);
    assert_eq!(long.last_loss, Some(1000.0));
    assert!(long.curve.len() <= 240 && long.curve.len() > 200, "{} points", long.curve.len());
    assert!(
        long.curve.last().unwrap() > &990.0,
        "the last point is the mean of the last steps: {:?}",
        long.curve.last()
    );
    admin.execute("DELETE FROM run_steps WHERE run_id = $1 AND step > 100000", &[&run]).unwrap();

    // eval: the same queries and recalls as embedded.
    let (e, p) = (
        json_of(local().args(["eval", "--json", "--space", "backbone"])),
        json_of(shared().args(["eval", "--json", "--space", "backbone"])),
    );
    assert!(e["visual"]["queries"].as_u64().unwrap() > 0, "{e}");
    for side in ["visual", "lyrics", "fused"] {
        assert_eq!(p[side]["queries"], e[side]["queries"], "{side}: {p} vs {e}");
        if e[side].is_null() {
            continue;
        }
        let (re, rp) = (e[side]["recall_at_5"].as_f64().unwrap(), p[side]["recall_at_5"].as_f64().unwrap());
        assert!((re - rp).abs() < 1e-9, "{side} recall@5: {re} embedded, {rp} on the catalog");
    }

    // dupes: the same pairs, in the catalog's ids; a decision is kept there.
    let pairs = |v: &Value| -> Vec<(String, String, bool)> {
        let mut p: Vec<_> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let (a, b) = (r["a_title"].as_str().unwrap().to_string(), r["b_title"].as_str().unwrap().to_string());
                (a.clone().min(b.clone()), a.max(b), r["not_duplicate"].as_bool().unwrap())
            })
            .collect();
        p.sort();
        p
    };
    let dupes = |c: &dyn Fn() -> Command, extra: &[&str]| {
        json_of(c().args(["dupes", "--threshold", "-1", "--json"]).args(extra))
    };
    let (e, p) = (dupes(local, &[]), dupes(shared, &[]));
    assert_eq!(pairs(&p), pairs(&e));
    assert_eq!(pairs(&p).len(), 10, "every pair of the five videos: {p}");
    let id_of = |title: &str| -> i64 {
        let mut admin = postgres::Client::connect(url, postgres::NoTls).unwrap();
        admin.query_one("SELECT id FROM videos WHERE title = $1", &[&title]).unwrap().get(0)
    };
    for r in p.as_array().unwrap() {
        assert_eq!(r["a"].as_i64().unwrap(), id_of(r["a_title"].as_str().unwrap()), "the catalog's ids: {r}");
    }
    let out = run_ok(shared().args(["dupes", "--not-duplicate", "rain", &id_of("gold").to_string()]));
    assert!(out.contains("marked \"rain\" and \"gold\" as not duplicates"), "{out}");
    let decided: i64 = admin.query_one("SELECT count(*) FROM not_duplicates", &[]).unwrap().get(0);
    assert_eq!(decided, 1, "the decision is in the catalog");
    let hidden = pairs(&dupes(shared, &[]));
    assert_eq!(hidden.len(), 9, "the pair is hidden: {hidden:?}");
    let all = pairs(&dupes(shared, &["--all"]));
    assert!(all.contains(&("gold".into(), "rain".into(), true)), "{all:?}");
    let out = run_ok(shared().args(["dupes", "--undo", "gold", "rain"]));
    assert!(out.contains("may be listed as duplicates again"), "{out}");
    assert_eq!(pairs(&dupes(shared, &[])).len(), 10);

    // `similar` in the head space: on this machine's copy with the catalog's active run, in the
    // catalog's ids; the embedded run finds the same videos. A machine that did not train it
    // copies the run down and ranks exactly the same (same vectors, same head bytes).
    let head = |c: &mut Command| json_of(c.args(["similar", "rain", "--json", "--space", "head"]));
    let (on_pg, embedded) = (head(&mut shared()), head(&mut local()));
    assert_eq!(on_pg["space"], format!("head of run {run}"), "{on_pg}");
    let titles = |v: &Value| {
        let mut t: Vec<String> = ranking(v).into_iter().map(|(t, _)| t).collect();
        t.sort();
        t
    };
    assert_eq!(titles(&on_pg), titles(&embedded));
    assert_eq!(titles(&on_pg).len(), 4, "{on_pg}");
    for hit in on_pg["results"].as_array().unwrap() {
        assert_eq!(hit["id"].as_i64().unwrap(), id_of(hit["title"].as_str().unwrap()), "the catalog's ids: {hit}");
    }
    let mut third = bin();
    third.arg("--library").arg(second.with_extension("third")).arg("--config").arg(config).args(["--catalog", url]);
    let elsewhere = head(&mut third);
    assert_eq!(elsewhere["space"], on_pg["space"]);
    assert_eq!(ranking(&elsewhere), ranking(&on_pg), "the same ranking from a machine that did not train");
    // A video named by the catalog's id is that video.
    let by_id = json_of(shared().args(["similar", &id_of("rain").to_string(), "--json", "--space", "head"]));
    assert_eq!(by_id["query"], on_pg["query"]);
}

#[test]
fn hnsw_search_finds_what_exact_search_finds_and_exact_matches_embedded() {
    let pg = postgres();
    let spec = reelmatch::synth::Spec {
        videos: 80,
        frames_per_video: 40,
        dim: 2048,
        seed: 11,
        head: false,
        first_video: 0,
        family: 4,
    };
    let (_work, lib, cat, frames) = common::synthetic_library(&spec);
    assert_eq!(frames, 3200);
    let report =
        reelmatch::shared::export::export_library(&lib, &pg.url(), &Default::default(), 1000, &|_, _, _| {}).unwrap();
    assert_eq!((report.uploaded, report.frames), (80, 3200));
    assert_eq!(report.indexed, vec![reelmatch::synth::MODEL.to_string()], "past 1000 frames the HNSW index is built");

    let model = Some(reelmatch::synth::MODEL);
    let embedded = SearchLibrary::load(&cat, model, None, None).unwrap();
    let open = || SharedCatalog::open(&pg.url()).unwrap();
    let exact = load(
        open(),
        model,
        None,
        SharedSearch { index: IndexChoice { mode: IndexKind::Exact, ..Default::default() }, ..Default::default() },
        None,
    )
    .unwrap();
    // A quarter of the videos as candidates: the index must find the right ones.
    let approximate = |candidates| SharedSearch {
        index: IndexChoice { mode: IndexKind::Auto, approximate_from: 1000, candidates },
        neighbours: 200,
    };
    let hnsw = load(open(), model, None, approximate(20), None).unwrap();
    assert_eq!(exact.frames.kind(), "exact");
    assert_eq!(hnsw.frames.kind(), "approximate (HNSW)");
    let plan = reelmatch::shared::search::knn_plan(&mut open(), reelmatch::synth::MODEL).unwrap().unwrap();
    assert!(plan.contains("Index Scan using frame_hnsw_"), "the k-NN takes the HNSW index: {plan}");
    let w = Weights { visual: 1.0, lyrics: 0.0 };
    let (mut found, mut wanted) = (0, 0);
    for v in embedded.videos.iter().step_by(4) {
        let ids = |l: &SearchLibrary| {
            let q = Query::from_library(l, lib.root(), l.videos.iter().find(|x| x.title == v.title).unwrap()).unwrap();
            search(l, &q, w, 10, false).results.iter().map(|h| (h.title.clone(), h.score)).collect::<Vec<_>>()
        };
        let (e, x, h) = (ids(&embedded), ids(&exact), ids(&hnsw));
        assert_eq!(
            e.iter().map(|r| &r.0).collect::<Vec<_>>(),
            x.iter().map(|r| &r.0).collect::<Vec<_>>(),
            "exact SQL search ranks as the embedded index does"
        );
        for (a, b) in e.iter().zip(&x) {
            assert!((a.1 - b.1).abs() < 2e-4, "{a:?} vs {b:?}");
        }
        wanted += x.len();
        found += h.iter().filter(|r| x.iter().any(|t| t.0 == r.0)).count();
    }
    let recall = found as f64 / wanted as f64;
    eprintln!("recall@10 of HNSW (20 of 80 videos as candidates) against exact: {recall:.3}");
    assert!(recall >= 0.95, "recall@10 of HNSW against exact: {recall}");

    // The library doubles: the next export builds the index again, centred on the new mean,
    // and the new index replaces the old one.
    let index_of =
        |plan: &str| plan.split("Index Scan using ").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    let before = index_of(&plan);
    let more = reelmatch::synth::Spec { first_video: 80, seed: 12, ..spec };
    let (_more_dir, more_lib, _, _) = common::synthetic_library(&more);
    let report =
        reelmatch::shared::export::export_library(&more_lib, &pg.url(), &Default::default(), 1000, &|_, _, _| {})
            .unwrap();
    assert_eq!(report.uploaded, 80);
    assert_eq!(report.indexed, vec![reelmatch::synth::MODEL.to_string()], "built again for twice the frames");
    let plan = reelmatch::shared::search::knn_plan(&mut open(), reelmatch::synth::MODEL).unwrap().unwrap();
    let after = index_of(&plan);
    assert_ne!(before, after, "{plan}");
    let indexes = postgres::Client::connect(&pg.url(), postgres::NoTls)
        .unwrap()
        .query("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'frame_hnsw_%'", &[])
        .unwrap();
    assert_eq!(indexes.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>(), vec![after], "the old index is gone");
    let config = _work.path().join("approximate.toml");
    std::fs::write(&config, "[search]\napproximate_from = 1000\n").unwrap();
    let update = run_ok(bin().args(["--catalog", &pg.url(), "--config"]).arg(&config).args(["index", "update"]));
    assert!(update.contains("6400 frames, HNSW index present"), "{update}");
    let grown = load(open(), model, None, approximate(40), None).unwrap();
    assert_eq!((grown.videos.len(), grown.frames.kind()), (160, "approximate (HNSW)"));
    let v = grown.videos.iter().find(|v| v.title == "Synthetic 00084").unwrap();
    let hits = search(&grown, &Query::from_library(&grown, lib.root(), v).unwrap(), w, 3, false);
    assert_eq!(hits.results.len(), 3);
}

/// Generated clips (1.2 to 2.7 s, silent: two to six frames each) for the workers.
fn clips(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let sources = ["testsrc2", "smptebars", "mandelbrot", "rgbtestsrc", "cellauto", "life"];
    for i in 0..n {
        let source = sources[i % sources.len()];
        // Lengths differ, so no two clips have the same content (the library keeps copies once).
        let seconds = 1.2 + 0.05 * i as f64;
        make_video(&dir.join(format!("clip {i:02}.mp4")), Gen { source, seconds, tone_hz: None, ..Gen::default() });
    }
}

/// Workers keep the HNSW index up as they upload (`shared::upkeep`): past `approximate_from`
/// one builds it, and when the library has grown well past what it was built over, one builds
/// it again; no `index update` is needed in between. A build lets uploads through while it
/// runs, and clears what a build that died left behind.
#[test]
fn workers_build_the_hnsw_index_as_the_library_grows() {
    let pg = postgres();
    let work = tempfile::tempdir().unwrap();
    let (all, media, resnet) = (work.path().join("all"), work.path().join("media"), work.path().join("resnet"));
    clips(&all, 15);
    std::fs::create_dir_all(&media).unwrap();
    std::fs::create_dir_all(&resnet).unwrap();
    random_resnet(&resnet.join("model.safetensors"));
    let move_clips = |range: std::ops::Range<usize>| {
        for i in range {
            let name = format!("clip {i:02}.mp4");
            std::fs::rename(all.join(&name), media.join(&name)).unwrap();
        }
    };
    let config = work.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[sampling]\nframe_short_side = 64\n[search]\napproximate_from = 6\n[models]\noffline = true\n\
             [models.image]\npath = {:?}\n[models.speech]\npath = {1:?}\n[models.text]\npath = {1:?}\n",
            resnet,
            work.path().join("no-models")
        ),
    )
    .unwrap();
    run_ok(bin().args(["--catalog", &pg.url(), "migrate"]));
    let worker = |lib: &str| {
        run_ok(
            bin()
                .arg("--library")
                .arg(work.path().join(lib))
                .arg("--config")
                .arg(&config)
                .args(["--catalog", &pg.url(), "ingest", "--worker"])
                .arg(&media),
        )
    };
    let built = |out: &str| out.contains("HNSW index build(s)");
    let mut admin = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    let mut index = || {
        let row = admin.query_one("SELECT name, frames FROM frame_indexes", &[]).unwrap();
        (row.get::<_, String>(0), row.get::<_, i64>(1))
    };
    let frames = |admin: &mut postgres::Client| -> i64 {
        admin.query_one("SELECT count(*) FROM frame_embeddings", &[]).unwrap().get(0)
    };

    move_clips(0..4);
    let out = worker("first");
    assert!(built(&out), "past 6 frames the worker built the index: {out}");
    let (first_name, first_frames) = index();
    assert!(first_frames >= 6, "{first_frames}");

    move_clips(4..14);
    let out = worker("second");
    assert!(built(&out), "the library more than doubled, so the worker built it again: {out}");
    let (second_name, second_frames) = index();
    assert_ne!(first_name, second_name, "a new index replaced the old one");
    let mut admin = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    let total = frames(&mut admin);
    assert!(second_frames > first_frames && second_frames * 3 >= total * 2, "{second_frames} of {total} frames");
    let indexes = admin.query("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'frame_hnsw_%'", &[]).unwrap();
    assert_eq!(indexes.len(), 1, "the old index is gone");

    // A transaction that holds the frames table open: `index rebuild` waits on it inside its
    // build, and a worker uploads another video meanwhile.
    let mut holder = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    let mut open_tx = holder.transaction().unwrap();
    open_tx.execute("UPDATE frame_embeddings SET model = model WHERE false", &[]).unwrap();
    let mut rebuild = bin()
        .arg("--config")
        .arg(&config)
        .args(["--catalog", &pg.url(), "index", "rebuild"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let building = |admin: &mut postgres::Client| -> i64 {
        let sql = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX CONCURRENTLY%' AND wait_event_type IS NOT NULL";
        admin.query_one(sql, &[]).unwrap().get(0)
    };
    while building(&mut admin) == 0 {
        assert!(rebuild.try_wait().unwrap().is_none(), "the rebuild ended before it waited on the open transaction");
        assert!(std::time::Instant::now() < deadline, "the rebuild never started its build");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    move_clips(14..15);
    let mut third = bin()
        .arg("--library")
        .arg(work.path().join("third"))
        .arg("--config")
        .arg(&config)
        .args(["--catalog", &pg.url(), "ingest", "--worker"])
        .arg(&media)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let status = loop {
        if let Some(status) = third.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = third.kill();
            panic!("the worker's upload waited on the index build");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let err = third.wait_with_output().unwrap().stderr;
    assert!(status.success(), "{}", String::from_utf8_lossy(&err));
    assert_eq!(building(&mut admin), 1, "the build was still waiting while the worker uploaded");
    open_tx.commit().unwrap();
    let out = rebuild.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(frames(&mut admin) > total, "the 15th clip's frames are in");

    // What a build that died would leave (an index it had not recorded, and its function): the
    // next build clears it.
    let prefix = index().0.rsplit_once('_').unwrap().0.to_string();
    admin
        .batch_execute(&format!(
            "CREATE INDEX {prefix}_1 ON frame_embeddings (video_id);
             CREATE FUNCTION {f}_1(v halfvec) RETURNS halfvec AS $$ SELECT v $$ LANGUAGE sql IMMUTABLE",
            f = prefix.replacen("frame_hnsw_", "reelmatch_centred_", 1)
        ))
        .unwrap();
    run_ok(bin().arg("--config").arg(&config).args(["--catalog", &pg.url(), "index", "rebuild"]));
    let left = |admin: &mut postgres::Client, sql: &str| -> Vec<String> {
        admin.query(sql, &[]).unwrap().iter().map(|r| r.get(0)).collect()
    };
    let indexes = left(&mut admin, "SELECT relname::text FROM pg_class WHERE relname LIKE 'frame_hnsw_%'");
    let functions = left(&mut admin, "SELECT proname::text FROM pg_proc WHERE proname LIKE 'reelmatch_centred_%'");
    let (name, _) = index();
    assert_eq!((indexes, functions.len()), (vec![name.clone()], 1), "only the new index and its function are left");
    let valid: bool =
        admin.query_one("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)", &[&name]).unwrap().get(0);
    assert!(valid, "{name} is valid");
}

#[test]
fn three_workers_killed_at_random_lose_and_duplicate_nothing() {
    let pg = postgres();
    let work = tempfile::tempdir().unwrap();
    let media = work.path().join("media");
    clips(&media, 30);
    let config = work.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[sampling]\nframe_short_side = 64\n[catalog]\nlease_s = 2\nmax_claims = 12\n[models]\noffline = true\n\
             [models.image]\npath = {0:?}\n[models.speech]\npath = {0:?}\n[models.text]\npath = {0:?}\n",
            work.path().join("no-models")
        ),
    )
    .unwrap();
    run_ok(bin().args(["--catalog", &pg.url(), "migrate"]));
    // What one embedded ingest stores for the same clips: the reference.
    let reference = work.path().join("reference");
    run_ok(bin().arg("--library").arg(&reference).arg("--config").arg(&config).arg("ingest").arg(&media));
    let want: std::collections::BTreeMap<String, i64> = common::library_json(&reference)
        .iter()
        .map(|v| {
            (
                v["title"].as_str().unwrap().to_string(),
                v["frames_train"].as_i64().unwrap() + v["frames_test"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(want.len(), 30);

    let start = |i: usize| -> Child {
        bin()
            .arg("--library")
            .arg(work.path().join(format!("worker-{i}")))
            .arg("--config")
            .arg(&config)
            .args(["--catalog", &pg.url(), "ingest", "--worker"])
            .arg(&media)
            // The catalog knows the clips by the path other machines mount them at.
            .arg("--path-map")
            .arg(format!("/mnt/nas/media={}", media.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // A viewer on another connection sees every worker's progress as it commits.
    let mut viewer = bin()
        .args(["--catalog", &pg.url(), "library", "--follow"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = std::io::BufReader::new(viewer.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut seen, &mut first).unwrap();
    assert!(first.contains("has no videos"), "the table comes once the viewer listens: {first}");
    let lines = std::thread::spawn(move || std::io::BufRead::lines(seen).map(Result::unwrap).collect::<Vec<String>>());
    let mut workers: Vec<Child> = (0..3).map(start).collect();
    let mut admin = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    // First, a kill certain to land mid-video: once a video is claimed, every worker is killed
    // while it is still being worked on (looked at again after the kill), so another claim must
    // take it over.
    let give_up = Instant::now() + Duration::from_secs(120);
    let cut_short: Vec<String> = loop {
        assert!(Instant::now() < give_up, "no video was still being worked on after a kill");
        let working = |admin: &mut postgres::Client| -> Vec<String> {
            admin
                .query("SELECT title FROM videos WHERE status = 'working'", &[])
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect()
        };
        let before = working(&mut admin);
        if before.is_empty() {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        for w in &mut workers {
            w.kill().unwrap();
            w.wait().unwrap();
        }
        let still: Vec<String> = working(&mut admin).into_iter().filter(|t| before.contains(t)).collect();
        workers = (0..3).map(start).collect();
        if !still.is_empty() {
            break still;
        }
    };
    // Then kills at random moments (a fixed seed, so a failure can be replayed).
    let mut rng = reelmatch::rng::SplitMix64(719);
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(200 + rng.below(600) as u64));
        let i = rng.below(3);
        workers[i].kill().unwrap(); // SIGKILL: no clean-up of any kind
        workers[i].wait().unwrap();
        workers[i] = start(i);
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    for w in &mut workers {
        loop {
            if let Some(status) = w.try_wait().unwrap() {
                assert!(status.success(), "a worker failed: {status}");
                break;
            }
            assert!(Instant::now() < deadline, "workers did not finish");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let rows = admin
        .query(
            "SELECT v.title, v.status, v.attempts, count(f.id), count(DISTINCT f.idx), v.error, v.path
             FROM videos v LEFT JOIN frames f ON f.video_id = v.id GROUP BY v.id ORDER BY v.title",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), 30, "every clip registered once");
    let mut took_over = Vec::new();
    for r in &rows {
        let (title, status, attempts, n, distinct): (String, String, i32, i64, i64) =
            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        assert_eq!(status, "ready", "{title}: {:?}", r.get::<_, Option<String>>(5));
        assert_eq!(n, want[&title], "{title}: each frame stored once, none lost");
        assert_eq!(n, distinct, "{title}");
        assert_eq!(r.get::<_, String>(6), format!("/mnt/nas/media/{title}.mp4"), "stored by its shared path");
        if attempts > 1 {
            took_over.push(title);
        }
    }
    for title in &cut_short {
        assert!(took_over.contains(title), "{title} was being worked on when every worker was killed: taken over");
    }
    viewer.kill().unwrap();
    viewer.wait().unwrap();
    let lines = lines.join().unwrap();
    for title in want.keys() {
        assert!(
            lines.iter().any(|l| l.starts_with(&format!("{title}: ready ({} frames) by ", want[title]))),
            "the viewer saw {title} become ready: {lines:?}"
        );
        assert!(lines.iter().any(|l| l.starts_with(&format!("{title}: working by "))), "{title} claimed");
    }
}

/// The one dashboard on a shared catalog, in tmux as a person uses it: another process adds
/// videos and the library pane and the workers' log follow live; the query pane ranks as
/// `similar --json` does, with the matched frames read from the database; another process trains
/// and the training pane shows the run; then queries search its head space.
#[test]
fn the_dashboard_on_the_catalog_shows_another_process_adding_videos_live_and_answers() {
    use crate::tmux::{quote, Tmux};
    let pg = postgres();
    run_ok(bin().args(["--catalog", &pg.url(), "migrate"]));
    let work = tempfile::tempdir().unwrap();
    let dashboard = format!(
        "{} --catalog '{}' --library {} --graphics halfblocks",
        quote(Path::new(env!("CARGO_BIN_EXE_reelmatch"))),
        pg.url(),
        quote(&work.path().join("view library"))
    );
    let tmux = Tmux::new(&dashboard, 120, 36);
    tmux.wait_for(
        &[&format!("reelmatch · {}", pg.url()), "Workers · 0 videos, 0 frames: none yet", "The library is empty"],
        30,
    );

    // This process moves a library up while the dashboard watches.
    let spec = reelmatch::synth::Spec {
        videos: 6,
        frames_per_video: 20,
        dim: 64,
        seed: 5,
        head: false,
        first_video: 0,
        family: 2,
    };
    let (_lib_dir, lib, cat, _) = common::synthetic_library(&spec);
    reelmatch::shared::export::export_library(&lib, &pg.url(), &Default::default(), 1_000_000, &|_, _, _| {}).unwrap();
    let titles: Vec<String> = cat.videos().unwrap().into_iter().map(|v| v.title).collect();
    let mut parts = vec!["Workers · 6 videos, 120 frames: 6 ready".to_string(), "Library · 6 videos".to_string()];
    parts.extend(titles.iter().map(|t| format!("{t}: ready (20 frames)")));
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    tmux.wait_for(&parts, 30);

    // The query pane, Enter on the first video: its most similar ones, as `similar --json` ranks them.
    let sorted = titles_sorted(&titles);
    let expected = json_of(
        bin()
            .args(["--catalog", &pg.url(), "--library"])
            .arg(work.path().join("cli library"))
            .args(["similar", &sorted[0], "--json"]),
    );
    let top = ranking(&expected);
    assert!(!top.is_empty());
    tmux.keys(&["3"]);
    tmux.wait_for(&["Query: a video", &sorted[0]], 10);
    tmux.keys(&["Enter"]);
    // With the best pair of frames, read from the database, drawn in half blocks.
    let screen = tmux.wait_for(&[&format!("Most similar to {}", sorted[0]), " query @ ", "▀"], 60);
    assert!(screen.contains(&format!(" {} @ ", top[0].0)), "the matched frame's box:\n{screen}");
    ranks_as_the_command_line(&screen, &top);
    // The library was opened for this first query; a second query keeps it open.
    let opened = "opened the library for search: ";
    tmux.keys(&["Left", "Down", "Enter"]);
    tmux.wait_for(&[&format!("Most similar to {}", sorted[1])], 60);
    tmux.keys(&["1"]);
    let screen = tmux.wait_for(&[&format!("{opened}6 videos, 120 frames")], 10);
    assert_eq!(screen.matches(opened).count(), 1, "the second query reopened the library:\n{screen}");
    // Once another process adds a video, the next query opens the library again, with it.
    let more = reelmatch::synth::Spec { videos: 1, first_video: 6, seed: 6, ..spec };
    let (_more_dir, more_lib, _, _) = common::synthetic_library(&more);
    reelmatch::shared::export::export_library(&more_lib, &pg.url(), &Default::default(), 1_000_000, &|_, _, _| {})
        .unwrap();
    tmux.wait_for(&["7 videos, 140 frames: 7 ready"], 30);
    tmux.keys(&["3", "Left", "Enter"]);
    tmux.wait_for(&[&format!("Most similar to {}", sorted[1])], 60);
    tmux.keys(&["1"]);
    let screen = tmux.wait_for(&[&format!("{opened}7 videos, 140 frames")], 60);
    assert_eq!(screen.matches(opened).count(), 2, "opened once more:\n{screen}");

    // Another process trains on the catalog: the training pane shows the run and its figures.
    tmux.keys(&["2"]);
    tmux.wait_for(&["No run yet"], 10);
    let config = work.path().join("train.toml");
    std::fs::write(&config, "[models]\noffline = true\n[train]\nepochs = 3\naugmented_views = 0\n").unwrap();
    let trained = json_of(
        bin()
            .args(["--catalog", &pg.url(), "--library"])
            .arg(work.path().join("trainer library"))
            .arg("--config")
            .arg(&config)
            .args(["train", "--json"]),
    );
    assert_eq!(trained["classes"], 7, "{trained}");
    let run = trained["run"].as_i64().unwrap();
    let last = reelmatch::types::pct(trained["test_accuracy"].as_f64());
    let screen = tmux.wait_for(&[&format!("Training · run {run} · done"), "epoch 3/3", &format!("*{run} ")], 30);
    let row = screen.lines().find(|l| l.contains(&format!("│*{run} "))).unwrap_or_else(|| panic!("no row:\n{screen}"));
    let cells: Vec<&str> = row.trim_matches(|c| c == '│' || c == ' ').split_whitespace().collect();
    assert_eq!(&cells[..4], [format!("*{run}").as_str(), "done", "3", "7"], "{row}");
    assert!(row.contains(&last), "the run's test accuracy {last}: {row}");
    // With a run on the catalog, a query searches its head space on the dashboard's copy of the
    // catalog, ranking as `similar` does (the head space is the default).
    tmux.keys(&["3", "Left", "Enter"]);
    let screen = tmux.wait_for(&[&format!(" (head of run {run}) ")], 120);
    let line = screen.lines().find(|l| l.contains(&format!(" (head of run {run}) "))).unwrap();
    let asked = line.split("Most similar to ").nth(1).and_then(|t| t.split(" (head of run").next()).unwrap().trim();
    let expected = json_of(
        bin()
            .args(["--catalog", &pg.url(), "--library"])
            .arg(work.path().join("cli library"))
            .args(["similar", asked, "--json"]),
    );
    assert_eq!(expected["space"], format!("head of run {run}"), "{expected}");
    ranks_as_the_command_line(&screen, &ranking(&expected));
    tmux.keys(&["1"]);
    let screen = tmux.wait_for(&[&format!("{opened}7 videos, 140 frames")], 10);
    assert_eq!(screen.matches(opened).count(), 3, "the run opened the copy:\n{screen}");
    tmux.keys(&["q"]);
    let start = Instant::now();
    while tmux.alive() {
        assert!(start.elapsed() < Duration::from_secs(10), "q did not quit:\n{}", tmux.screen());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The query pane's first results are `top`'s titles in order, with their fused scores to the
/// three decimals shown.
fn ranks_as_the_command_line(screen: &str, top: &[(String, f64)]) {
    let shown: Vec<(usize, String, f64)> = screen
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('│').nth(3)?.split_whitespace().collect();
            let rank = cells.first()?.parse::<usize>().ok()?;
            let fused = cells.get(cells.len().checked_sub(3)?)?.parse::<f64>().ok()?;
            let title =
                cells[1..cells.len() - 3].iter().filter(|c| **c != "≈dup").copied().collect::<Vec<_>>().join(" ");
            Some((rank, title, fused))
        })
        .collect();
    assert!(shown.len() >= top.len().min(4), "ranks missing:\n{screen}");
    for ((rank, title, fused), (want, score)) in shown.iter().zip(top).take(4) {
        assert_eq!(title, want, "rank {rank}:\n{screen}");
        assert!((fused - score).abs() <= 0.0005 + 1e-9, "{title}: {fused} shown, {score} from similar:\n{screen}");
    }
}

/// Titles as the catalog lists them (by lower-cased title).
fn titles_sorted(titles: &[String]) -> Vec<String> {
    let mut t = titles.to_vec();
    t.sort_by_key(|t| t.to_lowercase());
    t
}

/// A worker claims only videos under the folders it was given, and a claim it cannot read (a
/// file gone, another machine's path) is given back with a note while it goes on with the rest:
/// it never exits on it, and the video stays pending for a worker that can read it.
#[test]
fn a_worker_claims_what_it_can_reach_and_gives_back_what_it_cannot_read() {
    let pg = postgres();
    let work = tempfile::tempdir().unwrap();
    let media = work.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    make_video(&media.join("here.mp4"), Gen { seconds: 2.0, ..Gen::default() });
    let config = work.path().join("config.toml");
    std::fs::write(&config, "[sampling]\nframe_short_side = 64\n[models]\noffline = true\n").unwrap();
    run_ok(bin().args(["--catalog", &pg.url(), "migrate"]));
    // Another machine's folder; and in this folder, a file a worker that died had claimed and
    // that is gone since (its lease has run out, so it is claimed again).
    let folder = media.canonicalize().unwrap();
    let ghost = folder.join("ghost.mp4").to_string_lossy().into_owned();
    let mut admin = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    admin.execute("INSERT INTO videos (path, title) VALUES ('/elsewhere/videos/a.mp4', 'a')", &[]).unwrap();
    let dead = "INSERT INTO videos (path, title, status, claimed_by, lease_until, attempts)
                VALUES ($1, 'ghost', 'working', 'a worker that died', now() - interval '1 minute', 1)";
    admin.execute(dead, &[&ghost]).unwrap();
    let said = run_ok(
        bin()
            .arg("--library")
            .arg(work.path().join("lib"))
            .arg("--config")
            .arg(&config)
            .args(["--catalog", &pg.url(), "ingest", "--worker"])
            .arg(&media),
    );
    let rows = admin.query("SELECT title, status, attempts, claimed_by FROM videos ORDER BY title", &[]).unwrap();
    let rows: Vec<(String, String, i32, Option<String>)> =
        rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect();
    assert!(said.contains("ghost.mp4") && said.contains("cannot be read on this machine"), "{rows:?} {said}");
    assert!(said.contains("1 video(s) left for a machine that can read them"), "{said}");
    assert!(!said.contains("/elsewhere"), "another machine's folder is not claimed: {said}");
    assert_eq!(
        rows,
        [
            ("a".to_string(), "pending".to_string(), 0, None),
            ("ghost".to_string(), "pending".to_string(), 1, None),
            ("here".to_string(), "ready".to_string(), 1, None),
        ]
    );
    // Ingested once, straight into the catalog: its frames are there, and the worker's folder
    // keeps no catalog of its own and nothing of the claim (frames, audio, scratch).
    let frames: i64 = admin
        .query_one("SELECT count(*) FROM frames f JOIN videos v ON v.id = f.video_id WHERE v.title = 'here'", &[])
        .unwrap()
        .get(0);
    assert_eq!(frames, 4, "2 s at 2 frames/s");
    let lib = work.path().join("lib");
    assert!(!lib.join("catalog.sqlite").exists(), "a worker keeps no local catalog");
    let left: Vec<String> = std::fs::read_dir(&lib)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".worker-scratch-") || name.ends_with(".sqlite"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    for dir in ["frames", "audio"] {
        assert!(std::fs::read_dir(lib.join(dir)).map_or(true, |mut d| d.next().is_none()), "{dir} left behind");
    }
}

/// A catalog named by a connection service, as PostgreSQL's tools read it: the service file
/// holds the host, port, database and user, and the URL names only the service (`?service=`,
/// or `PGSERVICE` with a bare `postgres://`); a service no file has is named in the error.
#[test]
fn a_connection_service_names_the_catalog() {
    let pg = postgres();
    let url = pg.url();
    let (user, rest) = url.strip_prefix("postgres://").unwrap().split_once('@').unwrap();
    let (address, database) = rest.split_once('/').unwrap();
    let (host, port) = address.split_once(':').unwrap();
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("services.conf");
    std::fs::write(&file, format!("# test\n[music]\nhost={host}\nport={port}\ndbname={database}\nuser={user}\n"))
        .unwrap();
    let said = run_ok(bin().env("PGSERVICEFILE", &file).args(["--catalog", "postgres://?service=music", "migrate"]));
    assert!(said.contains("schema"), "{said}");
    let listed = json_of(
        bin()
            .env("PGSERVICEFILE", &file)
            .env("PGSERVICE", "music")
            .args(["--catalog", "postgres://", "--library"])
            .arg(work.path().join("lib"))
            .args(["library", "--json"]),
    );
    assert_eq!(listed, serde_json::json!([]), "the service's empty catalog");
    let out =
        bin().env("PGSERVICEFILE", &file).args(["--catalog", "postgres://?service=nope", "migrate"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no connection service \"nope\"") && err.contains("services.conf"),
        "{err}"
    );
}

/// A limit on each query is the server's `statement_timeout`, set in the URL as libpq takes it
/// (`options=-c statement_timeout=…`): a command that waits past it (here on a table another
/// session holds locked) stops with the server's words instead of waiting on.
#[test]
fn a_per_query_limit_set_in_the_url_stops_a_waiting_command() {
    let pg = postgres();
    run_ok(bin().args(["--catalog", &pg.url(), "migrate"]));
    let mut admin = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    let mut lock = admin.transaction().unwrap();
    lock.batch_execute("LOCK TABLE videos IN ACCESS EXCLUSIVE MODE").unwrap();
    let work = tempfile::tempdir().unwrap();
    let limited = format!("{}?options=-c%20statement_timeout%3D500", pg.url());
    let start = Instant::now();
    let out = bin()
        .args(["--catalog", &limited, "--library"])
        .arg(work.path().join("lib"))
        .arg("library")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("statement timeout"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(20), "stopped at the limit, not when the lock went");
    lock.rollback().unwrap();
}

/// `migrate` as a role that may not make tables says which grant is missing and to whom.
#[test]
fn migrate_without_the_right_to_make_tables_names_the_grant() {
    let pg = postgres();
    let mut admin = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    admin.batch_execute("CREATE ROLE reader LOGIN").unwrap();
    admin.batch_execute("CREATE DATABASE locked").unwrap();
    let locked = pg.url_of("locked");
    let mut owner = postgres::Client::connect(&locked, postgres::NoTls).unwrap();
    // pgvector there already (made by its owner); PostgreSQL 15+ gives no role CREATE on public.
    owner.batch_execute("CREATE EXTENSION vector; REVOKE CREATE ON SCHEMA public FROM PUBLIC;").unwrap();
    let url = locked.replacen("postgres@", "reader@", 1);
    assert!(url.contains("reader@"), "{url}");
    let out = bin().args(["--catalog", &url, "migrate"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("permission denied") && err.contains("GRANT USAGE, CREATE ON SCHEMA public TO reader"),
        "{err}"
    );
}

/// A password in the catalog's URL (one the server does not even need here: it trusts local
/// connections) appears in no output of a scripted session, in no file name and in no file the
/// library folder holds, its log included.
#[test]
fn the_catalogs_password_is_in_no_output_and_no_file() {
    let pg = postgres();
    let secret = "S3CRETpw";
    let url = pg.url().replacen("postgres@", &format!("postgres:{secret}@"), 1);
    let with_query = format!("{}?password={secret}", pg.url());
    let work = tempfile::tempdir().unwrap();
    let media = work.path().join("media");
    std::fs::create_dir_all(&media).unwrap();
    make_video(&media.join("one.mp4"), Gen { seconds: 4.0, ..Gen::default() });
    make_video(&media.join("two.mp4"), Gen { source: "smptebars", seconds: 4.0, ..Gen::default() });
    let (resnet, lib) = (work.path().join("resnet"), work.path().join("lib"));
    std::fs::create_dir_all(&resnet).unwrap();
    random_resnet(&resnet.join("model.safetensors"));
    let config = work.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[sampling]\nframe_short_side = 64\n[models]\noffline = true\n[models.image]\npath = {resnet:?}\n"),
    )
    .unwrap();
    let mut said = String::new();
    let sessions: [(&str, &[&str]); 10] = [
        (&url, &["migrate"]),
        (&url, &["ingest", "--worker"]),
        (&with_query, &["library"]),
        (&url, &["library", "--json"]),
        (&with_query, &["similar", "one", "--json"]),
        (&url, &["train", "--yes"]),
        (&with_query, &["runs"]),
        (&url, &["index", "update"]),
        (&with_query, &["dupes"]),
        (&url, &["--catalog-typo"]),
    ];
    for (catalog, args) in sessions {
        let mut cmd = bin();
        cmd.arg("--library").arg(&lib).arg("--config").arg(&config).args(["--catalog", catalog]).args(args);
        if args == ["ingest", "--worker"] {
            cmd.arg(&media);
        }
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        let typo = args == ["--catalog-typo"];
        assert_eq!(out.status.success(), !typo, "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        said += &format!("{args:?} → {}\n", out.status);
        said += &String::from_utf8_lossy(&out.stdout);
        said += &String::from_utf8_lossy(&out.stderr);
    }
    // Given only through the environment, and shown by help.
    let out = bin().args(["library", "--help"]).env("REELMATCH_CATALOG", &url).output().unwrap();
    said += &String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("\"query\": \"one\"") && said.contains("REELMATCH_CATALOG"), "the session ran: {said}");
    assert!(!said.contains(secret), "the password was printed:\n{said}");
    let mut files = vec![lib.clone()];
    while let Some(path) = files.pop() {
        let name = path.to_string_lossy().into_owned();
        assert!(!name.contains(secret), "a file is named with the password: {name}");
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            let holds = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!holds, "{name} holds the password");
        }
    }
}

/// With no password in the URL, the one PostgreSQL's own tools would use is: `PGPASSWORD`, else
/// the password file (`PGPASSFILE`), which is not used while others may read it.
#[test]
fn a_password_comes_from_pgpassword_or_the_password_file() {
    use std::os::unix::fs::PermissionsExt;
    let pg = postgres();
    let mut admin = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
    admin
        .batch_execute(
            "SET password_encryption = 'scram-sha-256'; CREATE ROLE secretive LOGIN PASSWORD 'pw-from-elsewhere'",
        )
        .unwrap();
    admin.batch_execute("GRANT ALL ON SCHEMA public TO secretive; CREATE EXTENSION IF NOT EXISTS vector").unwrap();
    // Only this role must give a password.
    let hba: String = admin.query_one("SHOW hba_file", &[]).unwrap().get(0);
    let rules = "host all secretive 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\nlocal all all trust\n";
    std::fs::write(&hba, rules).unwrap();
    admin.batch_execute("SELECT pg_reload_conf()").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let url = pg.url().replacen("postgres@", "secretive@", 1);
    let work = tempfile::tempdir().unwrap();
    let migrate = |env: &[(&str, &str)]| {
        let mut cmd = bin();
        cmd.env_remove("PGPASSWORD").env("PGPASSFILE", work.path().join("none")).args(["--catalog", &url, "migrate"]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, err) = migrate(&[]);
    assert!(!ok && err.contains("refused the login"), "no password anywhere: {err}");
    let (ok, err) = migrate(&[("PGPASSWORD", "pw-from-elsewhere")]);
    assert!(ok, "PGPASSWORD: {err}");
    let file = work.path().join("pgpass");
    std::fs::write(&file, "127.0.0.1:*:reelmatch:secretive:pw-from-elsewhere\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, err) = migrate(&[("PGPASSFILE", file.to_str().unwrap())]);
    assert!(!ok && err.contains("refused the login"), "a password file others may read is not used: {err}");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (ok, err) = migrate(&[("PGPASSFILE", file.to_str().unwrap())]);
    assert!(ok, "the password file: {err}");
    assert!(!err.contains("pw-from-elsewhere"));
}
