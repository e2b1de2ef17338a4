// comity-crashloop: concurrent writers against the real comityd, killed with SIGKILL at random
// moments and restarted on the same data, checking after every restart that each acknowledged
// change is there and every trail's hash chain holds. Prints a verdict; exit 0 on PASS, 1 on FAIL,
// 2 if comityd cannot be run.
//
//   comity-crashloop --comityd build/services/server/comityd --iterations 1000
//       [--writers 8] [--data_dir DIR] [--min_kill_ms 20] [--max_kill_ms 400] [--seed N]
//
// Each writer creates a request and adds notes to it, one call at a time, recording what was
// acknowledged (the note's text at the trail position the reply reports). After the kill and the
// restart, every acknowledged note must be on its trail at that position, the trail must chain to
// the head its record holds, and every request ever acknowledged must still be there.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "comity/v1/audit.grpc.pb.h"
#include "comity/v1/requests.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "services/audit/chain.h"

ABSL_FLAG(std::string, comityd, "build/services/server/comityd", "the comityd binary");
ABSL_FLAG(std::string, profiles_dir, "deploy/profiles", "instrument profiles for comityd");
ABSL_FLAG(std::string, directory, "deploy/dev/directory.textproto", "directory for comityd");
ABSL_FLAG(std::string, data_dir, "", "comityd's data directory (default: a new one under /tmp)");
ABSL_FLAG(int, iterations, 10, "kill -9 and restart this many times");
ABSL_FLAG(int, writers, 8, "concurrent writers");
ABSL_FLAG(int, min_kill_ms, 20, "earliest kill, in ms after the node listens");
ABSL_FLAG(int, max_kill_ms, 400, "latest kill, in ms after the node listens");
ABSL_FLAG(uint64_t, seed, 0, "random seed (0: from the clock); printed, to replay a run");
ABSL_FLAG(bool, lose_data_for_testing, false,
          "delete the data directory after the first kill: the verdict must be FAIL");

namespace comity {
namespace {

constexpr char kRequester[] = "spiffe://comity.dev/FR-CA/alice";
constexpr char kAuditor[] = "spiffe://comity.dev/FR-CA/odile";

// A comityd child process in development mode on a free loopback port.
class Node {
 public:
  // Starts comityd and waits (at most 60 s) for it to listen. False if it does not.
  bool Start(const std::string& data_dir) {
    int out[2];
    if (pipe(out) != 0) return false;
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      const int null = open("/dev/null", O_WRONLY);
      if (null >= 0) dup2(null, STDERR_FILENO);
      close(out[0]);
      std::vector<std::string> args = {absl::GetFlag(FLAGS_comityd),
                                       "--listen=127.0.0.1:0",
                                       "--insecure_dev",
                                       "--data_dir=" + data_dir,
                                       "--profiles_dir=" + absl::GetFlag(FLAGS_profiles_dir),
                                       "--directory=" + absl::GetFlag(FLAGS_directory)};
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    std::string line;
    pollfd p{out[0], POLLIN, 0};
    while (line.find('\n') == std::string::npos && poll(&p, 1, 60000) > 0) {
      char buf[256];
      const ssize_t n = read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    close(out[0]);
    const std::string prefix = "listening on port ";
    port_ = 0;
    if (line.rfind(prefix, 0) != 0 ||
        !absl::SimpleAtoi(line.substr(prefix.size(), line.find('\n') - prefix.size()), &port_)) {
      Kill();
      return false;
    }
    return true;
  }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  int port() const { return port_; }
  ~Node() { Kill(); }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// What the node acknowledged: per request, the note text at each trail position, and the
// iteration that wrote the request.
struct Acknowledged {
  absl::Mutex mu;
  std::map<std::string, std::map<uint64_t, std::string>> notes ABSL_GUARDED_BY(mu);
  std::map<std::string, int> iteration ABSL_GUARDED_BY(mu);
  int64_t changes ABSL_GUARDED_BY(mu) = 0;
};

std::unique_ptr<grpc::ClientContext> As(const char* principal) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("x-comity-principal", principal);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return ctx;
}

v1::Request Template() {
  v1::Request r;
  r.set_instrument("uncc");
  r.set_type(v1::GENERAL_ASSISTANCE);
  r.set_priority(v1::ROUTINE);
  r.set_requested_authority("authorities/DE-BFJ");
  r.set_language("en");
  r.mutable_case_info()->set_investigating_authority("Crash loop court");
  r.mutable_case_info()->set_nature_of_proceedings("Crash loop");
  r.mutable_case_info()->set_summary_of_facts("Crash loop facts");
  r.mutable_case_info()->add_offences("Illegal access");
  r.set_purpose("Check durability");
  return r;
}

// One writer: a new request, then notes on it until a call fails (the node is gone).
void Write(v1::RequestService::Stub* stub, int iteration, int writer, Acknowledged* acked) {
  v1::CreateRequestRequest create;
  *create.mutable_request() = Template();
  v1::Request r;
  if (!stub->CreateRequest(As(kRequester).get(), create, &r).ok()) return;
  {
    absl::MutexLock lock(&acked->mu);
    acked->notes[r.name()];
    acked->iteration[r.name()] = iteration;
    ++acked->changes;
  }
  for (int i = 0;; ++i) {
    v1::AddNoteRequest note;
    note.set_name(r.name());
    note.set_kind(v1::COMMENT);
    note.set_text(absl::StrCat("iteration ", iteration, " writer ", writer, " note ", i));
    v1::Request out;
    if (!stub->AddNote(As(kRequester).get(), note, &out).ok()) return;
    absl::MutexLock lock(&acked->mu);
    acked->notes[r.name()][out.audit_size()] = note.text();
    ++acked->changes;
  }
}

// The whole trail of `name`, page by page.
grpc::Status FetchTrail(v1::AuditService::Stub* audit, const std::string& name, v1::Trail* trail) {
  v1::GetTrailRequest req;
  req.set_request(name);
  for (bool first = true;; first = false) {
    v1::Trail page;
    grpc::Status s = audit->GetTrail(As(kAuditor).get(), req, &page);
    if (!s.ok()) return s;
    if (first) {
      *trail = std::move(page);
    } else {
      for (v1::TrailEntry& e : *page.mutable_entries()) *trail->add_entries() = std::move(e);
      trail->set_next_page_token(page.next_page_token());
    }
    if (trail->next_page_token().empty()) return grpc::Status::OK;
    req.set_page_token(trail->next_page_token());
  }
}

// Checks the acknowledged requests written by iteration `only` (0: all of them) against the
// restarted node; the problems found.
std::vector<std::string> Check(int port, Acknowledged* acked, int only, int64_t* chains) {
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  auto audit = v1::AuditService::NewStub(channel);
  std::vector<std::string> problems;
  absl::MutexLock lock(&acked->mu);
  for (const auto& [name, notes] : acked->notes) {
    if (only != 0 && acked->iteration[name] != only) continue;
    v1::Trail trail;
    grpc::Status s = FetchTrail(audit.get(), name, &trail);
    if (!s.ok()) {
      problems.push_back(absl::StrCat(name, ": acknowledged, now ", s.error_message()));
      continue;
    }
    std::vector<std::string> bytes;
    for (const v1::TrailEntry& e : trail.entries()) bytes.push_back(e.data());
    if (absl::Status chain = audit::VerifyChain(name, bytes, trail.head(), trail.size());
        !chain.ok()) {
      problems.push_back(absl::StrCat(name, ": chain broken: ", chain.message()));
      continue;
    }
    ++*chains;
    for (const auto& [position, text] : notes) {
      if (position == 0 || position > static_cast<uint64_t>(trail.entries_size())) {
        problems.push_back(absl::StrCat(name, ": acknowledged entry ", position, " is lost"));
      } else if (const v1::AuditEntry& e = trail.entries(position - 1).entry();
                 e.action() != v1::ADD_NOTE || e.reasons() != text) {
        problems.push_back(
            absl::StrCat(name, ": entry ", position, " is not the acknowledged note"));
      }
    }
  }
  return problems;
}

int Main() {
  uint64_t seed = absl::GetFlag(FLAGS_seed);
  if (seed == 0) seed = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  std::mt19937_64 random(seed);
  std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  const bool own_dir = data_dir.empty();  // removed after a PASS, kept after a FAIL
  if (own_dir) {
    char pattern[] = "/tmp/comity-crashloop-XXXXXX";
    if (mkdtemp(pattern) == nullptr) return 2;
    data_dir = pattern;
  }
  const int iterations = absl::GetFlag(FLAGS_iterations);
  const int writers = absl::GetFlag(FLAGS_writers);
  std::uniform_int_distribution<int> delay(absl::GetFlag(FLAGS_min_kill_ms),
                                           absl::GetFlag(FLAGS_max_kill_ms));
  std::printf("comity-crashloop: %d iterations, %d writers, kill after %d-%d ms, seed %llu, %s\n",
              iterations, writers, absl::GetFlag(FLAGS_min_kill_ms),
              absl::GetFlag(FLAGS_max_kill_ms), static_cast<unsigned long long>(seed),
              data_dir.c_str());
  std::fflush(stdout);
  Acknowledged acked;
  int64_t chains = 0;
  const absl::Time began = absl::Now();
  for (int it = 1; it <= iterations; ++it) {
    Node node;
    if (!node.Start(data_dir)) {
      std::printf("FAIL: comityd did not start on iteration %d (after %d kills)\n", it, it - 1);
      return it == 1 ? 2 : 1;
    }
    // Before writing: what the last iteration had acknowledged survived its kill (the last
    // restart checks everything).
    if (it > 1) {
      std::vector<std::string> problems = Check(node.port(), &acked, it - 1, &chains);
      if (!problems.empty()) {
        std::printf("FAIL after kill %d: %zu problem(s); the first: %s\n", it - 1, problems.size(),
                    problems[0].c_str());
        return 1;
      }
    }
    auto stub = v1::RequestService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", node.port()), grpc::InsecureChannelCredentials()));
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
      threads.emplace_back(Write, stub.get(), it, w, &acked);
    }
    absl::SleepFor(absl::Milliseconds(delay(random)));
    node.Kill();
    for (std::thread& t : threads) t.join();
    if (it == 1 && absl::GetFlag(FLAGS_lose_data_for_testing)) {
      std::error_code ignored;
      std::filesystem::remove_all(data_dir, ignored);
    }
  }
  // The last kill, checked on a last restart.
  Node node;
  if (!node.Start(data_dir)) {
    std::printf("FAIL: comityd did not start after the last kill\n");
    return 1;
  }
  std::vector<std::string> problems = Check(node.port(), &acked, 0, &chains);
  absl::MutexLock lock(&acked.mu);
  if (!problems.empty()) {
    std::printf("FAIL after the last kill: %zu problem(s); the first: %s\n", problems.size(),
                problems[0].c_str());
    return 1;
  }
  std::printf(
      "PASS: %d kills in %.0f s; %lld acknowledged changes on %zu requests, 0 lost; %lld chain "
      "checks, 0 broken\n",
      iterations, absl::ToDoubleSeconds(absl::Now() - began), static_cast<long long>(acked.changes),
      acked.notes.size(), static_cast<long long>(chains));
  return 0;
}

}  // namespace
}  // namespace comity

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return comity::Main();
}
