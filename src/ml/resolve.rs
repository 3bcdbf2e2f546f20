//! Finding a role's weights: an explicit path, a local Hugging Face-layout directory, the
//! Hugging Face cache, or (unless offline) a download with hf-hub.

use super::manifest::{Manifest, Role};
use crate::error::{Error, Result};
use hf_hub::{Repo, RepoType};
use std::path::{Path, PathBuf};

/// Where a role's files were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A directory given on the command line or in config.
    Path,
    /// A directory under a models folder.
    Local,
    /// The Hugging Face cache.
    Cache,
    /// Downloaded just now.
    Hub,
}

/// A role's files, all present.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelFiles {
    pub role: Role,
    pub source: Source,
    /// The model's identity for the catalog: the repo, or the directory it was loaded from.
    pub id: String,
    /// Each manifest file and where it is.
    pub files: Vec<(String, PathBuf)>,
}

impl ModelFiles {
    /// The path of one of the manifest's files.
    pub fn file(&self, name: &str) -> Result<&Path> {
        self.files.iter().find(|(n, _)| n == name).map(|(_, p)| p.as_path()).ok_or_else(|| Error::ModelUnavailable {
            role: self.role,
            detail: format!("the {} model has no {name}", self.role.name()),
        })
    }
}

/// Resolves `role`'s files in order: `explicit` → `<dir>/<name>/` for each of `model_dirs` →
/// the Hugging Face cache → a download (not where `no_download` says why not).
pub fn resolve(
    role: Role,
    explicit: Option<&Path>,
    model_dirs: &[PathBuf],
    no_download: Option<&str>,
) -> Result<ModelFiles> {
    resolve_manifest(role, role.manifest(), explicit, model_dirs, no_download)
}

/// [`resolve`] with the manifest `m` (a role's, or another repo of the same layout).
pub fn resolve_manifest(
    role: Role,
    m: Manifest,
    explicit: Option<&Path>,
    model_dirs: &[PathBuf],
    no_download: Option<&str>,
) -> Result<ModelFiles> {
    if let Some(dir) = explicit {
        return from_dir(role, &m, dir, Source::Path).map_err(|missing| Error::ModelUnavailable {
            role,
            detail: format!(
                "the {} model directory {} lacks {}; it must be in Hugging Face layout ({})",
                role.name(),
                dir.display(),
                missing.join(", "),
                m.files.join(", ")
            ),
        });
    }
    for dir in model_dirs {
        if let Ok(found) = from_dir(role, &m, &dir.join(&m.name), Source::Local) {
            return Ok(found);
        }
    }
    let repo = Repo::with_revision(m.repo.clone(), RepoType::Model, m.revision.clone());
    let cache = hub_cache().repo(repo.clone());
    let cached: Vec<_> = m.files.iter().map(|f| cache.get(f).map(|p| (f.clone(), p))).collect();
    if cached.iter().all(Option::is_some) {
        let files = cached.into_iter().flatten().collect();
        return Ok(ModelFiles { role, source: Source::Cache, id: m.repo.clone(), files });
    }
    let missing: Vec<String> =
        m.files.iter().zip(&cached).filter(|(_, c)| c.is_none()).map(|(f, _)| f.clone()).collect();
    if let Some(why) = no_download {
        return Err(unavailable(role, &m, &missing, model_dirs, why));
    }
    download(role, &m, repo).map_err(|why| unavailable(role, &m, &missing, model_dirs, &why.to_string()))
}

/// The Hugging Face cache, where the hub's own tools put it: `HF_HUB_CACHE` (or the older
/// `HUGGINGFACE_HUB_CACHE`) names it directly, else `HF_HOME/hub`, else `~/.cache/huggingface/hub`.
pub fn hub_cache() -> hf_hub::Cache {
    let named =
        ["HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"].iter().find_map(|v| std::env::var_os(v).filter(|p| !p.is_empty()));
    match named {
        Some(dir) => hf_hub::Cache::new(dir.into()),
        None => hf_hub::Cache::from_env(),
    }
}

fn from_dir(role: Role, m: &Manifest, dir: &Path, source: Source) -> std::result::Result<ModelFiles, Vec<String>> {
    let missing: Vec<String> = m.files.iter().filter(|f| !dir.join(f).is_file()).cloned().collect();
    if !missing.is_empty() {
        return Err(missing);
    }
    let files = m.files.iter().map(|f| (f.clone(), dir.join(f))).collect();
    Ok(ModelFiles { role, source, id: dir.display().to_string(), files })
}

/// Why a download from the hub failed: the file it was fetching, if it got that far.
#[derive(Debug, thiserror::Error)]
#[error("{}{source}", file.as_ref().map(|f| format!("downloading {f} failed: ")).unwrap_or_default())]
struct DownloadFailed {
    file: Option<String>,
    source: hf_hub::api::sync::ApiError,
}

fn download(role: Role, m: &Manifest, repo: Repo) -> std::result::Result<ModelFiles, DownloadFailed> {
    let api = hf_hub::api::sync::ApiBuilder::from_cache(hub_cache())
        .with_progress(true)
        .build()
        .map_err(|source| DownloadFailed { file: None, source })?;
    let api = api.repo(repo);
    let mut files = Vec::new();
    for f in &m.files {
        let path = api.get(f).map_err(|source| DownloadFailed { file: Some(f.clone()), source })?;
        files.push((f.clone(), path));
    }
    Ok(ModelFiles { role, source: Source::Hub, id: m.repo.clone(), files })
}

fn unavailable(role: Role, m: &Manifest, missing: &[String], dirs: &[PathBuf], why: &str) -> Error {
    let dirs: Vec<String> = dirs.iter().map(|d| d.join(&m.name).display().to_string()).collect();
    let detail = format!(
        "the {role} model ({repo}) is not available ({why}); missing: {missing}. Provide it one of three ways: \
         (1) pass {flag} DIR or set [models.{section}] path to a Hugging Face-layout directory with {files}; \
         (2) put those files in {dirs}; (3) download it into the Hugging Face cache with `reelmatch models fetch` \
         (needs the network).",
        role = role.name(),
        repo = m.repo,
        missing = missing.join(", "),
        flag = role.flag(),
        section = role.section(),
        files = m.files.join(", "),
        dirs = dirs.join(" or "),
    );
    Error::ModelUnavailable { role, detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_dir_wins_and_reports_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        let e = resolve(Role::Text, Some(dir.path()), &[], Some("offline mode is on")).unwrap_err().to_string();
        assert!(e.contains("lacks tokenizer.json, model.safetensors"), "{e}");
        for f in ["tokenizer.json", "model.safetensors"] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        let found = resolve(Role::Text, Some(dir.path()), &[], Some("offline mode is on")).unwrap();
        assert_eq!(found.source, Source::Path);
        assert_eq!(found.file("tokenizer.json").unwrap(), dir.path().join("tokenizer.json"));
    }

    #[test]
    fn local_models_dir_then_offline_error_names_role_repo_files_and_three_ways() {
        let dir = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        std::env::set_var("HF_HOME", cache.path());
        let e = resolve(Role::Speech, None, &[dir.path().to_path_buf()], Some("offline mode is on"))
            .unwrap_err()
            .to_string();
        for words in
            ["speech model", "openai/whisper-base.en", "offline", "model.safetensors", "--speech-model", "(2)", "(3)"]
        {
            assert!(e.contains(words), "{words:?} missing from: {e}");
        }
        let local = dir.path().join("whisper-base.en");
        std::fs::create_dir_all(&local).unwrap();
        for f in ["config.json", "tokenizer.json", "model.safetensors"] {
            std::fs::write(local.join(f), "x").unwrap();
        }
        let found = resolve(Role::Speech, None, &[dir.path().to_path_buf()], Some("offline mode is on")).unwrap();
        assert_eq!(found.source, Source::Local);
        std::env::remove_var("HF_HOME");
    }

    #[test]
    fn hf_hub_cache_names_the_cache_itself() {
        let hub = tempfile::tempdir().unwrap();
        std::env::set_var("HF_HUB_CACHE", hub.path());
        assert_eq!(hub_cache().path(), hub.path());
        std::env::remove_var("HF_HUB_CACHE");
        assert_ne!(hub_cache().path(), hub.path());
    }
}
