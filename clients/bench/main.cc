// comity-bench: drives full request lifecycles against a running comityd and prints committed
// transitions per second and latency percentiles for each client count, then measures the raw
// synced-RocksDB group-commit ceiling on the same disk and prints the ratio.
//
//   comity-bench [--addr 127.0.0.1:7700] [--clients 1,16,64] [--seconds 10] [--ceiling_dir /tmp]
//                [--api async|callback] [--ceiling=false] [--retries] [--minimal_stack=false]
//
// The load generator shares the machine with the node it measures, so by default it spends as
// little CPU per call as gRPC allows: the async API on one completion-queue thread, no transparent
// retries, the minimal client channel stack.

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "clients/bench/ceiling.h"
#include "comity/v1/requests.grpc.pb.h"
#include "common/files.h"
#include "common/sha256.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:7700", "comityd address (development mode)");
ABSL_FLAG(std::string, clients, "1,16,64", "concurrent clients, one run per value");
ABSL_FLAG(int, seconds, 10, "measured seconds per run (after 1 s of warm-up)");
ABSL_FLAG(std::string, api, "async",
          "gRPC client API: async (completion queues polled by --cq_threads threads) or callback");
ABSL_FLAG(int, cq_threads, 1, "threads polling completion queues, with --api async");
ABSL_FLAG(bool, retries, false,
          "gRPC's transparent retries (on by default in gRPC; off here, as their per-call "
          "bookkeeping costs the load generator CPU it shares with the server)");
ABSL_FLAG(bool, minimal_stack, true,
          "gRPC's minimal client channel stack (no client-side deadline or message-size "
          "filters, which the benchmark does not use), to spare the shared CPU");
ABSL_FLAG(int, connections, 1, "HTTP/2 connections the clients are spread over");
ABSL_FLAG(bool, ceiling, true, "also measure the raw RocksDB ceiling and print the ratio");
ABSL_FLAG(std::string, ceiling_dir, "/tmp", "where to make the scratch RocksDB for the ceiling");
ABSL_FLAG(std::string, requester, "spiffe://comity.dev/FR-CA/alice", "requesting principal");
ABSL_FLAG(std::string, responder, "spiffe://comity.dev/DE-BFJ/greta", "responding principal");
ABSL_FLAG(bool, tls, false,
          "also measure over mutual TLS against --tls_addr, each client count alternately with "
          "plaintext in the same run, each principal with its own certificate from --certs_dir");
ABSL_FLAG(std::string, tls_addr, "127.0.0.1:7701", "comityd address with mutual TLS (--tls)");
ABSL_FLAG(std::string, certs_dir, "deploy/dev/certs",
          "ca.pem and one NAME.pem/NAME.key per principal, as deploy/dev/make-certs.sh makes them");

namespace comity::bench {
namespace {

using Stub = v1::RequestService::Stub;
template <typename Req>
using CallbackMethod = void (Stub::async::*)(grpc::ClientContext*, const Req*, v1::Request*,
                                             std::function<void(grpc::Status)>);
template <typename Req>
using AsyncMethod = std::unique_ptr<grpc::ClientAsyncResponseReader<v1::Request>> (Stub::*)(
    grpc::ClientContext*, const Req&, grpc::CompletionQueue*);

// What a completion queue's tag points at: called with the outcome of the call it started.
class Completion {
 public:
  virtual ~Completion() = default;
  virtual void Completed() = 0;
};

struct Run {
  std::string requester, responder;
  bool tls = false;
  absl::Time measure_from, end;
  absl::Mutex mu;
  int running = 0;
};

// One client: create, submit, acknowledge, accept, deliver (final), confirm receipt; again.
// One call outstanding at a time, each issued from the previous call's completion.
class Lifecycle : public Completion {
 public:
  // With `cq`, calls go through the async API on that queue; without, the callback API. The
  // requester's calls go through `requesting`, the responder's through `receiving` (the same
  // stub in development mode, where the principal travels in a header).
  Lifecycle(Run* run, Stub* requesting, Stub* receiving, grpc::CompletionQueue* cq)
      : run_(run), requesting_(requesting), receiving_(receiving), cq_(cq) {
    *create_.mutable_request() = Template();
    auto* item = deliver_.mutable_delivery()->add_items();
    item->set_name("evidence.bin");
    item->set_sha256(ToHex(Sha256("evidence")));
    item->set_category(v1::TRAFFIC);
    deliver_.mutable_delivery()->set_final(true);
  }

  void Start() { Step(0); }
  std::vector<double>& latencies() { return latencies_; }
  int64_t errors() const { return errors_; }

 private:
  static v1::Request Template() {
    v1::Request r;
    r.set_instrument("uncc");
    r.set_type(v1::GENERAL_ASSISTANCE);
    r.set_priority(v1::ROUTINE);
    r.set_requested_authority("authorities/DE-BFJ");
    r.set_language("en");
    r.mutable_case_info()->set_investigating_authority("Benchmark court");
    r.mutable_case_info()->set_nature_of_proceedings("Benchmark");
    r.mutable_case_info()->set_summary_of_facts("Benchmark facts");
    r.mutable_case_info()->add_offences("Illegal access");
    r.set_purpose("Measure");
    return r;
  }

  template <typename Req>
  void Call(CallbackMethod<Req> callback, AsyncMethod<Req> async, Req* req, const std::string& who,
            int next) {
    reader_.reset();  // lives in the previous call's arena, which its context owns
    ctx_ = std::make_unique<grpc::ClientContext>();
    if (!run_->tls) ctx_->AddMetadata("x-comity-principal", who);
    Stub* const stub = who == run_->requester ? requesting_ : receiving_;
    next_ = next;
    started_ = absl::Now();
    if (cq_ != nullptr) {
      reader_ = (stub->*async)(ctx_.get(), *req, cq_);
      reader_->StartCall();
      reader_->Finish(&reply_, &status_, static_cast<Completion*>(this));
      return;
    }
    // The callback owns its context: the next call starts inside it.
    std::shared_ptr<grpc::ClientContext> ctx = std::move(ctx_);
    (stub->async()->*callback)(ctx.get(), req, &reply_, [this, ctx](grpc::Status s) {
      status_ = std::move(s);
      Completed();
    });
  }

  void Completed() override {
    const absl::Time t1 = absl::Now();
    if (!status_.ok()) {
      ++errors_;
      if (errors_ < 3) std::fprintf(stderr, "error: %s\n", status_.error_message().c_str());
      Step(0);  // start a fresh lifecycle
      return;
    }
    if (t1 >= run_->measure_from && t1 < run_->end) {
      latencies_.push_back(absl::ToDoubleMilliseconds(t1 - started_));
    }
    Step(next_);
  }

  void Step(int step) {
    if (absl::Now() >= run_->end || errors_ > 1000) {
      absl::MutexLock lock(&run_->mu);
      --run_->running;
      return;
    }
    const std::string name = reply_.name();
    switch (step) {
      case 0:
        Call(&Stub::async::CreateRequest, &Stub::PrepareAsyncCreateRequest, &create_,
             run_->requester, 1);
        return;
      case 1:
        submit_.set_name(name);
        Call(&Stub::async::SubmitRequest, &Stub::PrepareAsyncSubmitRequest, &submit_,
             run_->requester, 2);
        return;
      case 2:
        acknowledge_.set_name(name);
        Call(&Stub::async::AcknowledgeRequest, &Stub::PrepareAsyncAcknowledgeRequest, &acknowledge_,
             run_->responder, 3);
        return;
      case 3:
        accept_.set_name(name);
        Call(&Stub::async::AcceptRequest, &Stub::PrepareAsyncAcceptRequest, &accept_,
             run_->responder, 4);
        return;
      case 4:
        deliver_.set_name(name);
        Call(&Stub::async::DeliverEvidence, &Stub::PrepareAsyncDeliverEvidence, &deliver_,
             run_->responder, 5);
        return;
      default:
        confirm_.set_name(name);
        Call(&Stub::async::ConfirmReceipt, &Stub::PrepareAsyncConfirmReceipt, &confirm_,
             run_->requester, 0);
        return;
    }
  }

  Run* run_;
  Stub* requesting_;
  Stub* receiving_;
  grpc::CompletionQueue* cq_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::Request>> reader_;
  grpc::Status status_;
  absl::Time started_;
  int next_ = 0;
  v1::Request reply_;
  v1::CreateRequestRequest create_;
  v1::SubmitRequestRequest submit_;
  v1::AcknowledgeRequestRequest acknowledge_;
  v1::AcceptRequestRequest accept_;
  v1::DeliverEvidenceRequest deliver_;
  v1::ConfirmReceiptRequest confirm_;
  std::vector<double> latencies_;
  int64_t errors_ = 0;
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

struct Figures {
  double per_second, p50, p99;
  int64_t errors;
};

// The stubs of one server: one per connection, for each principal (the same in development mode).
struct Stubs {
  bool tls = false;
  std::vector<std::unique_ptr<Stub>> owned;
  std::vector<Stub*> requesting, receiving;
};

Figures Measure(const Stubs& stubs, const std::vector<grpc::CompletionQueue*>& cqs, int clients,
                absl::Duration measured) {
  Run run;
  run.tls = stubs.tls;
  run.requester = absl::GetFlag(FLAGS_requester);
  run.responder = absl::GetFlag(FLAGS_responder);
  run.measure_from = absl::Now() + absl::Seconds(1);
  run.end = run.measure_from + measured;
  run.running = clients;
  std::vector<std::unique_ptr<Lifecycle>> all;
  for (int i = 0; i < clients; ++i) {
    const size_t c = i % stubs.requesting.size();
    all.push_back(std::make_unique<Lifecycle>(&run, stubs.requesting[c], stubs.receiving[c],
                                              cqs.empty() ? nullptr : cqs[i % cqs.size()]));
  }
  for (auto& l : all) l->Start();
  {
    absl::MutexLock lock(&run.mu);
    run.mu.Await(absl::Condition(
        +[](int* running) { return *running == 0; }, &run.running));
  }
  std::vector<double> latencies;
  int64_t errors = 0;
  for (auto& l : all) {
    latencies.insert(latencies.end(), l->latencies().begin(), l->latencies().end());
    errors += l->errors();
  }
  Figures f;
  f.per_second = static_cast<double>(latencies.size()) / absl::ToDoubleSeconds(measured);
  f.p50 = Percentile(latencies, 0.50);
  f.p99 = Percentile(latencies, 0.99);
  f.errors = errors;
  return f;
}

int Main() {
  const std::string addr = absl::GetFlag(FLAGS_addr);
  const absl::Duration measured = absl::Seconds(absl::GetFlag(FLAGS_seconds));
  std::vector<int> levels;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_clients), ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(s, &n) || n < 1) {
      std::fprintf(stderr, "error: --clients takes numbers like 1,16,64\n");
      return 64;
    }
    levels.push_back(n);
  }
  auto channel_args = [](int connection) {
    grpc::ChannelArguments args;
    args.SetInt("comity.bench.connection", connection);  // distinct arguments: its own connection
    if (!absl::GetFlag(FLAGS_retries)) args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
    if (absl::GetFlag(FLAGS_minimal_stack)) args.SetInt(GRPC_ARG_MINIMAL_STACK, 1);
    return args;
  };
  const int connections = std::max(1, absl::GetFlag(FLAGS_connections));
  Stubs plain;
  for (int i = 0; i < connections; ++i) {
    plain.owned.push_back(v1::RequestService::NewStub(
        grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), channel_args(i))));
    plain.requesting.push_back(plain.owned.back().get());
    plain.receiving.push_back(plain.owned.back().get());
  }
  Stubs tls;
  tls.tls = true;
  if (absl::GetFlag(FLAGS_tls)) {
    // Each principal's certificate: deploy/dev/make-certs.sh names spiffe://domain/AUTH/user's
    // AUTH-user.pem.
    auto credentials =
        [](const std::string& principal) -> std::shared_ptr<grpc::ChannelCredentials> {
      std::vector<std::string> parts = absl::StrSplit(principal, '/');
      if (parts.size() < 5) return nullptr;
      const std::string dir = absl::GetFlag(FLAGS_certs_dir);
      const std::string name = absl::StrCat(parts[3], "-", parts[4]);
      grpc::SslCredentialsOptions o;
      absl::StatusOr<std::string> ca = ReadFile(absl::StrCat(dir, "/ca.pem"));
      absl::StatusOr<std::string> cert = ReadFile(absl::StrCat(dir, "/", name, ".pem"));
      absl::StatusOr<std::string> key = ReadFile(absl::StrCat(dir, "/", name, ".key"));
      for (const auto* f : {&ca, &cert, &key}) {
        if (!f->ok()) {
          std::fprintf(stderr, "error: %s (make them with deploy/dev/make-certs.sh)\n",
                       std::string(f->status().message()).c_str());
          return nullptr;
        }
      }
      o.pem_root_certs = *ca;
      o.pem_cert_chain = *cert;
      o.pem_private_key = *key;
      return grpc::SslCredentials(o);
    };
    auto requesting = credentials(absl::GetFlag(FLAGS_requester));
    auto receiving = credentials(absl::GetFlag(FLAGS_responder));
    if (requesting == nullptr || receiving == nullptr) return 66;
    const std::string tls_addr = absl::GetFlag(FLAGS_tls_addr);
    for (int i = 0; i < connections; ++i) {
      tls.owned.push_back(v1::RequestService::NewStub(
          grpc::CreateCustomChannel(tls_addr, requesting, channel_args(i))));
      tls.requesting.push_back(tls.owned.back().get());
      tls.owned.push_back(v1::RequestService::NewStub(
          grpc::CreateCustomChannel(tls_addr, receiving, channel_args(i))));
      tls.receiving.push_back(tls.owned.back().get());
    }
  }
  // With the async API, each thread polls a completion queue of its own and runs the
  // completions it finds there: no hand-off between a poller and a callback thread.
  std::vector<std::unique_ptr<grpc::CompletionQueue>> owned_cqs;
  std::vector<grpc::CompletionQueue*> cqs;
  std::vector<std::thread> pollers;
  const bool async = absl::GetFlag(FLAGS_api) == "async";
  if (!async && absl::GetFlag(FLAGS_api) != "callback") {
    std::fprintf(stderr, "error: --api takes async or callback\n");
    return 64;
  }
  for (int i = 0; async && i < std::max(1, absl::GetFlag(FLAGS_cq_threads)); ++i) {
    owned_cqs.push_back(std::make_unique<grpc::CompletionQueue>());
    cqs.push_back(owned_cqs.back().get());
    pollers.emplace_back([cq = cqs.back()] {
      void* tag;
      bool ok;
      while (cq->Next(&tag, &ok)) static_cast<Completion*>(tag)->Completed();
    });
  }
  std::printf(
      "comity-bench: %s over %zu connection(s), %s client API, %d s per run after 1 s warm-up, "
      "%u cores\n",
      addr.c_str(), plain.requesting.size(), async ? "async" : "callback",
      absl::GetFlag(FLAGS_seconds), std::thread::hardware_concurrency());
  if (absl::GetFlag(FLAGS_tls)) {
    std::printf("and over mutual TLS at %s (a connection per principal), alternately\n",
                absl::GetFlag(FLAGS_tls_addr).c_str());
  }
  std::printf(
      "lifecycle: create, submit, acknowledge, accept, deliver (final), confirm_receipt\n\n");
  std::printf("%8s  %-9s  %14s  %8s  %8s  %7s\n", "clients", "transport", "transitions/s", "p50 ms",
              "p99 ms", "errors");
  double last = 0;
  for (int clients : levels) {
    Figures f = Measure(plain, cqs, clients, measured);
    std::printf("%8d  %-9s  %14.0f  %8.2f  %8.2f  %7lld\n", clients, "plaintext", f.per_second,
                f.p50, f.p99, static_cast<long long>(f.errors));
    std::fflush(stdout);
    last = f.per_second;
    if (!absl::GetFlag(FLAGS_tls)) continue;
    Figures t = Measure(tls, cqs, clients, measured);
    std::printf("%8d  %-9s  %14.0f  %8.2f  %8.2f  %7lld   (%.2f of plaintext)\n", clients, "mTLS",
                t.per_second, t.p50, t.p99, static_cast<long long>(t.errors),
                f.per_second > 0 ? t.per_second / f.per_second : 0.0);
    std::fflush(stdout);
  }
  for (grpc::CompletionQueue* cq : cqs) cq->Shutdown();
  for (std::thread& t : pollers) t.join();
  if (!absl::GetFlag(FLAGS_ceiling)) return 0;
  const int producers = levels.back();
  const std::string dir = absl::StrCat(absl::GetFlag(FLAGS_ceiling_dir), "/comity-bench-ceiling-",
                                       absl::ToUnixNanos(absl::Now()));
  CeilingResult c = MeasureCeiling(dir, producers, measured, CeilingWrites::kTransition);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  CeilingResult minimal = MeasureCeiling(dir, producers, measured, CeilingWrites::kMinimal);
  std::filesystem::remove_all(dir, ec);
  std::printf(
      "\nraw RocksDB ceiling, %d producers, one committer, synced groups:\n"
      "  a transition's writes (record, entry, Merkle leaf and nodes, event):  %6.0f commits/s "
      "(mean group %.1f)\n"
      "  record, entry and one index entry only:                               %6.0f commits/s "
      "(mean group %.1f)\n",
      producers, c.commits_per_second, c.mean_group, minimal.commits_per_second,
      minimal.mean_group);
  if (c.commits_per_second > 0 && minimal.commits_per_second > 0) {
    std::printf("ratio at %d clients: %.2f of the transition ceiling (%.2f of the minimal one)\n",
                producers, last / c.commits_per_second, last / minimal.commits_per_second);
  }
  return 0;
}

}  // namespace
}  // namespace comity::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // Debian builds Abseil without NDEBUG, which leaves Mutex deadlock detection on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return comity::bench::Main();
}
