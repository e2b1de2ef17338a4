#ifndef COMITY_STORAGE_KEYS_H_
#define COMITY_STORAGE_KEYS_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace comity::storage {

// Key layout (DESIGN.md §7). Ids are fixed-length, so prefixes never collide.

// kAudit: <request id><sequence as 8 bytes big-endian>. Scans return entries in order.
std::string AuditKey(absl::string_view request_id, uint64_t sequence);
std::string AuditPrefix(absl::string_view request_id);

// kIndex: every request an authority can see, by id (time order). The value names the side.
std::string PartyPrefix(absl::string_view authority);
std::string PartyKey(absl::string_view authority, absl::string_view request_id);

// kIndex: follow-up requests that hold a preservation.
std::string LinkPrefix(absl::string_view preservation_id);
std::string LinkKey(absl::string_view preservation_id, absl::string_view follow_up_id);

// kIndex: the timers of requests' clocks, by the time they fire (microseconds since the epoch,
// 20 decimal digits): timer/<time>/<id>/<clock>/<w: warning | d: due>.
std::string TimerPrefix();
std::string TimerKey(int64_t unix_micros, absl::string_view request_id, absl::string_view clock,
                     bool warning);
// The parts of a timer key; false if `key` is not one.
bool ParseTimerKey(absl::string_view key, int64_t* unix_micros, std::string* request_id,
                   std::string* clock, bool* warning);

// kIndex: requests with a running clock by their next due time, for each authority that is a
// party (scope "authorities/<id>") and for the node as a whole (scope kEveryAuthority):
// due/<scope>/<time>/<id>.
inline constexpr char kEveryAuthority[] = "*";
std::string DuePrefix(absl::string_view scope);
std::string DueKey(absl::string_view scope, int64_t unix_micros, absl::string_view request_id);

// kIndex: the live feed, one comity.storage.v1.EventRecord per event: event/<cursor, 20 digits>.
std::string EventPrefix();
std::string EventKey(uint64_t cursor);

// kIdempotency: one record per (principal, client request id).
std::string IdempotencyKey(absl::string_view principal, absl::string_view request_id);

// kTlog: the hash of the perfect subtree at `level` covering leaves
// [index * 2^level, (index + 1) * 2^level). Level 0 holds the leaves.
std::string TlogNodeKey(int level, uint64_t index);

// kMeta.
inline constexpr char kSchemaVersionKey[] = "schema_version";
inline constexpr char kDirectoryKey[] = "directory";  // comity.storage.v1.DirectoryRecord
inline constexpr char kTlogSizeKey[] = "tlog_size";   // leaves in the Merkle log, decimal

// The audit trail of the directory's changes (kAudit, AuditKey(kDirectoryTrail, seq)). Request ids
// are upper-case, so this never collides with a request's trail.
inline constexpr char kDirectoryTrail[] = "directory";
inline constexpr char kSchemaVersion[] = "1";

}  // namespace comity::storage

#endif  // COMITY_STORAGE_KEYS_H_
