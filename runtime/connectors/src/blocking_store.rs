//! Synchronous access to an object store, for the `filesystem` source and sink.
//!
//! Sources and operators are synchronous and the engine calls them from its Tokio worker
//! threads, where blocking on a runtime is not allowed. A [`BlockingStore`] therefore owns a
//! small runtime of its own (one worker thread): each call runs the request there and waits for
//! its result on a plain channel, which works from any thread, inside a runtime or not (the
//! calling thread blocks for the request, as it would for a local file).
//!
//! Every error names the URL of the object and what was being done; nothing here panics on a
//! network result. "Not found" is an answer, not an error, where the protocols need it
//! ([`BlockingStore::head`], [`BlockingStore::delete`], [`BlockingStore::abort_multipart`]).

use bytes::Bytes;
use freshet_core::{Error, ObjectRoot, Result};
use futures::Future;
use object_store::multipart::MultipartStore;
use object_store::multipart::PartId;
use object_store::path::Path;
use object_store::{MultipartId, ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};
use std::ops::Range;
use std::sync::Arc;

/// An object store rooted at a URL, with blocking calls. Clones share the store and runtime.
#[derive(Clone)]
pub struct BlockingStore {
    inner: Arc<Inner>,
}

struct Inner {
    root: ObjectRoot,
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Shutting down without waiting is allowed in an async context too (a plain drop of a
        // runtime is not); nothing is in flight, as every call waits for its request.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// An object store error with what was being done on which URL.
fn store_error(what: &str, url: &str, e: object_store::Error) -> Error {
    Error::io(format!("{what} {url}"), std::io::Error::other(e))
}

impl BlockingStore {
    /// Opens the object store of `url` (see [`ObjectRoot::open`]) with a runtime of its own.
    pub fn open(url: &str) -> Result<Self> {
        let root = ObjectRoot::open(url)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("freshet-object-io")
            .enable_all()
            .build()
            .map_err(|e| Error::io(format!("starting the I/O runtime for {url}"), e))?;
        Ok(Self {
            inner: Arc::new(Inner {
                root,
                runtime: Some(runtime),
            }),
        })
    }

    /// The root URL, without a trailing `/`.
    pub fn url(&self) -> &str {
        &self.inner.root.url
    }

    /// The root path in the store.
    pub fn root(&self) -> &Path {
        &self.inner.root.root
    }

    /// The path of `name` directly below the root.
    pub fn path_of(&self, name: &str) -> Path {
        self.inner.root.path(name)
    }

    /// The URL of an object of this store.
    pub fn url_of(&self, path: &Path) -> String {
        let Some(parts) = path.prefix_match(self.root()) else {
            return format!("{} (object '{path}')", self.url());
        };
        let rel: Vec<String> = parts.map(|p| p.as_ref().to_string()).collect();
        if rel.is_empty() {
            self.url().to_string()
        } else {
            format!("{}/{}", self.url(), rel.join("/"))
        }
    }

    /// The path of the object at `url`, which must be the root URL or below it.
    pub fn path_of_url(&self, url: &str) -> Result<Path> {
        let rel = match url.strip_prefix(self.url()) {
            Some("") => "",
            Some(rest) if rest.starts_with('/') => rest,
            _ => {
                return Err(Error::Config(format!(
                    "'{url}' is not below the configured path '{}'",
                    self.url()
                )))
            }
        };
        Ok(self.inner.root.path(rel))
    }

    fn store(&self) -> Arc<dyn ObjectStore> {
        self.inner.root.store.clone()
    }

    fn multipart(&self) -> Result<Arc<dyn MultipartStore>> {
        self.inner
            .root
            .multipart
            .clone()
            .ok_or_else(|| Error::Config(format!("{} offers no multipart uploads", self.url())))
    }

    /// Runs `request` on the store's runtime and waits for it.
    fn block<T: Send + 'static>(&self, request: impl Future<Output = T> + Send + 'static) -> Result<T> {
        let runtime = self
            .inner
            .runtime
            .as_ref()
            .ok_or_else(|| Error::Internal(format!("the I/O runtime of {} is shut down", self.url())))?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = tx.send(request.await);
        });
        rx.recv()
            .map_err(|_| Error::Internal(format!("a request to {} was dropped unanswered", self.url())))
    }

    /// The objects directly below the root (not in "subdirectories").
    pub fn list(&self) -> Result<Vec<ObjectMeta>> {
        let (store, root) = (self.store(), self.root().clone());
        let listing = self
            .block(async move { store.list_with_delimiter(Some(&root)).await })?
            .map_err(|e| store_error("listing", self.url(), e))?;
        Ok(listing.objects)
    }

    /// The metadata of an object, or `None` if there is none.
    pub fn head(&self, path: &Path) -> Result<Option<ObjectMeta>> {
        let (store, at) = (self.store(), path.clone());
        match self.block(async move { store.head(&at).await })? {
            Ok(meta) => Ok(Some(meta)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(store_error("reading the metadata of", &self.url_of(path), e)),
        }
    }

    /// A whole object.
    pub fn get(&self, path: &Path) -> Result<Bytes> {
        let (store, at) = (self.store(), path.clone());
        self.block(async move { store.get(&at).await?.bytes().await })?
            .map_err(|e| store_error("reading", &self.url_of(path), e))
    }

    /// A byte range of an object.
    pub fn get_range(&self, path: &Path, range: Range<u64>) -> Result<Bytes> {
        let (store, at, r) = (self.store(), path.clone(), range.clone());
        self.block(async move { store.get_range(&at, r).await })?.map_err(|e| {
            store_error(
                &format!("reading bytes {}..{} of", range.start, range.end),
                &self.url_of(path),
                e,
            )
        })
    }

    /// Writes a whole (small) object.
    pub fn put(&self, path: &Path, bytes: Bytes) -> Result<()> {
        let (store, at) = (self.store(), path.clone());
        self.block(async move { store.put(&at, PutPayload::from(bytes)).await })?
            .map(|_| ())
            .map_err(|e| store_error("writing", &self.url_of(path), e))
    }

    /// Deletes an object; one that does not exist is not an error.
    pub fn delete(&self, path: &Path) -> Result<()> {
        let (store, at) = (self.store(), path.clone());
        match self.block(async move { store.delete(&at).await })? {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_error("deleting", &self.url_of(path), e)),
        }
    }

    /// Starts a multipart upload to `path`.
    pub fn create_multipart(&self, path: &Path) -> Result<MultipartId> {
        let (store, at) = (self.multipart()?, path.clone());
        self.block(async move { store.create_multipart(&at).await })?
            .map_err(|e| store_error("starting a multipart upload to", &self.url_of(path), e))
    }

    /// Uploads part `index` (from 0) of upload `id`.
    pub fn put_part(&self, path: &Path, id: &MultipartId, index: usize, bytes: Bytes) -> Result<PartId> {
        let (store, at, upload) = (self.multipart()?, path.clone(), id.clone());
        self.block(async move { store.put_part(&at, &upload, index, PutPayload::from(bytes)).await })?
            .map_err(|e| {
                store_error(
                    &format!("uploading part {index} of upload {id} to"),
                    &self.url_of(path),
                    e,
                )
            })
    }

    /// Completes upload `id` from `parts`, in order. (Stores differ in how they answer for an
    /// upload they no longer know: S3 with 404, others with other errors.)
    pub fn complete_multipart(&self, path: &Path, id: &MultipartId, parts: Vec<PartId>) -> Result<()> {
        let (store, at, upload) = (self.multipart()?, path.clone(), id.clone());
        self.block(async move { store.complete_multipart(&at, &upload, parts).await })?
            .map(|_| ())
            .map_err(|e| store_error(&format!("completing upload {id} to"), &self.url_of(path), e))
    }

    /// Aborts upload `id`; one the store does not know (any more) is not an error.
    pub fn abort_multipart(&self, path: &Path, id: &MultipartId) -> Result<()> {
        let (store, at, upload) = (self.multipart()?, path.clone(), id.clone());
        match self.block(async move { store.abort_multipart(&at, &upload).await })? {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_error(&format!("aborting upload {id} to"), &self.url_of(path), e)),
        }
    }
}
