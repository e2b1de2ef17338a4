#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/merge_operator.h"
#include "rocksdb/options.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "rocksdb/write_buffer_manager.h"
#include "storage/encryption.h"
#include "storage/faulty_file_system.h"
#include "storage/keys.h"
#include "storage/rocksdb_status.h"
#include "storage/store.h"

namespace comity::storage {

std::string EncodeCounter(int64_t value) {
  std::string out(8, '\0');
  const uint64_t v = static_cast<uint64_t>(value);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

bool DecodeCounter(absl::string_view bytes, int64_t* value) {
  if (bytes.size() != 8) return false;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
  *value = static_cast<int64_t>(v);
  return true;
}

namespace {

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
absl::string_view ToView(const rocksdb::Slice& s) { return absl::string_view(s.data(), s.size()); }

// A key's prefix up to and including its last '/': the list a key belongs to (the audit entries
// of one request, the Merkle nodes of one level, one listing's ids, the events). Keys are mostly
// written in order within it, so the memtable starts each insert where the last one of the same
// list went instead of searching from the top.
class KeyListPrefix : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "comity.ListPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), absl::string_view(key.data(), key.size()).rfind('/') + 1);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return absl::string_view(key.data(), key.size()).find('/') != absl::string_view::npos;
  }
};

// Column::kCounters: a write adds its value to the stored one (both EncodeCounter). Wraps
// around rather than overflowing, as two's complement sums do.
class CounterAdd : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice& /*key*/, const rocksdb::Slice* existing,
             const rocksdb::Slice& value, std::string* new_value,
             rocksdb::Logger* logger) const override {
    int64_t sum = 0, delta = 0;
    if (existing != nullptr && !DecodeCounter(ToView(*existing), &sum)) {
      rocksdb::Log(rocksdb::InfoLogLevel::ERROR_LEVEL, logger, "comity: corrupt counter");
      return false;  // RocksDB reports Corruption to the reader
    }
    if (!DecodeCounter(ToView(value), &delta)) return false;
    *new_value = EncodeCounter(
        static_cast<int64_t>(static_cast<uint64_t>(sum) + static_cast<uint64_t>(delta)));
    return true;
  }
  const char* Name() const override { return "comity.CounterAdd"; }
};

// The smallest string above every string that starts with `prefix` ("" if there is none).
std::string PrefixEnd(absl::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

class RocksDbCursor : public Cursor {
 public:
  RocksDbCursor(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, absl::string_view prefix)
      : end_(PrefixEnd(prefix)), end_slice_(end_) {
    rocksdb::ReadOptions options;
    if (!end_.empty()) options.iterate_upper_bound = &end_slice_;
    it_.reset(db->NewIterator(options, cf));
  }
  void Seek(absl::string_view target) override { it_->Seek(ToSlice(target)); }
  void Next() override { it_->Next(); }
  bool Valid() const override { return it_->Valid(); }
  absl::string_view key() const override { return ToView(it_->key()); }
  absl::string_view value() const override { return ToView(it_->value()); }
  absl::Status status() const override { return FromRocksDb(it_->status(), "scan"); }

 private:
  const std::string end_;
  const rocksdb::Slice end_slice_;  // must outlive the iterator, which reads it
  std::unique_ptr<rocksdb::Iterator> it_;
};

// The memory budget every column family shares.
struct MemoryBudget {
  std::shared_ptr<rocksdb::Cache> cache;
  std::shared_ptr<rocksdb::WriteBufferManager> memtables;  // charged to `cache`
};

MemoryBudget MakeMemoryBudget(uint64_t bytes) {
  MemoryBudget budget;
  // Half of the cache is kept for index and filter blocks (high priority), so a scan of data
  // blocks cannot push out what every point read needs.
  budget.cache = rocksdb::NewLRUCache(bytes, /*num_shard_bits=*/-1, /*strict_capacity_limit=*/false,
                                      /*high_pri_pool_ratio=*/0.5);
  budget.memtables = std::make_shared<rocksdb::WriteBufferManager>(bytes / 4, budget.cache);
  return budget;
}

// Every column family's tables: bloom filters (a point read reads one table's data, not one per
// level), and the index and filter blocks kept in the block cache at high priority (so their
// memory is inside the budget whatever the store's size), level 0's pinned. Measured at 1M
// requests against RocksDB's defaults (BENCHMARKS.md): every read faster. Partitioned index and
// filters were slower at 1M (their second lookup costs more than it saves while the whole
// blocks fit); past the high-priority half of the budget they would be the next step.
std::shared_ptr<rocksdb::TableFactory> TableFactory(const MemoryBudget& budget) {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = budget.cache;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.optimize_filters_for_memory = true;
  table.format_version = 5;
  return std::shared_ptr<rocksdb::TableFactory>(rocksdb::NewBlockBasedTableFactory(table));
}

// A point read's answer: the value, NOT_FOUND, or the I/O error as a status.
absl::StatusOr<std::string> ReadResult(const rocksdb::Status& s, std::string value) {
  if (s.IsNotFound()) return absl::NotFoundError("no such key");
  if (!s.ok()) return FromRocksDb(s, "read");
  return value;
}

class RocksDbStore : public Store {
 public:
  RocksDbStore(std::unique_ptr<rocksdb::Env> env, std::unique_ptr<rocksdb::Env> faulty_env,
               MemoryBudget budget, std::unique_ptr<rocksdb::DB> db,
               std::vector<rocksdb::ColumnFamilyHandle*> handles)
      : env_(std::move(env)),
        faulty_env_(std::move(faulty_env)),
        cache_(std::move(budget.cache)),
        memtables_(std::move(budget.memtables)),
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
    return ReadResult(s, std::move(value));
  }

  std::vector<absl::StatusOr<std::string>> MultiGet(
      Column column, const std::vector<std::string>& keys) const override {
    std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    std::vector<rocksdb::PinnableSlice> values(keys.size());
    std::vector<rocksdb::Status> statuses(keys.size());
    const rocksdb::ReadOptions options;
    db_->MultiGet(options, Handle(column), keys.size(), slices.data(), values.data(),
                  statuses.data());
    std::vector<absl::StatusOr<std::string>> out;
    out.reserve(keys.size());
    for (size_t i = 0; i < keys.size(); ++i)
      out.push_back(ReadResult(statuses[i], values[i].ToString()));
    return out;
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

  std::unique_ptr<Cursor> NewCursor(Column column, absl::string_view prefix) const override {
    return std::make_unique<RocksDbCursor>(db_.get(), Handle(column), prefix);
  }

  absl::Status Commit(const WriteSet& batch) override {
    if (failed_.load()) {
      return absl::UnavailableError(
          "the store stopped accepting writes after an I/O error; restart the server");
    }
    rocksdb::WriteBatch wb(64 + batch.ByteSize() + 16 * batch.writes().size());
    for (const WriteSet::Write& w : batch.writes()) {
      rocksdb::Status s;
      switch (w.op) {
        case WriteSet::Op::kPut:
          s = wb.Put(Handle(w.column), ToSlice(w.key), ToSlice(w.value));
          break;
        case WriteSet::Op::kDelete:
          s = wb.Delete(Handle(w.column), ToSlice(w.key));
          break;
        case WriteSet::Op::kAdd:
          s = wb.Merge(Handle(w.column), ToSlice(w.key), ToSlice(w.value));
          break;
        case WriteSet::Op::kDeleteRange:
          s = wb.DeleteRange(Handle(w.column), ToSlice(w.key), ToSlice(w.value));
          break;
      }
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

  absl::Status Scrub(Column column, absl::string_view begin, absl::string_view end) override {
    // Every memtable flushed, so the logs that held the deleted values are obsolete and removed
    // (logs are neither recycled nor archived here); then the range's tables rewritten to the
    // bottom level, where a deletion drops what it covers.
    rocksdb::FlushOptions flush;
    flush.wait = true;
    if (rocksdb::Status s = db_->Flush(flush, handles_); !s.ok()) return FromRocksDb(s, "flush");
    rocksdb::CompactRangeOptions compact;
    compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    const rocksdb::Slice from = ToSlice(begin);
    const rocksdb::Slice to = ToSlice(end);
    if (rocksdb::Status s = db_->CompactRange(compact, Handle(column), &from, &to); !s.ok()) {
      return FromRocksDb(s, "compact");
    }
    return absl::OkStatus();
  }

 private:
  StoreStats Stats() const override {
    StoreStats stats;
    for (rocksdb::ColumnFamilyHandle* h : handles_) {
      uint64_t pending = 0;
      if (db_->GetIntProperty(h, rocksdb::DB::Properties::kEstimatePendingCompactionBytes,
                              &pending)) {
        stats.pending_compaction_bytes += pending;
      }
      std::map<std::string, std::string> cf;
      if (db_->GetMapProperty(h, rocksdb::DB::Properties::kCFStats, &cf)) {
        for (const char* key : {"io_stalls.total_stop", "io_stalls.total_slowdown"}) {
          uint64_t n = 0;
          auto it = cf.find(key);
          if (it != cf.end() && absl::SimpleAtoi(it->second, &n)) stats.write_stalls += n;
        }
      }
    }
    uint64_t stopped = 0;
    stats.writes_stopped =
        db_->GetIntProperty(rocksdb::DB::Properties::kIsWriteStopped, &stopped) && stopped != 0;
    for (const std::string& running : {rocksdb::DB::Properties::kNumRunningFlushes,
                                       rocksdb::DB::Properties::kNumRunningCompactions}) {
      uint64_t n = 0;
      if (db_->GetIntProperty(running, &n)) stats.background_jobs += n;
    }
    uint64_t flushes_due = 0;
    if (db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kMemTableFlushPending,
                                      &flushes_due)) {
      stats.background_jobs += flushes_due;
    }
    stats.cache_capacity_bytes = cache_->GetCapacity();
    stats.cache_usage_bytes = cache_->GetUsage();
    stats.memtable_bytes = memtables_->memory_usage();
    uint64_t readers = 0;
    if (db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kEstimateTableReadersMem,
                                      &readers)) {
      stats.table_reader_bytes = readers;
    }
    return stats;
  }

  rocksdb::ColumnFamilyHandle* Handle(Column c) const { return handles_[static_cast<int>(c)]; }

  std::unique_ptr<rocksdb::Env> env_;  // null: the default Env
  std::unique_ptr<rocksdb::Env> faulty_env_;  // over env_, when faults are injected
  std::shared_ptr<rocksdb::Cache> cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> memtables_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::atomic<bool> failed_{false};
};

absl::Status CheckSchema(Store& store) {
  absl::StatusOr<std::string> version = store.Get(Column::kMeta, kSchemaVersionKey);
  if (version.ok()) {
    // Earlier versions lack derived indexes; the engine adds them at start.
    if (*version == kSchemaVersion || *version == kSchemaVersion2 || *version == kSchemaVersion1) {
      return absl::OkStatus();
    }
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
  MemoryBudget budget = MakeMemoryBudget(store_options.cache_bytes != 0 ? store_options.cache_bytes
                                                                        : kDefaultCacheBytes);
  options.write_buffer_manager = budget.memtables;

  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory = TableFactory(budget);
  cf_options.memtable_insert_with_hint_prefix_extractor = std::make_shared<KeyListPrefix>();
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options);
  for (const auto& [column, name] : kColumnNames) {
    descriptors.emplace_back(name, cf_options);
    if (column == Column::kEvidence) {
      // Insert hints break a range deletion's insert into the memtable (an assertion in
      // InlineSkipList::Insert); these keys gain nothing from them.
      descriptors.back().options.memtable_insert_with_hint_prefix_extractor = nullptr;
    }
    if (column == Column::kCounters) {
      descriptors.back().options.merge_operator = std::make_shared<CounterAdd>();
      // A counter changes with nearly every change: past this many deltas in the memtable, a
      // write folds them into one, so a read never sums a long chain of them.
      descriptors.back().options.max_successive_merges = 8;
    }
  }

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
  auto store = std::make_unique<RocksDbStore>(std::move(env), std::move(faulty_env),
                                              std::move(budget), std::move(db), std::move(handles));
  absl::Status schema = CheckSchema(*store);
  if (!schema.ok()) return schema;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace comity::storage
