#ifndef COMITY_STORAGE_STORE_H_
#define COMITY_STORAGE_STORE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/faults.h"

namespace comity::storage {

// The key spaces of the store (RocksDB column families). storage/keys.h builds and parses every
// key (DESIGN.md §7).
enum class Column {
  kRequests,      // <request id> -> comity.v1.Request
  kAudit,         // <request id><seq u64 big-endian> -> comity.v1.AuditEntry bytes
  kIndex,         // listings, links, timers, due times, the live feed
  kIdempotency,   // <principal>\0<request_id> -> comity.storage.v1.IdempotencyRecord
  kMeta,          // schema version, node identity, directory
  kTlog,          // Merkle log nodes: <level u8><index u64 big-endian> -> SHA-256
  kCounters,      // figures kept per authority: int64 sums, written as deltas (WriteSet::Add)
  kEvidence,      // where evidence chunks lie in their files, and each item's upload progress
  kEvidenceKeys,  // each evidence package's data key, wrapped by the node's key
  kOutbox,        // federation: messages for each peer, in order (OutboxKey)
  kMirror,        // federation: the system of record's trail of a request, as a bundle
};
inline constexpr int kColumnCount = 11;

// Each column's RocksDB column family name. Listed in the enum's order: the static_assert below
// fails the build if they part.
inline constexpr std::array<std::pair<Column, const char*>, kColumnCount> kColumnNames = {{
    {Column::kRequests, "requests"},
    {Column::kAudit, "audit"},
    {Column::kIndex, "index"},
    {Column::kIdempotency, "idempotency"},
    {Column::kMeta, "meta"},
    {Column::kTlog, "tlog"},
    {Column::kCounters, "counters"},
    {Column::kEvidence, "evidence"},
    {Column::kEvidenceKeys, "evidence_keys"},
    {Column::kOutbox, "outbox"},
    {Column::kMirror, "mirror"},
}};
constexpr bool ColumnNamesInEnumOrder() {
  for (int i = 0; i < kColumnCount; ++i) {
    if (static_cast<int>(kColumnNames[i].first) != i) return false;
  }
  return true;
}
static_assert(ColumnNamesInEnumOrder(), "kColumnNames must list every Column in enum order");
constexpr const char* ColumnName(Column c) { return kColumnNames[static_cast<int>(c)].second; }

// A counter's stored value: a signed 64-bit integer, 8 bytes little-endian. The sum of every
// delta written to its key.
std::string EncodeCounter(int64_t value);
// False unless `bytes` is a counter's value.
bool DecodeCounter(absl::string_view bytes, int64_t* value);

// A set of writes applied together by Store::Commit.
class WriteSet {
 public:
  enum class Op { kPut, kDelete, kAdd, kDeleteRange };
  struct Write {
    Column column;
    std::string key;
    std::string value;
    Op op = Op::kPut;
  };

  void Put(Column column, std::string key, std::string value) {
    bytes_ += key.size() + value.size();
    writes_.push_back({column, std::move(key), std::move(value), Op::kPut});
  }
  void Delete(Column column, std::string key) {
    bytes_ += key.size();
    writes_.push_back({column, std::move(key), std::string(), Op::kDelete});
  }
  // Deletes every key of `column` in [begin, end).
  void DeleteRange(Column column, std::string begin, std::string end) {
    bytes_ += begin.size() + end.size();
    writes_.push_back({column, std::move(begin), std::move(end), Op::kDeleteRange});
  }
  // Adds `delta` to the counter at `key` (Column::kCounters only); a counter never written is 0.
  void Add(std::string key, int64_t delta) {
    bytes_ += key.size() + sizeof(delta);
    writes_.push_back({Column::kCounters, std::move(key), EncodeCounter(delta), Op::kAdd});
  }
  // Appends `later`'s writes, which apply after these.
  void Append(WriteSet later) {
    bytes_ += later.bytes_;
    writes_.insert(writes_.end(), std::make_move_iterator(later.writes_.begin()),
                   std::make_move_iterator(later.writes_.end()));
  }
  const std::vector<Write>& writes() const { return writes_; }
  bool empty() const { return writes_.empty(); }
  // The keys' and values' bytes: what a commit carries, for capping commit groups.
  size_t ByteSize() const { return bytes_; }
  void Clear() {
    writes_.clear();
    bytes_ = 0;
  }

 private:
  std::vector<Write> writes_;
  size_t bytes_ = 0;
};

// A position in one column, bounded to the keys that start with a prefix. Not thread-safe.
class Cursor {
 public:
  virtual ~Cursor() = default;
  // Moves to the first key at or after `target` (which starts with the prefix).
  virtual void Seek(absl::string_view target) = 0;
  virtual void Next() = 0;
  // False before the first Seek, past the prefix's last key, or after an error (then status()
  // says which).
  virtual bool Valid() const = 0;
  virtual absl::string_view key() const = 0;
  virtual absl::string_view value() const = 0;
  virtual absl::Status status() const = 0;
};

// What an operator watches of the storage engine.
struct StoreStats {
  uint64_t pending_compaction_bytes = 0;  // compaction debt, summed over the columns
  uint64_t write_stalls = 0;              // writes slowed down or stopped since the store opened
  bool writes_stopped = false;            // writes are stopped right now
  uint64_t background_jobs = 0;           // flushes due or running, compactions running
  // The memory budget (RocksDbOptions::cache_bytes) and what is charged to it now: data, index
  // and filter blocks, and the memtables.
  uint64_t cache_capacity_bytes = 0;
  uint64_t cache_usage_bytes = 0;
  uint64_t memtable_bytes = 0;  // the memtables' share of cache_usage_bytes
  // Memory the table readers hold outside the budget (small: their index and filter blocks are
  // in the cache).
  uint64_t table_reader_bytes = 0;
};

// Store is a durable, ordered map from keys to values with atomic multi-key commits.
// Thread-safe: any number of readers; Commit calls are serialized by the caller (the engine).
class Store {
 public:
  virtual ~Store() = default;

  // Returns the value at `key`, or NOT_FOUND. UNAVAILABLE / DATA_LOSS on I/O trouble.
  virtual absl::StatusOr<std::string> Get(Column column, absl::string_view key) const = 0;

  // Get for each of `keys`, answered in their order, from one consistent view of the store; a
  // page's records in one call cost less than as many Gets (RocksDB batches the lookups and the
  // block reads).
  virtual std::vector<absl::StatusOr<std::string>> MultiGet(
      Column column, const std::vector<std::string>& keys) const {
    std::vector<absl::StatusOr<std::string>> out;
    out.reserve(keys.size());
    for (const std::string& key : keys) out.push_back(Get(column, key));
    return out;
  }

  // Calls `fn(key, value)` for each key starting with `prefix`, in key order, beginning after
  // `start_after` when it is not empty, until `fn` returns false.
  using ScanFn = std::function<bool(absl::string_view key, absl::string_view value)>;
  virtual absl::Status Scan(Column column, absl::string_view prefix, absl::string_view start_after,
                            const ScanFn& fn) const = 0;

  // A cursor over the keys of `column` that start with `prefix`, unpositioned until a Seek.
  virtual std::unique_ptr<Cursor> NewCursor(Column column, absl::string_view prefix) const = 0;

  // Applies every write in `batch` atomically and durably (fsync) before returning.
  // Returns UNAVAILABLE on an I/O error; after one, the store refuses further commits.
  virtual absl::Status Commit(const WriteSet& batch) = 0;

  // Rewrites what holds `column`'s keys in [begin, end) so that no file of the store keeps a
  // value deleted there any more: the logs written before it and the tables (an erased evidence
  // key must not survive in an older file). Durable when it returns.
  virtual absl::Status Scrub(Column /*column*/, absl::string_view /*begin*/,
                             absl::string_view /*end*/) {
    return absl::UnimplementedError("this store cannot scrub deleted values");
  }

  // The storage engine's figures for /metrics; zeros where a store has none.
  virtual StoreStats Stats() const { return {}; }
};

struct RocksDbOptions {
  bool create_if_missing = true;
  // 32 bytes: every file is encrypted with AES-256 (CTR). Empty: files are not encrypted.
  std::string encryption_key;
  // Tests only: every file goes through a file system that fails as `faults` says.
  std::shared_ptr<FaultInjector> faults;
  // The store's memory budget: one LRU block cache that holds the tables' data, index and filter
  // blocks, with the memtables (up to a quarter of it) charged against it, so resident memory
  // stays near this figure however large the store grows. 0: kDefaultCacheBytes.
  uint64_t cache_bytes = 0;
};

inline constexpr uint64_t kDefaultCacheBytes = uint64_t{512} << 20;

// Opens (creating if allowed) the RocksDB store in `dir`. FAILED_PRECONDITION if the directory
// holds data of an unknown schema version, or if the encryption key is wrong or missing (checked
// before anything is opened); UNAVAILABLE if it cannot be opened (e.g. locked by another process).
absl::StatusOr<std::unique_ptr<Store>> OpenRocksDbStore(const std::string& dir,
                                                        const RocksDbOptions& options = {});

}  // namespace comity::storage

#endif  // COMITY_STORAGE_STORE_H_
