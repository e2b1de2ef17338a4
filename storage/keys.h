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

// The id at the end of a key that is `prefix` (PartyPrefix, LinkPrefix, ListPrefix) and an id;
// false if `key` is not one.
bool ParseIdAfter(absl::string_view key, absl::string_view prefix, std::string* request_id);

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
// What follows a due key's prefix (DuePrefix, ListDuePrefix): <time, 20 digits>/<id>. Sorts by
// time, then id.
std::string DueSuffix(int64_t unix_micros, absl::string_view request_id);
bool ParseDueSuffix(absl::string_view suffix, int64_t* unix_micros, std::string* request_id);
// ParseDueSuffix of what follows `prefix` in `key`.
bool ParseDueKey(absl::string_view key, absl::string_view prefix, int64_t* unix_micros,
                 std::string* request_id);

// kIndex: requests by the value of one listing filter, for each scope that sees them (as for due
// times: the parties' authorities, and kEveryAuthority once submitted), in creation order and in
// next-due-time order (requests with a running clock only). Empty values.
//   list/<scope>/<dimension>/<value>/<id>
//   listdue/<scope>/<dimension>/<value>/<time, 20 digits>/<id>
// Values hold no '/' but a counterpart's authority name, whose form is fixed.
enum class Dimension : char {
  kSide = 'w',   // value: SideCode
  kState = 's',  // enum values in decimal
  kType = 't',
  kPriority = 'p',
  kInstrument = 'i',   // the profile id
  kCounterpart = 'c',  // the other party's authority name (either party's, for kEveryAuthority)
};
std::string ListPrefix(absl::string_view scope, Dimension dimension, absl::string_view value);
std::string ListKey(absl::string_view scope, Dimension dimension, absl::string_view value,
                    absl::string_view request_id);
std::string ListDuePrefix(absl::string_view scope, Dimension dimension, absl::string_view value);
std::string ListDueKey(absl::string_view scope, Dimension dimension, absl::string_view value,
                       int64_t unix_micros, absl::string_view request_id);

// A side in a key: 'q' requesting, 'r' receiving, '-' none (kEveryAuthority's counters).
inline constexpr char kRequestingCode = 'q';
inline constexpr char kReceivingCode = 'r';
inline constexpr char kNoSideCode = '-';

// kCounters: figures over the submitted requests each scope sees, by side and instrument:
// <scope>/<side code>/<instrument>/<figure>. A figure is a name (requests, pending, ...) or
// type/<RequestType> or ground/<code>.
std::string CounterPrefix(absl::string_view scope);
std::string CounterPrefix(absl::string_view scope, char side);
std::string CounterKey(absl::string_view scope, char side, absl::string_view instrument,
                       absl::string_view figure);
bool ParseCounterKey(absl::string_view key, std::string* scope, char* side, std::string* instrument,
                     std::string* figure);

// kIndex: the live feed, one comity.storage.v1.EventRecord per event: event/<cursor, 20 digits>.
std::string EventPrefix();
std::string EventKey(uint64_t cursor);

// kIndex, on the requesting node: fetch/<request id>/<package, 6 digits> -> "", a delivered
// package of a request another node keeps that is not fetched here yet (DerivedKeys).
inline constexpr char kFetchPrefix[] = "fetch/";
std::string FetchKey(absl::string_view request_id, int package);
// The parts of a FetchKey; false if `key` is not one.
bool ParseFetchKey(absl::string_view key, std::string* request_id, int* package);

// kIdempotency: one record per (principal, client request id).
std::string IdempotencyKey(absl::string_view principal, absl::string_view request_id);

// kTlog: the hash of the perfect subtree at `level` covering leaves
// [index * 2^level, (index + 1) * 2^level). Level 0 holds the leaves.
std::string TlogNodeKey(int level, uint64_t index);

// kEvidence: an evidence package's chunks by item and offset, and each item's upload progress:
//   <request id>/<package, 6 digits>/<item index, 4 digits>/c<end, 20 digits>
//       -> "<offset> <length>" of the sealed chunk in the item's file, decimal
//   <request id>/<package, 6 digits>/<item index, 4 digits>/p
//       -> "<durable bytes> <file bytes they take>", decimal
// A chunk is keyed by the offset it ends at, so a seek to just past an offset finds the chunk
// that holds it. kEvidenceKeys: <request id>/<package, 6 digits> -> the wrapped data key.
std::string PackagePrefix(absl::string_view request_id, int package);
std::string ItemPrefix(absl::string_view request_id, int package, int item);
std::string ChunkPrefix(absl::string_view request_id, int package, int item);
std::string ChunkKey(absl::string_view request_id, int package, int item, uint64_t end);
// The end offset of a key that is ChunkPrefix and an offset; false if `key` is not one.
bool ParseChunkKey(absl::string_view key, absl::string_view prefix, uint64_t* end);
// The parts of a PackageKeyKey; false if `key` is not one.
bool ParsePackageKeyKey(absl::string_view key, std::string* request_id, int* package);
std::string ProgressKey(absl::string_view request_id, int package, int item);
std::string PackageKeyKey(absl::string_view request_id, int package);
// The first key after every key that starts with `prefix` (which does not end in 0xff): the end
// of the prefix's range.
std::string PrefixEnd(absl::string_view prefix);

// kOutbox: <peer node>\0<position, 20 digits> -> comity.storage.v1.OutboxMessage, the position
// being the Merkle log leaf of the entry that queued it (so increasing, and one per entry).
// kMirror: <request id> -> comity.v1.MirroredTrail.
std::string OutboxPrefix(absl::string_view peer);
std::string OutboxKey(absl::string_view peer, uint64_t position);
bool ParseOutboxKey(absl::string_view key, absl::string_view peer, uint64_t* position);

// kMeta.
inline constexpr char kSchemaVersionKey[] = "schema_version";
inline constexpr char kDirectoryKey[] = "directory";  // comity.storage.v1.DirectoryRecord
inline constexpr char kTlogSizeKey[] = "tlog_size";   // leaves in the Merkle log, decimal
// The largest checkpoint of peer `node`'s log this node cosigned (WitnessedCheckpoint).
std::string WitnessKey(absl::string_view node);

// The audit trail of the directory's changes (kAudit, AuditKey(kDirectoryTrail, seq)). Request ids
// are upper-case, so this never collides with a request's trail.
inline constexpr char kDirectoryTrail[] = "directory";
// The store's layout. Version 1 lacked the listing indexes (list/, listdue/) and kCounters,
// version 2 the fetch index (fetch/); the engine derives what is missing from the records when it
// starts on such a store.
inline constexpr char kSchemaVersion[] = "3";
inline constexpr char kSchemaVersion2[] = "2";
inline constexpr char kSchemaVersion1[] = "1";

}  // namespace comity::storage

#endif  // COMITY_STORAGE_KEYS_H_
