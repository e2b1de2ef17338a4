#include "clients/bench/ceiling.h"

#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "storage/keys.h"
#include "storage/store.h"

namespace comity::bench {

CeilingResult MeasureCeiling(const std::string& dir, int producers, absl::Duration duration,
                             CeilingWrites writes) {
  auto store = storage::OpenRocksDbStore(dir);
  if (!store.ok()) return {};
  absl::Mutex mu;
  absl::CondVar work, done;
  std::vector<std::pair<std::string, uint64_t>> queue;  // id, sequence
  uint64_t committed_generation = 0, queued_generation = 0;
  bool stop = false;
  int64_t commits = 0, groups = 0;
  const std::string record(900, 'r'), entry(320, 'e'), hash(32, 'h'), event(60, 'v');
  uint64_t leaves = 0;  // the committer's alone

  std::thread committer([&] {
    for (;;) {
      std::vector<std::pair<std::string, uint64_t>> batch;
      uint64_t generation;
      {
        absl::MutexLock lock(&mu);
        while (queue.empty() && !stop) work.Wait(&mu);
        if (queue.empty()) return;
        batch.swap(queue);
        generation = queued_generation;
      }
      storage::WriteSet ws;
      for (const auto& [id, seq] : batch) {
        ws.Put(storage::Column::kRequests, id, record);
        ws.Put(storage::Column::kAudit, storage::AuditKey(id, seq), entry);
        if (writes == CeilingWrites::kMinimal) {
          ws.Put(storage::Column::kIndex, storage::PartyKey("authorities/FR-CA", id), "q");
          continue;
        }
        ws.Put(storage::Column::kTlog, storage::TlogNodeKey(0, leaves), hash);
        if (leaves % 2 == 1) ws.Put(storage::Column::kTlog, storage::TlogNodeKey(1, leaves / 2), hash);
        ++leaves;
        ws.Put(storage::Column::kIndex, storage::EventKey(leaves), event);
      }
      if (writes == CeilingWrites::kTransition) {
        ws.Put(storage::Column::kMeta, storage::kTlogSizeKey, absl::StrCat(leaves));
      }
      const bool ok = (*store)->Commit(ws).ok();
      absl::MutexLock lock(&mu);
      if (!ok) stop = true;
      commits += static_cast<int64_t>(batch.size());
      ++groups;
      committed_generation = generation;
      done.SignalAll();
    }
  });

  const absl::Time start = absl::Now();
  const absl::Time end = start + duration;
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      const std::string id = absl::StrCat("BENCH", 1000000 + p);
      for (uint64_t seq = 1; absl::Now() < end; ++seq) {
        absl::MutexLock lock(&mu);
        if (stop) return;
        queue.emplace_back(id, seq);
        const uint64_t mine = ++queued_generation;
        work.Signal();
        while (committed_generation < mine && !stop) done.Wait(&mu);
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  {
    absl::MutexLock lock(&mu);
    stop = true;
    work.Signal();
  }
  committer.join();
  CeilingResult r;
  r.commits_per_second = static_cast<double>(commits) / seconds;
  r.mean_group = groups == 0 ? 0 : static_cast<double>(commits) / static_cast<double>(groups);
  return r;
}

}  // namespace comity::bench
