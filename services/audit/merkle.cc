#include "services/audit/merkle.h"

#include "absl/strings/str_cat.h"
#include "common/sha256.h"

namespace comity::audit {
namespace {

// The largest power of two smaller than n (n > 1).
uint64_t Split(uint64_t n) {
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

bool Lsb(uint64_t x) { return (x & 1) != 0; }

}  // namespace

std::string LeafHash(absl::string_view entry) {
  return Sha256(absl::StrCat(absl::string_view("\0", 1), entry));
}

std::string NodeHash(absl::string_view left, absl::string_view right) {
  return Sha256(absl::StrCat("\x01", left, right));
}

std::string EmptyRoot() { return Sha256(""); }

std::string MerkleTree::Range(uint64_t begin, uint64_t end) {
  const uint64_t n = end - begin;
  if (n == 0) return EmptyRoot();
  if (n == 1) return leaves_[begin];
  auto it = memo_.find({begin, end});
  if (it != memo_.end()) return it->second;
  const uint64_t k = Split(n);
  std::string h = NodeHash(Range(begin, begin + k), Range(begin + k, end));
  memo_.emplace(std::make_pair(begin, end), h);
  return h;
}

std::string MerkleTree::Root(uint64_t size) { return Range(0, size); }

namespace {

void Path(const RangeHash& range, uint64_t index, uint64_t begin, uint64_t end,
          std::vector<std::string>* out) {
  const uint64_t n = end - begin;
  if (n <= 1) return;
  const uint64_t k = Split(n);
  if (index < k) {
    Path(range, index, begin, begin + k, out);
    out->push_back(range(begin + k, end));
  } else {
    Path(range, index - k, begin + k, end, out);
    out->push_back(range(begin, begin + k));
  }
}

void SubProof(const RangeHash& range, uint64_t m, uint64_t begin, uint64_t end, bool whole,
              std::vector<std::string>* out) {
  const uint64_t n = end - begin;
  if (m == n) {
    if (!whole) out->push_back(range(begin, end));
    return;
  }
  const uint64_t k = Split(n);
  if (m <= k) {
    SubProof(range, m, begin, begin + k, whole, out);
    out->push_back(range(begin + k, end));
  } else {
    SubProof(range, m - k, begin + k, end, false, out);
    out->push_back(range(begin, begin + k));
  }
}

}  // namespace

std::vector<std::string> InclusionProof(const RangeHash& range, uint64_t index, uint64_t size) {
  std::vector<std::string> out;
  if (index < size) Path(range, index, 0, size, &out);
  return out;
}

std::vector<std::string> ConsistencyProof(const RangeHash& range, uint64_t old_size,
                                          uint64_t new_size) {
  std::vector<std::string> out;
  if (old_size > 0 && old_size <= new_size) SubProof(range, old_size, 0, new_size, true, &out);
  return out;
}

std::vector<std::string> MerkleTree::InclusionProof(uint64_t index, uint64_t size) {
  if (size > leaves_.size()) return {};
  return audit::InclusionProof([this](uint64_t b, uint64_t e) { return Range(b, e); }, index, size);
}

std::vector<std::string> MerkleTree::ConsistencyProof(uint64_t old_size, uint64_t new_size) {
  if (new_size > leaves_.size()) return {};
  return audit::ConsistencyProof([this](uint64_t b, uint64_t e) { return Range(b, e); }, old_size,
                                 new_size);
}

absl::Status VerifyInclusion(uint64_t index, uint64_t size, absl::string_view leaf_hash,
                             const std::vector<std::string>& proof, absl::string_view root) {
  if (index >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat("leaf ", index, " cannot be in a tree of ", size, " leaves"));
  }
  uint64_t fn = index, sn = size - 1;
  std::string r(leaf_hash);
  for (const std::string& p : proof) {
    if (sn == 0) return absl::DataLossError("the inclusion proof is longer than the tree allows");
    if (Lsb(fn) || fn == sn) {
      r = NodeHash(p, r);
      if (!Lsb(fn)) {
        while (!Lsb(fn) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return absl::DataLossError("the inclusion proof is shorter than the tree needs");
  if (r != root) {
    return absl::DataLossError("the inclusion proof does not lead to the tree's root");
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t old_size, uint64_t new_size,
                               const std::vector<std::string>& proof, absl::string_view old_root,
                               absl::string_view new_root) {
  if (old_size == 0 || old_size > new_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("no consistency between tree sizes ", old_size, " and ", new_size));
  }
  if (old_size == new_size) {
    if (!proof.empty()) return absl::DataLossError("a proof between equal sizes must be empty");
    if (old_root != new_root) {
      return absl::DataLossError("two different roots for the same tree size: a split view");
    }
    return absl::OkStatus();
  }
  if (proof.empty()) return absl::DataLossError("the consistency proof is empty");
  std::vector<std::string> path;
  // If the old size is a power of two, the old root is the first node of the path.
  if ((old_size & (old_size - 1)) == 0) path.emplace_back(old_root);
  path.insert(path.end(), proof.begin(), proof.end());
  uint64_t fn = old_size - 1, sn = new_size - 1;
  while (Lsb(fn)) {
    fn >>= 1;
    sn >>= 1;
  }
  std::string fr = path[0], sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const std::string& c = path[i];
    if (sn == 0) return absl::DataLossError("the consistency proof is longer than the trees allow");
    if (Lsb(fn) || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      if (!Lsb(fn)) {
        while (!Lsb(fn) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return absl::DataLossError("the consistency proof is shorter than the trees need");
  if (fr != old_root) {
    return absl::DataLossError("the consistency proof does not reproduce the old root");
  }
  if (sr != new_root) {
    return absl::DataLossError("the consistency proof does not reproduce the new root");
  }
  return absl::OkStatus();
}

}  // namespace comity::audit
