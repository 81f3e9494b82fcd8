//! Where files live, and the one place an object store is opened from a URL.
//!
//! A [`Location`] is what a user writes as a path: a local path (a `file://` URL is one too)
//! or an object store URL (`s3://bucket/prefix`, `gs://…`, `az://…`). [`ObjectRoot::open`]
//! turns such a URL into the store and the path of the URL's root inside it; checkpoint storage
//! and the `filesystem` connectors both go through it, so every part of Freshet reads the same
//! environment: credentials and regions from the usual variables (`AWS_ACCESS_KEY_ID`,
//! `AWS_REGION`, `GOOGLE_SERVICE_ACCOUNT`, `AZURE_STORAGE_ACCOUNT_NAME`, …), `AWS_ENDPOINT` for
//! an S3-compatible server and `AWS_ALLOW_HTTP=true` for plain HTTP.

use crate::{Error, Result};
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::ObjectStore;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// The URL schemes of the object stores Freshet opens (besides `file://`).
pub const OBJECT_STORE_SCHEMES: &[&str] = &["s3", "s3a", "gs", "az", "abfs", "abfss", "azure"];

/// A local path or an object store URL, as given in configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Location {
    /// A local path (from a plain path or a `file://` URL).
    Local(PathBuf),
    /// An object store URL with one of [`OBJECT_STORE_SCHEMES`], without a trailing `/`.
    Url(String),
}

impl Default for Location {
    fn default() -> Self {
        Location::Local(PathBuf::new())
    }
}

impl Location {
    /// Parses a plain path, a `file://` URL or an object store URL. Fails on an invalid URL or
    /// an unsupported scheme.
    pub fn parse(text: &str) -> Result<Self> {
        let Some(scheme_end) = text.find("://") else {
            return Ok(Location::Local(PathBuf::from(text)));
        };
        let scheme = &text[..scheme_end];
        let parsed = url::Url::parse(text).map_err(|e| Error::Config(format!("invalid URL '{text}': {e}")))?;
        if scheme == "file" {
            let path = parsed
                .to_file_path()
                .map_err(|_| Error::Config(format!("invalid file URL '{text}'")))?;
            return Ok(Location::Local(path));
        }
        if !OBJECT_STORE_SCHEMES.contains(&scheme) {
            return Err(Error::Config(format!(
                "unsupported scheme '{scheme}' in '{text}'; use a local path, file://, s3://, gs:// or az://"
            )));
        }
        Ok(Location::Url(text.trim_end_matches('/').to_string()))
    }

    /// For display (like [`std::path::Path::display`]): the path, or the URL.
    pub fn display(&self) -> &Self {
        self
    }

    /// Whether it is the empty local path (nothing configured).
    pub fn is_empty(&self) -> bool {
        match self {
            Location::Local(path) => path.as_os_str().is_empty(),
            Location::Url(url) => url.is_empty(),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(path) => write!(f, "{}", path.display()),
            Location::Url(url) => f.write_str(url),
        }
    }
}

impl From<PathBuf> for Location {
    fn from(path: PathBuf) -> Self {
        Location::Local(path)
    }
}

impl From<&std::path::Path> for Location {
    fn from(path: &std::path::Path) -> Self {
        Location::Local(path.to_path_buf())
    }
}

impl TryFrom<String> for Location {
    type Error = Error;

    fn try_from(text: String) -> Result<Self> {
        Location::parse(&text)
    }
}

impl From<Location> for String {
    fn from(location: Location) -> Self {
        location.to_string()
    }
}

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

impl ObjectRoot {
    /// Opens the object store of `url` (`s3://bucket/prefix`, `gs://…`, `az://…`), configured
    /// from the environment. Nothing is contacted yet.
    pub fn open(url: &str) -> Result<Self> {
        let parsed = url::Url::parse(url).map_err(|e| Error::Config(format!("invalid storage URL '{url}': {e}")))?;
        let open_err = |e: object_store::Error| Error::Config(format!("cannot open '{url}': {e}"));
        let (store, multipart) = match parsed.scheme() {
            "s3" | "s3a" => both(
                object_store::aws::AmazonS3Builder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(open_err)?,
            ),
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
    fn paths_and_file_urls_are_local_and_object_urls_are_checked() {
        assert_eq!(
            Location::parse("/tmp/out").unwrap(),
            Location::Local(PathBuf::from("/tmp/out"))
        );
        assert_eq!(
            Location::parse("file:///tmp/out").unwrap(),
            Location::Local(PathBuf::from("/tmp/out"))
        );
        assert_eq!(
            Location::parse("s3://bucket/a/b/").unwrap(),
            Location::Url("s3://bucket/a/b".into())
        );
        let e = Location::parse("ftp://host/x").unwrap_err().to_string();
        assert!(e.contains("unsupported scheme 'ftp'"), "{e}");
        assert!(Location::default().is_empty());
    }

    #[test]
    fn a_location_serializes_as_the_text_it_came_from() {
        let url = Location::parse("s3://bucket/prefix").unwrap();
        let json = serde_json::to_string(&url).unwrap();
        assert_eq!(json, r#""s3://bucket/prefix""#);
        assert_eq!(serde_json::from_str::<Location>(&json).unwrap(), url);
        assert!(serde_json::from_str::<Location>(r#""ftp://x/y""#).is_err());
    }

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
