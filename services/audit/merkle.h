#ifndef COMITY_SERVICES_AUDIT_MERKLE_H_
#define COMITY_SERVICES_AUDIT_MERKLE_H_

// The append-only Merkle tree over audit entries, with RFC 9162 (RFC 6962) hashing:
//   leaf  = SHA-256(0x00 || entry bytes)
//   node  = SHA-256(0x01 || left || right)
//   MTH({}) = SHA-256(""), and for n > 1, MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n])) where k is
//   the largest power of two smaller than n.
// The verifiers are the RFC 9162 §2.1.3.2 and §2.1.4.2 algorithms, independent of the prover.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace comity::audit {

std::string LeafHash(absl::string_view entry);
std::string NodeHash(absl::string_view left, absl::string_view right);
std::string EmptyRoot();

// MTH(D[begin:end]) from some store of the tree. Proofs only ask for ranges that start on a
// boundary of their own size's power of two.
using RangeHash = std::function<std::string(uint64_t begin, uint64_t end)>;

// PATH(index, D[0:size]) and PROOF(old_size, D[0:new_size]) over `range`.
std::vector<std::string> InclusionProof(const RangeHash& range, uint64_t index, uint64_t size);
std::vector<std::string> ConsistencyProof(const RangeHash& range, uint64_t old_size,
                                          uint64_t new_size);

// A tree over a list of leaf hashes, for producing roots and proofs. Subtree hashes are
// memoized; not thread-safe.
class MerkleTree {
 public:
  explicit MerkleTree(std::vector<std::string> leaf_hashes) : leaves_(std::move(leaf_hashes)) {}

  uint64_t size() const { return leaves_.size(); }

  // MTH of the first `size` leaves (size <= this->size()).
  std::string Root(uint64_t size);

  // PATH(index, D[0:size]): the audit path proving leaf `index` is in the tree of `size` leaves.
  std::vector<std::string> InclusionProof(uint64_t index, uint64_t size);

  // PROOF(old_size, D[0:new_size]): proves the tree of new_size leaves extends the tree of
  // old_size leaves. 0 < old_size <= new_size <= this->size().
  std::vector<std::string> ConsistencyProof(uint64_t old_size, uint64_t new_size);

 private:
  std::string Range(uint64_t begin, uint64_t end);  // MTH(D[begin:end])

  std::vector<std::string> leaves_;
  std::map<std::pair<uint64_t, uint64_t>, std::string> memo_;
};

// Checks that `leaf_hash` is leaf `index` of the tree of `size` leaves whose root is `root`.
// OK, or DATA_LOSS saying what does not hold (INVALID_ARGUMENT if index >= size).
absl::Status VerifyInclusion(uint64_t index, uint64_t size, absl::string_view leaf_hash,
                             const std::vector<std::string>& proof, absl::string_view root);

// Checks that the tree of `new_size` leaves with root `new_root` extends the tree of
// `old_size` leaves with root `old_root`. OK, or DATA_LOSS (a rewritten history, or a split
// view); INVALID_ARGUMENT if the sizes are out of order.
absl::Status VerifyConsistency(uint64_t old_size, uint64_t new_size,
                               const std::vector<std::string>& proof, absl::string_view old_root,
                               absl::string_view new_root);

}  // namespace comity::audit

#endif  // COMITY_SERVICES_AUDIT_MERKLE_H_
