#include "services/audit/log.h"

#include "services/audit/merkle.h"

namespace comity::audit {

absl::StatusOr<LogAppender> LogAppender::Resume(
    uint64_t size, const std::function<absl::StatusOr<std::string>(int, uint64_t)>& node) {
  LogAppender log;
  log.size_ = size;
  for (int level = 0; level < 64; ++level) {
    if (((size >> level) & 1) == 0) continue;
    absl::StatusOr<std::string> h = node(level, (size >> level) - 1);
    if (!h.ok()) return h.status();
    if (log.range_.size() <= static_cast<size_t>(level)) log.range_.resize(level + 1);
    log.range_[level] = *std::move(h);
  }
  return log;
}

std::vector<LogAppender::Node> LogAppender::Append(std::string leaf_hash) {
  std::vector<Node> out;
  std::string h = std::move(leaf_hash);
  uint64_t index = size_;
  int level = 0;
  out.push_back({0, index, h});
  while (((size_ >> level) & 1) != 0) {
    h = NodeHash(*range_[level], h);
    range_[level].reset();
    ++level;
    index >>= 1;
    out.push_back({level, index, h});
  }
  if (range_.size() <= static_cast<size_t>(level)) range_.resize(level + 1);
  range_[level] = std::move(h);
  ++size_;
  return out;
}

std::string LogAppender::Root() const {
  std::optional<std::string> root;
  for (const std::optional<std::string>& h : range_) {
    if (!h) continue;
    root = root ? NodeHash(*h, *root) : *h;
  }
  return root ? *root : EmptyRoot();
}

}  // namespace comity::audit
