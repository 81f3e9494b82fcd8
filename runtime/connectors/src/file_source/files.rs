//! Where a file source's files are, and opening one of them at its position: a local path
//! (`std::fs`), or an object store URL, whose text files are read by ranged GETs from the byte
//! offset and whose Parquet files are fetched whole.
//!
//! A file is named by the string its position holds: a local path, or the object's full URL
//! (`s3://bucket/prefix/name`), so a file's name, which its key group derives from, is the
//! last segment in both cases.

use super::parquet_file::ParquetFile;
use super::ranged::{RangedReader, RANGE_BYTES};
use super::reader::{Decoding, OpenFile, TextFile};
use super::FileFormat;
use crate::blocking_store::BlockingStore;
use freshet_core::{Error, Location, Result};
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The storage of a file source.
pub enum Files {
    /// A local file or directory.
    Local(PathBuf),
    /// An object, or the objects directly below a prefix.
    Object(BlockingStore),
}

impl Files {
    /// Opens the storage of `location` (for an object store: its client and runtime).
    pub fn open(location: &Location) -> Result<Self> {
        Ok(match location {
            Location::Local(path) => Files::Local(path.clone()),
            Location::Url(url) => Files::Object(BlockingStore::open(url)?),
        })
    }

    /// Opens the file `path` at `offset` (a byte offset for text, a row offset for Parquet),
    /// where `line` lines (or rows) precede it.
    pub fn open_file(&self, path: &str, decoding: &Decoding, offset: u64, line: u64) -> Result<OpenFile> {
        match self {
            Files::Local(_) => open_local(Path::new(path), decoding, offset, line),
            Files::Object(store) => open_object(store, path, decoding, offset, line),
        }
    }
}

fn open_local(path: &Path, decoding: &Decoding, offset: u64, line: u64) -> Result<OpenFile> {
    let name = path.display().to_string();
    if decoding.format == FileFormat::Parquet {
        let file = File::open(path).map_err(|e| Error::io(format!("file source: opening '{name}'"), e))?;
        return Ok(OpenFile::Parquet(ParquetFile::open(
            &name,
            file,
            &decoding.schema,
            offset,
        )?));
    }
    let what = |e| Error::io(format!("file source: opening '{name}' at byte {offset}"), e);
    let mut file = File::open(path).map_err(what)?;
    file.seek(SeekFrom::Start(offset)).map_err(what)?;
    let reader = Box::new(BufReader::with_capacity(1 << 16, file));
    Ok(OpenFile::Text(TextFile::new(name, reader, offset, line)))
}

fn open_object(store: &BlockingStore, url: &str, decoding: &Decoding, offset: u64, line: u64) -> Result<OpenFile> {
    let path = store.path_of_url(url)?;
    if decoding.format == FileFormat::Parquet {
        let bytes = store.get(&path)?;
        return Ok(OpenFile::Parquet(ParquetFile::open(
            url,
            bytes,
            &decoding.schema,
            offset,
        )?));
    }
    let Some(meta) = store.head(&path)? else {
        return Err(Error::io(
            format!("file source: opening '{url}'"),
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such object"),
        ));
    };
    let reader = RangedReader::new(store.clone(), path, meta.size, offset, RANGE_BYTES);
    Ok(OpenFile::Text(TextFile::new(
        url.to_string(),
        Box::new(reader),
        offset,
        line,
    )))
}
