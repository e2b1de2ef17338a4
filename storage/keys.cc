#include "storage/keys.h"

#include <cstring>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/ids.h"

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
constexpr size_t kDigits = 20;

}  // namespace

bool ParseIdAfter(absl::string_view key, absl::string_view prefix, std::string* request_id) {
  if (!absl::ConsumePrefix(&key, prefix) || !IsValidId(std::string(key))) return false;
  *request_id = std::string(key);
  return true;
}

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

std::string DueSuffix(int64_t unix_micros, absl::string_view request_id) {
  return absl::StrCat(Digits(unix_micros < 0 ? 0 : unix_micros), "/", request_id);
}

bool ParseDueSuffix(absl::string_view suffix, int64_t* unix_micros, std::string* request_id) {
  if (suffix.size() < kDigits + 2 || suffix[kDigits] != '/') return false;
  absl::string_view digits = suffix.substr(0, kDigits);
  absl::string_view id = suffix.substr(kDigits + 1);
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  if (!absl::SimpleAtoi(digits, unix_micros) || !IsValidId(std::string(id))) return false;
  *request_id = std::string(id);
  return true;
}

bool ParseDueKey(absl::string_view key, absl::string_view prefix, int64_t* unix_micros,
                 std::string* request_id) {
  return absl::ConsumePrefix(&key, prefix) && ParseDueSuffix(key, unix_micros, request_id);
}

std::string ListPrefix(absl::string_view scope, Dimension dimension, absl::string_view value) {
  return absl::StrCat("list/", scope, "/", std::string(1, static_cast<char>(dimension)), "/", value,
                      "/");
}

std::string ListKey(absl::string_view scope, Dimension dimension, absl::string_view value,
                    absl::string_view request_id) {
  return absl::StrCat(ListPrefix(scope, dimension, value), request_id);
}

std::string ListDuePrefix(absl::string_view scope, Dimension dimension, absl::string_view value) {
  return absl::StrCat("listdue/", scope, "/", std::string(1, static_cast<char>(dimension)), "/",
                      value, "/");
}

std::string ListDueKey(absl::string_view scope, Dimension dimension, absl::string_view value,
                       int64_t unix_micros, absl::string_view request_id) {
  return absl::StrCat(ListDuePrefix(scope, dimension, value), DueSuffix(unix_micros, request_id));
}

std::string CounterPrefix(absl::string_view scope) { return absl::StrCat(scope, "/"); }

std::string CounterPrefix(absl::string_view scope, char side) {
  return absl::StrCat(scope, "/", std::string(1, side), "/");
}

std::string CounterKey(absl::string_view scope, char side, absl::string_view instrument,
                       absl::string_view figure) {
  return absl::StrCat(CounterPrefix(scope, side), instrument, "/", figure);
}

bool ParseCounterKey(absl::string_view key, std::string* scope, char* side, std::string* instrument,
                     std::string* figure) {
  // The scope: kEveryAuthority, or authorities/<id>.
  size_t scope_end;
  if (absl::StartsWith(key, absl::StrCat(kEveryAuthority, "/"))) {
    scope_end = strlen(kEveryAuthority);
  } else if (absl::StartsWith(key, "authorities/")) {
    scope_end = key.find('/', strlen("authorities/"));
    if (scope_end == absl::string_view::npos) return false;
  } else {
    return false;
  }
  absl::string_view rest = key.substr(scope_end);  // "/<side>/<instrument>/<figure>"
  if (rest.size() < 3 || rest[0] != '/' || rest[2] != '/') return false;
  const char code = rest[1];
  if (code != kRequestingCode && code != kReceivingCode && code != kNoSideCode) return false;
  rest.remove_prefix(3);
  const size_t slash = rest.find('/');
  if (slash == absl::string_view::npos || slash == 0 || slash + 1 == rest.size()) return false;
  *scope = std::string(key.substr(0, scope_end));
  *side = code;
  *instrument = std::string(rest.substr(0, slash));
  *figure = std::string(rest.substr(slash + 1));
  return true;
}

std::string EventPrefix() { return "event/"; }

std::string FetchKey(absl::string_view request_id, int package) {
  return absl::StrCat(kFetchPrefix, PackageKeyKey(request_id, package));
}

bool ParseFetchKey(absl::string_view key, std::string* request_id, int* package) {
  return absl::ConsumePrefix(&key, kFetchPrefix) && ParsePackageKeyKey(key, request_id, package);
}

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

std::string PackageKeyKey(absl::string_view request_id, int package) {
  return absl::StrFormat("%s/%06d", request_id, package);
}

std::string PackagePrefix(absl::string_view request_id, int package) {
  return absl::StrCat(PackageKeyKey(request_id, package), "/");
}

std::string ItemPrefix(absl::string_view request_id, int package, int item) {
  return absl::StrFormat("%s%04d/", PackagePrefix(request_id, package), item);
}

std::string ChunkPrefix(absl::string_view request_id, int package, int item) {
  return absl::StrCat(ItemPrefix(request_id, package, item), "c");
}

std::string ChunkKey(absl::string_view request_id, int package, int item, uint64_t end) {
  return absl::StrCat(ChunkPrefix(request_id, package, item), Digits(end));
}

bool ParseChunkKey(absl::string_view key, absl::string_view prefix, uint64_t* end) {
  if (!absl::ConsumePrefix(&key, prefix) || key.size() != kDigits) return false;
  for (char c : key) {
    if (c < '0' || c > '9') return false;
  }
  return absl::SimpleAtoi(key, end);
}

std::string OutboxPrefix(absl::string_view peer) {
  return absl::StrCat(peer, absl::string_view("\0", 1));
}

std::string OutboxKey(absl::string_view peer, uint64_t position) {
  return absl::StrCat(OutboxPrefix(peer), Digits(position));
}

bool ParseOutboxKey(absl::string_view key, absl::string_view peer, uint64_t* position) {
  return ParseChunkKey(key, OutboxPrefix(peer), position);
}

std::string ProgressKey(absl::string_view request_id, int package, int item) {
  return absl::StrCat(ItemPrefix(request_id, package, item), "p");
}

bool ParsePackageKeyKey(absl::string_view key, std::string* request_id, int* package) {
  const size_t slash = key.rfind('/');
  if (slash == absl::string_view::npos || key.size() - slash - 1 != 6) return false;
  absl::string_view digits = key.substr(slash + 1);
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  if (!IsValidId(std::string(key.substr(0, slash)))) return false;
  *request_id = std::string(key.substr(0, slash));
  return absl::SimpleAtoi(digits, package);
}

std::string PrefixEnd(absl::string_view prefix) {
  std::string end(prefix);
  if (!end.empty()) end.back() = static_cast<char>(end.back() + 1);
  return end;
}

std::string WitnessKey(absl::string_view node) { return absl::StrCat("witness/", node); }

}  // namespace comity::storage
