// comity-scale-bench: how reads cost as the store grows. Loads N request lifecycles straight
// through the engine (no gRPC: the write path is comity-bench's), then times the reads a
// caseworker's screen makes, at each size in --sizes, on the same growing store:
//
//   comity-scale-bench [--sizes 10000,100000,1000000] [--dir /tmp/comity-scale] [--reads 2000]
//                      [--cache_mb 512] [--profiles deploy/profiles]
//                      [--directory deploy/dev/directory.textproto]
//
// The lifecycles stop at every stage (a sixth each: submitted, received, in execution, executed,
// closed; a tenth are emergencies with a running clock), from FR-CA to DE-BFJ, so the filters
// below select a share of the store, or nothing. Prints p50 and p99 per read, and the process's
// resident memory beside the store's budget (--cache_mb: block cache with the memtables charged
// to it) and what is charged to the budget.

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/sha256.h"
#include "services/workflow/directory.h"
#include "services/workflow/engine.h"
#include "services/workflow/profiles.h"
#include "services/workflow/reader.h"
#include "storage/store.h"

ABSL_FLAG(std::string, sizes, "10000,100000", "stored requests at which to measure, ascending");
ABSL_FLAG(std::string, dir, "/tmp/comity-scale", "the scratch data directory (emptied first)");
ABSL_FLAG(int, reads, 2000, "timed calls per read and size");
ABSL_FLAG(int, in_flight, 512, "commands in flight while loading");
ABSL_FLAG(int, cache_mb, 512, "the store's memory budget in MiB (comityd's cache_mb)");
ABSL_FLAG(std::string, profiles, "deploy/profiles", "instrument profiles");
ABSL_FLAG(std::string, directory, "deploy/dev/directory.textproto", "the directory");

namespace comity::bench {
namespace {

using workflow::Caller;
using workflow::Command;
using workflow::Engine;
using workflow::MakeCommand;

Caller Member(const workflow::Directory& d, const std::string& principal) {
  absl::StatusOr<Caller> c = d.CallerFor(principal);
  if (!c.ok()) {
    std::fprintf(stderr, "%s is not in the directory\n", principal.c_str());
    std::exit(1);
  }
  return *c;
}

// Runs lifecycles with at most `window` of them in flight. Each lifecycle holds its slot from
// Begin() to End(); its steps are applied from the engine's completer thread, which never waits.
class Loader {
 public:
  Loader(Engine* engine, int window) : engine_(engine), window_(window) {}
  void Begin() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](Loader* l) ABSL_EXCLUSIVE_LOCKS_REQUIRED(l->mu_) { return l->in_flight_ < l->window_; },
        this));
    ++in_flight_;
  }
  void End() {
    absl::MutexLock lock(&mu_);
    --in_flight_;
  }
  void Apply(Command c, std::function<void(const v1::Request&)> then) {
    engine_->Apply(std::move(c), [then](absl::StatusOr<v1::Request> r) {
      if (!r.ok()) {
        std::fprintf(stderr, "load failed: %s\n", r.status().ToString().c_str());
        std::exit(1);
      }
      then(*r);
    });
  }
  void Wait() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](Loader* l) ABSL_EXCLUSIVE_LOCKS_REQUIRED(l->mu_) { return l->in_flight_ == 0; }, this));
  }

 private:
  Engine* engine_;
  const int window_;
  absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

v1::Request Template(int i) {
  v1::Request r;
  r.set_instrument(i % 2 == 0 ? "uncc" : "budapest");
  r.set_type(i % 3 == 0 ? v1::TRAFFIC_DATA_DISCLOSURE : v1::STORED_DATA_PRODUCTION);
  r.set_priority(i % 10 == 0 ? v1::EMERGENCY : v1::ROUTINE);
  r.set_channel(v1::CENTRAL_AUTHORITY);
  r.set_requested_authority("authorities/DE-BFJ");
  r.set_language("en");
  v1::CaseInfo* c = r.mutable_case_info();
  c->set_reference("SCALE-" + std::to_string(i));
  c->set_investigating_authority("Juge d'instruction, Paris");
  c->set_nature_of_proceedings("Criminal investigation into ransomware attacks on hospitals");
  c->add_offences("Illegal access (UNCC art. 7)");
  c->add_legal_provisions("Code penal art. 323-1");
  c->set_summary_of_facts("Hospital systems were encrypted; ransom notes point to a mail account.");
  c->set_max_penalty_months(120);
  c->set_persons_concerned("Unknown holder of the account");
  v1::DataSought* d = r.mutable_data_sought();
  d->add_categories(v1::SUBSCRIBER);
  d->add_categories(v1::TRAFFIC);
  d->add_identifiers("ransom@example.org");
  d->set_service_provider("Example Mail GmbH");
  d->set_system_location("Frankfurt");
  d->mutable_time_range()->mutable_start_time()->set_seconds(1767225600);
  d->mutable_time_range()->mutable_end_time()->set_seconds(1769904000);
  d->set_relation_to_offence("The account received the ransom negotiations");
  r.set_purpose("Identify the perpetrators");
  r.set_necessity("Logs are kept for 90 days only");
  r.set_follow_up_intended(true);
  r.mutable_confidentiality()->set_confidential(true);
  if (r.priority() == v1::EMERGENCY) r.set_emergency_facts("A patient's life depends on it");
  return r;
}

long RssKib() { return static_cast<long>(ResidentKib()); }

int Main() {
  std::vector<long> sizes;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_sizes), ',')) {
    long n;
    if (!absl::SimpleAtoi(s, &n)) return 64;
    sizes.push_back(n);
  }
  const std::string dir = absl::GetFlag(FLAGS_dir);
  std::filesystem::remove_all(dir);
  auto profiles = workflow::ProfileSet::LoadDir(absl::GetFlag(FLAGS_profiles));
  auto directory = workflow::Directory::LoadFile(absl::GetFlag(FLAGS_directory));
  if (!profiles.ok() || !directory.ok()) {
    std::fprintf(stderr, "cannot load profiles or directory\n");
    return 1;
  }
  storage::RocksDbOptions store_options;
  store_options.cache_bytes = static_cast<uint64_t>(absl::GetFlag(FLAGS_cache_mb)) << 20;
  auto store = storage::OpenRocksDbStore(dir, store_options);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  auto engine = Engine::Start(store->get(), Clock::Real(), profiles->get(), directory->get());
  if (!engine.ok() || !workflow::LoadOrSeedDirectory(**store, **engine, **directory).ok()) {
    std::fprintf(stderr, "cannot start the engine\n");
    return 1;
  }
  const Caller alice = Member(**directory, "spiffe://comity.dev/FR-CA/alice");
  const Caller greta = Member(**directory, "spiffe://comity.dev/DE-BFJ/greta");
  workflow::Reader reader(store->get());
  Loader loader(engine->get(), absl::GetFlag(FLAGS_in_flight));
  std::vector<std::string> names;
  absl::Mutex names_mu;
  std::printf("%10s %-44s %9s %9s\n", "stored", "read", "p50 ms", "p99 ms");
  long loaded = 0;
  for (long target : sizes) {
    const absl::Time load_start = absl::Now();
    const long from = loaded;
    // Each lifecycle's next step is issued from the previous one's completion.
    for (; loaded < target; ++loaded) {
      const int i = static_cast<int>(loaded);
      const int stage = i % 6;  // 0 draft-submitted ... 5 closed
      v1::CreateRequestRequest create;
      *create.mutable_request() = Template(i);
      auto step = std::make_shared<std::function<void(const v1::Request&, int)>>();
      *step = [&, stage, step](const v1::Request& r, int done) {
        const std::string& name = r.name();
        if (done == 0) {
          absl::MutexLock lock(&names_mu);
          names.push_back(name);
        }
        if (done > stage || done == 5) {
          loader.End();
          return;
        }
        auto next = [&, step, done](const v1::Request& n) { (*step)(n, done + 1); };
        auto named = [&name](auto msg) {
          msg.set_name(name);
          return msg;
        };
        switch (done) {
          case 0:
            loader.Apply(MakeCommand(v1::SUBMIT, alice, named(v1::SubmitRequestRequest())), next);
            break;
          case 1:
            loader.Apply(
                MakeCommand(v1::ACKNOWLEDGE, greta, named(v1::AcknowledgeRequestRequest())), next);
            break;
          case 2:
            loader.Apply(MakeCommand(v1::ACCEPT, greta, named(v1::AcceptRequestRequest())), next);
            break;
          case 3: {
            v1::DeliverEvidenceRequest d = named(v1::DeliverEvidenceRequest());
            d.mutable_delivery()->set_final(true);
            v1::DeliveredItem* item = d.mutable_delivery()->add_items();
            item->set_name("subscriber.csv");
            item->set_sha256(ToHex(Sha256(name)));
            item->set_category(v1::SUBSCRIBER);
            loader.Apply(MakeCommand(v1::DELIVER, greta, d), next);
            break;
          }
          case 4:
            loader.Apply(
                MakeCommand(v1::CONFIRM_RECEIPT, alice, named(v1::ConfirmReceiptRequest())), next);
            break;
          default:
            break;
        }
      };
      loader.Begin();
      loader.Apply(MakeCommand(v1::CREATE, alice, create),
                   [step](const v1::Request& r) { (*step)(r, 0); });
    }
    loader.Wait();
    const double load_s = absl::ToDoubleSeconds(absl::Now() - load_start);
    std::printf("# loaded %ld lifecycles in %.1f s (%.0f per s); data directory %.2f GB\n",
                target - from, load_s, (target - from) / load_s, [&] {
                  uintmax_t bytes = 0;
                  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
                    if (e.is_regular_file()) bytes += e.file_size();
                  }
                  return bytes / 1e9;
                }());

    // Reads are timed on a settled store, as a node's would be between bursts: once the load's
    // flushes and compactions have finished (or after two minutes, said so).
    const absl::Time settle_start = absl::Now();
    for (;;) {
      const storage::StoreStats stats = (*store)->Stats();
      if (stats.background_jobs == 0 && stats.pending_compaction_bytes == 0) break;
      if (absl::Now() - settle_start > absl::Minutes(2)) {
        std::printf("# compaction still running after 2 min; reads timed beside it\n");
        break;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    std::printf("# compaction settled in %.1f s\n",
                absl::ToDoubleSeconds(absl::Now() - settle_start));

    std::mt19937 rng(42);
    auto time_read = [&](const char* what, const std::function<bool()>& read) {
      std::vector<double> ms;
      for (int k = 0; k < absl::GetFlag(FLAGS_reads); ++k) {
        const absl::Time t = absl::Now();
        if (!read()) {
          std::fprintf(stderr, "%s failed\n", what);
          std::exit(1);
        }
        ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t));
      }
      std::sort(ms.begin(), ms.end());
      std::printf("%10ld %-44s %9.3f %9.3f\n", target, what, ms[ms.size() / 2],
                  ms[ms.size() * 99 / 100]);
      std::fflush(stdout);
    };
    auto random_name = [&] {
      absl::MutexLock lock(&names_mu);
      return names[rng() % names.size()];
    };
    time_read("GetRequest", [&] { return reader.Get(greta, random_name()).ok(); });
    auto list = [&](const char* what, v1::ListRequestsRequest q) {
      q.set_page_size(100);
      time_read(what, [&] { return reader.List(greta, q).ok(); });
    };
    v1::ListRequestsRequest q;
    q.set_state(v1::RECEIVED);
    list("ListRequests state=RECEIVED", q);
    q.set_type(v1::STORED_DATA_PRODUCTION);
    q.set_side(v1::RECEIVING);
    list("ListRequests RECEIVING+RECEIVED+PRODUCTION", q);
    q.Clear();
    q.set_state(v1::PRESERVED);
    list("ListRequests state=PRESERVED (none)", q);
    q.Clear();
    q.set_type(v1::PRESERVATION);
    list("ListRequests type=PRESERVATION (none)", q);
    q.Clear();
    q.set_order_by("next_due_time");
    list("ListRequests by due time", q);
    q.set_priority(v1::EMERGENCY);
    q.set_state(v1::RECEIVED);
    list("ListRequests by due time, EMERGENCY+RECEIVED", q);
    time_read("GetStatistics", [&] { return reader.Statistics(greta, {}).ok(); });
    time_read("GetTrail (first page)", [&] {
      v1::GetTrailRequest t;
      t.set_request(random_name());
      return reader
          .TrailPage(
              greta, t, workflow::Reader::TrailKind::kGet, [] { return uint64_t{0}; }, false)
          .ok();
    });
    const storage::StoreStats stats = (*store)->Stats();
    std::printf(
        "# resident memory %.0f MiB; budget %.0f MiB, charged %.0f MiB (memtables %.0f MiB); "
        "table readers %.1f MiB\n",
        RssKib() / 1024.0, stats.cache_capacity_bytes / 1048576.0,
        stats.cache_usage_bytes / 1048576.0, stats.memtable_bytes / 1048576.0,
        stats.table_reader_bytes / 1048576.0);
  }
  engine->reset();
  store->reset();
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace comity::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return comity::bench::Main();
}
