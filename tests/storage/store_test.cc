#include "storage/store.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "storage/keys.h"
#include "storage/rocksdb_status.h"
#include "tests/testing/fixtures.h"

namespace comity::storage {
namespace {

using comity::testing::TempDir;

std::unique_ptr<Store> Open(const std::string& dir) {
  auto store = OpenRocksDbStore(dir);
  EXPECT_TRUE(store.ok()) << store.status();
  return *std::move(store);
}

TEST(StoreTest, CommitIsVisibleAndSurvivesReopen) {
  TempDir dir;
  {
    auto store = Open(dir.path());
    WriteSet batch;
    batch.Put(Column::kRequests, "r1", "record");
    batch.Put(Column::kAudit, AuditKey("r1", 1), "entry");
    ASSERT_TRUE(store->Commit(batch).ok());
    EXPECT_EQ(*store->Get(Column::kRequests, "r1"), "record");
  }
  auto store = Open(dir.path());
  EXPECT_EQ(*store->Get(Column::kRequests, "r1"), "record");
  EXPECT_EQ(*store->Get(Column::kAudit, AuditKey("r1", 1)), "entry");
  EXPECT_EQ(store->Get(Column::kAudit, "r1").status().code(), absl::StatusCode::kNotFound);
}

TEST(StoreTest, MultiGetAnswersEachKeyInItsOrder) {
  TempDir dir;
  auto store = Open(dir.path());
  WriteSet batch;
  batch.Put(Column::kRequests, "b", "record b");
  batch.Put(Column::kRequests, "a", "record a");
  batch.Put(Column::kAudit, "c", "an entry, in another column");
  ASSERT_TRUE(store->Commit(batch).ok());
  std::vector<absl::StatusOr<std::string>> got =
      store->MultiGet(Column::kRequests, {"b", "c", "a", "b"});
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(*got[0], "record b");
  EXPECT_EQ(got[1].status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*got[2], "record a");
  EXPECT_EQ(*got[3], "record b");
  EXPECT_TRUE(store->MultiGet(Column::kRequests, {}).empty());
}

TEST(StoreTest, ColumnsAreSeparate) {
  TempDir dir;
  auto store = Open(dir.path());
  WriteSet batch;
  batch.Put(Column::kIndex, "k", "index");
  ASSERT_TRUE(store->Commit(batch).ok());
  EXPECT_EQ(store->Get(Column::kRequests, "k").status().code(), absl::StatusCode::kNotFound);
}

TEST(StoreTest, ScanHonoursPrefixOrderAndStartAfter) {
  TempDir dir;
  auto store = Open(dir.path());
  WriteSet batch;
  for (uint64_t seq : {3, 1, 2, 300}) batch.Put(Column::kAudit, AuditKey("A", seq), "x");
  batch.Put(Column::kAudit, AuditKey("B", 1), "other request");
  batch.Delete(Column::kAudit, AuditKey("A", 2));
  ASSERT_TRUE(store->Commit(batch).ok());

  std::vector<std::string> keys;
  ASSERT_TRUE(store
                  ->Scan(Column::kAudit, AuditPrefix("A"), "",
                         [&](absl::string_view k, absl::string_view) {
                           keys.emplace_back(k);
                           return true;
                         })
                  .ok());
  EXPECT_EQ(keys,
            (std::vector<std::string>{AuditKey("A", 1), AuditKey("A", 3), AuditKey("A", 300)}));
  keys.clear();
  ASSERT_TRUE(store
                  ->Scan(Column::kAudit, AuditPrefix("A"), AuditKey("A", 1),
                         [&](absl::string_view k, absl::string_view) {
                           keys.emplace_back(k);
                           return keys.size() < 1;
                         })
                  .ok());
  EXPECT_EQ(keys, (std::vector<std::string>{AuditKey("A", 3)}));
}

TEST(StoreTest, SecondOpenOfTheSameDirectoryIsRefused) {
  TempDir dir;
  auto store = Open(dir.path());
  auto second = OpenRocksDbStore(dir.path());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("in use"), std::string::npos);
}

TEST(StoreTest, UnknownSchemaVersionIsRefused) {
  TempDir dir;
  {
    auto store = Open(dir.path());
    WriteSet batch;
    batch.Put(Column::kMeta, kSchemaVersionKey, "99");
    ASSERT_TRUE(store->Commit(batch).ok());
  }
  auto store = OpenRocksDbStore(dir.path());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(StoreTest, AuditKeysSortNumerically) {
  EXPECT_LT(AuditKey("X", 255), AuditKey("X", 256));
  EXPECT_LT(AuditKey("X", 1), AuditKey("X", uint64_t{1} << 40));
}

TEST(StoreTest, ACursorStaysWithinItsPrefixAndSeeks) {
  TempDir dir;
  auto store = Open(dir.path());
  WriteSet batch;
  for (const char* k : {"a/1", "a/3", "a/5", "a0", "b/2", "a\xff"}) batch.Put(Column::kIndex, k, k);
  ASSERT_TRUE(store->Commit(batch).ok());
  auto c = store->NewCursor(Column::kIndex, "a/");
  c->Seek("a/");
  std::vector<std::string> keys;
  for (; c->Valid(); c->Next()) keys.emplace_back(c->key());
  EXPECT_EQ(keys, (std::vector<std::string>{"a/1", "a/3", "a/5"}));
  EXPECT_TRUE(c->status().ok());
  c->Seek("a/2");
  ASSERT_TRUE(c->Valid());
  EXPECT_EQ(c->key(), "a/3");
  EXPECT_EQ(c->value(), "a/3");
  c->Seek("a/6");
  EXPECT_FALSE(c->Valid());
  // A prefix ending in 0xff is bounded too.
  auto d = store->NewCursor(Column::kIndex, "a\xff");
  d->Seek("a\xff");
  ASSERT_TRUE(d->Valid());
  EXPECT_EQ(d->key(), "a\xff");
  d->Next();
  EXPECT_FALSE(d->Valid());
}

TEST(StoreTest, CountersAddTheirDeltasAndSurviveReopen) {
  TempDir dir;
  {
    auto store = Open(dir.path());
    WriteSet batch;
    batch.Add("k", 5);
    batch.Add("k", -2);
    batch.Add("j", -7);
    ASSERT_TRUE(store->Commit(batch).ok());
    WriteSet later;
    later.Add("k", 10);
    ASSERT_TRUE(store->Commit(later).ok());
  }
  auto store = Open(dir.path());
  int64_t k = 0, j = 0;
  ASSERT_TRUE(DecodeCounter(*store->Get(Column::kCounters, "k"), &k));
  ASSERT_TRUE(DecodeCounter(*store->Get(Column::kCounters, "j"), &j));
  EXPECT_EQ(k, 13);
  EXPECT_EQ(j, -7);
  // A Put sets the base that later deltas add to.
  WriteSet reset;
  reset.Put(Column::kCounters, "k", EncodeCounter(100));
  reset.Add("k", 1);
  ASSERT_TRUE(store->Commit(reset).ok());
  ASSERT_TRUE(DecodeCounter(*store->Get(Column::kCounters, "k"), &k));
  EXPECT_EQ(k, 101);
  int64_t v;
  EXPECT_FALSE(DecodeCounter("1234567", &v));
}

TEST(StoreTest, TheMemtablesStayWithinTheirShareOfTheMemoryBudget) {
  TempDir dir;
  RocksDbOptions options;
  options.cache_bytes = 16 << 20;
  auto opened = OpenRocksDbStore(dir.path(), options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Store& store = **opened;
  EXPECT_EQ(store.Stats().cache_capacity_bytes, 16u << 20);
  // 48 MiB written, three times the budget: the memtables are flushed at a quarter of it (4 MiB)
  // instead of each column's 64 MiB write buffer, and what they hold is charged to the cache.
  const std::string value(10 << 10, 'v');
  for (int batch = 0; batch < 48; ++batch) {
    WriteSet w;
    for (int i = 0; i < 100; ++i) {
      w.Put(Column::kRequests, absl::StrCat("r", batch, "-", i), value);
    }
    ASSERT_TRUE(store.Commit(w).ok());
  }
  // A flush may still be running (slowly under a sanitizer): what it holds is freed when it ends.
  StoreStats stats = store.Stats();
  const absl::Time deadline = absl::Now() + absl::Minutes(2);
  while (stats.background_jobs > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
    stats = store.Stats();
  }
  EXPECT_EQ(stats.background_jobs, 0u);
  EXPECT_GT(stats.memtable_bytes, 0u);
  EXPECT_LE(stats.memtable_bytes, 16u << 20);
  EXPECT_GE(stats.cache_usage_bytes, stats.memtable_bytes);
  EXPECT_EQ(*store.Get(Column::kRequests, "r0-0"), value);
  EXPECT_EQ(*store.Get(Column::kRequests, "r47-99"), value);
}

TEST(StoreTest, ColumnFamiliesAreNamedInEnumOrder) {
  EXPECT_STREQ(ColumnName(Column::kRequests), "requests");
  EXPECT_STREQ(ColumnName(Column::kCounters), "counters");
  static_assert(ColumnNamesInEnumOrder());
}

TEST(KeysTest, EveryKeyParsesBackToWhatBuiltIt) {
  const std::string id = "01KAB7W3N9Q4Z8X2M5R6T1V0YC";
  std::string parsed;
  EXPECT_TRUE(
      ParseIdAfter(PartyKey("authorities/DE-BFJ", id), PartyPrefix("authorities/DE-BFJ"), &parsed));
  EXPECT_EQ(parsed, id);
  EXPECT_TRUE(ParseIdAfter(LinkKey(id, "01KAB7W3N9Q4Z8X2M5R6T1V0YD"), LinkPrefix(id), &parsed));
  EXPECT_EQ(parsed, "01KAB7W3N9Q4Z8X2M5R6T1V0YD");
  EXPECT_FALSE(
      ParseIdAfter("party/authorities/DE-BFJ/x", PartyPrefix("authorities/DE-BFJ"), &parsed));
  EXPECT_FALSE(
      ParseIdAfter(PartyKey("authorities/FR-CA", id), PartyPrefix("authorities/DE-BFJ"), &parsed));
  const std::string list =
      ListKey("authorities/FR-CA", Dimension::kCounterpart, "authorities/DE-BFJ", id);
  EXPECT_EQ(list, "list/authorities/FR-CA/c/authorities/DE-BFJ/" + id);
  EXPECT_TRUE(ParseIdAfter(
      list, ListPrefix("authorities/FR-CA", Dimension::kCounterpart, "authorities/DE-BFJ"),
      &parsed));
  EXPECT_EQ(parsed, id);

  int64_t micros = 0;
  const std::string due = ListDueKey(kEveryAuthority, Dimension::kState, "3", 1795000000123456, id);
  EXPECT_EQ(due, "listdue/*/s/3/00001795000000123456/" + id);
  EXPECT_TRUE(
      ParseDueKey(due, ListDuePrefix(kEveryAuthority, Dimension::kState, "3"), &micros, &parsed));
  EXPECT_EQ(micros, 1795000000123456);
  EXPECT_EQ(parsed, id);
  EXPECT_TRUE(ParseDueKey(DueKey("authorities/VN-247", 42, id), DuePrefix("authorities/VN-247"),
                          &micros, &parsed));
  EXPECT_EQ(micros, 42);
  EXPECT_FALSE(ParseDueSuffix("0000000000000000004x/" + id, &micros, &parsed));
  EXPECT_FALSE(ParseDueSuffix("00000000000000000042" + id, &micros, &parsed));
  EXPECT_LT(DueSuffix(9, id), DueSuffix(10, id));

  bool warning = false;
  std::string clock;
  EXPECT_TRUE(
      ParseTimerKey(TimerKey(77, id, "preservation", true), &micros, &parsed, &clock, &warning));
  EXPECT_EQ(micros, 77);
  EXPECT_EQ(parsed, id);
  EXPECT_EQ(clock, "preservation");
  EXPECT_TRUE(warning);

  std::string scope, instrument, figure;
  char side = 0;
  EXPECT_TRUE(ParseCounterKey(
      CounterKey("authorities/DE-BFJ", kReceivingCode, "uncc", "ground/ESSENTIAL_INTERESTS"),
      &scope, &side, &instrument, &figure));
  EXPECT_EQ(scope, "authorities/DE-BFJ");
  EXPECT_EQ(side, kReceivingCode);
  EXPECT_EQ(instrument, "uncc");
  EXPECT_EQ(figure, "ground/ESSENTIAL_INTERESTS");
  EXPECT_TRUE(ParseCounterKey(CounterKey(kEveryAuthority, kNoSideCode, "budapest", "requests"),
                              &scope, &side, &instrument, &figure));
  EXPECT_EQ(scope, kEveryAuthority);
  EXPECT_EQ(side, kNoSideCode);
  EXPECT_EQ(figure, "requests");
  EXPECT_TRUE(absl::StartsWith(CounterKey("authorities/DE-BFJ", kRequestingCode, "uncc", "x"),
                               CounterPrefix("authorities/DE-BFJ", kRequestingCode)));
  for (const char* bad : {"authorities/DE-BFJ", "authorities/DE-BFJ/x/uncc/requests",
                          "other/q/uncc/requests", "*/q/uncc/", "*/q//requests"}) {
    EXPECT_FALSE(ParseCounterKey(bad, &scope, &side, &instrument, &figure)) << bad;
  }

  // The outbox: a peer's messages in position order, and only that peer's.
  uint64_t position = 0;
  EXPECT_TRUE(ParseOutboxKey(OutboxKey("de", 17), "de", &position));
  EXPECT_EQ(position, 17u);
  EXPECT_FALSE(ParseOutboxKey(OutboxKey("de", 17), "d", &position));
  EXPECT_FALSE(ParseOutboxKey(OutboxKey("dex", 17), "de", &position));
  EXPECT_TRUE(absl::StartsWith(OutboxKey("de", 1), OutboxPrefix("de")));
  EXPECT_FALSE(absl::StartsWith(OutboxKey("dex", 1), OutboxPrefix("de")));
  EXPECT_LT(OutboxKey("de", 9), OutboxKey("de", 10));
}

TEST(FromRocksDbTest, MapsEveryCode) {
  struct Case {
    rocksdb::Status in;
    absl::StatusCode want;
  };
  const Case cases[] = {
      {rocksdb::Status::OK(), absl::StatusCode::kOk},
      {rocksdb::Status::NotFound(), absl::StatusCode::kNotFound},
      {rocksdb::Status::Corruption(), absl::StatusCode::kDataLoss},
      {rocksdb::Status::NotSupported(), absl::StatusCode::kUnimplemented},
      {rocksdb::Status::InvalidArgument(), absl::StatusCode::kInvalidArgument},
      {rocksdb::Status::IOError(), absl::StatusCode::kUnavailable},
      {rocksdb::Status::NoSpace(), absl::StatusCode::kUnavailable},
      {rocksdb::Status::MergeInProgress(), absl::StatusCode::kUnavailable},
      {rocksdb::Status::Incomplete(), absl::StatusCode::kUnavailable},
      {rocksdb::Status::ShutdownInProgress(), absl::StatusCode::kUnavailable},
      {rocksdb::Status::TimedOut(), absl::StatusCode::kDeadlineExceeded},
      {rocksdb::Status::Aborted(), absl::StatusCode::kAborted},
      {rocksdb::Status::Busy(), absl::StatusCode::kAborted},
      {rocksdb::Status::Expired(), absl::StatusCode::kUnavailable},
      {rocksdb::Status::TryAgain(), absl::StatusCode::kUnavailable},
      {rocksdb::Status::CompactionTooLarge(), absl::StatusCode::kInternal},
      {rocksdb::Status::ColumnFamilyDropped(), absl::StatusCode::kUnavailable},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(FromRocksDb(c.in, "op").code(), c.want) << c.in.ToString();
  }
  EXPECT_EQ(FromRocksDb(rocksdb::Status::IOError("secret/path"), "commit").message(),
            "commit: I/O error");
}

}  // namespace
}  // namespace comity::storage
