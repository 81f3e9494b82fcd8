//! Where files live: a [`Location`] is what a user writes as a path, a local path (a `file://`
//! URL is one too) or an object store URL (`s3://bucket/prefix`, `gs://…`, `az://…`). The
//! object store of a URL is opened by `ObjectRoot::open` (module `object_root`, feature
//! `object-store`).

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

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
}
