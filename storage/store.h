#ifndef COMITY_STORAGE_STORE_H_
#define COMITY_STORAGE_STORE_H_

#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/faults.h"

namespace comity::storage {

// The key spaces of the store (RocksDB column families). storage/keys.h builds their keys.
enum class Column {
  kRequests,     // <request id> -> comity.v1.Request
  kAudit,        // <request id><seq u64 big-endian> -> comity.v1.AuditEntry bytes
  kIndex,        // party/<authority>/<id>, link/<preservation id>/<follow-up id>
  kIdempotency,  // <principal>\0<request_id> -> comity.storage.v1.IdempotencyRecord
  kMeta,         // schema version, node identity, directory
  kTlog,         // Merkle log nodes: <level u8><index u64 big-endian> -> SHA-256
};
inline constexpr int kColumnCount = 6;

// A set of writes applied together by Store::Commit.
class WriteSet {
 public:
  struct Write {
    Column column;
    std::string key;
    std::string value;
    bool erase = false;
  };

  void Put(Column column, std::string key, std::string value) {
    writes_.push_back({column, std::move(key), std::move(value), false});
  }
  void Delete(Column column, std::string key) {
    writes_.push_back({column, std::move(key), std::string(), true});
  }
  // Appends `later`'s writes, which apply after these.
  void Append(WriteSet later) {
    writes_.insert(writes_.end(), std::make_move_iterator(later.writes_.begin()),
                   std::make_move_iterator(later.writes_.end()));
  }
  const std::vector<Write>& writes() const { return writes_; }
  bool empty() const { return writes_.empty(); }
  void Clear() { writes_.clear(); }

 private:
  std::vector<Write> writes_;
};

// Store is a durable, ordered map from keys to values with atomic multi-key commits.
// Thread-safe: any number of readers; Commit calls are serialized by the caller (the engine).
class Store {
 public:
  virtual ~Store() = default;

  // Returns the value at `key`, or NOT_FOUND. UNAVAILABLE / DATA_LOSS on I/O trouble.
  virtual absl::StatusOr<std::string> Get(Column column, absl::string_view key) const = 0;

  // Calls `fn(key, value)` for each key starting with `prefix`, in key order, beginning after
  // `start_after` when it is not empty, until `fn` returns false.
  using ScanFn = std::function<bool(absl::string_view key, absl::string_view value)>;
  virtual absl::Status Scan(Column column, absl::string_view prefix, absl::string_view start_after,
                            const ScanFn& fn) const = 0;

  // Applies every write in `batch` atomically and durably (fsync) before returning.
  // Returns UNAVAILABLE on an I/O error; after one, the store refuses further commits.
  virtual absl::Status Commit(const WriteSet& batch) = 0;
};

struct RocksDbOptions {
  bool create_if_missing = true;
  // 32 bytes: every file is encrypted with AES-256 (CTR). Empty: files are not encrypted.
  std::string encryption_key;
  // Tests only: every file goes through a file system that fails as `faults` says.
  std::shared_ptr<FaultInjector> faults;
};

// Opens (creating if allowed) the RocksDB store in `dir`. FAILED_PRECONDITION if the directory
// holds data of an unknown schema version, or if the encryption key is wrong or missing (checked
// before anything is opened); UNAVAILABLE if it cannot be opened (e.g. locked by another process).
absl::StatusOr<std::unique_ptr<Store>> OpenRocksDbStore(const std::string& dir,
                                                        const RocksDbOptions& options = {});

}  // namespace comity::storage

#endif  // COMITY_STORAGE_STORE_H_
