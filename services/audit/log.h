#ifndef COMITY_SERVICES_AUDIT_LOG_H_
#define COMITY_SERVICES_AUDIT_LOG_H_

// The append side of the node's Merkle log, kept as a compact range: the roots of the perfect
// subtrees that make up the current size (at most 64 hashes). Appending a leaf yields the tree
// nodes it completes, which the caller stores with the entry in the same batch. Not thread-safe:
// owned by the engine's sequencer.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace comity::audit {

class LogAppender {
 public:
  struct Node {
    int level;
    uint64_t index;
    std::string hash;
  };

  // Rebuilds the compact range of a log of `size` leaves from stored nodes: `node(level, index)`
  // returns the stored hash, or an error.
  static absl::StatusOr<LogAppender> Resume(
      uint64_t size, const std::function<absl::StatusOr<std::string>(int, uint64_t)>& node);

  uint64_t size() const { return size_; }

  // Appends the leaf with hash `leaf_hash` (LeafHash of the entry) and returns every node it
  // completes, the leaf itself first.
  std::vector<Node> Append(std::string leaf_hash);

  // MTH of the whole log (EmptyRoot() when empty).
  std::string Root() const;

 private:
  uint64_t size_ = 0;
  std::vector<std::optional<std::string>> range_;  // range_[level]: set iff bit `level` of size_
};

}  // namespace comity::audit

#endif  // COMITY_SERVICES_AUDIT_LOG_H_
