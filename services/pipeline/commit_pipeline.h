#ifndef COMITY_SERVICES_PIPELINE_COMMIT_PIPELINE_H_
#define COMITY_SERVICES_PIPELINE_COMMIT_PIPELINE_H_

// The write path's stages, knowing nothing of what is written. A sequencer thread takes work from
// a queue in order and applies it, one piece after another, into commit groups; a committer
// thread makes each group durable through a CommitLog; a completer thread answers each group's
// callers once it is durable or has failed. While one group commits, the sequencer builds the
// next, and what it applies meanwhile joins the one group waiting: a change waits for at most the
// commit under way and its own.
//
// Groups are capped by count and by bytes (1 MiB by default, as LevelDB groups its writes and as
// etcd bounds a request). A group closes once its writes reach the byte cap, so it exceeds the cap
// by at most its last change; a change larger than the cap commits alone. Groups waiting are
// merged only while the merged group stays within both caps.
//
// A failed append stops the pipeline (fail-stop): that group and every later one fail, nothing
// more is appended, and new work is refused with UNAVAILABLE.

#include <cstdint>
#include <deque>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "services/pipeline/commit_log.h"
#include "storage/store.h"

namespace comity::pipeline {

// A commit group: what the sequencer applied, on its way to the CommitLog and back to callers.
struct Group {
  uint64_t number = 0;  // groups merged while waiting carry the later number
  size_t items = 0;     // pieces of work applied into it
  storage::WriteSet writes;
  // Run on the committer thread, in order, once the group is durable and before any later group
  // is appended. Must not block.
  std::vector<std::function<void()>> on_durable;
  // Run on the completer thread, in order, once the group is durable (true) or has failed
  // (false). Must not block.
  std::vector<std::function<void(bool durable)>> replies;

  // Appends `later`, built after this group, to it: one commit for both.
  void Absorb(Group later);
};

struct PipelineOptions {
  size_t max_items = 512;      // pieces of work per group
  size_t max_bytes = 1 << 20;  // bytes of writes per group, as WriteSet::ByteSize counts them
};

class CommitPipeline {
 public:
  // A piece of work, applied on the sequencer thread into the group under construction: it adds
  // its writes and what to tell its caller.
  using Work = std::function<void(Group&)>;

  // The sequencer's hooks around each group, both on the sequencer thread.
  struct Stages {
    // Before the first work of `group` (its number set); every group numbered up to `durable` is
    // durable.
    std::function<void(Group& group, uint64_t durable)> open;
    // After the group's last work, before it goes to the committer.
    std::function<void(Group& group)> close;
    // Told, once, the status of the append that stopped the pipeline. On the committer thread.
    std::function<void(const absl::Status&)> on_failure;
    // For metrics, both optional and non-blocking: each durable group's size and how long its
    // append took (committer thread); what is still queued each time the sequencer has taken a
    // group's worth from the queue.
    std::function<void(const Group& group, double append_seconds)> on_appended;
    std::function<void(size_t depth)> on_queue_depth;
  };

  // Starts the three threads. `log` must outlive the pipeline.
  CommitPipeline(CommitLog* log, Stages stages, PipelineOptions options = {});
  ~CommitPipeline();  // Stop()s.
  CommitPipeline(const CommitPipeline&) = delete;
  CommitPipeline& operator=(const CommitPipeline&) = delete;

  // Queues `work`. UNAVAILABLE, and the work never runs, once the pipeline has stopped or failed.
  absl::Status Submit(Work work);

  // Refuses new work, applies, commits and answers what is queued, and joins the threads.
  void Stop();

 private:
  struct Finished {
    Group group;
    bool durable = false;
  };
  void Sequence();
  void Commit();
  void Reply();
  bool Fits(const Group& waiting, const Group& later) const;

  CommitLog* const log_;
  const Stages stages_;
  const PipelineOptions options_;

  absl::Mutex mu_;
  std::deque<Work> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;

  // Groups applied, waiting for the committer (at most one waits behind the one committing).
  absl::Mutex commit_mu_;
  std::deque<Group> to_commit_ ABSL_GUARDED_BY(commit_mu_);
  bool sequencer_done_ ABSL_GUARDED_BY(commit_mu_) = false;
  uint64_t durable_ ABSL_GUARDED_BY(commit_mu_) = 0;  // the last durable group

  // Groups durable (or failed) whose callers are yet to hear.
  absl::Mutex done_mu_;
  std::deque<Finished> finished_ ABSL_GUARDED_BY(done_mu_);
  bool committer_done_ ABSL_GUARDED_BY(done_mu_) = false;

  std::thread sequencer_;
  std::thread committer_;
  std::thread completer_;
};

}  // namespace comity::pipeline

#endif  // COMITY_SERVICES_PIPELINE_COMMIT_PIPELINE_H_
