// Scheduling of a server's background threads.
//
// A thread that writes behind request workers — a group committer, an audit log's flusher —
// spends its life waking from disk flushes and database answers. Under Linux's default policy
// every such wake-up preempts whichever worker is running, so on a busy host each commit costs a
// handful of context switches and the workers' caches (docs/steward.md "The index's cost",
// session 10: 4.1 switches per certificate on our 2-core VM; under SCHED_BATCH 0.7–0.8, and the
// index's cost to issuance throughput fell from 7–9 % to 3–5 %). Under SCHED_BATCH the thread
// keeps its fair share of CPU (same nice value, same weight) but waits for the running thread's
// slice to end instead of preempting it: on an idle core it still runs at once. Threads it
// starts inherit the policy.
#pragma once

namespace enarx {

// Puts the calling thread under SCHED_BATCH (nice value unchanged). Returns false, logging
// "thread.batch_scheduling_unavailable" once per process, where the policy cannot be set (not
// Linux, or refused by a seccomp filter); the thread then runs on as it was.
bool schedule_this_thread_as_batch() noexcept;

// Whether the calling thread runs under SCHED_BATCH (for tests).
bool this_thread_is_batch_scheduled() noexcept;

}  // namespace enarx
