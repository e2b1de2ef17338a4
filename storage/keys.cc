#include "storage/keys.h"

#include "absl/strings/str_cat.h"

namespace comity::storage {

std::string AuditKey(absl::string_view request_id, uint64_t sequence) {
  std::string key(request_id);
  for (int shift = 56; shift >= 0; shift -= 8) {
    key.push_back(static_cast<char>((sequence >> shift) & 0xff));
  }
  return key;
}

std::string AuditPrefix(absl::string_view request_id) { return std::string(request_id); }

std::string PartyPrefix(absl::string_view authority) {
  return absl::StrCat("party/", authority, "/");
}

std::string PartyKey(absl::string_view authority, absl::string_view request_id) {
  return absl::StrCat(PartyPrefix(authority), request_id);
}

std::string LinkPrefix(absl::string_view preservation_id) {
  return absl::StrCat("link/", preservation_id, "/");
}

std::string LinkKey(absl::string_view preservation_id, absl::string_view follow_up_id) {
  return absl::StrCat(LinkPrefix(preservation_id), follow_up_id);
}

std::string TlogNodeKey(int level, uint64_t index) {
  std::string key(1, static_cast<char>(level));
  for (int shift = 56; shift >= 0; shift -= 8) {
    key.push_back(static_cast<char>((index >> shift) & 0xff));
  }
  return key;
}

std::string IdempotencyKey(absl::string_view principal, absl::string_view request_id) {
  return absl::StrCat(principal, absl::string_view("\0", 1), request_id);
}

}  // namespace comity::storage
