#include "services/evidence/chunk_store.h"

#include <sys/statvfs.h>

#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "services/evidence/crypto.h"
#include "storage/keys.h"

namespace comity::evidence {
namespace {

using storage::Column;

constexpr char kWrapLabel[] = "comity evidence data key ";

std::string WrapAad(const std::string& key_key) { return absl::StrCat(kWrapLabel, key_key); }

}  // namespace

absl::StatusOr<uint64_t> FreeBytes(const std::string& dir) {
  struct statvfs st;
  if (statvfs(dir.c_str(), &st) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot read the free space of ", dir));
  }
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

ChunkStore::ChunkStore(storage::Store* store, ChunkStoreOptions options)
    : store_(store), options_(std::move(options)) {}

absl::Mutex& ChunkStore::LockOf(const std::string& request_id, int package) const {
  return locks_[absl::HashOf(request_id, package) % locks_.size()];
}

absl::StatusOr<uint64_t> ChunkStore::Durable(const ItemRef& item) const {
  absl::StatusOr<std::string> progress = store_->Get(
      Column::kEvidence, storage::ProgressKey(item.request_id, item.package, item.item));
  if (absl::IsNotFound(progress.status())) return 0;
  if (!progress.ok()) return progress.status();
  uint64_t durable = 0;
  if (!absl::SimpleAtoi(*progress, &durable)) {
    return absl::DataLossError(absl::StrCat("the upload progress of item ", item.item,
                                            " of package ", item.package, " is unreadable"));
  }
  return durable;
}

absl::StatusOr<std::string> ChunkStore::DataKey(const std::string& request_id, int package,
                                                bool create) const {
  const std::string key_key = storage::PackageKeyKey(request_id, package);
  absl::StatusOr<std::string> wrapped = store_->Get(Column::kEvidenceKeys, key_key);
  if (wrapped.ok()) return Open(options_.node_key, WrapAad(key_key), *wrapped);
  if (!absl::IsNotFound(wrapped.status())) return wrapped.status();
  if (!create) {
    return absl::FailedPreconditionError(
        absl::StrCat("package ", package, " of requests/", request_id,
                     " has no data key: it holds no data, or it was erased"));
  }
  absl::StatusOr<std::string> key = NewKey();
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> sealed = Seal(options_.node_key, WrapAad(key_key), *key);
  if (!sealed.ok()) return sealed.status();
  storage::WriteSet w;
  w.Put(Column::kEvidenceKeys, key_key, *std::move(sealed));
  if (absl::Status s = store_->Commit(w); !s.ok()) return s;
  return key;
}

absl::StatusOr<uint64_t> ChunkStore::Append(const ItemRef& item, uint64_t offset,
                                            absl::string_view data,
                                            const std::function<absl::Status()>& still_open) {
  if (data.empty() || data.size() > kMaxChunkBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a chunk holds 1 byte to ", kMaxChunkBytes, " bytes, not ", data.size()));
  }
  absl::MutexLock lock(&LockOf(item.request_id, item.package));
  if (absl::Status s = still_open(); !s.ok()) return s;
  absl::StatusOr<uint64_t> durable = Durable(item);
  if (!durable.ok()) return durable.status();
  if (offset != *durable) {
    return absl::FailedPreconditionError(absl::StrCat("the chunk starts at ", offset,
                                                      " but the item's next byte is ", *durable,
                                                      ": resume from ", *durable));
  }
  if (options_.free_bytes) {
    absl::StatusOr<uint64_t> free = options_.free_bytes();
    if (!free.ok()) return free.status();
    if (*free < options_.reserve_bytes + 2 * data.size()) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the node's disk is nearly full (", *free, " bytes free, ", options_.reserve_bytes,
          " kept in reserve): nothing was written; the upload resumes from ", *durable,
          " once space is freed"));
    }
  }
  absl::StatusOr<std::string> key = DataKey(item.request_id, item.package, /*create=*/true);
  if (!key.ok()) return key.status();
  const uint64_t end = offset + data.size();
  std::string chunk_key = storage::ChunkKey(item.request_id, item.package, item.item, end);
  absl::StatusOr<std::string> sealed = Seal(*key, chunk_key, data);
  if (!sealed.ok()) return sealed.status();
  storage::WriteSet w;
  w.Put(Column::kEvidence, std::move(chunk_key), *std::move(sealed));
  w.Put(Column::kEvidence, storage::ProgressKey(item.request_id, item.package, item.item),
        absl::StrCat(end));
  if (absl::Status s = store_->Commit(w); !s.ok()) return s;
  return end;
}

absl::Status ChunkStore::Read(const ItemRef& item, uint64_t offset, const ReadFn& fn) const {
  absl::StatusOr<std::string> key = DataKey(item.request_id, item.package, /*create=*/false);
  if (!key.ok()) return key.status();
  const std::string prefix = storage::ChunkPrefix(item.request_id, item.package, item.item);
  std::unique_ptr<storage::Cursor> cursor = store_->NewCursor(Column::kEvidence, prefix);
  // The first chunk ending after `offset` holds it.
  cursor->Seek(storage::ChunkKey(item.request_id, item.package, item.item, offset + 1));
  for (; cursor->Valid(); cursor->Next()) {
    uint64_t end = 0;
    if (!storage::ParseChunkKey(cursor->key(), prefix, &end)) {
      return absl::DataLossError("an evidence chunk's key is malformed");
    }
    absl::StatusOr<std::string> bytes = Open(*key, cursor->key(), cursor->value());
    if (!bytes.ok()) {
      return absl::DataLossError(
          absl::StrCat("the chunk of item ", item.item, " ending at ", end,
                       " failed authentication: ", bytes.status().message()));
    }
    if (bytes->size() > end) return absl::DataLossError("an evidence chunk overruns its offset");
    const uint64_t start = end - bytes->size();
    if (offset > start) bytes->erase(0, offset - start);
    const uint64_t from = offset > start ? offset : start;
    if (!fn(from, *std::move(bytes))) return absl::OkStatus();
  }
  return cursor->status();
}

absl::StatusOr<std::string> ChunkStore::Digest(const ItemRef& item) const {
  Sha256Stream hash;
  absl::Status s = Read(item, 0, [&](uint64_t, std::string bytes) {
    hash.Update(bytes);
    return true;
  });
  if (!s.ok()) return s;
  return hash.Finish();
}

absl::Status ChunkStore::Reset(const ItemRef& item) {
  absl::MutexLock lock(&LockOf(item.request_id, item.package));
  const std::string prefix = storage::ItemPrefix(item.request_id, item.package, item.item);
  storage::WriteSet w;
  w.DeleteRange(Column::kEvidence, prefix, storage::PrefixEnd(prefix));
  return store_->Commit(w);
}

absl::Status ChunkStore::Purge(const std::string& request_id, int package) {
  absl::MutexLock lock(&LockOf(request_id, package));
  const std::string prefix = storage::PackagePrefix(request_id, package);
  const std::string key_key = storage::PackageKeyKey(request_id, package);
  storage::WriteSet w;
  w.DeleteRange(Column::kEvidence, prefix, storage::PrefixEnd(prefix));
  w.Delete(Column::kEvidenceKeys, key_key);
  if (absl::Status s = store_->Commit(w); !s.ok()) return s;
  return store_->Scrub(Column::kEvidenceKeys, key_key, storage::PrefixEnd(key_key));
}

absl::StatusOr<std::vector<std::pair<std::string, int>>> ChunkStore::KeyedPackages() const {
  std::vector<std::pair<std::string, int>> out;
  absl::Status s =
      store_->Scan(Column::kEvidenceKeys, "", "", [&](absl::string_view key, absl::string_view) {
        std::string id;
        int package = 0;
        if (storage::ParsePackageKeyKey(key, &id, &package)) {
          out.emplace_back(std::move(id), package);
        }
        return true;
      });
  if (!s.ok()) return s;
  return out;
}

}  // namespace comity::evidence
