//! Upgrades per upgrade mode, rescaling, fallbacks, and changes of the upgrade mode.

use super::fixtures::*;
use crate::crd::{Phase, SnapshotKind, StopMode, UpgradeMode};
use crate::decide::{Action, JobState, Observation, SavepointObservation};

#[test]
fn savepoint_upgrade_walks_every_step() {
    let mut w = World::running(spec());
    w.change(|s| s.job.sql = Some("INSERT INTO out SELECT a FROM src;".into()));
    let d = w.step(&running(Some((7, "s3://bucket/chk/chk-7"))));
    assert_eq!(
        d.action,
        Action::TriggerSavepoint {
            rest_url: REST.into(),
            job_id: JOB_ID.into(),
            directory: Some("s3://bucket/sp".into()),
            stop: true
        }
    );
    assert_eq!(w.status.phase, Some(Phase::Upgrading));
    assert_eq!(
        w.condition("Savepointing"),
        ("True".into(), "SavepointInProgress".into())
    );
    // In progress: no second trigger.
    let d = w.step(&with_savepoint(running(None), SavepointObservation::InProgress));
    assert_eq!(d.action, Action::None);
    // Completed: tear down.
    let d = w.step(&with_savepoint(
        running(None),
        SavepointObservation::Completed("s3://bucket/sp/sp-8".into()),
    ));
    assert_eq!(d.action, Action::TearDown);
    assert_eq!(
        w.status.latest_savepoint.as_ref().map(|s| s.kind),
        Some(SnapshotKind::Upgrade)
    );
    assert_eq!(w.status.savepoint_history.len(), 1);
    // Pods terminating: wait.
    assert_eq!(w.step(&terminating()).action, Action::None);
    // Gone: deploy the new spec from the savepoint, with a fresh HA record.
    let d = w.step(&torn_down(Some((7, "s3://bucket/chk/chk-7"))));
    match &d.action {
        Action::Deploy {
            spec,
            restore_from,
            reset_ha,
        } => {
            assert_eq!(spec.job.sql.as_deref(), Some("INSERT INTO out SELECT a FROM src;"));
            assert_eq!(restore_from.as_deref(), Some("s3://bucket/sp/sp-8"));
            assert!(reset_ha);
        }
        other => panic!("expected a deployment, got {other:?}"),
    }
    let d = w.step(&running(None));
    assert_eq!(d.outcomes, vec!["upgrade:savepoint:succeeded".to_string()]);
    assert_eq!(w.status.phase, Some(Phase::Running));
    assert_eq!(w.status.last_stable_spec, w.status.last_reconciled_spec);
}

#[test]
fn rescale_redeploys_at_the_new_parallelism_from_a_savepoint() {
    let mut w = World::running(spec());
    w.change(|s| s.parallelism = 6);
    w.step(&running(None));
    w.step(&with_savepoint(
        running(None),
        SavepointObservation::Completed("s3://bucket/sp/sp-1".into()),
    ));
    let d = w.step(&torn_down(None));
    match &d.action {
        Action::Deploy { spec, restore_from, .. } => {
            assert_eq!(spec.parallelism, 6);
            assert_eq!(restore_from.as_deref(), Some("s3://bucket/sp/sp-1"));
        }
        other => panic!("expected a deployment, got {other:?}"),
    }
    assert_eq!(w.status.parallelism, Some(6));
}

#[test]
fn last_state_upgrade_restores_the_checkpoint_recorded_after_teardown() {
    let mut s = spec();
    s.upgrade_mode = UpgradeMode::LastState;
    let mut w = World::running(s);
    w.change(|s| s.parallelism = 3);
    let d = w.step(&running(Some((4, "s3://bucket/chk/chk-4"))));
    assert_eq!(d.action, Action::TearDown);
    // A checkpoint completed while the pods stopped: the HA record holds chk-5.
    let d = w.step(&torn_down(Some((5, "s3://bucket/chk/chk-5"))));
    assert_eq!(deployed_from(&d), Some(Some("s3://bucket/chk/chk-5".into())));
}

#[test]
fn last_state_without_ha_record_uses_the_mirrored_checkpoint() {
    let mut s = spec();
    s.upgrade_mode = UpgradeMode::LastState;
    let mut w = World::running(s);
    w.step(&running(Some((9, "s3://bucket/chk/chk-9"))));
    w.change(|s| s.parallelism = 3);
    w.step(&running(None));
    // The Lease is gone (deleted by hand, say).
    let d = w.step(&torn_down(None));
    assert_eq!(deployed_from(&d), Some(Some("s3://bucket/chk/chk-9".into())));
}

#[test]
fn stateless_upgrade_starts_empty() {
    let mut s = spec();
    s.upgrade_mode = UpgradeMode::Stateless;
    let mut w = World::running(s);
    w.step(&running(Some((2, "s3://bucket/chk/chk-2"))));
    w.change(|s| s.parallelism = 3);
    assert_eq!(w.step(&running(None)).action, Action::TearDown);
    let d = w.step(&torn_down(Some((2, "s3://bucket/chk/chk-2"))));
    assert_eq!(deployed_from(&d), Some(None));
}

#[test]
fn upgrade_mode_changes_never_lose_state() {
    // (old mode, new mode) -> how the job is stopped.
    let cases = [
        (UpgradeMode::Savepoint, UpgradeMode::Stateless, StopMode::Savepoint),
        (UpgradeMode::LastState, UpgradeMode::Stateless, StopMode::LastState),
        (UpgradeMode::Stateless, UpgradeMode::Savepoint, StopMode::Savepoint),
        (UpgradeMode::Stateless, UpgradeMode::LastState, StopMode::LastState),
        (UpgradeMode::Savepoint, UpgradeMode::LastState, StopMode::Savepoint),
        (UpgradeMode::Stateless, UpgradeMode::Stateless, StopMode::Stateless),
    ];
    for (old, new, expected) in cases {
        let mut s = spec();
        s.upgrade_mode = old;
        let mut w = World::running(s);
        w.change(|s| {
            s.upgrade_mode = new;
            s.parallelism = 5;
        });
        w.step(&running(Some((1, "s3://bucket/chk/chk-1"))));
        let mode = w.status.operation.as_ref().and_then(|o| o.stop_mode);
        assert_eq!(mode, Some(expected), "{old:?} -> {new:?}");
    }
}

#[test]
fn a_change_of_upgrade_mode_alone_does_not_redeploy() {
    let mut w = World::running(spec());
    w.change(|s| s.upgrade_mode = UpgradeMode::LastState);
    assert_eq!(w.step(&running(None)).action, Action::None);
    assert_eq!(w.status.operation, None);
}

#[test]
fn unhealthy_job_falls_back_to_last_state_when_a_checkpoint_exists() {
    let mut w = World::running(spec());
    w.step(&running(Some((3, "s3://bucket/chk/chk-3"))));
    w.change(|s| s.parallelism = 4);
    let d = w.step(&with_state(JobState::Restarting, Some((3, "s3://bucket/chk/chk-3"))));
    assert_eq!(d.action, Action::TearDown);
    assert!(d.events.iter().any(|e| e.reason == "FallbackToLastState"));
    let d = w.step(&torn_down(Some((3, "s3://bucket/chk/chk-3"))));
    assert_eq!(deployed_from(&d), Some(Some("s3://bucket/chk/chk-3".into())));
}

#[test]
fn unhealthy_job_without_checkpoint_blocks_instead_of_dropping_state() {
    let mut w = World::running(spec());
    w.change(|s| s.parallelism = 4);
    let d = w.step(&with_state(JobState::Restarting, None));
    assert_eq!(d.action, Action::None);
    assert_eq!(w.status.operation, None);
    assert_eq!(w.condition("Stalled"), ("True".into(), "UpgradeBlocked".into()));
    // Still blocked on the next pass, and never torn down.
    assert_eq!(w.step(&with_state(JobState::Restarting, None)).action, Action::None);
    // The job recovers and runs: the upgrade goes ahead with a savepoint.
    w.advance(11);
    assert!(matches!(w.step(&running(None)).action, Action::TriggerSavepoint { .. }));
}

#[test]
fn job_that_never_ran_is_redeployed_from_where_it_started() {
    // First deployment from a savepoint never reaches RUNNING; the fix is deployed from the
    // same savepoint, not from empty state.
    let mut s = spec();
    s.initial_savepoint_path = Some("s3://bucket/sp/base".into());
    let mut w = World::new(s);
    w.step(&Observation::default());
    w.change(|s| s.job.sql = Some("INSERT INTO out SELECT fixed FROM src;".into()));
    let d = w.step(&with_state(JobState::Restarting, None));
    assert_eq!(d.action, Action::TearDown, "superseded while not running");
    let d = w.step(&torn_down(None));
    assert_eq!(deployed_from(&d), Some(Some("s3://bucket/sp/base".into())));
}
