#ifndef COMITY_CLIENTS_BENCH_CEILING_H_
#define COMITY_CLIENTS_BENCH_CEILING_H_

#include <string>

#include "absl/time/time.h"

namespace comity::bench {

struct CeilingResult {
  double commits_per_second = 0;
  double mean_group = 0;  // commits per synced batch
};

// The disk's ceiling for our write pattern without gRPC or domain logic: `producers` threads each
// hand a transition-sized write (record + audit entry + index) to one committer thread, which
// writes whatever is queued as one synced RocksDB batch and then releases the producers.
CeilingResult MeasureCeiling(const std::string& dir, int producers, absl::Duration duration);

}  // namespace comity::bench

#endif  // COMITY_CLIENTS_BENCH_CEILING_H_
