#ifndef COMITY_TESTS_TESTING_ENGINE_FIXTURE_H_
#define COMITY_TESTS_TESTING_ENGINE_FIXTURE_H_

#include <memory>

#include "absl/time/time.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "services/workflow/directory.h"
#include "services/workflow/engine.h"
#include "services/workflow/profiles.h"
#include "services/workflow/reader.h"
#include "services/workflow/scheduler.h"
#include "storage/store.h"
#include "tests/testing/fixtures.h"

namespace comity::testing {

// The node's domain without gRPC, on a fake clock starting at `start`: a real RocksDB in a
// temporary directory, the shipped profiles, the demo directory, the engine, a reader and the
// scheduler. Open() at construction; Close() and Open() again to restart on the same data.
class EngineFixture : public ::testing::Test {
 protected:
  explicit EngineFixture(absl::Time start)
      : clock_(start), profiles_(ShippedProfiles()), directory_(DemoDirectory()) {
    Open();
  }

  void Open() {
    auto store = storage::OpenRocksDbStore(dir_.path());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auto engine = workflow::Engine::Start(store_.get(), &clock_, profiles_.get(), directory_.get());
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = *std::move(engine);
    reader_ = std::make_unique<workflow::Reader>(store_.get());
    scheduler_ = std::make_unique<workflow::Scheduler>(store_.get(), engine_.get(), &clock_);
  }

  void Close() {
    scheduler_.reset();
    engine_.reset();
    reader_.reset();
    store_.reset();
  }

  void Restart() {
    Close();
    Open();
  }

  workflow::Caller Who(const char* principal) { return As(*directory_, principal); }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<workflow::ProfileSet> profiles_;
  std::unique_ptr<workflow::Directory> directory_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<workflow::Engine> engine_;
  std::unique_ptr<workflow::Reader> reader_;
  std::unique_ptr<workflow::Scheduler> scheduler_;
};

}  // namespace comity::testing

#endif  // COMITY_TESTS_TESTING_ENGINE_FIXTURE_H_
