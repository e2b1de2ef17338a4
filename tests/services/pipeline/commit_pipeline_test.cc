// The commit pipeline against a CommitLog the test holds: groups capped by count and bytes,
// pipelining while a commit is under way, replies in order, and fail-stop.

#include "services/pipeline/commit_pipeline.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace comity::pipeline {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

// Records every group appended. While held, Append waits until released, so groups pile up
// behind it; it fails the group numbered `fail_at`.
class FakeCommitLog : public CommitLog {
 public:
  struct Appended {
    uint64_t number;
    std::vector<std::string> keys;
    size_t bytes;
  };

  absl::Status Append(uint64_t number, const storage::WriteSet& writes) override {
    absl::MutexLock lock(&mu_);
    ++appending_;
    mu_.Await(absl::Condition(
        +[](bool* held) { return !*held; }, &held_));
    Appended a{number, {}, writes.ByteSize()};
    for (const auto& w : writes.writes()) a.keys.push_back(w.key);
    appended_.push_back(std::move(a));
    if (number == fail_at_) return absl::DataLossError("disk gone");
    return absl::OkStatus();
  }

  void Hold() {
    absl::MutexLock lock(&mu_);
    held_ = true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    held_ = false;
  }
  void FailAt(uint64_t number) {
    absl::MutexLock lock(&mu_);
    fail_at_ = number;
  }
  // Waits until `n` appends have begun.
  void AwaitAppending(int n) {
    absl::MutexLock lock(&mu_);
    struct Arg {
      FakeCommitLog* log;
      int n;
    } arg{this, n};
    mu_.Await(absl::Condition(
        +[](Arg* a)
             ABSL_EXCLUSIVE_LOCKS_REQUIRED(a->log->mu_) { return a->log->appending_ >= a->n; },
        &arg));
  }
  std::vector<Appended> appended() {
    absl::MutexLock lock(&mu_);
    return appended_;
  }

 private:
  absl::Mutex mu_;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  int appending_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t fail_at_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Appended> appended_ ABSL_GUARDED_BY(mu_);
};

// What the test's callers heard, and when the sequencer applied their work.
class Callers {
 public:
  // Work that writes `bytes` bytes (key included) under key `key`.
  CommitPipeline::Work Write(std::string key, size_t bytes) {
    return [this, key = std::move(key), bytes](Group& group) {
      {
        absl::MutexLock lock(&mu_);
        applied_.push_back(key);
      }
      const std::string value(bytes > key.size() ? bytes - key.size() : 0, 'v');
      group.writes.Put(storage::Column::kMeta, key, value);
      group.replies.push_back([this, key](bool durable) {
        absl::MutexLock lock(&mu_);
        heard_.push_back(absl::StrCat(key, durable ? ":durable" : ":failed"));
      });
    };
  }
  void AwaitApplied(size_t n) {
    absl::MutexLock lock(&mu_);
    Await(&applied_, n);
  }
  void AwaitHeard(size_t n) {
    absl::MutexLock lock(&mu_);
    Await(&heard_, n);
  }
  std::vector<std::string> heard() {
    absl::MutexLock lock(&mu_);
    return heard_;
  }

 private:
  void Await(std::vector<std::string>* v, size_t n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    struct Arg {
      std::vector<std::string>* v;
      size_t n;
    } arg{v, n};
    mu_.Await(absl::Condition(
        +[](Arg* a) { return a->v->size() >= a->n; }, &arg));
  }
  absl::Mutex mu_;
  std::vector<std::string> applied_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> heard_ ABSL_GUARDED_BY(mu_);
};

std::vector<std::string> Keys(int from, int to) {
  std::vector<std::string> keys;
  for (int i = from; i < to; ++i) keys.push_back(absl::StrCat("k", i));
  return keys;
}

TEST(CommitPipelineTest, AppliesCommitsAndAnswersInOrder) {
  FakeCommitLog log;
  Callers callers;
  {
    CommitPipeline pipeline(&log, {});
    for (const std::string& k : Keys(0, 50))
      ASSERT_TRUE(pipeline.Submit(callers.Write(k, 10)).ok());
    pipeline.Stop();
  }
  std::vector<std::string> keys;
  uint64_t last = 0;
  for (const auto& a : log.appended()) {
    EXPECT_GT(a.number, last);
    last = a.number;
    keys.insert(keys.end(), a.keys.begin(), a.keys.end());
  }
  EXPECT_THAT(keys, ElementsAreArray(Keys(0, 50)));
  std::vector<std::string> expected;
  for (const std::string& k : Keys(0, 50)) expected.push_back(k + ":durable");
  EXPECT_THAT(callers.heard(), ElementsAreArray(expected));
}

TEST(CommitPipelineTest, AppliesTheNextGroupWhileOneCommitsAndMergesWhatWaits) {
  FakeCommitLog log;
  Callers callers;
  CommitPipeline pipeline(&log, {});
  log.Hold();
  ASSERT_TRUE(pipeline.Submit(callers.Write("first", 10)).ok());
  log.AwaitAppending(1);  // group 1 is committing and cannot finish
  for (const std::string& k : Keys(0, 5)) ASSERT_TRUE(pipeline.Submit(callers.Write(k, 10)).ok());
  callers.AwaitApplied(6);  // applied while group 1 is still on its way
  // The sequencer opens a group only once it has handed the one before to the committer: once
  // this one is applied, the five wait to commit.
  ASSERT_TRUE(pipeline.Submit(callers.Write("sentinel", 10)).ok());
  callers.AwaitApplied(7);
  EXPECT_TRUE(callers.heard().empty());
  log.Release();
  callers.AwaitHeard(7);
  pipeline.Stop();
  const auto appended = log.appended();
  ASSERT_GE(appended.size(), 2u);
  EXPECT_THAT(appended[0].keys, ElementsAre("first"));
  // One commit for all five, merged while they waited.
  ASSERT_GE(appended[1].keys.size(), 5u);
  EXPECT_THAT(std::vector<std::string>(appended[1].keys.begin(), appended[1].keys.begin() + 5),
              ElementsAreArray(Keys(0, 5)));
}

TEST(CommitPipelineTest, CapsGroupsByCount) {
  FakeCommitLog log;
  Callers callers;
  PipelineOptions options;
  options.max_items = 4;
  CommitPipeline pipeline(&log, {}, options);
  log.Hold();
  for (const std::string& k : Keys(0, 30)) ASSERT_TRUE(pipeline.Submit(callers.Write(k, 10)).ok());
  log.AwaitAppending(1);
  log.Release();
  callers.AwaitHeard(30);
  pipeline.Stop();
  size_t total = 0;
  for (const auto& a : log.appended()) {
    EXPECT_LE(a.keys.size(), 4u) << "group " << a.number;
    total += a.keys.size();
  }
  EXPECT_EQ(total, 30u);
}

TEST(CommitPipelineTest, CapsGroupsByBytes) {
  FakeCommitLog log;
  Callers callers;
  PipelineOptions options;
  options.max_bytes = 1 << 20;
  CommitPipeline pipeline(&log, {}, options);
  constexpr size_t kChange = 100 << 10;  // 100 KiB: ten and a bit fill a group
  log.Hold();
  ASSERT_TRUE(pipeline.Submit(callers.Write("first", kChange)).ok());
  log.AwaitAppending(1);
  for (const std::string& k : Keys(0, 60)) {
    ASSERT_TRUE(pipeline.Submit(callers.Write(k, kChange)).ok());
  }
  // Behind the commit under way, one group waits full and the next is applied, then the
  // sequencer waits: more than a cap's worth applied, and far from all.
  callers.AwaitApplied(12);
  log.Release();
  callers.AwaitHeard(61);
  pipeline.Stop();
  const auto appended = log.appended();
  size_t total = 0;
  for (const auto& a : appended) {
    EXPECT_EQ(a.bytes, a.keys.size() * kChange) << "group " << a.number;
    // Closed once it reached the cap: without its last change it was under it.
    EXPECT_LT(a.bytes - kChange, options.max_bytes) << "group " << a.number;
    total += a.keys.size();
  }
  EXPECT_EQ(total, 61u);
  EXPECT_GE(appended.size(), 7u);  // 61 changes of 100 KiB in groups of at most 11
}

TEST(CommitPipelineTest, AChangeOverTheByteCapCommitsAlone) {
  FakeCommitLog log;
  Callers callers;
  PipelineOptions options;
  options.max_bytes = 1000;
  CommitPipeline pipeline(&log, {}, options);
  log.Hold();
  ASSERT_TRUE(pipeline.Submit(callers.Write("small0", 10)).ok());
  log.AwaitAppending(1);
  ASSERT_TRUE(pipeline.Submit(callers.Write("small1", 10)).ok());
  ASSERT_TRUE(pipeline.Submit(callers.Write("big", 5000)).ok());
  ASSERT_TRUE(pipeline.Submit(callers.Write("small2", 10)).ok());
  callers.AwaitApplied(3);
  log.Release();
  callers.AwaitHeard(4);
  pipeline.Stop();
  // The big change closes its group the moment it joins it; nothing joins after it.
  std::vector<std::vector<std::string>> groups;
  for (const auto& a : log.appended()) groups.push_back(a.keys);
  ASSERT_GE(groups.size(), 3u);
  EXPECT_THAT(groups[0], ElementsAre("small0"));
  const auto& last = groups.back();
  EXPECT_THAT(last, ElementsAre("small2"));
  const auto& with_big = groups[groups.size() - 2];
  EXPECT_EQ(with_big.back(), "big");
  EXPECT_LE(with_big.size(), 2u);
}

TEST(CommitPipelineTest, RunsOnDurableBeforeTheNextAppendAndOpensWithWhatIsDurable) {
  FakeCommitLog log;
  absl::Mutex mu;
  std::vector<std::string> events;
  CommitPipeline::Stages stages;
  stages.open = [&](Group& group, uint64_t durable) {
    absl::MutexLock lock(&mu);
    EXPECT_LT(durable, group.number);
    events.push_back(absl::StrCat("open ", group.number));
  };
  stages.close = [&](Group& group) {
    const uint64_t n = group.number;
    group.on_durable.push_back([&, n] {
      absl::MutexLock lock(&mu);
      events.push_back(absl::StrCat("durable ", n, " after ", log.appended().size(), " appends"));
    });
  };
  Callers callers;
  CommitPipeline pipeline(&log, stages);
  ASSERT_TRUE(pipeline.Submit(callers.Write("a", 10)).ok());
  callers.AwaitHeard(1);
  ASSERT_TRUE(pipeline.Submit(callers.Write("b", 10)).ok());
  callers.AwaitHeard(2);
  pipeline.Stop();
  absl::MutexLock lock(&mu);
  EXPECT_THAT(events, ElementsAre("open 1", "durable 1 after 1 appends", "open 2",
                                  "durable 2 after 2 appends"));
}

TEST(CommitPipelineTest, AFailedAppendFailsThatGroupAndEveryLaterOneAndStops) {
  FakeCommitLog log;
  log.FailAt(2);
  Callers callers;
  std::vector<absl::Status> failures;
  int durable_hooks = 0;
  CommitPipeline::Stages stages;
  stages.close = [&](Group& group) { group.on_durable.push_back([&] { ++durable_hooks; }); };
  stages.on_failure = [&](const absl::Status& s) { failures.push_back(s); };
  CommitPipeline pipeline(&log, stages);
  ASSERT_TRUE(pipeline.Submit(callers.Write("ok", 10)).ok());
  callers.AwaitHeard(1);
  log.Hold();
  ASSERT_TRUE(pipeline.Submit(callers.Write("lost", 10)).ok());
  log.AwaitAppending(2);
  ASSERT_TRUE(pipeline.Submit(callers.Write("after1", 10)).ok());
  ASSERT_TRUE(pipeline.Submit(callers.Write("after2", 10)).ok());
  callers.AwaitApplied(4);
  log.Release();
  callers.AwaitHeard(4);
  EXPECT_THAT(callers.heard(),
              ElementsAre("ok:durable", "lost:failed", "after1:failed", "after2:failed"));
  const absl::Status refused = pipeline.Submit(callers.Write("later", 10));
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(refused.message()), ::testing::HasSubstr("storage failure"));
  pipeline.Stop();
  EXPECT_EQ(log.appended().size(), 2u);  // nothing appended after the failure
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0], absl::DataLossError("disk gone"));
  EXPECT_EQ(durable_hooks, 1);
}

TEST(CommitPipelineTest, RefusesWorkOnceStopped) {
  FakeCommitLog log;
  Callers callers;
  CommitPipeline pipeline(&log, {});
  pipeline.Stop();
  const absl::Status s = pipeline.Submit(callers.Write("late", 10));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("shutting down"));
  EXPECT_TRUE(log.appended().empty());
}

}  // namespace
}  // namespace comity::pipeline
