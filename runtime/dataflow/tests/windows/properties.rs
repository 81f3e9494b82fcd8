//! Properties: the operator equals the reference model on random out-of-order scripts with
//! random watermarks, for every window kind, with and without lateness and late output.

use super::check;
use super::reference::{expected, Kind};
use super::support::{config, run, schema, script, BACKENDS};
use freshet_dataflow::window::{CumulateWindows, SlidingWindows, TumblingWindows, WindowAssigner};
use freshet_state::BackendKind;
use proptest::prelude::*;

fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: 32,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn tumbling_matches_reference(
        steps in script(), size in 1i64..40, offset in -20i64..20, lateness in 0i64..30, tag: bool, ts_type: bool,
    ) {
        let assigner = WindowAssigner::Tumbling(TumblingWindows::new(size).with_offset(offset));
        check(Kind::Sliding { size, slide: size, offset }, assigner, lateness, tag, ts_type, &steps)?;
    }

    #[test]
    fn sliding_matches_reference(
        steps in script(), slide in 1i64..15, factor in 1i64..4, extra in 0i64..15, offset in -20i64..20,
        lateness in 0i64..30, tag: bool,
    ) {
        let size = slide * factor + extra;
        let assigner = WindowAssigner::Sliding(SlidingWindows::new(size, slide).with_offset(offset));
        check(Kind::Sliding { size, slide, offset }, assigner, lateness, tag, false, &steps)?;
    }

    #[test]
    fn cumulate_matches_reference(
        steps in script(), step in 1i64..15, n in 1i64..5, offset in -20i64..20, lateness in 0i64..30, tag: bool,
    ) {
        let max = step * n;
        let assigner = WindowAssigner::Cumulate(CumulateWindows::new(step, max).with_offset(offset));
        check(Kind::Cumulate { step, max, offset }, assigner, lateness, tag, false, &steps)?;
    }

    #[test]
    fn session_matches_reference(steps in script(), gap in 1i64..30, lateness in 0i64..30, tag: bool, ts_type: bool) {
        check(Kind::Session { gap }, WindowAssigner::session(gap), lateness, tag, ts_type, &steps)?;
    }

    #[test]
    fn count_windows_match_reference(steps in script(), size in 1usize..6, slide in 1usize..6, ts_type: bool) {
        let assigner = WindowAssigner::count_sliding(size as u64, slide as u64);
        check(Kind::Count { size, slide }, assigner, 0, true, ts_type, &steps)?;
    }

    /// Lateness on its own: large lateness ranges against watermarks that jump ahead, so many
    /// records land in the fired-but-within-lateness zone and many are too late.
    #[test]
    fn lateness_matches_reference(steps in script(), size in 1i64..20, lateness in 0i64..120, tag: bool) {
        let slide = (size / 2).max(1);
        let assigner = WindowAssigner::sliding(size, slide);
        check(Kind::Sliding { size, slide, offset: 0 }, assigner, lateness, tag, false, &steps)?;
    }

    /// A snapshot and restore anywhere in the stream (into either backend) changes nothing.
    #[test]
    fn restore_anywhere_gives_same_output(
        steps in script(), which in 0usize..4, at in any::<prop::sample::Index>(), to_rocks: bool, lateness in 0i64..30,
    ) {
        let (kind, assigner) = match which {
            0 => (Kind::Sliding { size: 10, slide: 4, offset: 0 }, WindowAssigner::sliding(10, 4)),
            1 => (Kind::Session { gap: 7 }, WindowAssigner::session(7)),
            2 => (Kind::Count { size: 3, slide: 2 }, WindowAssigner::count_sliding(3, 2)),
            _ => (Kind::Count { size: 3, slide: 3 }, WindowAssigner::count(3)),
        };
        let want = expected(kind, lateness, &steps);
        let cfg = config(assigner, lateness, true);
        let schema = schema(false);
        let at = at.index(steps.len() + 1);
        let target = if to_rocks { BackendKind::Rocksdb } else { BackendKind::Heap };
        for backend in BACKENDS {
            let got = run(&cfg, &schema, backend, &steps, Some((at, target)));
            prop_assert_eq!(&got.rows, &want.rows, "{} -> {} at step {}", backend, target, at);
            prop_assert_eq!(&got.late, &want.late);
        }
    }
}
