#ifndef COMITY_SERVICES_PIPELINE_COMMIT_LOG_H_
#define COMITY_SERVICES_PIPELINE_COMMIT_LOG_H_

// Where the commit pipeline makes each group durable. The node alone: one synced batch in its
// own store. Replicated: the group appended to a shared log first, then to the store.

#include <cstdint>

#include "absl/status/status.h"
#include "storage/store.h"

namespace comity::pipeline {

class CommitLog {
 public:
  virtual ~CommitLog() = default;
  // Makes group `number`'s `writes` durable, all of them or none, after every earlier group's.
  // Called from one thread, with increasing numbers. An error is final: the pipeline stops and
  // appends nothing more.
  virtual absl::Status Append(uint64_t number, const storage::WriteSet& writes) = 0;
};

// One synced batch in the node's own store per group.
class LocalCommitLog final : public CommitLog {
 public:
  explicit LocalCommitLog(storage::Store* store) : store_(store) {}
  absl::Status Append(uint64_t /*number*/, const storage::WriteSet& writes) override {
    return store_->Commit(writes);
  }

 private:
  storage::Store* const store_;
};

}  // namespace comity::pipeline

#endif  // COMITY_SERVICES_PIPELINE_COMMIT_LOG_H_
