//! The one place an object store is opened from a URL: [`ObjectRoot::open`] turns a
//! [`Location::Url`](crate::Location::Url) into the store and the path of the URL's root
//! inside it. Checkpoint storage and the `filesystem` connectors both go through it, so every
//! part of Freshet reads the same environment: credentials and regions from the usual variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_REGION`, `GOOGLE_SERVICE_ACCOUNT`, `AZURE_STORAGE_ACCOUNT_NAME`,
//! …), `AWS_ENDPOINT` for an S3-compatible server and `AWS_ALLOW_HTTP=true` for plain HTTP; for
//! S3, what the variables leave unset comes from the AWS shared files (`~/.aws/credentials`,
//! `~/.aws/config`, profile `AWS_PROFILE`; see [`crate::aws_profile`]).

use crate::aws_profile::AwsProfile;
use crate::{Error, Result};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::ObjectStore;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// An object store opened at a URL: the store, the path of the URL's root in it, and the URL.
#[derive(Clone)]
pub struct ObjectRoot {
    /// The store.
    pub store: Arc<dyn ObjectStore>,
    /// The same store's multipart API with explicit upload and part ids (`None` for a local
    /// directory, which has none).
    pub multipart: Option<Arc<dyn MultipartStore>>,
    /// The root inside the store (the URL's path).
    pub root: Path,
    /// The root as a URL, without a trailing `/`.
    pub url: String,
}

impl fmt::Debug for ObjectRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectRoot").field("url", &self.url).finish()
    }
}

/// One store as both its object and its multipart API.
fn both<S: ObjectStore + MultipartStore>(store: S) -> (Arc<dyn ObjectStore>, Option<Arc<dyn MultipartStore>>) {
    let store = Arc::new(store);
    (store.clone(), Some(store))
}

/// S3 settings from the environment, completed by the AWS shared credentials and config files
/// ([`AwsProfile`]) for what the environment leaves unset. An `http://` endpoint from the files
/// allows plain HTTP, as the AWS SDKs do.
fn s3_builder() -> Result<AmazonS3Builder> {
    let mut builder = AmazonS3Builder::from_env();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let Some(profile) = AwsProfile::load(|var| std::env::var(var).ok(), home)? else {
        return Ok(builder);
    };
    for (var, value) in profile.unset_settings(|var| std::env::var_os(var).is_some()) {
        let key: AmazonS3ConfigKey = var
            .to_ascii_lowercase()
            .parse()
            .map_err(|e| Error::Internal(format!("S3 setting {var}: {e}")))?;
        if var == "AWS_ENDPOINT" && value.starts_with("http://") && std::env::var_os("AWS_ALLOW_HTTP").is_none() {
            builder = builder.with_allow_http(true);
        }
        builder = builder.with_config(key, value);
    }
    Ok(builder)
}

impl ObjectRoot {
    /// Opens the object store of `url` (`s3://bucket/prefix`, `gs://…`, `az://…`), configured
    /// from the environment. Nothing is contacted yet.
    pub fn open(url: &str) -> Result<Self> {
        let parsed = url::Url::parse(url).map_err(|e| Error::Config(format!("invalid storage URL '{url}': {e}")))?;
        let open_err = |e: object_store::Error| Error::Config(format!("cannot open '{url}': {e}"));
        let (store, multipart) = match parsed.scheme() {
            "s3" | "s3a" => both(s3_builder()?.with_url(url).build().map_err(open_err)?),
            "gs" => both(
                object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(open_err)?,
            ),
            "az" | "abfs" | "abfss" | "azure" => both(
                object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(open_err)?,
            ),
            other => {
                return Err(Error::Config(format!(
                    "unsupported storage scheme '{other}' in '{url}'; use file://, s3://, gs:// or az://"
                )))
            }
        };
        Ok(Self {
            store,
            multipart,
            root: Path::from(parsed.path()),
            url: url.trim_end_matches('/').to_string(),
        })
    }

    /// Opens a local directory as an object store rooted at it, creating the directory.
    pub fn local(dir: &std::path::Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let abs = dir
            .canonicalize()
            .map_err(|e| Error::io(format!("resolving {}", dir.display()), e))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(&abs)
            .map_err(|e| Error::State(format!("opening local storage {}: {e}", abs.display())))?;
        Ok(Self {
            store: Arc::new(store),
            multipart: None,
            root: Path::default(),
            url: format!("file://{}", abs.display()),
        })
    }

    /// The path in the store of `rel` (`/`-separated) below the root.
    pub fn path(&self, rel: &str) -> Path {
        let mut parts: Vec<String> = self.root.parts().map(|p| p.as_ref().to_string()).collect();
        parts.extend(rel.split('/').filter(|s| !s.is_empty()).map(str::to_string));
        Path::from_iter(parts)
    }

    /// The URL of `rel` below the root.
    pub fn url_of(&self, rel: &str) -> String {
        let rel = rel.trim_start_matches('/');
        if rel.is_empty() {
            return self.url.clone();
        }
        format!("{}/{rel}", self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_an_s3_url_roots_the_store_at_its_path() {
        let root = ObjectRoot::open("s3://bucket/jobs/one/").unwrap();
        assert_eq!(root.root.as_ref(), "jobs/one");
        assert_eq!(root.url, "s3://bucket/jobs/one");
        assert_eq!(root.path("chk-1/_metadata").as_ref(), "jobs/one/chk-1/_metadata");
        assert_eq!(root.url_of("x"), "s3://bucket/jobs/one/x");
        assert!(root.multipart.is_some());
    }
}
