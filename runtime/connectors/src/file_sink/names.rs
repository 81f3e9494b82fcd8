//! The names of a file sink's part files: every name carries the run id (unique per execution
//! attempt), the subtask and a sequence number, and hidden names (starting with `.`, which the
//! file source and most tools skip) carry the state.

/// The state a hidden name records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartState {
    /// `.inprogress`: a local file being written.
    InProgress,
    /// `.pending-{n}`: a local file closed at the barrier of checkpoint `n`.
    Pending(u64),
    /// `.upload`: the marker of a multipart upload to an object store (its state is inside).
    Upload,
}

/// A parsed part name: `.part-{run}-{subtask}-{seq}.{state}` (hidden) or
/// `part-{run}-{subtask}-{seq}.{ext}` (visible).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartName {
    /// The run that wrote it (`-` replaced by `_`).
    pub run: String,
    /// The subtask that wrote it.
    pub subtask: u32,
    /// Its sequence number within the run and subtask.
    pub seq: u64,
    /// Its state.
    pub state: PartState,
}

impl PartName {
    /// Parses a hidden name; `None` for any other name.
    pub fn parse(name: &str) -> Option<Self> {
        let rest = name.strip_prefix(".part-")?;
        let (stem, suffix) = rest.split_once('.')?;
        let mut parts = stem.rsplitn(3, '-');
        let seq = parts.next()?.parse().ok()?;
        let subtask = parts.next()?.parse().ok()?;
        let run = parts.next()?.to_string();
        let state = match suffix {
            "inprogress" => PartState::InProgress,
            "upload" => PartState::Upload,
            _ => PartState::Pending(suffix.strip_prefix("pending-")?.parse().ok()?),
        };
        Some(Self {
            run,
            subtask,
            seq,
            state,
        })
    }

    /// The hidden name.
    pub fn hidden(&self) -> String {
        let suffix = match self.state {
            PartState::InProgress => "inprogress".to_string(),
            PartState::Pending(n) => format!("pending-{n}"),
            PartState::Upload => "upload".to_string(),
        };
        format!(".part-{}-{}-{}.{suffix}", self.run, self.subtask, self.seq)
    }

    /// The visible name of the committed file, with extension `ext`.
    pub fn visible(&self, ext: &str) -> String {
        format!("part-{}-{}-{}.{ext}", self.run, self.subtask, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hidden_names() {
        assert_eq!(
            PartName::parse(".part-a1_b-3-17.pending-42"),
            Some(PartName {
                run: "a1_b".into(),
                subtask: 3,
                seq: 17,
                state: PartState::Pending(42)
            })
        );
        assert_eq!(PartName::parse("part-a-0-0.jsonl"), None);
        assert_eq!(PartName::parse(".part-a-0-0.unknown"), None);
    }

    #[test]
    fn names_round_trip() {
        for state in [PartState::InProgress, PartState::Pending(7), PartState::Upload] {
            let name = PartName {
                run: "r_1".into(),
                subtask: 2,
                seq: 5,
                state,
            };
            assert_eq!(PartName::parse(&name.hidden()), Some(name.clone()));
            assert_eq!(name.visible("csv"), "part-r_1-2-5.csv");
        }
    }
}
