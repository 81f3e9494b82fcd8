//! Interrupted flows: the operator restarted in each step (the status is all it has), a
//! savepoint failing or timing out mid-upgrade, the coordinator unreachable, the HA record
//! missing, the spec changed again mid-upgrade.

use super::fixtures::*;
use crate::crd::{Phase, Step};
use crate::decide::{Action, JobState, Observation, SavepointObservation};

/// A world in the middle of a savepoint upgrade, at each step, with the observation of that
/// moment.
fn upgrade_at_each_step() -> Vec<(&'static str, World, Observation)> {
    let mut w = World::running(spec());
    w.change(|s| s.parallelism = 4);
    let mut out = Vec::new();
    // The status says "Savepointing" but the operator died before the trigger was sent.
    let mut before_trigger = World::running(spec());
    before_trigger.change(|s| s.parallelism = 4);
    before_trigger.step(&running(None));
    if let Some(op) = before_trigger.status.operation.as_mut() {
        op.trigger_id = None;
    }
    out.push(("savepoint recorded, not triggered", before_trigger, running(None)));

    w.step(&running(None));
    let triggered = clone_world(&w);
    out.push((
        "savepoint triggered",
        triggered,
        with_savepoint(running(None), SavepointObservation::InProgress),
    ));

    w.step(&with_savepoint(
        running(None),
        SavepointObservation::Completed("s3://bucket/sp/u".into()),
    ));
    out.push(("teardown recorded", clone_world(&w), running(None)));
    out.push(("teardown half done", clone_world(&w), terminating()));

    w.step(&torn_down(None));
    out.push(("deploy recorded, nothing applied", clone_world(&w), torn_down(None)));
    out.push(("deploy applied", clone_world(&w), starting()));
    out
}

fn clone_world(w: &World) -> World {
    let mut c = World::new(w.spec.clone());
    c.generation = w.generation;
    c.status = w.status.clone();
    c.now = w.now;
    c
}

#[test]
fn operator_restarted_in_each_step_resumes_the_upgrade() {
    for (name, mut w, observed) in upgrade_at_each_step() {
        // Two operators (or one restarted) decide from the same status: the same step, and
        // no step that loses the savepoint or repeats a finished one.
        let first = w.peek(&observed);
        let second = w.peek(&observed);
        assert_eq!(first.action, second.action, "{name}: deterministic");
        match name {
            "savepoint recorded, not triggered" => {
                assert!(
                    matches!(first.action, Action::TriggerSavepoint { stop: true, .. }),
                    "{name}"
                )
            }
            "savepoint triggered" => assert_eq!(first.action, Action::None, "{name}: no second trigger"),
            "teardown recorded" | "teardown half done" => {
                let expected = if name == "teardown recorded" {
                    Action::TearDown
                } else {
                    Action::None
                };
                assert_eq!(first.action, expected, "{name}");
            }
            "deploy recorded, nothing applied" => {
                assert_eq!(deployed_from(&first), Some(Some("s3://bucket/sp/u".into())), "{name}")
            }
            "deploy applied" => assert_eq!(first.action, Action::None, "{name}: waits for RUNNING"),
            other => panic!("unknown step {other}"),
        }
        // And the upgrade finishes from there.
        let mut finished = false;
        for observed in [
            observed.clone(),
            with_savepoint(
                running(None),
                SavepointObservation::Completed("s3://bucket/sp/u".into()),
            ),
            torn_down(None),
            running(None),
        ] {
            w.step(&observed);
            if w.status.operation.is_none() && w.status.phase == Some(Phase::Running) {
                finished = true;
            }
        }
        assert!(finished, "{name}: the upgrade completes");
        assert!(
            w.status
                .last_reconciled_spec
                .as_deref()
                .is_some_and(|s| s.contains("\"parallelism\":4")),
            "{name}"
        );
    }
}

#[test]
fn deploy_recorded_but_coordinator_missing_is_applied_again() {
    let mut w = World::running(spec());
    w.change(|s| s.parallelism = 4);
    w.step(&running(None));
    w.step(&with_savepoint(
        running(None),
        SavepointObservation::Completed("s3://bucket/sp/u".into()),
    ));
    w.step(&torn_down(None));
    assert_eq!(w.status.operation.as_ref().map(|o| o.step), Some(Step::AwaitingRunning));
    // Restarted operator: nothing exists although the status says deployed.
    let d = w.step(&Observation::default());
    assert_eq!(deployed_from(&d), Some(Some("s3://bucket/sp/u".into())));
}

#[test]
fn upgrade_savepoint_failing_on_a_healthy_job_keeps_it_running() {
    let mut w = World::running(spec());
    w.change(|s| s.parallelism = 4);
    w.step(&running(None));
    let failed = with_savepoint(running(None), SavepointObservation::Failed("sink declined".into()));
    for _ in 0..6 {
        let d = w.step(&failed);
        assert_ne!(
            d.action,
            Action::TearDown,
            "a healthy job is never torn down without its savepoint"
        );
        let d = w.step(&running(None));
        assert_ne!(d.action, Action::TearDown);
        if w.status.operation.is_none() {
            break;
        }
    }
    assert_eq!(w.status.operation, None);
    assert_eq!(w.condition("Stalled"), ("True".into(), "UpgradeSavepointFailed".into()));
    assert_eq!(w.status.phase, Some(Phase::Running));
    // Retried after the backoff (restartPolicy.maxBackoff, 5 min).
    assert_eq!(w.step(&running(None)).action, Action::None);
    w.advance(301);
    assert!(matches!(w.step(&running(None)).action, Action::TriggerSavepoint { .. }));
}

#[test]
fn upgrade_savepoint_timing_out_is_retried() {
    let mut s = spec();
    if let Some(p) = s.savepoints.as_mut() {
        p.timeout = Some("1m".into());
    }
    let mut w = World::running(s);
    w.change(|s| s.parallelism = 4);
    w.step(&running(None));
    w.advance(61);
    let d = w.step(&with_savepoint(running(None), SavepointObservation::InProgress));
    assert!(d.events.iter().any(|e| e.reason == "SavepointFailed"));
    let d = w.step(&running(None));
    assert!(matches!(d.action, Action::TriggerSavepoint { .. }), "second attempt");
    assert_eq!(w.status.operation.as_ref().map(|o| o.attempts), Some(2));
}

#[test]
fn coordinator_unreachable_falls_back_to_the_recorded_checkpoint() {
    let mut w = World::running(spec());
    w.step(&running(Some((6, "s3://bucket/chk/chk-6"))));
    w.change(|s| s.parallelism = 4);
    let unreachable = Observation {
        coordinator_exists: true,
        workers_exist: true,
        pods: 3,
        lease: Some(crate::decide::LeaseObservation {
            rest_url: Some(REST.into()),
            latest_checkpoint: Some((6, "s3://bucket/chk/chk-6".into())),
            job_ended: None,
        }),
        job: None,
        unreachable: Some("connection refused".into()),
        savepoint: None,
    };
    let mut actions = Vec::new();
    for _ in 0..8 {
        let d = w.step(&unreachable);
        actions.push(d.action.clone());
        if d.action == Action::TearDown {
            break;
        }
    }
    assert_eq!(actions.last(), Some(&Action::TearDown), "{actions:?}");
    let d = w.step(&torn_down(Some((6, "s3://bucket/chk/chk-6"))));
    assert_eq!(deployed_from(&d), Some(Some("s3://bucket/chk/chk-6".into())));
}

#[test]
fn stop_savepoint_result_read_from_ha_record_when_rest_is_gone() {
    let mut w = World::running(spec());
    w.change(|s| s.parallelism = 4);
    w.step(&running(None));
    // The coordinator finished the stop and went away before answering.
    let mut observed = starting();
    observed.lease = Some(crate::decide::LeaseObservation {
        rest_url: None,
        latest_checkpoint: None,
        job_ended: Some("STOPPED at s3://bucket/sp/sp-42".into()),
    });
    let d = w.step(&observed);
    assert_eq!(d.action, Action::TearDown);
    let d = w.step(&torn_down(None));
    assert_eq!(deployed_from(&d), Some(Some("s3://bucket/sp/sp-42".into())));
}

#[test]
fn spec_changed_again_while_tearing_down_deploys_the_newest() {
    let mut w = World::running(spec());
    w.change(|s| s.parallelism = 4);
    w.step(&running(None));
    w.step(&with_savepoint(
        running(None),
        SavepointObservation::Completed("s3://bucket/sp/u".into()),
    ));
    w.change(|s| s.parallelism = 8);
    w.step(&terminating());
    let d = w.step(&torn_down(None));
    match &d.action {
        Action::Deploy { spec, restore_from, .. } => {
            assert_eq!(spec.parallelism, 8);
            assert_eq!(restore_from.as_deref(), Some("s3://bucket/sp/u"));
        }
        other => panic!("expected a deployment, got {other:?}"),
    }
    w.step(&running(None));
    assert_eq!(
        w.step(&running(None)).action,
        Action::None,
        "no further upgrade: generation 3 is deployed"
    );
}

#[test]
fn spec_changed_again_while_awaiting_running_restarts_from_the_same_savepoint() {
    let mut w = World::running(spec());
    w.change(|s| s.parallelism = 4);
    w.step(&running(None));
    w.step(&with_savepoint(
        running(None),
        SavepointObservation::Completed("s3://bucket/sp/u".into()),
    ));
    w.step(&torn_down(None));
    w.change(|s| s.parallelism = 8);
    let d = w.step(&with_state(JobState::Created, None));
    assert_eq!(d.action, Action::TearDown);
    let d = w.step(&torn_down(None));
    assert_eq!(deployed_from(&d), Some(Some("s3://bucket/sp/u".into())));
}
