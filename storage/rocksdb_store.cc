#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/write_batch.h"
#include "storage/encryption.h"
#include "storage/faulty_file_system.h"
#include "storage/keys.h"
#include "storage/rocksdb_status.h"
#include "storage/store.h"

namespace comity::storage {
namespace {

constexpr const char* kColumnNames[kColumnCount] = {"requests",    "audit", "index",
                                                    "idempotency", "meta",  "tlog"};

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
absl::string_view ToView(const rocksdb::Slice& s) { return absl::string_view(s.data(), s.size()); }

class RocksDbStore : public Store {
 public:
  RocksDbStore(std::unique_ptr<rocksdb::Env> env, std::unique_ptr<rocksdb::Env> faulty_env,
               std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles)
      : env_(std::move(env)),
        faulty_env_(std::move(faulty_env)),
        db_(std::move(db)),
        handles_(std::move(handles)) {}

  ~RocksDbStore() override {
    // A clean close flushes the memtables, so a restart need not replay the log.
    // If the flush fails nothing is lost: every commit was synced to the write-ahead log, which
    // the next open replays. The cause goes to RocksDB's own LOG in the data directory.
    if (!failed_.load()) {
      rocksdb::Status s = db_->Flush(rocksdb::FlushOptions(), handles_);
      if (!s.ok()) {
        rocksdb::Log(rocksdb::InfoLogLevel::ERROR_LEVEL, db_->GetDBOptions().info_log,
                     "comity: flush at close failed, the log will be replayed: %s",
                     s.ToString().c_str());
      }
    }
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close();
    db_.reset();  // before the Env it uses
  }

  absl::StatusOr<std::string> Get(Column column, absl::string_view key) const override {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), Handle(column), ToSlice(key), &value);
    if (s.IsNotFound()) return absl::NotFoundError("no such key");
    if (!s.ok()) return FromRocksDb(s, "read");
    return value;
  }

  absl::Status Scan(Column column, absl::string_view prefix, absl::string_view start_after,
                    const ScanFn& fn) const override {
    rocksdb::ReadOptions options;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, Handle(column)));
    if (start_after.empty()) {
      it->Seek(ToSlice(prefix));
    } else {
      it->Seek(ToSlice(start_after));
      if (it->Valid() && ToView(it->key()) == start_after) it->Next();
    }
    for (; it->Valid(); it->Next()) {
      absl::string_view key = ToView(it->key());
      if (key.substr(0, prefix.size()) != prefix) break;
      if (!fn(key, ToView(it->value()))) break;
    }
    return FromRocksDb(it->status(), "scan");
  }

  absl::Status Commit(const WriteSet& batch) override {
    if (failed_.load()) {
      return absl::UnavailableError(
          "the store stopped accepting writes after an I/O error; restart the server");
    }
    size_t bytes = 64;
    for (const WriteSet::Write& w : batch.writes()) bytes += w.key.size() + w.value.size() + 16;
    rocksdb::WriteBatch wb(bytes);
    for (const WriteSet::Write& w : batch.writes()) {
      rocksdb::Status s = w.erase ? wb.Delete(Handle(w.column), ToSlice(w.key))
                                  : wb.Put(Handle(w.column), ToSlice(w.key), ToSlice(w.value));
      if (!s.ok()) return FromRocksDb(s, "prepare write");
    }
    rocksdb::WriteOptions options;
    options.sync = true;
    rocksdb::Status s = db_->Write(options, &wb);
    if (!s.ok()) {
      failed_.store(true);
      return FromRocksDb(s, "commit");
    }
    return absl::OkStatus();
  }

 private:
  rocksdb::ColumnFamilyHandle* Handle(Column c) const { return handles_[static_cast<int>(c)]; }

  std::unique_ptr<rocksdb::Env> env_;  // null: the default Env
  std::unique_ptr<rocksdb::Env> faulty_env_;  // over env_, when faults are injected
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::atomic<bool> failed_{false};
};

absl::Status CheckSchema(Store& store) {
  absl::StatusOr<std::string> version = store.Get(Column::kMeta, kSchemaVersionKey);
  if (version.ok()) {
    if (*version == kSchemaVersion) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat("the data directory holds schema version ",
                                                      *version, "; this build reads ",
                                                      kSchemaVersion));
  }
  if (!absl::IsNotFound(version.status())) return version.status();
  WriteSet init;
  init.Put(Column::kMeta, kSchemaVersionKey, kSchemaVersion);
  return store.Commit(init);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenRocksDbStore(const std::string& dir,
                                                        const RocksDbOptions& store_options) {
  if (absl::Status key = CheckEncryptionKey(dir, store_options.encryption_key); !key.ok()) {
    return key;
  }
  std::unique_ptr<rocksdb::Env> env;
  rocksdb::DBOptions options;
  if (!store_options.encryption_key.empty()) {
    env = NewAesEncryptedEnv(store_options.encryption_key);
    options.env = env.get();
  }
  std::unique_ptr<rocksdb::Env> faulty_env;
  if (store_options.faults != nullptr) {
    rocksdb::Env* base = env != nullptr ? env.get() : rocksdb::Env::Default();
    faulty_env =
        rocksdb::NewCompositeEnv(NewFaultyFileSystem(base->GetFileSystem(), store_options.faults));
    options.env = faulty_env.get();
  }
  options.create_if_missing = store_options.create_if_missing;
  options.create_missing_column_families = store_options.create_if_missing;
  options.IncreaseParallelism(2);
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  options.keep_log_file_num = 3;

  rocksdb::ColumnFamilyOptions cf_options;
  // Most keys are written in order within a short prefix (audit entries of a request, Merkle
  // nodes of a level, events): the memtable starts each insert from the last one's place.
  cf_options.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(6));
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options);
  for (const char* name : kColumnNames) descriptors.emplace_back(name, cf_options);

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, descriptors, &handles, &raw);
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return absl::UnavailableError(
          absl::StrCat("the data directory ", dir, " is in use by another process"));
    }
    if (env != nullptr && s.IsCorruption()) {
      return absl::DataLossError(
          absl::StrCat("cannot open ", dir, ": the encrypted files do not decrypt to a database"));
    }
    return FromRocksDb(s, absl::StrCat("open ", dir));
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  // handles[0] is the default family, which we do not use.
  db->DestroyColumnFamilyHandle(handles[0]);
  handles.erase(handles.begin());
  auto store = std::make_unique<RocksDbStore>(std::move(env), std::move(faulty_env), std::move(db),
                                              std::move(handles));
  absl::Status schema = CheckSchema(*store);
  if (!schema.ok()) return schema;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace comity::storage
