#include "services/pipeline/commit_pipeline.h"

#include <pthread.h>

#include <chrono>
#include <iterator>

namespace comity::pipeline {

void Group::Absorb(Group later) {
  number = later.number;
  items += later.items;
  writes.Append(std::move(later.writes));
  on_durable.insert(on_durable.end(), std::make_move_iterator(later.on_durable.begin()),
                    std::make_move_iterator(later.on_durable.end()));
  replies.insert(replies.end(), std::make_move_iterator(later.replies.begin()),
                 std::make_move_iterator(later.replies.end()));
}

CommitPipeline::CommitPipeline(CommitLog* log, Stages stages, PipelineOptions options)
    : log_(log), stages_(std::move(stages)), options_(options) {
  // Named so that `top -H` and profilers tell the stages apart.
  sequencer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "comity-apply");
    Sequence();
  });
  committer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "comity-commit");
    Commit();
  });
  completer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "comity-reply");
    Reply();
  });
}

CommitPipeline::~CommitPipeline() { Stop(); }

void CommitPipeline::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (sequencer_.joinable()) sequencer_.join();
  if (committer_.joinable()) committer_.join();
  if (completer_.joinable()) completer_.join();
}

absl::Status CommitPipeline::Submit(Work work) {
  absl::MutexLock lock(&mu_);
  if (failed_) {
    return absl::UnavailableError(
        "the node stopped accepting changes after a storage failure; it needs an operator");
  }
  if (stopping_) {
    return absl::UnavailableError("the node is shutting down; retry with the same request_id");
  }
  queue_.push_back(std::move(work));
  return absl::OkStatus();
}

bool CommitPipeline::Fits(const Group& waiting, const Group& later) const {
  return waiting.items + later.items <= options_.max_items &&
         waiting.writes.ByteSize() + later.writes.ByteSize() <= options_.max_bytes;
}

void CommitPipeline::Sequence() {
  const size_t max_items = options_.max_items < 1 ? 1 : options_.max_items;
  std::deque<Work> taken;  // taken from the queue, not yet applied
  for (uint64_t number = 1;; ++number) {
    if (taken.empty()) {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](CommitPipeline* p)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) { return !p->queue_.empty() || p->stopping_; },
          this));
      if (queue_.empty()) break;  // stopping, and drained
      while (!queue_.empty() && taken.size() < max_items) {
        taken.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (stages_.on_queue_depth) stages_.on_queue_depth(queue_.size());
    }
    uint64_t durable;
    {
      absl::MutexLock lock(&commit_mu_);
      durable = durable_;
    }
    Group group;
    group.number = number;
    if (stages_.open) stages_.open(group, durable);
    while (!taken.empty() && group.items < max_items &&
           group.writes.ByteSize() < options_.max_bytes) {
      Work work = std::move(taken.front());
      taken.pop_front();
      work(group);
      ++group.items;
    }
    if (stages_.close) stages_.close(group);
    absl::MutexLock lock(&commit_mu_);
    // Past a cap the waiting group is full, and the sequencer waits for the committer to take it.
    struct Ready {
      CommitPipeline* pipeline;
      const Group* later;
    } ready{this, &group};
    commit_mu_.Await(absl::Condition(
        +[](Ready* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->pipeline->commit_mu_) {
          return r->pipeline->to_commit_.empty() ||
                 r->pipeline->Fits(r->pipeline->to_commit_.back(), *r->later);
        },
        &ready));
    if (to_commit_.empty()) {
      to_commit_.push_back(std::move(group));
    } else {
      to_commit_.back().Absorb(std::move(group));
    }
  }
  absl::MutexLock lock(&commit_mu_);
  sequencer_done_ = true;
}

void CommitPipeline::Commit() {
  bool failed = false;
  for (;;) {
    Finished f;
    {
      absl::MutexLock lock(&commit_mu_);
      commit_mu_.Await(absl::Condition(
          +[](CommitPipeline* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->commit_mu_) {
            return !p->to_commit_.empty() || p->sequencer_done_;
          },
          this));
      if (to_commit_.empty()) break;
      f.group = std::move(to_commit_.front());
      to_commit_.pop_front();
    }
    // After a failed append nothing more is appended: later groups were applied on top of it.
    if (!failed && !f.group.writes.empty()) {
      const auto started = std::chrono::steady_clock::now();
      absl::Status s = log_->Append(f.group.number, f.group.writes);
      if (s.ok() && stages_.on_appended) {
        stages_.on_appended(
            f.group,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      }
      if (!s.ok()) {
        failed = true;
        {
          absl::MutexLock lock(&mu_);
          failed_ = true;
        }
        if (stages_.on_failure) stages_.on_failure(s);
      }
    }
    if (!failed) {
      f.durable = true;
      for (auto& fn : f.group.on_durable) fn();
      absl::MutexLock lock(&commit_mu_);
      durable_ = f.group.number;
    }
    absl::MutexLock lock(&done_mu_);
    finished_.push_back(std::move(f));
  }
  absl::MutexLock lock(&done_mu_);
  committer_done_ = true;
}

void CommitPipeline::Reply() {
  for (;;) {
    Finished f;
    {
      absl::MutexLock lock(&done_mu_);
      done_mu_.Await(absl::Condition(
          +[](CommitPipeline* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->done_mu_) {
            return !p->finished_.empty() || p->committer_done_;
          },
          this));
      if (finished_.empty()) return;
      f = std::move(finished_.front());
      finished_.pop_front();
    }
    for (auto& reply : f.group.replies) reply(f.durable);
  }
}

}  // namespace comity::pipeline
