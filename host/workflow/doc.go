// Package workflow is Heady's workflow engine: triggers (schedules, events,
// webhooks, manual runs, completion of other workflows), step DAGs with
// retries, timeouts, for_each fan-out and on_failure compensation,
// per-workflow concurrency, durable execution history and crash recovery.
//
// # Durability
//
// Every state transition of an execution is written through store.Apply
// before the engine acts on it: the execution is recorded before it starts,
// "attempt N of step S started" is recorded before the action is called,
// and "attempt N ended" (with outputs, error, logs and, for a scheduled
// retry, the time of the next attempt) is recorded before any dependent step
// starts. Transitions of many executions are group-committed together by the
// store; one execution's simultaneous transitions (a step's end and its
// dependents' starts) share one Apply.
//
// An event is acknowledged only once it is stored (package events). The
// dispatcher writes the executions an event starts and the event's
// "dispatched" mark in one Apply, so each (event, workflow) pair gets exactly
// one execution, also across a kill -9.
//
// # Resume and delivery guarantees
//
// Start resumes every unfinished execution (index execidx/active/). Steps
// whose success is recorded are not run again; their outputs are restored.
// A step whose last attempt started but never recorded an end is run again
// as a new attempt with a new idempotency key (EXECUTION/STEP/ATTEMPT): step
// delivery is at-least-once, and actions with side effects should use the
// idempotency key to make a repeat harmless. Such interrupted attempts are
// marked and do not count against the retry budget. (An attempt is recorded
// before it waits for one of Options.Workers, so an interrupted attempt may
// also be one that was never invoked.) A scheduled retry
// resumes at its recorded time. An execution resumes on the current
// definition of its workflow; if the workflow or one of its recorded steps no
// longer exists the execution fails with code "definition_changed". While the
// host runs, an execution keeps the definition it started with across
// reloads.
//
// # Steps
//
// Inputs are HCL expressions over event.* (id, type, source, time, data; a
// manual run has type "manual" and its context as data), step.NAME.output.*
// and step.NAME.status, var.*, each.key / each.value (inside for_each),
// execution.id, workflow.name, error.* (step, code, message; in on_failure
// steps) and env("NAME"). A step whose `if` is false is skipped; steps that
// depend on a skipped step still run (refer to its output with try()).
// A for_each step runs one attempt sequence per element, at most
// for_each_concurrency (default 4) at once; its output is the list (or, for a
// map, the map by key) of the items' outputs. An expression error fails the
// step with the expression's source range in the message.
//
// Retries: a step's retry block, else the workflow's, else one attempt.
// The delay after failed attempt n is min(max_delay, initial × multiplier^(n-1))
// ± jitter × delay; max_delay 0 means no cap. retry_on selects "any"
// (default), "transient" (failures the action marks retryable,
// infrastructure errors and step timeouts), "timeout", or exact error codes.
// A step timeout cancels the attempt's context and ends the attempt even if
// the action ignores it. The workflow timeout cancels everything and fails
// the execution with code "timeout".
//
// When a main step fails for good no new main steps start; running ones
// finish, then on_failure steps run (their own DAG, with step.* of what
// completed and error.*). The execution ends failed. A cancelled execution
// does not run on_failure steps.
//
// # Concurrency
//
// concurrency.limit bounds running executions of a workflow. Beyond it:
// "queue" (default) records the execution as pending and starts it FIFO when
// a slot frees (the queue is durable: pending executions are resumed in
// order); a full queue (queue_size, default 1000) refuses the trigger
// (ErrQueueFull). "skip" creates no execution: Execute returns ErrSkipped and
// the skipped trigger is audited as "workflow.skipped". "cancel_previous"
// cancels the oldest running executions and starts the new one.
//
// # Events emitted
//
// When an execution succeeds or fails the engine emits "workflow.succeeded" /
// "workflow.failed" (data: workflow, execution_id, status), written in the
// same Apply as the execution's end, only while some trigger can match them.
package workflow
