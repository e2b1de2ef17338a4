#ifndef COMITY_SERVICES_EVIDENCE_CHUNK_STORE_H_
#define COMITY_SERVICES_EVIDENCE_CHUNK_STORE_H_

// The bytes of evidence packages (DESIGN.md §12): each item's chunks sealed under the package's
// data key (AES-256-GCM, a fresh nonce per chunk, bound to its package, item and offset), the
// data key wrapped by the node's key. Destroying the data key erases the package.
//
// The sealed chunks are appended to one file per item under the evidence directory beside the
// store (<dir>/<request id>/<package>/<item>), and the store indexes them: each chunk's place in
// its file, the item's progress, and the wrapped key, in the store's own synced batches. A chunk
// is durable before Append returns: its bytes synced to the file, then its index entry committed.
// Bytes past the last committed entry (a crash between the two) are never read and are
// overwritten by the next chunk. Files, not the store's values: a chunk is written once instead
// of twice (log, then table), holds no memtable memory, and a full disk fails the one upload
// instead of stopping the store (BENCHMARKS.md, "Evidence transfers").
//
// Writes go beside the engine: the engine records what the chunks amount to (UPLOAD_ITEM,
// ERASE_PACKAGE) on the request's trail.

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "storage/store.h"

namespace comity::evidence {

inline constexpr size_t kMaxChunkBytes = 4 << 20;

// An item of a package: the request's id, the package's number and the item's index.
struct ItemRef {
  std::string request_id;
  int package = 0;
  int item = 0;
};

struct ChunkStoreOptions {
  std::string dir;       // the evidence directory: the items' files
  std::string node_key;  // kKeySize bytes: wraps every package's data key
  // The disk keeps this many bytes free: a chunk that would leave less is refused with
  // RESOURCE_EXHAUSTED, before anything is written, and the upload resumes once space is freed.
  uint64_t reserve_bytes = uint64_t{1} << 30;
  // The free bytes of the data directory's file system.
  std::function<absl::StatusOr<uint64_t>()> free_bytes;
};

// The free bytes of the file system holding `dir` (statvfs), for ChunkStoreOptions::free_bytes.
absl::StatusOr<uint64_t> FreeBytes(const std::string& dir);

class ChunkStore {
 public:
  ChunkStore(storage::Store* store, ChunkStoreOptions options);

  // How many bytes of the item are durable: the offset its next chunk starts at.
  absl::StatusOr<uint64_t> Durable(const ItemRef& item) const;

  // Appends `data` at `offset`, which must be the item's durable bytes (FAILED_PRECONDITION
  // naming them otherwise), and returns the new durable bytes. `still_open` runs first, under
  // the package's lock that Purge takes too: an error from it (the package was erased or is
  // complete) is returned and nothing is written. RESOURCE_EXHAUSTED when the disk is nearly full.
  absl::StatusOr<uint64_t> Append(const ItemRef& item, uint64_t offset, absl::string_view data,
                                  const std::function<absl::Status()>& still_open);

  // Append in two steps, so that a chunk can be sealed while the one before it is written: the
  // chunk `data` at `offset` sealed (the package's key made on first use), then written (as
  // Append, given the sealed bytes and the plaintext's size).
  absl::StatusOr<std::string> SealChunk(const ItemRef& item, uint64_t offset,
                                        absl::string_view data);
  absl::StatusOr<uint64_t> AppendSealed(const ItemRef& item, uint64_t offset, uint64_t size,
                                        absl::string_view sealed,
                                        const std::function<absl::Status()>& still_open);

  // Calls `fn(offset, bytes)` for the item's durable bytes from `offset` on, in order, one
  // chunk (or the part of it from `offset`) at a time, until `fn` returns false. DATA_LOSS if a
  // chunk fails authentication; FAILED_PRECONDITION if the package's key is gone (erased).
  using ReadFn = std::function<bool(uint64_t offset, std::string bytes)>;
  absl::Status Read(const ItemRef& item, uint64_t offset, const ReadFn& fn) const;

  // Drops the item's bytes, so that its upload starts again from 0.
  absl::Status Reset(const ItemRef& item);

  // Deletes the package's data key, chunk index and files, then scrubs the key from the store's
  // files.
  // For a package whose ERASE_PACKAGE entry is committed (the entry deleted the key already).
  absl::Status Purge(const std::string& request_id, int package);

  // The packages that hold a data key: (request id, package number), in key order.
  absl::StatusOr<std::vector<std::pair<std::string, int>>> KeyedPackages() const;

 private:
  // The package's data key, unwrapped; made and stored first if `create` and there is none.
  absl::StatusOr<std::string> DataKey(const std::string& request_id, int package,
                                      bool create) const;
  absl::Mutex& LockOf(const std::string& request_id, int package) const;
  std::string PackageDir(const std::string& request_id, int package) const;
  std::string ItemFile(const ItemRef& item) const;
  // The item's durable bytes and the length of its file they take.
  absl::Status Progress(const ItemRef& item, uint64_t* durable, uint64_t* file_end) const;

  storage::Store* const store_;
  const ChunkStoreOptions options_;
  mutable std::array<absl::Mutex, 16> locks_;
};

}  // namespace comity::evidence

#endif  // COMITY_SERVICES_EVIDENCE_CHUNK_STORE_H_
