//! The fake swarm's own work, on tokio's clock: tasks starting, settling and restarting, the
//! updater replacing tasks batch by batch (and rolling back), and one-off jobs.

use std::sync::Arc;
use std::time::Duration;

use bollard::models::{ObjectVersion, ServiceUpdateStatusStateEnum, TaskSpec, TaskState};

use super::timing::{Behavior, OnFailure, Policy, Start, Timing, restart_delay, start_of};
use super::*;

impl FakeCluster {
    /// Starts a task in `place` and lives it: up (or failed) after its start, and for an image
    /// that turns unhealthy later, dead then and restarted, for as long as the spec lasts.
    /// A death within `monitored` after the task is up is left to the updater watching it.
    /// Returns the task id and how its start went.
    pub(super) fn start_in(
        &self,
        service_id: &str,
        generation: u64,
        place: &Place,
        template: &Arc<TaskSpec>,
        monitored: Duration,
    ) -> (String, Start) {
        let (task, start, dies, timing) = {
            let mut state = self.lock();
            let timing = state.timing;
            let behavior = state.behavior(template);
            let (start, dies) = start_of(behavior, template, &timing);
            let dies = match start {
                Start::Up(up) => dies.filter(|d| *d >= up + monitored),
                Start::Failed(_) => None,
            };
            (state.start_task(service_id, place, template), start, dies, timing)
        };
        if let Some(after) = dies {
            let (fake, service_id, task, template, place) =
                (self.clone(), service_id.to_owned(), task.clone(), template.clone(), place.clone());
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                let mut state = fake.lock();
                if state.generation(&service_id) != Some(generation) || !state.is_running(&service_id, &task) {
                    return;
                }
                fail_task(&mut state, &service_id, &task, Behavior::UnhealthyAfter(after));
                drop(state);
                fake.restart(service_id, generation, place, template, timing);
            });
        }
        (task, start)
    }

    /// Swarm's restart of a slot (node) whose task died outside an update.
    pub(super) fn restart(
        &self,
        service_id: String,
        generation: u64,
        place: Place,
        template: Arc<TaskSpec>,
        timing: Timing,
    ) {
        let fake = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(restart_delay(&template, &timing)).await;
            if fake.lock().generation(&service_id) != Some(generation) {
                return;
            }
            let (task, start) = fake.start_in(&service_id, generation, &place, &template, Duration::ZERO);
            fake.settle(&service_id, generation, &task, start, &template).await;
        });
    }

    /// Waits out a task's start and sets its state; a failed one is restarted.
    pub(super) async fn settle(
        &self,
        service_id: &str,
        generation: u64,
        task: &str,
        start: Start,
        template: &Arc<TaskSpec>,
    ) {
        let (Start::Up(after) | Start::Failed(after)) = start;
        tokio::time::sleep(after).await;
        let mut state = self.lock();
        if state.generation(service_id) != Some(generation) {
            return;
        }
        let behavior = state.behavior(template);
        match start {
            Start::Up(_) => {
                if let Some(t) = state.task_mut(service_id, task) {
                    set_state(t, TaskState::RUNNING, "started", None, None);
                }
            }
            Start::Failed(_) => {
                fail_task(&mut state, service_id, task, behavior);
                let timing = state.timing;
                drop(state);
                self.restart(
                    service_id.to_owned(),
                    generation,
                    place_of(self, service_id, task),
                    template.clone(),
                    timing,
                );
            }
        }
    }

    /// Replaces tasks until every slot (node) runs the current spec, like Swarm's updater.
    pub(super) async fn rollout(self, service_id: String, generation: u64, rolling_back: bool) {
        let (policy, places, target) = {
            let mut state = self.lock();
            // The service as it is now, shared (its spec is read, not copied).
            let Some(service) = state.services.get(&service_id).map(|s| s.service.clone()) else { return };
            let Some(spec) = service.spec.as_ref() else { return };
            let all = state.places(spec);
            let Some(s) = state.service_mut(&service_id) else { return };
            // One spec for every task this rollout starts, shared with them.
            let target = s.template_for(spec);
            // Scale down first: slots beyond the replica count (nodes the fake no longer has) stop.
            for task in Arc::make_mut(&mut s.tasks).iter_mut().filter(|t| !all.contains(&Place::of(t))) {
                if task.desired_state == Some(TaskState::RUNNING) {
                    set_state(Arc::make_mut(task), TaskState::SHUTDOWN, "shutdown", None, Some(0));
                }
            }
            // A place already running the target keeps that task alone: a replacement an
            // abandoned update was still starting there is shut down, as Swarm's reconciler does.
            for place in &all {
                let on_target = |t: &SeenTask| place.holds(t) && running(t) && on_spec(t, &target);
                if let Some(keep) = s.tasks.iter().find(|t| on_target(t)).and_then(|t| t.id.clone()) {
                    for task in Arc::make_mut(&mut s.tasks)
                        .iter_mut()
                        .filter(|t| place.holds(t) && t.id.as_ref() != Some(&keep))
                    {
                        if task.desired_state == Some(TaskState::RUNNING) {
                            set_state(Arc::make_mut(task), TaskState::SHUTDOWN, "shutdown", None, Some(0));
                        }
                    }
                }
            }
            let places: Vec<Place> = all
                .into_iter()
                .filter(|place| !s.tasks.iter().any(|t| place.holds(t) && running(t) && on_spec(t, &target)))
                .collect();
            (Policy::of(spec, rolling_back), places, target)
        };
        let batch = if policy.parallelism == 0 { places.len().max(1) } else { policy.parallelism };
        for chunk in places.chunks(batch) {
            let mut started = Vec::new();
            {
                let mut state = self.lock();
                if state.generation(&service_id) != Some(generation) {
                    return;
                }
                if !policy.start_first {
                    for place in chunk {
                        stop_place(&mut state, &service_id, place, None);
                    }
                }
            }
            for place in chunk {
                let (task, start) = self.start_in(&service_id, generation, place, &target, policy.monitor);
                started.push((place, task, start));
            }
            // The batch is judged when its slowest task is up or failed.
            let wait = started.iter().map(|(_, _, s)| match s {
                Start::Up(d) | Start::Failed(d) => *d,
            });
            tokio::time::sleep(wait.max().unwrap_or_default()).await;
            let behavior = {
                let mut state = self.lock();
                if state.generation(&service_id) != Some(generation) {
                    return;
                }
                for (place, task, start) in &started {
                    if let Start::Up(_) = start {
                        if let Some(t) = state.task_mut(&service_id, task) {
                            set_state(t, TaskState::RUNNING, "started", None, None);
                        }
                        stop_place(&mut state, &service_id, place, Some(task));
                    }
                }
                state.behavior(&target)
            };
            let up = started.iter().all(|(_, _, s)| matches!(s, Start::Up(_)));
            // A task that dies inside the monitor window fails the batch; later deaths are
            // the task's own business (restarts), which Swarm no longer counts.
            let dies_in_window = match (behavior, started.first()) {
                (Behavior::UnhealthyAfter(after), Some((_, _, Start::Up(up_after)))) => {
                    let timing = self.lock().timing;
                    let dies = timing.start + after;
                    (dies < *up_after + policy.monitor).then(|| dies.saturating_sub(*up_after))
                }
                _ => None,
            };
            let failed = if !up {
                true
            } else if let Some(after) = dies_in_window {
                tokio::time::sleep(after).await;
                true
            } else {
                // Swarm watches the batch for `monitor` while the next batches go on
                // (swarmkit's updater), and once more after the last one, below.
                false
            };
            if failed {
                let mut state = self.lock();
                if state.generation(&service_id) != Some(generation) {
                    return;
                }
                for (_, task, _) in &started {
                    fail_task(&mut state, &service_id, task, behavior);
                }
                let first = started.first().map(|(_, t, _)| t.clone()).unwrap_or_default();
                let action = if rolling_back && policy.on_failure == OnFailure::Rollback {
                    OnFailure::Pause
                } else {
                    policy.on_failure
                };
                match action {
                    OnFailure::Rollback => {
                        let message = format!("update rolled back due to failure or early termination of task {first}");
                        drop(state);
                        self.roll_back(&service_id, message);
                        return;
                    }
                    OnFailure::Pause => {
                        let message = format!("update paused due to failure or early termination of task {first}");
                        let paused = if rolling_back {
                            ServiceUpdateStatusStateEnum::ROLLBACK_PAUSED
                        } else {
                            ServiceUpdateStatusStateEnum::PAUSED
                        };
                        set_status(&mut state, &service_id, paused, &message);
                        let timing = state.timing;
                        drop(state);
                        for (place, _, _) in &started {
                            self.restart(service_id.clone(), generation, (*place).clone(), target.clone(), timing);
                        }
                        return;
                    }
                    OnFailure::Continue => {
                        let timing = state.timing;
                        drop(state);
                        for (place, _, _) in &started {
                            self.restart(service_id.clone(), generation, (*place).clone(), target.clone(), timing);
                        }
                    }
                }
            }
            if chunk.len() == batch {
                tokio::time::sleep(policy.delay).await;
            }
        }
        // Before declaring the update complete, Swarm keeps watching for one more monitor period.
        tokio::time::sleep(policy.monitor).await;
        let mut state = self.lock();
        if state.generation(&service_id) != Some(generation) {
            return;
        }
        let has_status = state.services.get(&service_id).is_some_and(|s| s.service.update_status.is_some());
        if has_status {
            let (done, message) = if rolling_back {
                (ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED, "rollback completed")
            } else {
                (ServiceUpdateStatusStateEnum::COMPLETED, "update completed")
            };
            let kept = state
                .services
                .get(&service_id)
                .and_then(|s| s.service.update_status.as_ref())
                .and_then(|s| s.message.clone())
                .filter(|_| rolling_back)
                .unwrap_or_else(|| message.to_string());
            set_status(&mut state, &service_id, done, &kept);
        }
    }

    /// Swarm's automatic rollback: the previous spec comes back and is rolled out.
    pub(super) fn roll_back(&self, service_id: &str, message: String) {
        let generation = {
            let mut state = self.lock();
            let index = state.next_index();
            let Some(s) = state.service_mut(service_id) else { return };
            let Some(previous) = s.previous.take() else { return };
            let service = Arc::make_mut(&mut s.service);
            service.spec = Some(previous);
            service.version = Some(ObjectVersion { index: Some(index) });
            s.generation += 1;
            let generation = s.generation;
            set_status(&mut state, service_id, ServiceUpdateStatusStateEnum::ROLLBACK_STARTED, &message);
            generation
        };
        let timing = self.lock().timing;
        let fake = self.clone();
        let id = service_id.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(timing.rollback).await;
            fake.rollout(id, generation, true).await;
        });
    }

    /// Runs a job's tasks to completion; their output goes to the service's logs.
    pub(super) async fn run_job(self, service_id: String, generation: u64) {
        let (template, completions, timing, behavior, output) = {
            let state = self.lock();
            let Some(s) = state.services.get(&service_id) else { return };
            let spec = s.service.spec.clone().unwrap_or_default();
            let completions = spec
                .mode
                .as_ref()
                .and_then(|m| m.replicated_job.as_ref())
                .and_then(|j| j.total_completions)
                .unwrap_or(1)
                .max(1);
            let template = Arc::new(template(&spec));
            let image = image_of(&template);
            let behavior = state.job_behaviors.get(&image).copied().unwrap_or_else(|| state.behavior(&template));
            let output = state.outputs.get(&image).cloned().unwrap_or_default();
            (template, completions, state.timing, behavior, output)
        };
        for slot in 0..completions {
            let task = {
                let mut state = self.lock();
                if state.generation(&service_id) != Some(generation) {
                    return;
                }
                state.start_task(&service_id, &Place::Slot(slot), &template)
            };
            tokio::time::sleep(timing.start).await;
            let mut state = self.lock();
            if state.generation(&service_id) != Some(generation) {
                return;
            }
            if let Some(s) = state.service_mut(&service_id) {
                s.logs.extend(output.lines().map(str::to_owned));
            }
            let Some(t) = state.task_mut(&service_id, &task) else { return };
            match behavior {
                Behavior::Crash(code) => set_state(
                    t,
                    TaskState::FAILED,
                    "started",
                    Some(format!("task: non-zero exit ({code})")),
                    Some(code),
                ),
                _ => set_state(t, TaskState::COMPLETE, "finished", None, Some(0)),
            }
            t.desired_state = Some(TaskState::COMPLETE);
        }
    }
}
