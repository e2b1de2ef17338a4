// comity-federation-bench: requests across the border between two running federated nodes (the
// requesting node --fr_addr, the system of record --de_addr, as ./deploy/federation-demo.sh starts
// them), and the same on one node (--single_addr) beside them in the same run. At each client
// count, for --seconds: each client creates and submits a request at the requesting node, waits
// until the receiving authority's live feed (WatchEvents at the system of record) shows it, and
// acknowledges it there. Prints lifecycles/s, and p50/p99 from the submission's call to the
// event. With --backlog N (the system of record stopped first), it queues N submissions instead
// and prints the requesting node's resident memory (VmRSS of --fr_pid) before and after. With
// --evidence_mb N, it moves one item of N MiB across instead: uploaded and delivered at the system
// of record, fetched by the requesting node (from the delivery to FETCH_PACKAGE), then downloaded
// there, each step's MB/s side by side.
//
// BENCHMARKS.md ("Federation") has the commands.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "clients/cli/transfer.h"
#include "comity/v1/evidence.grpc.pb.h"
#include "comity/v1/requests.grpc.pb.h"
#include "common/files.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

ABSL_FLAG(std::string, fr_addr, "127.0.0.1:7710", "the requesting node");
ABSL_FLAG(std::string, fr_certs, "data/federation/fr/certs", "its ca.pem and principals' certs");
ABSL_FLAG(std::string, de_addr, "127.0.0.1:7720", "the system of record");
ABSL_FLAG(std::string, de_certs, "data/federation/de/certs", "its ca.pem and principals' certs");
ABSL_FLAG(std::string, single_addr, "",
          "one node homing both authorities (deploy/up.sh); empty: none");
ABSL_FLAG(std::string, single_certs, "deploy/dev/certs", "its ca.pem and principals' certs");
ABSL_FLAG(std::string, clients, "1,16,64", "client counts");
ABSL_FLAG(int, seconds, 10, "seconds per client count");
ABSL_FLAG(int, backlog, 0, "queue this many submissions for a stopped system of record instead");
ABSL_FLAG(int, fr_pid, 0, "the requesting node's pid, for its memory (--backlog)");
ABSL_FLAG(int, evidence_mb, 0, "move one item of this many MiB across instead");
ABSL_FLAG(std::string, evidence_dir, "/tmp", "where the item's file is written");
ABSL_FLAG(std::string, evidence_request_file, "deploy/dev/requests/production.textproto",
          "the request the evidence answers");
ABSL_FLAG(std::string, request_file, "deploy/dev/requests/preservation.textproto",
          "the request submitted");

namespace comity {
namespace {

struct Node {
  std::shared_ptr<grpc::Channel> channel;
  std::string submitter, responder;  // principals
};

// A channel presenting `principal`'s certificate (<authority id>-<user>.pem in `certs`).
std::shared_ptr<grpc::Channel> Connect(const std::string& addr, const std::string& certs,
                                       const std::string& principal) {
  std::vector<std::string> parts = absl::StrSplit(principal, '/');
  const std::string stem = absl::StrCat(parts[parts.size() - 2], "-", parts.back());
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadFile(certs + "/ca.pem").value_or("");
  tls.pem_cert_chain = ReadFile(absl::StrCat(certs, "/", stem, ".pem")).value_or("");
  tls.pem_private_key = ReadFile(absl::StrCat(certs, "/", stem, ".key")).value_or("");
  grpc::ChannelArguments args;
  args.SetString("comity.bench.principal", principal);  // a connection per principal
  args.SetMaxReceiveMessageSize(8 << 20);  // evidence chunks: up to 4 MiB and their framing
  return grpc::CreateCustomChannel(addr, grpc::SslCredentials(tls), args);
}

std::unique_ptr<grpc::ClientContext> Call() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return ctx;
}

int64_t RssKib(int pid) { return ResidentKib(pid); }

// Submissions waiting to be seen on the receiving side's feed.
class Seen {
 public:
  std::shared_ptr<absl::Notification> Expect(const std::string& name) {
    absl::MutexLock lock(&mu_);
    auto& n = waiting_[name];
    if (n == nullptr) n = std::make_shared<absl::Notification>();
    return n;
  }
  void Saw(const std::string& name) {
    absl::MutexLock lock(&mu_);
    auto& n = waiting_[name];
    if (n == nullptr) n = std::make_shared<absl::Notification>();
    if (!n->HasBeenNotified()) n->Notify();
  }
  void Forget(const std::string& name) {
    absl::MutexLock lock(&mu_);
    waiting_.erase(name);
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<absl::Notification>> waiting_;
};

struct Result {
  int lifecycles = 0;
  std::vector<double> latency_ms;
  int errors = 0;
};

// `clients` clients for `seconds`: submit at `from`, wait for the feed of `to`, acknowledge at
// `to`.
Result Run(const Node& from, const Node& to, const v1::Request& request, int clients, int seconds) {
  Seen seen;
  auto watch_stub = v1::RequestService::NewStub(to.channel);
  grpc::ClientContext watch_ctx;
  v1::WatchEventsRequest watch;
  watch.set_start_at_head(true);
  auto stream = watch_stub->WatchEvents(&watch_ctx, watch);
  std::thread feed([&] {
    v1::WatchEventsResponse batch;
    while (stream->Read(&batch)) {
      for (const v1::Event& e : batch.events()) {
        if (e.entry().action() == v1::SUBMIT) seen.Saw(e.request());
      }
    }
  });
  // The feed is live once it shows a submission made after it opened: one, before measuring.
  {
    auto stub = v1::RequestService::NewStub(from.channel);
    for (int attempt = 0; attempt < 10; ++attempt) {
      v1::CreateRequestRequest create;
      *create.mutable_request() = request;
      v1::Request draft, out;
      if (!stub->CreateRequest(Call().get(), create, &draft).ok()) continue;
      std::shared_ptr<absl::Notification> visible = seen.Expect(draft.name());
      v1::SubmitRequestRequest submit;
      submit.set_name(draft.name());
      const bool live = stub->SubmitRequest(Call().get(), submit, &out).ok() &&
                        visible->WaitForNotificationWithTimeout(absl::Seconds(3));
      seen.Forget(draft.name());
      if (live) break;
    }
  }
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  Result total;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      auto submit_stub = v1::RequestService::NewStub(from.channel);
      auto ack_stub = v1::RequestService::NewStub(to.channel);
      Result mine;
      while (!stop.load()) {
        v1::CreateRequestRequest create;
        *create.mutable_request() = request;
        v1::Request draft, out;
        if (!submit_stub->CreateRequest(Call().get(), create, &draft).ok()) {
          ++mine.errors;
          continue;
        }
        std::shared_ptr<absl::Notification> visible = seen.Expect(draft.name());
        v1::SubmitRequestRequest submit;
        submit.set_name(draft.name());
        const absl::Time start = absl::Now();
        if (!submit_stub->SubmitRequest(Call().get(), submit, &out).ok() ||
            !visible->WaitForNotificationWithTimeout(absl::Seconds(30))) {
          ++mine.errors;
          seen.Forget(draft.name());
          continue;
        }
        mine.latency_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
        seen.Forget(draft.name());
        v1::AcknowledgeRequestRequest ack;
        ack.set_name(draft.name());
        if (!ack_stub->AcknowledgeRequest(Call().get(), ack, &out).ok()) {
          ++mine.errors;
          continue;
        }
        ++mine.lifecycles;
      }
      absl::MutexLock lock(&mu);
      total.lifecycles += mine.lifecycles;
      total.errors += mine.errors;
      total.latency_ms.insert(total.latency_ms.end(), mine.latency_ms.begin(),
                              mine.latency_ms.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));  // the measured interval
  stop = true;
  for (std::thread& t : threads) t.join();
  watch_ctx.TryCancel();
  feed.join();
  return total;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// One item of --evidence_mb MiB across: upload and delivery at `de`, the fetch to `fr`, the
// download at `fr`.
int Evidence(const Node& fr, const Node& de) {
  const int64_t size = static_cast<int64_t>(absl::GetFlag(FLAGS_evidence_mb)) << 20;
  const std::string path = absl::GetFlag(FLAGS_evidence_dir) + "/comity-federation-bench.bin";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    std::string block(1 << 20, '\0');
    for (int64_t mib = 0; mib < size >> 20; ++mib) {
      for (size_t i = 0; i < block.size(); i += 64) block[i] = static_cast<char>(mib * 31 + i / 64);
      out.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
    if (!out) {
      std::fprintf(stderr, "error: cannot write %s\n", path.c_str());
      return 1;
    }
  }
  std::string sha256;
  int64_t got = 0;
  if (!cli::HashFile(path, &sha256, &got) || got != size) return 1;
  auto fail = [](const char* what, const grpc::Status& s) {
    std::fprintf(stderr, "error: %s: %s\n", what, s.error_message().c_str());
    return 1;
  };
  v1::CreateRequestRequest create;
  absl::StatusOr<std::string> text = ReadFile(absl::GetFlag(FLAGS_evidence_request_file));
  if (!text.ok() ||
      !google::protobuf::TextFormat::ParseFromString(*text, create.mutable_request())) {
    std::fprintf(stderr, "error: cannot read --evidence_request_file\n");
    return 1;
  }
  auto requests_fr = v1::RequestService::NewStub(fr.channel);
  auto requests_de = v1::RequestService::NewStub(de.channel);
  auto evidence_fr = v1::EvidenceService::NewStub(fr.channel);
  auto evidence_de = v1::EvidenceService::NewStub(de.channel);
  v1::Request req;
  grpc::Status s = requests_fr->CreateRequest(Call().get(), create, &req);
  if (!s.ok()) return fail("create", s);
  const std::string name = req.name();
  v1::SubmitRequestRequest submit;
  submit.set_name(name);
  if (!(s = requests_fr->SubmitRequest(Call().get(), submit, &req)).ok()) return fail("submit", s);
  v1::GetRequestRequest get;
  get.set_name(name);
  // The submission crosses (a poll: this is a benchmark, not a test).
  while (!requests_de->GetRequest(Call().get(), get, &req).ok()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  v1::AcknowledgeRequestRequest ack;
  ack.set_name(name);
  if (!(s = requests_de->AcknowledgeRequest(Call().get(), ack, &req)).ok()) {
    return fail("acknowledge", s);
  }
  v1::AcceptRequestRequest accept;
  accept.set_name(name);
  if (!(s = requests_de->AcceptRequest(Call().get(), accept, &req)).ok()) return fail("accept", s);
  v1::CreatePackageRequest pkg;
  pkg.set_parent(name);
  v1::PackageItem* item = pkg.add_items();
  item->set_name("image.bin");
  item->set_category(v1::CONTENT);
  item->set_size_bytes(size);
  item->set_sha256(sha256);
  v1::EvidencePackage package;
  if (!(s = evidence_de->CreatePackage(Call().get(), pkg, &package)).ok()) {
    return fail("create package", s);
  }
  absl::Time start = absl::Now();
  auto upload = std::make_unique<grpc::ClientContext>();
  if (!(s = cli::UploadFile(*evidence_de, upload.get(), package.name(), "image.bin", path, 0, size,
                            nullptr))
           .ok()) {
    return fail("upload", s);
  }
  const double upload_s = absl::ToDoubleSeconds(absl::Now() - start);
  v1::DeliverEvidenceRequest deliver;
  deliver.set_name(name);
  deliver.mutable_delivery()->set_final(true);
  deliver.mutable_delivery()->add_packages(package.name());
  start = absl::Now();
  if (!(s = requests_de->DeliverEvidence(Call().get(), deliver, &req)).ok()) {
    return fail("deliver", s);
  }
  for (;;) {
    if (requests_fr->GetRequest(Call().get(), get, &req).ok() && req.fetched_size() > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double fetch_s = absl::ToDoubleSeconds(absl::Now() - start);
  const std::string out = path + ".download";
  std::remove(out.c_str());
  start = absl::Now();
  if (!(s = cli::DownloadFile(
            *evidence_fr, [] { return Call(); }, package.name(), package.items(0), out, nullptr))
           .ok()) {
    return fail("download", s);
  }
  const double download_s = absl::ToDoubleSeconds(absl::Now() - start);
  std::remove(out.c_str());
  std::remove(path.c_str());
  const double mb = static_cast<double>(size) / 1e6;
  std::printf("item: %d MiB, %s\n", absl::GetFlag(FLAGS_evidence_mb), package.name().c_str());
  std::printf("%-36s %8s %10s\n", "step", "MB/s", "of upload");
  std::printf("%-36s %8.0f %10.2f\n", "upload at the system of record", mb / upload_s, 1.0);
  std::printf("%-36s %8.0f %10.2f\n", "fetch to the requesting node", mb / fetch_s,
              upload_s / fetch_s);
  std::printf("%-36s %8.0f %10.2f\n", "download at the requesting node", mb / download_s,
              upload_s / download_s);
  return 0;
}

int Main() {
  v1::Request request;
  absl::StatusOr<std::string> text = ReadFile(absl::GetFlag(FLAGS_request_file));
  if (!text.ok() || !google::protobuf::TextFormat::ParseFromString(*text, &request)) {
    std::fprintf(stderr, "cannot read %s\n", absl::GetFlag(FLAGS_request_file).c_str());
    return 2;
  }
  const std::string alice_fr = "spiffe://fr.comity.dev/FR-CA/alice";
  const std::string greta_de = "spiffe://de.comity.dev/DE-BFJ/greta";
  Node fr{Connect(absl::GetFlag(FLAGS_fr_addr), absl::GetFlag(FLAGS_fr_certs), alice_fr), alice_fr,
          ""};
  Node de{Connect(absl::GetFlag(FLAGS_de_addr), absl::GetFlag(FLAGS_de_certs), greta_de), "",
          greta_de};
  if (absl::GetFlag(FLAGS_evidence_mb) > 0) return Evidence(fr, de);
  if (const int n = absl::GetFlag(FLAGS_backlog); n > 0) {
    const int pid = absl::GetFlag(FLAGS_fr_pid);
    const int64_t before = pid > 0 ? RssKib(pid) : 0;
    auto stub = v1::RequestService::NewStub(fr.channel);
    const absl::Time start = absl::Now();
    std::atomic<int> queued{0}, failed{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < 16; ++c) {
      threads.emplace_back([&] {
        v1::CreateRequestRequest create;
        *create.mutable_request() = request;
        while (queued.fetch_add(1) < n) {
          v1::Request draft, out;
          v1::SubmitRequestRequest submit;
          if (!stub->CreateRequest(Call().get(), create, &draft).ok()) {
            ++failed;
            continue;
          }
          submit.set_name(draft.name());
          if (!stub->SubmitRequest(Call().get(), submit, &out).ok()) ++failed;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    const double took = absl::ToDoubleSeconds(absl::Now() - start);
    std::printf(
        "backlog: %d submissions queued for a stopped system of record in %.1f s (%d failed)\n", n,
        took, failed.load());
    if (pid > 0) {
      std::printf("requesting node VmRSS: %lld KiB before, %lld KiB after (growth %lld KiB)\n",
                  static_cast<long long>(before), static_cast<long long>(RssKib(pid)),
                  static_cast<long long>(RssKib(pid) - before));
    }
    return 0;
  }
  std::unique_ptr<Node> single;
  if (!absl::GetFlag(FLAGS_single_addr).empty()) {
    const std::string alice = "spiffe://comity.dev/FR-CA/alice";
    const std::string greta = "spiffe://comity.dev/DE-BFJ/greta";
    single = std::make_unique<Node>();
    single->channel =
        Connect(absl::GetFlag(FLAGS_single_addr), absl::GetFlag(FLAGS_single_certs), alice);
    single->submitter = alice;
    single->responder = greta;
  }
  std::unique_ptr<Node> single_de;
  if (single != nullptr) {
    single_de = std::make_unique<Node>(*single);
    single_de->channel = Connect(absl::GetFlag(FLAGS_single_addr),
                                 absl::GetFlag(FLAGS_single_certs), single->responder);
  }
  std::printf("%-8s  %-12s  %12s  %10s  %10s  %7s\n", "clients", "path", "lifecycles/s", "p50 ms",
              "p99 ms", "errors");
  const int seconds = absl::GetFlag(FLAGS_seconds);
  for (absl::string_view count : absl::StrSplit(absl::GetFlag(FLAGS_clients), ',')) {
    int clients = 0;
    if (!absl::SimpleAtoi(count, &clients) || clients <= 0) continue;
    std::vector<std::pair<const char*, Result>> rows;
    rows.emplace_back("across", Run(fr, de, request, clients, seconds));
    if (single != nullptr)
      rows.emplace_back("one node", Run(*single, *single_de, request, clients, seconds));
    for (const auto& [path, r] : rows) {
      std::printf("%-8d  %-12s  %12.1f  %10.1f  %10.1f  %7d\n", clients, path,
                  static_cast<double>(r.lifecycles) / seconds, Percentile(r.latency_ms, 0.5),
                  Percentile(r.latency_ms, 0.99), r.errors);
    }
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace comity

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return comity::Main();
}
