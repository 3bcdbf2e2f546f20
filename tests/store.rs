//! The persistent vector store against the catalog it copies: a round trip, catching up by
//! appending, recovery from a crash in the middle of an append, a rebuild when rows were
//! replaced, and scores identical to an index built in memory from the catalog.
#![allow(clippy::unwrap_used)] // a test, bench or example: a failed unwrap is the failure report

use reelmatch::catalog::{Catalog, FrameRecord, Split};
use reelmatch::rng::SplitMix64;
use reelmatch::search::index::{FlatIndex, VectorIndex};
use reelmatch::store::{store_dir, FrameStore};
use std::io::Write;
use std::path::Path;

const DIM: usize = 24;
const MODEL: &str = "test/model";

/// Adds a video with `frames` frames and random non-negative embeddings; returns them.
fn add_video(cat: &Catalog, name: &str, frames: usize, rng: &mut SplitMix64) -> Vec<Vec<f32>> {
    let id = cat.insert_video(Path::new(&format!("/m/{name}.mp4")), name, name, 1, 1).unwrap();
    let records: Vec<FrameRecord> = (0..frames)
        .map(|i| FrameRecord {
            video_id: id,
            idx: i as i64,
            t_s: i as f64 * 0.5,
            split: if i % 10 == 9 { Split::Test } else { Split::Train },
            file: format!("frames/{id}/{i:04}.jpg"),
        })
        .collect();
    cat.store_frames(id, &records).unwrap();
    embed(cat, id, rng)
}

/// (Re-)embeds every frame of video `id` with fresh random vectors.
fn embed(cat: &Catalog, id: i64, rng: &mut SplitMix64) -> Vec<Vec<f32>> {
    let mut ids: Vec<i64> = cat.frames_without_embedding(id, "none").unwrap().into_iter().map(|(f, _)| f).collect();
    ids.sort();
    let rows: Vec<(i64, Vec<f32>)> = ids.iter().map(|&f| (f, (0..DIM).map(|_| rng.unit() as f32).collect())).collect();
    cat.store_frame_embeddings(MODEL, &rows).unwrap();
    rows.into_iter().map(|(_, v)| v).collect()
}

/// An index built in memory from `vectors`, the way a library without a store would be.
fn in_memory(vectors: &[Vec<f32>]) -> FlatIndex {
    in_memory_dim(vectors, DIM)
}

fn assert_same_scores(a: &FlatIndex, b: &FlatIndex, rng: &mut SplitMix64) {
    assert_same_scores_dim(a, b, DIM, rng)
}

#[test]
fn the_store_copies_catches_up_survives_a_crash_and_rebuilds_when_rows_change() {
    let work = tempfile::tempdir().unwrap();
    let cat = Catalog::open(&work.path().join("catalog.sqlite")).unwrap();
    let mut rng = SplitMix64(3);
    let mut all = Vec::new();
    for name in ["a", "b", "c"] {
        all.extend(add_video(&cat, name, 20, &mut rng));
    }

    // First open: built from the catalog, rows as stored there (normalised, half precision).
    let store = FrameStore::open(&cat, MODEL).unwrap();
    assert_eq!((store.len(), store.dim(), store.generation()), (60, DIM, 1));
    assert_eq!(store.files()[21], "frames/2/0001.jpg");
    assert_eq!(store.meta()[9].split, Split::Test);
    assert_same_scores(&FlatIndex::from_store(&store), &in_memory(&all), &mut rng);
    let first_stamp = store.stamp();
    drop(store);

    // A new video: appended, not rebuilt, and the mean and norms follow.
    all.extend(add_video(&cat, "d", 20, &mut rng));
    let store = FrameStore::open(&cat, MODEL).unwrap();
    assert_eq!((store.len(), store.generation()), (80, 1), "caught up by appending");
    assert_ne!(store.stamp(), first_stamp);
    assert_same_scores(&FlatIndex::from_store(&store), &in_memory(&all), &mut rng);
    drop(store);

    // A crash in the middle of the next append: bytes past the valid rows, header not written.
    let dir = store_dir(cat.path(), MODEL);
    for file in ["vectors.f16", "rows.bin", "files.txt", "norms.f32"] {
        let mut f = std::fs::OpenOptions::new().append(true).open(dir.join(file)).unwrap();
        f.write_all(&[0xAB; 77]).unwrap();
    }
    let store = FrameStore::open(&cat, MODEL).unwrap();
    assert_eq!(store.len(), 80, "the header's rows are the valid ones");
    assert_same_scores(&FlatIndex::from_store(&store), &in_memory(&all), &mut rng);
    drop(store);
    all.extend(add_video(&cat, "e", 20, &mut rng));
    let store = FrameStore::open(&cat, MODEL).unwrap();
    assert_eq!((store.len(), store.generation()), (100, 1), "the leftover is cut before appending");
    assert_eq!(store.files()[99], "frames/5/0019.jpg");
    assert_same_scores(&FlatIndex::from_store(&store), &in_memory(&all), &mut rng);
    drop(store);

    // Video b embedded again (a model re-run): rows replaced, so the store is rebuilt.
    let b = cat.videos().unwrap().into_iter().find(|v| v.title == "b").unwrap();
    let fresh = embed(&cat, b.id, &mut rng);
    let store = FrameStore::open(&cat, MODEL).unwrap();
    assert_eq!((store.len(), store.generation()), (100, 2), "rebuilt");
    let mut expected: Vec<Vec<f32>> = all[..20].to_vec();
    expected.extend(all[40..].iter().cloned());
    expected.extend(fresh);
    assert_same_scores(&FlatIndex::from_store(&store), &in_memory(&expected), &mut rng);
    drop(store);

    // A damaged header is not trusted: the store is built again from the catalog.
    std::fs::write(dir.join("header.json"), b"{ not json").unwrap();
    let store = FrameStore::open(&cat, MODEL).unwrap();
    assert_eq!(store.len(), 100);
    assert_same_scores(&FlatIndex::from_store(&store), &in_memory(&expected), &mut rng);
}

#[test]
fn the_head_space_is_projected_once_and_matches_projecting_at_query_time() {
    let work = tempfile::tempdir().unwrap();
    let cat = Catalog::open(&work.path().join("catalog.sqlite")).unwrap();
    let mut rng = SplitMix64(9);
    let mut all = Vec::new();
    for name in ["a", "b", "c"] {
        all.extend(add_video(&cat, name, 15, &mut rng));
    }
    let classes = 5;
    let head = random_head(classes, &mut rng);
    let key = format!("head-{}", head.fingerprint().unwrap());
    let project = |v: &[Vec<f32>]| head.project(v);

    let store = FrameStore::open(&cat, MODEL).unwrap();
    let projected = store.projected(&key, &project).unwrap();
    assert_eq!((projected.len(), projected.dim()), (45, classes));
    let at_query_time = in_memory_dim(&head.project(&all).unwrap(), classes);
    assert_same_scores_dim(&FlatIndex::from_store(&projected), &at_query_time, classes, &mut SplitMix64(1));
    let dir = projected.dir().to_path_buf();
    let written = std::fs::metadata(dir.join("vectors.f16")).unwrap().modified().unwrap();
    drop((store, projected));

    // Opened again with nothing new: the projection on disk is used as it is.
    let store = FrameStore::open(&cat, MODEL).unwrap();
    let again = store.projected(&key, &project).unwrap();
    assert_eq!(std::fs::metadata(dir.join("vectors.f16")).unwrap().modified().unwrap(), written);
    assert_eq!(again.len(), 45);
    drop((store, again));

    // A new video: only its rows are projected and appended.
    let mut rng = SplitMix64(10);
    all.extend(add_video(&cat, "d", 15, &mut rng));
    let store = FrameStore::open(&cat, MODEL).unwrap();
    let extended = store.projected(&key, &project).unwrap();
    assert_eq!((extended.len(), extended.generation()), (60, 1));
    let at_query_time = in_memory_dim(&head.project(&all).unwrap(), classes);
    assert_same_scores_dim(&FlatIndex::from_store(&extended), &at_query_time, classes, &mut SplitMix64(2));
}

#[test]
fn a_head_with_more_videos_than_features_is_stored_compact_with_the_logits_scores() {
    use candle_core::{Device, Tensor};
    use reelmatch::search::library::projection_key;
    let work = tempfile::tempdir().unwrap();
    let cat = Catalog::open(&work.path().join("catalog.sqlite")).unwrap();
    let mut rng = SplitMix64(19);
    let mut all = Vec::new();
    for name in ["a", "b", "c", "d"] {
        all.extend(add_video(&cat, name, 12, &mut rng));
    }
    let classes = 3 * DIM;
    let d = Device::Cpu;
    let head = random_head(classes, &mut rng);
    let mut random = |n: usize| (0..n).map(|_| rng.unit() as f32 - 0.5).collect::<Vec<f32>>();
    let key = projection_key(&head).unwrap();
    assert!(key.ends_with("-compact"), "{key}");
    let store = FrameStore::open(&cat, MODEL).unwrap();
    let projected = store.projected(&key, &|v: &[Vec<f32>]| head.project(v)).unwrap();
    assert_eq!((projected.len(), projected.dim()), (48, DIM + 1));
    // The same frames as logits (one dimension per class), scored in memory.
    let logits = |rows: &[Vec<f32>]| -> Vec<Vec<f32>> {
        let x = Tensor::from_vec(rows.iter().flatten().copied().collect::<Vec<f32>>(), (rows.len(), DIM), &d).unwrap();
        head.logits(&x).unwrap().to_vec2().unwrap()
    };
    let full = in_memory_dim(&logits(&all), classes);
    let queries: Vec<Vec<f32>> = (0..6).map(|_| random(DIM).iter().map(|x| x.abs()).collect()).collect();
    let compact_scores = FlatIndex::from_store(&projected).scores(&head.project(&queries).unwrap());
    let full_scores = full.scores(&logits(&queries));
    for (x, y) in compact_scores.iter().zip(&full_scores) {
        assert_eq!(x.len(), y.len());
        for (p, q) in x.iter().zip(y) {
            assert!((p - q).abs() < 3e-3, "{p} vs {q}");
        }
    }
}

/// A head of `classes` over `DIM` features with random weight, bias and feature means.
fn random_head(classes: usize, rng: &mut SplitMix64) -> reelmatch::train::head::Head {
    use candle_core::{Device, Tensor};
    let mut random = |n: usize| (0..n).map(|_| rng.unit() as f32 - 0.5).collect::<Vec<f32>>();
    reelmatch::train::head::Head::new(
        Tensor::from_vec(random(classes * DIM), (classes, DIM), &Device::Cpu).unwrap(),
        Tensor::from_vec(random(classes), classes, &Device::Cpu).unwrap(),
        Tensor::from_vec(random(DIM), DIM, &Device::Cpu).unwrap(),
        Tensor::from_vec(vec![0.5f32; DIM], DIM, &Device::Cpu).unwrap(),
    )
}

fn in_memory_dim(vectors: &[Vec<f32>], dim: usize) -> FlatIndex {
    let mut idx = FlatIndex::new(dim);
    vectors.iter().for_each(|v| {
        idx.push(v);
    });
    idx.center();
    idx
}

fn assert_same_scores_dim(a: &FlatIndex, b: &FlatIndex, dim: usize, rng: &mut SplitMix64) {
    let queries: Vec<Vec<f32>> = (0..6).map(|_| (0..dim).map(|_| rng.unit() as f32 - 0.5).collect()).collect();
    for (x, y) in a.scores(&queries).iter().zip(&b.scores(&queries)) {
        assert_eq!(x.len(), y.len());
        for (p, q) in x.iter().zip(y) {
            assert!((p - q).abs() < 2e-3, "{p} vs {q}");
        }
    }
}

/// A store is only ever read for the catalog, and the state of it, it was made from: a catalog
/// moved aside and made again with as many rows (same count, same newest rowid), or a video
/// deleted and another embedded in its rowids, rebuilds it instead of ranking with old vectors.
#[test]
fn a_store_never_answers_for_another_catalog_or_replaced_rows() {
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("catalog.sqlite");
    let mut rng = SplitMix64(21);
    {
        let cat = Catalog::open(&path).unwrap();
        for name in ["a", "b", "c"] {
            add_video(&cat, name, 20, &mut rng);
        }
        let store = FrameStore::open(&cat, MODEL).unwrap();
        assert_eq!(store.len(), 60);
    }
    // The catalog moved aside (as an error message may invite) and other clips ingested.
    for suffix in ["", "-wal", "-shm"] {
        let file = work.path().join(format!("catalog.sqlite{suffix}"));
        if file.exists() {
            std::fs::rename(&file, work.path().join(format!("old.sqlite{suffix}"))).unwrap();
        }
    }
    let cat = Catalog::open(&path).unwrap();
    let mut all = Vec::new();
    for name in ["x", "y", "z"] {
        all.extend(add_video(&cat, name, 20, &mut rng));
    }
    let store = FrameStore::open(&cat, MODEL).unwrap();
    assert_eq!(store.files()[0], "frames/1/0000.jpg");
    assert_same_scores(&FlatIndex::from_store(&store), &in_memory(&all), &mut rng);
    let generation = store.generation();
    drop(store);

    // The newest video deleted and another embedded: its rows take the same rowids.
    let z = cat.videos().unwrap().into_iter().find(|v| v.title == "z").unwrap();
    cat.delete_video(z.id).unwrap();
    let fresh = add_video(&cat, "w", 20, &mut rng);
    let store = FrameStore::open(&cat, MODEL).unwrap();
    assert!(store.generation() > generation, "rebuilt");
    let mut expected = all[..40].to_vec();
    expected.extend(fresh);
    assert_same_scores(&FlatIndex::from_store(&store), &in_memory(&expected), &mut rng);
}

/// Damage that keeps each file's length (random bytes, zeros) is found by the checksums in the
/// header and the store built again from the catalog: scores stay the catalog's.
#[test]
fn same_length_damage_of_any_store_file_rebuilds_it() {
    let work = tempfile::tempdir().unwrap();
    let cat = Catalog::open(&work.path().join("catalog.sqlite")).unwrap();
    let mut rng = SplitMix64(33);
    let mut all = Vec::new();
    for name in ["a", "b", "c", "d"] {
        all.extend(add_video(&cat, name, 25, &mut rng));
    }
    drop(FrameStore::open(&cat, MODEL).unwrap());
    let dir = store_dir(cat.path(), MODEL);
    for file in ["vectors.f16", "rows.bin", "norms.f32", "center.f32", "files.txt"] {
        for zeros in [false, true] {
            let len = std::fs::metadata(dir.join(file)).unwrap().len() as usize;
            let bytes: Vec<u8> = (0..len).map(|_| if zeros { 0 } else { rng.below(256) as u8 }).collect();
            std::fs::write(dir.join(file), bytes).unwrap();
            let store = FrameStore::open(&cat, MODEL).unwrap();
            assert_eq!(store.len(), 100, "{file} (zeros: {zeros})");
            assert_eq!(store.files()[26], "frames/2/0001.jpg", "{file} (zeros: {zeros})");
            assert_same_scores(&FlatIndex::from_store(&store), &in_memory(&all), &mut rng);
            store.verify(reelmatch::store::Depth::Full).unwrap();
        }
    }
}
