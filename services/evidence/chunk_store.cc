#include "services/evidence/chunk_store.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "services/evidence/crypto.h"
#include "storage/keys.h"

namespace comity::evidence {
namespace {

using storage::Column;

constexpr char kWrapLabel[] = "comity evidence data key ";

std::string WrapAad(const std::string& key_key) { return absl::StrCat(kWrapLabel, key_key); }

// An index value: two decimal numbers (a chunk's place and length in its file, or an item's
// durable bytes and the file bytes they take).
std::string EncodePair(uint64_t a, uint64_t b) { return absl::StrCat(a, " ", b); }
bool DecodePair(absl::string_view value, uint64_t* a, uint64_t* b) {
  std::vector<absl::string_view> parts = absl::StrSplit(value, ' ');
  return parts.size() == 2 && absl::SimpleAtoi(parts[0], a) && absl::SimpleAtoi(parts[1], b);
}

// A failed file operation: RESOURCE_EXHAUSTED for a full disk (the upload resumes once space is
// freed), UNAVAILABLE otherwise. Nothing is acknowledged either way.
absl::Status FileError(const std::string& what, const std::string& path, int err,
                       uint64_t durable) {
  if (err == ENOSPC || err == EDQUOT) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the node's disk is full (", what, " ", path,
        "): nothing was written; the item resumes from ", durable, " once space is freed"));
  }
  return absl::UnavailableError(absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(err)));
}

// Writes all of `data` at `at` in `fd`, then syncs the file's data; 0 or the errno.
int WriteAt(int fd, absl::string_view data, uint64_t at) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n =
        pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(at + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += static_cast<size_t>(n);
  }
  return fdatasync(fd) == 0 ? 0 : errno;
}

// Reads `length` bytes at `at` of `fd`; false if the file ends first or cannot be read.
bool ReadAt(int fd, uint64_t at, uint64_t length, std::string* out) {
  out->resize(length);
  size_t got = 0;
  while (got < length) {
    const ssize_t n = pread(fd, out->data() + got, length - got, static_cast<off_t>(at + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

// Syncs the directory `dir` and its parents up to `top`, so that files made in them survive a
// crash; 0 or the errno.
int SyncDirs(std::filesystem::path dir, const std::filesystem::path& top) {
  for (;;) {
    const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    const int err = fsync(fd) == 0 ? 0 : errno;
    close(fd);
    if (err != 0 || dir == top || !dir.has_parent_path()) return err;
    dir = dir.parent_path();
  }
}

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

std::string ChunkStore::PackageDir(const std::string& request_id, int package) const {
  return absl::StrFormat("%s/%s/%06d", options_.dir, request_id, package);
}

std::string ChunkStore::ItemFile(const ItemRef& item) const {
  return absl::StrFormat("%s/%04d", PackageDir(item.request_id, item.package), item.item);
}

absl::Status ChunkStore::Progress(const ItemRef& item, uint64_t* durable,
                                  uint64_t* file_end) const {
  *durable = 0;
  *file_end = 0;
  absl::StatusOr<std::string> progress = store_->Get(
      Column::kEvidence, storage::ProgressKey(item.request_id, item.package, item.item));
  if (absl::IsNotFound(progress.status())) return absl::OkStatus();
  if (!progress.ok()) return progress.status();
  if (!DecodePair(*progress, durable, file_end)) {
    return absl::DataLossError(absl::StrCat("the upload progress of item ", item.item,
                                            " of package ", item.package, " is unreadable"));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ChunkStore::Durable(const ItemRef& item) const {
  uint64_t durable = 0, file_end = 0;
  if (absl::Status s = Progress(item, &durable, &file_end); !s.ok()) return s;
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
  if (absl::Status s = still_open(); !s.ok()) return s;  // no key is made for a closed package
  absl::StatusOr<std::string> sealed = SealChunk(item, offset, data);
  if (!sealed.ok()) return sealed.status();
  return AppendSealed(item, offset, data.size(), *sealed, still_open);
}

absl::StatusOr<std::string> ChunkStore::SealChunk(const ItemRef& item, uint64_t offset,
                                                  absl::string_view data) {
  if (data.empty() || data.size() > kMaxChunkBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a chunk holds 1 byte to ", kMaxChunkBytes, " bytes, not ", data.size()));
  }
  absl::StatusOr<std::string> key;
  {
    absl::MutexLock lock(&LockOf(item.request_id, item.package));
    key = DataKey(item.request_id, item.package, /*create=*/true);
  }
  if (!key.ok()) return key.status();
  return Seal(*key,
              storage::ChunkKey(item.request_id, item.package, item.item, offset + data.size()),
              data);
}

absl::StatusOr<uint64_t> ChunkStore::AppendSealed(const ItemRef& item, uint64_t offset,
                                                  uint64_t size, absl::string_view sealed,
                                                  const std::function<absl::Status()>& still_open) {
  if (size == 0 || size > kMaxChunkBytes || sealed.size() != size + kSealOverhead) {
    return absl::InvalidArgumentError(
        absl::StrCat("a chunk holds 1 byte to ", kMaxChunkBytes, " bytes, not ", size));
  }
  absl::MutexLock lock(&LockOf(item.request_id, item.package));
  if (absl::Status s = still_open(); !s.ok()) return s;
  uint64_t durable = 0, file_end = 0;
  if (absl::Status s = Progress(item, &durable, &file_end); !s.ok()) return s;
  if (offset != durable) {
    return absl::FailedPreconditionError(absl::StrCat("the chunk starts at ", offset,
                                                      " but the item's next byte is ", durable,
                                                      ": resume from ", durable));
  }
  if (options_.free_bytes) {
    absl::StatusOr<uint64_t> free = options_.free_bytes();
    if (!free.ok()) return free.status();
    if (*free < options_.reserve_bytes + 2 * sealed.size()) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "the node's disk is nearly full (", *free, " bytes free, ", options_.reserve_bytes,
          " kept in reserve): nothing was written; the item resumes from ", durable,
          " once space is freed"));
    }
  }
  const uint64_t end = offset + size;

  // The sealed bytes, synced, where the index's coverage of the file ends (bytes a crash left past
  // it are overwritten); then their index entry, committed.
  const std::string dir = PackageDir(item.request_id, item.package);
  const std::string path = ItemFile(item);
  std::error_code ec;
  const bool made = !std::filesystem::exists(path, ec);
  if (made) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return FileError("make", dir, ec.value(), durable);
  }
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return FileError("open", path, errno, durable);
  int err = WriteAt(fd, sealed, file_end);
  close(fd);
  if (err == 0 && made) err = SyncDirs(dir, options_.dir);
  if (err != 0) return FileError("write", path, err, durable);
  storage::WriteSet w;
  w.Put(Column::kEvidence, storage::ChunkKey(item.request_id, item.package, item.item, end),
        EncodePair(file_end, sealed.size()));
  w.Put(Column::kEvidence, storage::ProgressKey(item.request_id, item.package, item.item),
        EncodePair(end, file_end + sealed.size()));
  if (absl::Status s = store_->Commit(w); !s.ok()) return s;
  return end;
}

absl::Status ChunkStore::Read(const ItemRef& item, uint64_t offset, const ReadFn& fn) const {
  absl::StatusOr<std::string> key = DataKey(item.request_id, item.package, /*create=*/false);
  if (!key.ok()) return key.status();
  const std::string prefix = storage::ChunkPrefix(item.request_id, item.package, item.item);
  const std::string path = ItemFile(item);
  std::unique_ptr<storage::Cursor> cursor = store_->NewCursor(Column::kEvidence, prefix);
  int fd = -1;
  struct Closer {
    const int& fd;
    ~Closer() {
      if (fd >= 0) close(fd);
    }
  } closer{fd};
  // The first chunk ending after `offset` holds it.
  cursor->Seek(storage::ChunkKey(item.request_id, item.package, item.item, offset + 1));
  std::string sealed;
  for (; cursor->Valid(); cursor->Next()) {
    uint64_t end = 0, at = 0, length = 0;
    if (!storage::ParseChunkKey(cursor->key(), prefix, &end) ||
        !DecodePair(cursor->value(), &at, &length) || length < kSealOverhead ||
        length > kMaxChunkBytes + kSealOverhead) {
      return absl::DataLossError("an evidence chunk's index entry is malformed");
    }
    if (fd < 0 && (fd = open(path.c_str(), O_RDONLY | O_CLOEXEC)) < 0) {
      return absl::DataLossError(
          absl::StrCat("the evidence file ", path, " cannot be opened: ", std::strerror(errno)));
    }
    if (!ReadAt(fd, at, length, &sealed)) {
      return absl::DataLossError(
          absl::StrCat("the evidence file ", path, " ends before the chunk its index names"));
    }
    absl::StatusOr<std::string> bytes = Open(*key, cursor->key(), sealed);
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

absl::Status ChunkStore::Reset(const ItemRef& item) {
  absl::MutexLock lock(&LockOf(item.request_id, item.package));
  const std::string prefix = storage::ItemPrefix(item.request_id, item.package, item.item);
  storage::WriteSet w;
  w.DeleteRange(Column::kEvidence, prefix, storage::PrefixEnd(prefix));
  if (absl::Status s = store_->Commit(w); !s.ok()) return s;
  std::error_code ec;
  std::filesystem::remove(ItemFile(item), ec);  // unindexed now: overwritten if it stays
  return absl::OkStatus();
}

absl::Status ChunkStore::Purge(const std::string& request_id, int package) {
  absl::MutexLock lock(&LockOf(request_id, package));
  const std::string prefix = storage::PackagePrefix(request_id, package);
  const std::string key_key = storage::PackageKeyKey(request_id, package);
  storage::WriteSet w;
  w.DeleteRange(Column::kEvidence, prefix, storage::PrefixEnd(prefix));
  w.Delete(Column::kEvidenceKeys, key_key);
  if (absl::Status s = store_->Commit(w); !s.ok()) return s;
  std::error_code ec;
  std::filesystem::remove_all(PackageDir(request_id, package), ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot remove ", PackageDir(request_id, package), ": ", ec.message()));
  }
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
