//! First deploy, running, suspend/resume, restart by nonce, failure recovery, deletion,
//! invalid specs.

use super::fixtures::*;
use crate::crd::{DesiredState, Phase, Purpose, RollbackSpec, SnapshotKind, Step};
use crate::decide::{Action, JobState, Observation, SavepointObservation};

#[test]
fn first_deploy_starts_empty_then_runs() {
    let mut w = World::new(spec());
    let d = w.step(&Observation::default());
    assert_eq!(deployed_from(&d), Some(None));
    assert!(matches!(d.action, Action::Deploy { reset_ha: true, .. }));
    assert_eq!(w.status.phase, Some(Phase::Deploying));
    assert_eq!(w.status.operation.as_ref().map(|o| o.step), Some(Step::AwaitingRunning));
    assert_eq!(w.condition("Reconciling"), ("True".into(), "Deploying".into()));
    assert_eq!(w.condition("Ready").0, "False");
    assert!(w.status.last_reconciled_spec.is_some());
    assert_eq!(w.status.parallelism, Some(2));

    let d = w.step(&starting());
    assert_eq!(d.action, Action::None, "waits for RUNNING");
    let d = w.step(&running(None));
    assert_eq!(d.action, Action::None);
    assert_eq!(w.status.phase, Some(Phase::Running));
    assert_eq!(w.status.operation, None);
    assert_eq!(w.status.last_stable_spec, w.status.last_reconciled_spec);
    assert_eq!(w.condition("Ready"), ("True".into(), "JobRunning".into()));
    assert_eq!(w.status.observed_generation, Some(1));
}

#[test]
fn first_deploy_from_initial_savepoint() {
    let mut s = spec();
    s.initial_savepoint_path = Some("s3://bucket/sp/savepoint-7".into());
    let mut w = World::new(s);
    let d = w.step(&Observation::default());
    assert_eq!(deployed_from(&d), Some(Some("s3://bucket/sp/savepoint-7".into())));
    assert_eq!(
        w.status.restore_point.as_ref().map(|r| r.kind),
        Some(SnapshotKind::Initial)
    );
}

#[test]
fn nonces_set_at_creation_do_not_trigger() {
    let mut s = spec();
    s.savepoint_trigger_nonce = Some(5);
    s.restart_nonce = Some(9);
    let mut w = World::running(s);
    let d = w.step(&running(None));
    assert_eq!(d.action, Action::None);
    assert_eq!(w.status.operation, None);
}

#[test]
fn mirrors_checkpoints_into_restore_point() {
    let mut w = World::running(spec());
    w.step(&running(Some((4, "s3://bucket/chk/chk-4"))));
    assert_eq!(
        w.status.latest_checkpoint.as_ref().map(|c| c.location.as_str()),
        Some("s3://bucket/chk/chk-4")
    );
    assert_eq!(w.status.restore_point.as_ref().map(|c| c.checkpoint_id), Some(Some(4)));
}

#[test]
fn suspend_with_savepoint_then_resume_from_it() {
    let mut w = World::running(spec());
    w.change(|s| s.state = DesiredState::Suspended);
    let d = w.step(&running(Some((3, "s3://bucket/chk/chk-3"))));
    assert!(matches!(d.action, Action::TriggerSavepoint { stop: true, .. }));
    assert_eq!(w.status.phase, Some(Phase::Suspending));
    let done = with_savepoint(
        running(None),
        SavepointObservation::Completed("s3://bucket/sp/sp-4".into()),
    );
    assert_eq!(w.step(&done).action, Action::TearDown);
    let d = w.step(&torn_down(Some((3, "s3://bucket/chk/chk-3"))));
    assert_eq!(d.action, Action::None);
    assert_eq!(w.status.phase, Some(Phase::Suspended));
    assert_eq!(
        w.status.restore_point.as_ref().map(|r| r.location.as_str()),
        Some("s3://bucket/sp/sp-4")
    );
    assert_eq!(
        w.status.restore_point.as_ref().map(|r| r.kind),
        Some(SnapshotKind::Suspend)
    );
    assert_eq!(w.condition("Ready"), ("False".into(), "Suspended".into()));
    // Stays suspended.
    assert_eq!(w.step(&torn_down(None)).action, Action::None);
    assert_eq!(w.status.phase, Some(Phase::Suspended));

    w.change(|s| s.state = DesiredState::Running);
    let d = w.step(&torn_down(None));
    assert_eq!(deployed_from(&d), Some(Some("s3://bucket/sp/sp-4".into())));
    assert_eq!(w.status.phase, Some(Phase::Deploying));
    w.step(&running(None));
    assert_eq!(w.status.phase, Some(Phase::Running));
}

#[test]
fn created_suspended_deploys_nothing() {
    let mut s = spec();
    s.state = DesiredState::Suspended;
    let mut w = World::new(s);
    assert_eq!(w.step(&Observation::default()).action, Action::None);
    assert_eq!(w.status.phase, Some(Phase::Suspended));
}

#[test]
fn restart_nonce_restarts_per_upgrade_mode() {
    let mut w = World::running(spec());
    w.change(|s| s.restart_nonce = Some(1));
    let d = w.step(&running(Some((2, "s3://bucket/chk/chk-2"))));
    assert!(matches!(d.action, Action::TriggerSavepoint { stop: true, .. }));
    assert_eq!(w.status.operation.as_ref().map(|o| o.purpose), Some(Purpose::Restart));
    let done = with_savepoint(
        running(None),
        SavepointObservation::Completed("s3://bucket/sp/sp-3".into()),
    );
    w.step(&done);
    let d = w.step(&torn_down(None));
    assert_eq!(deployed_from(&d), Some(Some("s3://bucket/sp/sp-3".into())));
    w.step(&running(None));
    // The same nonce does not restart again.
    assert_eq!(w.step(&running(None)).action, Action::None);
}

#[test]
fn failed_job_recovers_from_latest_checkpoint_with_backoff_then_stays_failed() {
    let mut s = spec();
    s.restart_policy.max_restarts = 2;
    s.restart_policy.backoff = "10s".into();
    let mut w = World::running(s);
    w.step(&running(Some((5, "s3://bucket/chk/chk-5"))));
    let failed = with_state(JobState::Failed, Some((6, "s3://bucket/chk/chk-6")));
    let d = w.step(&failed);
    assert_eq!(d.action, Action::TearDown);
    assert_eq!(w.status.phase, Some(Phase::Recovering));
    assert_eq!(w.status.failed_restarts, 1);
    assert!(d.events.iter().any(|e| e.reason == "Recovering" && e.warning));
    // Torn down before the backoff passed: waits.
    let d = w.step(&torn_down(Some((6, "s3://bucket/chk/chk-6"))));
    assert_eq!(d.action, Action::None);
    assert_eq!(w.status.operation.as_ref().map(|o| o.step), Some(Step::Deploying));
    assert!(d.requeue.as_secs() >= 2 && d.requeue.as_secs() <= 10);
    w.advance(11);
    let d = w.step(&torn_down(Some((6, "s3://bucket/chk/chk-6"))));
    assert_eq!(deployed_from(&d), Some(Some("s3://bucket/chk/chk-6".into())));
    // Fails again: second restart waits 20 s.
    w.step(&with_state(JobState::Failed, None));
    assert_eq!(w.status.failed_restarts, 2);
    let d = w.step(&torn_down(Some((6, "s3://bucket/chk/chk-6"))));
    assert!(d.requeue.as_secs() > 10, "backoff doubles: {:?}", d.requeue);
    w.advance(21);
    w.step(&torn_down(Some((6, "s3://bucket/chk/chk-6"))));
    // Third failure: out of restarts.
    let d = w.step(&with_state(JobState::Failed, None));
    assert_eq!(d.action, Action::None);
    assert_eq!(w.status.phase, Some(Phase::Failed));
    assert_eq!(w.condition("Stalled"), ("True".into(), "JobFailed".into()));
    assert_eq!(w.status.error.as_ref().map(|e| e.reason.as_str()), Some("JobFailed"));
}

#[test]
fn stable_running_resets_failed_restarts() {
    let mut w = World::running(spec());
    w.step(&with_state(JobState::Failed, Some((1, "s3://bucket/chk/chk-1"))));
    w.advance(60);
    w.step(&torn_down(Some((1, "s3://bucket/chk/chk-1"))));
    w.step(&running(None));
    assert_eq!(w.status.failed_restarts, 1);
    w.step(&running(Some((2, "s3://bucket/chk/chk-2"))));
    assert_eq!(w.status.failed_restarts, 0);
}

#[test]
fn invalid_spec_is_reported_and_the_last_valid_spec_keeps_running() {
    let mut w = World::running(spec());
    let deployed = w.status.last_reconciled_spec.clone();
    w.change(|s| s.parallelism = 4);
    w.spec_error = Some("spec.checkpointing.interval: '10x' is not a duration".into());
    let d = w.step(&running(None));
    assert_eq!(d.action, Action::None);
    assert_eq!(w.status.last_reconciled_spec, deployed);
    assert_eq!(w.condition("Stalled"), ("True".into(), "InvalidSpec".into()));
    assert_eq!(w.condition("Ready"), ("False".into(), "InvalidSpec".into()));
    assert_eq!(d.events.len(), 1);
    assert_eq!(w.status.observed_generation, Some(2));
    // Reported once, not on every pass.
    assert!(w.step(&running(None)).events.is_empty());
    // Fixed: the upgrade proceeds.
    w.spec_error = None;
    let d = w.step(&running(None));
    assert!(matches!(d.action, Action::TriggerSavepoint { .. }));
    assert_eq!(w.condition("Stalled").0, "False");
}

#[test]
fn invalid_first_spec_deploys_nothing() {
    let mut w = World::new(spec());
    w.spec_error = Some("spec.restartPolicy.backoff: bad".into());
    assert_eq!(w.step(&Observation::default()).action, Action::None);
    assert_eq!(w.status.phase, Some(Phase::Failed));
}

#[test]
fn deletion_without_final_savepoint_releases_at_once() {
    let mut w = World::running(spec());
    w.deleting = true;
    assert_eq!(w.step(&running(None)).action, Action::ReleaseFinalizer);
}

#[test]
fn deletion_with_final_savepoint() {
    let mut s = spec();
    if let Some(p) = s.savepoints.as_mut() {
        p.on_deletion = Some(true);
    }
    let mut w = World::running(s);
    w.deleting = true;
    let d = w.step(&running(None));
    assert!(matches!(d.action, Action::TriggerSavepoint { stop: true, .. }));
    assert_eq!(w.status.phase, Some(Phase::Deleting));
    let done = with_savepoint(
        running(None),
        SavepointObservation::Completed("s3://bucket/sp/final".into()),
    );
    assert_eq!(w.step(&done).action, Action::TearDown);
    assert_eq!(
        w.status.latest_savepoint.as_ref().map(|s| s.kind),
        Some(SnapshotKind::Deletion)
    );
    assert_eq!(w.step(&torn_down(None)).action, Action::ReleaseFinalizer);
}

#[test]
fn deletion_savepoint_failing_never_blocks_deletion() {
    let mut s = spec();
    if let Some(p) = s.savepoints.as_mut() {
        p.on_deletion = Some(true);
    }
    let mut w = World::running(s);
    w.deleting = true;
    w.step(&running(None));
    let mut released = false;
    for _ in 0..5 {
        let d = w.step(&with_savepoint(
            running(None),
            SavepointObservation::Failed("disk full".into()),
        ));
        if d.action == Action::ReleaseFinalizer {
            released = true;
            break;
        }
    }
    assert!(released, "gave up on the savepoint after its attempts");
}

#[test]
fn deletion_savepoint_hanging_is_bounded_by_a_deadline() {
    let mut s = spec();
    if let Some(p) = s.savepoints.as_mut() {
        p.on_deletion = Some(true);
        p.timeout = Some("1m".into());
    }
    let mut w = World::running(s);
    w.deleting = true;
    w.step(&running(None));
    // The coordinator vanishes: nothing answers.
    let gone = Observation {
        coordinator_exists: true,
        pods: 1,
        ..Default::default()
    };
    let mut released = false;
    for _ in 0..10 {
        w.advance(61);
        if w.step(&gone).action == Action::ReleaseFinalizer {
            released = true;
            break;
        }
    }
    assert!(released);
}

#[test]
fn rollback_when_upgrade_misses_readiness_deadline() {
    let mut s = spec();
    s.rollback = Some(RollbackSpec {
        enabled: true,
        readiness_deadline: "2m".into(),
    });
    let mut w = World::running(s);
    let stable = w.status.last_stable_spec.clone();
    w.change(|s| s.job.sql = Some("INSERT INTO out SELECT broken;".into()));
    w.step(&running(Some((3, "s3://bucket/chk/chk-3"))));
    w.step(&with_savepoint(
        running(None),
        SavepointObservation::Completed("s3://bucket/sp/up".into()),
    ));
    let d = w.step(&torn_down(None));
    assert_eq!(deployed_from(&d), Some(Some("s3://bucket/sp/up".into())));
    assert_eq!(w.step(&starting()).action, Action::None);
    w.advance(121);
    let d = w.step(&with_state(JobState::Restarting, None));
    assert_eq!(d.action, Action::TearDown);
    assert_eq!(w.status.phase, Some(Phase::RollingBack));
    let d = w.step(&torn_down(None));
    // Back to the last stable spec, from the upgrade's savepoint (no newer checkpoint).
    assert_eq!(deployed_from(&d), Some(Some("s3://bucket/sp/up".into())));
    match &d.action {
        Action::Deploy { spec, .. } => assert_eq!(spec.job.sql.as_deref(), Some("INSERT INTO out SELECT * FROM src;")),
        other => panic!("expected a deployment, got {other:?}"),
    }
    assert_eq!(w.status.last_reconciled_spec, stable);
    w.step(&running(None));
    assert_eq!(w.status.phase, Some(Phase::Running));
    assert_eq!(w.condition("Degraded"), ("True".into(), "RolledBack".into()));
    // The rolled-back generation is not deployed again.
    assert_eq!(w.step(&running(None)).action, Action::None);
    // A new change is.
    w.change(|s| s.job.sql = Some("INSERT INTO out SELECT fixed FROM src;".into()));
    assert!(matches!(w.step(&running(None)).action, Action::TriggerSavepoint { .. }));
}

#[test]
fn a_pass_that_finds_nothing_new_writes_the_same_status() {
    // The controller is woken by every status change; a status that changed on every pass
    // would reconcile in a hot loop.
    let mut failed = spec();
    failed.restart_policy.max_restarts = 0;
    let mut invalid = World::running(spec());
    invalid.change(|s| s.parallelism = 3);
    invalid.spec_error = Some("spec.restartPolicy.backoff: bad".into());
    let mut suspended = World::running(spec());
    suspended.change(|s| s.state = DesiredState::Suspended);
    suspended.step(&running(None));
    suspended.step(&with_savepoint(
        running(None),
        SavepointObservation::Completed("s3://b/sp/1".into()),
    ));
    suspended.step(&torn_down(None));
    let cases: Vec<(&str, World, Observation)> = vec![
        (
            "running",
            World::running(spec()),
            running(Some((1, "s3://bucket/chk/chk-1"))),
        ),
        (
            "failed for good",
            World::running(failed),
            with_state(JobState::Failed, None),
        ),
        ("invalid spec", invalid, running(None)),
        ("suspended", suspended, torn_down(None)),
    ];
    for (name, mut w, observed) in cases {
        w.step(&observed);
        let settled = w.status.clone();
        w.advance(45);
        let d = w.step(&observed);
        assert_eq!(d.action, Action::None, "{name}");
        assert_eq!(w.status, settled, "{name}: the status changed without news");
    }
}
