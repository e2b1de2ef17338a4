#include "storage/keys.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

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

namespace {

std::string Digits(uint64_t n) { return absl::StrFormat("%020d", n); }

}  // namespace

std::string TimerPrefix() { return "timer/"; }

std::string TimerKey(int64_t unix_micros, absl::string_view request_id, absl::string_view clock,
                     bool warning) {
  return absl::StrCat(TimerPrefix(), Digits(unix_micros < 0 ? 0 : unix_micros), "/", request_id,
                      "/", clock, warning ? "/w" : "/d");
}

bool ParseTimerKey(absl::string_view key, int64_t* unix_micros, std::string* request_id,
                   std::string* clock, bool* warning) {
  if (!absl::ConsumePrefix(&key, TimerPrefix())) return false;
  std::vector<absl::string_view> parts = absl::StrSplit(key, '/');
  if (parts.size() != 4 || (parts[3] != "w" && parts[3] != "d")) return false;
  if (!absl::SimpleAtoi(parts[0], unix_micros)) return false;
  *request_id = std::string(parts[1]);
  *clock = std::string(parts[2]);
  *warning = parts[3] == "w";
  return true;
}

std::string DuePrefix(absl::string_view scope) { return absl::StrCat("due/", scope, "/"); }

std::string DueKey(absl::string_view scope, int64_t unix_micros, absl::string_view request_id) {
  return absl::StrCat(DuePrefix(scope), Digits(unix_micros < 0 ? 0 : unix_micros), "/", request_id);
}

std::string EventPrefix() { return "event/"; }

std::string EventKey(uint64_t cursor) { return absl::StrCat(EventPrefix(), Digits(cursor)); }

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
