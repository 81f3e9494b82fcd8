//! The sink's part files in a local directory: written as `.inprogress`, renamed
//! `.pending-{n}` at the barrier of checkpoint `n`, renamed to the visible name once it
//! completes. Renames are atomic and idempotent (a missing file is not an error).

use super::encoder::PartEncoder;
use super::names::{PartName, PartState};
use super::{FileFormat, PartFiles};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use freshet_core::{Error, Result};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// The part files of one sink subtask in a local directory.
pub struct LocalParts {
    dir: PathBuf,
    format: FileFormat,
    run: String,
    subtask: u32,
    current: Option<(u64, PartEncoder<BufWriter<File>>)>,
    /// Closed files waiting for a checkpoint: (checkpoint id, seq).
    pending: Vec<(u64, u64)>,
}

fn rename_idempotent(from: &Path, to: &Path) -> Result<()> {
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("renaming {} to {}", from.display(), to.display()), e)),
    }
}

impl LocalParts {
    /// The part files of `subtask` in run `run` in `dir` (created if missing).
    pub fn open(dir: &Path, format: FileFormat, run: &str, subtask: u32) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            format,
            run: run.to_string(),
            subtask,
            current: None,
            pending: Vec::new(),
        })
    }

    fn name(&self, seq: u64, state: PartState) -> PartName {
        PartName {
            run: self.run.clone(),
            subtask: self.subtask,
            seq,
            state,
        }
    }
}

impl PartFiles for LocalParts {
    fn recover(&mut self, restored: Option<u64>) -> Result<()> {
        let entries =
            std::fs::read_dir(&self.dir).map_err(|e| Error::io(format!("listing {}", self.dir.display()), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(format!("listing {}", self.dir.display()), e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(part) = PartName::parse(&name) else { continue };
            if part.run == self.run {
                continue;
            }
            match (&part.state, restored) {
                (PartState::Pending(n), Some(c)) if *n <= c => {
                    rename_idempotent(&entry.path(), &self.dir.join(part.visible(self.format.extension())))?;
                }
                _ => match std::fs::remove_file(entry.path()) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(format!("deleting {}", entry.path().display()), e)),
                },
            }
        }
        Ok(())
    }

    fn is_open(&self) -> bool {
        self.current.is_some()
    }

    fn start(&mut self, seq: u64, schema: &SchemaRef) -> Result<()> {
        let path = self.dir.join(self.name(seq, PartState::InProgress).hidden());
        let file = File::create(&path).map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        let out = BufWriter::with_capacity(256 * 1024, file);
        let encoder = PartEncoder::new(self.format, schema, out, path.display().to_string())?;
        self.current = Some((seq, encoder));
        Ok(())
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<u64> {
        match self.current.as_mut() {
            Some((_, encoder)) => encoder.write(batch),
            None => Err(Error::Internal("file sink: no open part file".into())),
        }
    }

    fn close(&mut self, checkpoint: u64) -> Result<()> {
        let Some((seq, encoder)) = self.current.take() else {
            return Ok(());
        };
        let from = self.dir.join(self.name(seq, PartState::InProgress).hidden());
        let file = encoder
            .finish()?
            .into_inner()
            .map_err(|e| Error::io(format!("flushing {}", from.display()), e.into_error()))?;
        file.sync_all()
            .map_err(|e| Error::io(format!("syncing {}", from.display()), e))?;
        let to = self.dir.join(self.name(seq, PartState::Pending(checkpoint)).hidden());
        std::fs::rename(&from, &to).map_err(|e| Error::io(format!("renaming {}", from.display()), e))?;
        self.pending.push((checkpoint, seq));
        Ok(())
    }

    fn commit(&mut self, checkpoint: u64) -> Result<()> {
        let (ready, waiting): (Vec<_>, Vec<_>) = self.pending.drain(..).partition(|(n, _)| *n <= checkpoint);
        self.pending = waiting;
        for (n, seq) in ready {
            let from = self.dir.join(self.name(seq, PartState::Pending(n)).hidden());
            let to = self
                .dir
                .join(self.name(seq, PartState::Pending(n)).visible(self.format.extension()));
            rename_idempotent(&from, &to)?;
        }
        Ok(())
    }
}
