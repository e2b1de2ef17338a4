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
