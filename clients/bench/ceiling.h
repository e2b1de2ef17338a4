#ifndef COMITY_CLIENTS_BENCH_CEILING_H_
#define COMITY_CLIENTS_BENCH_CEILING_H_

#include <string>

#include "absl/time/time.h"

namespace comity::bench {

struct CeilingResult {
  double commits_per_second = 0;
  double mean_group = 0;  // commits per synced batch
};

// What each commit of the ceiling writes.
enum class CeilingWrites {
  // What a lifecycle transition writes: the record, its audit entry, the entry's Merkle leaf and
  // the tree node it completes every other time, its event index entry, and per synced group
  // the log's size.
  kTransition,
  // The record, the audit entry and an index entry only (the first form of this benchmark).
  kMinimal,
};

// The disk's ceiling for our write pattern without gRPC or domain logic: `producers` threads each
// hand a transition-sized write to one committer thread, which writes whatever is queued as one
// synced RocksDB batch (the store the node uses, with its options) and then releases the
// producers.
CeilingResult MeasureCeiling(const std::string& dir, int producers, absl::Duration duration,
                             CeilingWrites writes = CeilingWrites::kTransition);

}  // namespace comity::bench

#endif  // COMITY_CLIENTS_BENCH_CEILING_H_
