//! Manual and periodic savepoints, history pruning, failures and timeouts.

use super::fixtures::*;
use crate::crd::{Snapshot, SnapshotKind};
use crate::decide::{prune_history, Action, Observation, SavepointObservation};
use chrono::Duration;

#[test]
fn manual_savepoint_by_nonce() {
    let mut w = World::running(spec());
    w.change(|s| s.savepoint_trigger_nonce = Some(1));
    let d = w.step(&running(None));
    assert!(matches!(d.action, Action::TriggerSavepoint { stop: false, .. }));
    let d = w.step(&with_savepoint(
        running(None),
        SavepointObservation::Completed("s3://bucket/sp/m-1".into()),
    ));
    assert_eq!(d.action, Action::None, "no teardown for a savepoint without stop");
    assert_eq!(d.outcomes, vec!["savepoint:manual:completed".to_string()]);
    assert_eq!(w.status.operation, None);
    assert_eq!(w.status.last_savepoint_nonce, Some(1));
    assert_eq!(
        w.status.latest_savepoint.as_ref().map(|s| s.kind),
        Some(SnapshotKind::Manual)
    );
    assert_eq!(
        w.step(&running(None)).action,
        Action::None,
        "the nonce is acted on once"
    );
}

#[test]
fn manual_savepoint_failure_is_retried_then_reported() {
    let mut w = World::running(spec());
    w.change(|s| s.savepoint_trigger_nonce = Some(2));
    w.step(&running(None));
    let failed = with_savepoint(
        running(None),
        SavepointObservation::Failed("checkpoint declined".into()),
    );
    let mut triggers = 1;
    for _ in 0..6 {
        let d = w.step(&failed);
        if matches!(d.action, Action::TriggerSavepoint { .. }) {
            triggers += 1;
        }
        // A retry is triggered on the pass after a failure.
        let d = w.step(&running(None));
        if matches!(d.action, Action::TriggerSavepoint { .. }) {
            triggers += 1;
        }
        if w.status.operation.is_none() {
            break;
        }
    }
    assert_eq!(triggers, 3, "three attempts by default");
    assert_eq!(w.status.operation, None);
    assert_eq!(
        w.status.error.as_ref().map(|e| e.reason.as_str()),
        Some("SavepointFailed")
    );
    assert!(w
        .status
        .error
        .as_ref()
        .is_some_and(|e| e.message.contains("checkpoint declined")));
    assert_eq!(w.condition("Savepointing"), ("False".into(), "SavepointFailed".into()));
    assert_eq!(w.status.last_savepoint_nonce, Some(2), "not retried forever");
}

#[test]
fn savepoint_timeout_counts_as_a_failed_attempt() {
    let mut s = spec();
    if let Some(p) = s.savepoints.as_mut() {
        p.timeout = Some("30s".into());
        p.max_attempts = Some(1);
    }
    let mut w = World::running(s);
    w.change(|s| s.savepoint_trigger_nonce = Some(3));
    w.step(&running(None));
    w.advance(31);
    let d = w.step(&with_savepoint(running(None), SavepointObservation::InProgress));
    assert!(d
        .events
        .iter()
        .any(|e| e.reason == "SavepointFailed" && e.note.contains("30s")));
    assert_eq!(w.status.operation, None);
}

#[test]
fn periodic_savepoints_are_taken_on_schedule() {
    let mut s = spec();
    if let Some(p) = s.savepoints.as_mut() {
        p.periodic_interval = Some("1h".into());
    }
    let mut w = World::running(s);
    assert_eq!(w.step(&running(None)).action, Action::None);
    w.advance(3601);
    let d = w.step(&running(None));
    assert!(matches!(d.action, Action::TriggerSavepoint { stop: false, .. }));
    w.step(&with_savepoint(
        running(None),
        SavepointObservation::Completed("s3://bucket/sp/p-1".into()),
    ));
    assert_eq!(
        w.status.latest_savepoint.as_ref().map(|s| s.kind),
        Some(SnapshotKind::Periodic)
    );
    w.advance(60);
    assert_eq!(w.step(&running(None)).action, Action::None, "not due again yet");
}

fn sp(location: &str, age_hours: i64) -> Snapshot {
    Snapshot {
        location: location.into(),
        kind: SnapshotKind::Periodic,
        time: (t0() - Duration::hours(age_hours)).to_rfc3339(),
        checkpoint_id: None,
    }
}

#[test]
fn history_pruned_by_count_and_age_keeping_the_newest() {
    let history = vec![sp("a", 50), sp("b", 30), sp("c", 20), sp("d", 10), sp("e", 1)];
    let cases: [(Option<i32>, Option<&str>, Vec<&str>); 4] = [
        (None, None, vec!["a", "b", "c", "d", "e"]),
        (Some(2), None, vec!["d", "e"]),
        (None, Some("24h"), vec!["c", "d", "e"]),
        (Some(10), Some("1h"), vec!["e"]),
    ];
    for (count, age, expected) in cases {
        let mut s = spec();
        if let Some(p) = s.savepoints.as_mut() {
            p.history_max_count = count;
            p.history_max_age = age.map(String::from);
        }
        let kept: Vec<String> = prune_history(&history, &s, t0())
            .into_iter()
            .map(|s| s.location)
            .collect();
        assert_eq!(kept, expected, "count {count:?} age {age:?}");
    }
    // The newest is kept however old it is.
    let mut s = spec();
    if let Some(p) = s.savepoints.as_mut() {
        p.history_max_age = Some("1m".into());
    }
    let kept = prune_history(&[sp("old", 100)], &s, t0());
    assert_eq!(kept.len(), 1);
}

#[test]
fn pruned_savepoints_are_disposed_through_the_leader_except_those_still_needed() {
    let mut s = spec();
    if let Some(p) = s.savepoints.as_mut() {
        p.periodic_interval = Some("1h".into());
        p.history_max_count = Some(1);
    }
    let mut w = World::running(s);
    for n in 1..=3 {
        w.advance(3601);
        w.step(&running(None));
        let location = format!("s3://bucket/sp/p-{n}");
        w.step(&with_savepoint(
            running(None),
            SavepointObservation::Completed(location),
        ));
    }
    let kept: Vec<&str> = w.status.savepoint_history.iter().map(|s| s.location.as_str()).collect();
    assert_eq!(kept, vec!["s3://bucket/sp/p-3"]);
    // p-1 went when p-2 arrived, p-2 when p-3 did; each pass hands the queue to act.
    assert_eq!(
        w.status.savepoints_to_dispose,
        vec!["s3://bucket/sp/p-1".to_string(), "s3://bucket/sp/p-2".into()]
    );
    let d = w.peek(&running(None));
    let disposal = d.dispose.expect("a disposal while the job runs");
    assert_eq!(disposal.rest_url, REST);
    assert_eq!(disposal.locations.len(), 2);
    // Nothing is disposed while no leader runs the job.
    assert_eq!(w.peek(&torn_down(None)).dispose, None);
}

#[test]
fn the_restore_point_and_the_deployment_source_are_never_disposed() {
    let mut s = spec();
    s.initial_savepoint_path = Some("s3://bucket/sp/base".into());
    if let Some(p) = s.savepoints.as_mut() {
        p.history_max_count = Some(1);
    }
    let mut w = World::new(s);
    w.step(&Observation::default());
    w.step(&running(None));
    assert_eq!(w.status.deployed_from.as_deref(), Some("s3://bucket/sp/base"));
    // Put the deployment's source into the history, then push it out.
    w.status.savepoint_history.push(Snapshot {
        location: "s3://bucket/sp/base".into(),
        kind: SnapshotKind::Initial,
        time: t0().to_rfc3339(),
        checkpoint_id: None,
    });
    w.change(|s| s.savepoint_trigger_nonce = Some(1));
    w.step(&running(None));
    w.step(&with_savepoint(
        running(None),
        SavepointObservation::Completed("s3://bucket/sp/m-1".into()),
    ));
    assert_eq!(w.status.savepoint_history.len(), 1);
    assert!(
        w.status.savepoints_to_dispose.is_empty(),
        "{:?}",
        w.status.savepoints_to_dispose
    );
}
