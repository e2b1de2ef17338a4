// comity-evidence-bench: one evidence item of --size_mb uploaded to and downloaded from a running
// comityd, over plaintext and over mutual TLS, beside a raw sequential write of the same size
// with an fdatasync after every 4 MiB (what each acknowledged chunk costs the node) on the disk of
// --dir, all in one run. Prints MB/s, the ratios, and the growth of each comityd's resident memory
// (VmRSS of --plain_pid / --tls_pid) during its transfers.
//
// BENCHMARKS.md ("Evidence transfers") has the command that starts the two nodes.

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "clients/cli/transfer.h"
#include "comity/v1/requests.grpc.pb.h"
#include "common/files.h"
#include "common/sha256.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/create_channel.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:7781", "comityd address (development mode)");
ABSL_FLAG(std::string, tls_addr, "", "comityd address with mutual TLS; empty: plaintext only");
ABSL_FLAG(std::string, certs_dir, "deploy/dev/certs", "ca.pem and AUTH-user.pem/.key");
ABSL_FLAG(int, plain_pid, 0, "the plaintext comityd's pid, for its memory");
ABSL_FLAG(int, tls_pid, 0, "the TLS comityd's pid, for its memory");
ABSL_FLAG(int, size_mb, 2048, "the item's size");
ABSL_FLAG(std::string, dir, "/tmp", "where the file is written (the nodes' disk)");
ABSL_FLAG(std::string, request_file, "deploy/dev/requests/traffic-data-disclosure.textproto",
          "the request the evidence answers");

namespace comity {
namespace {

constexpr char kRequester[] = "spiffe://comity.dev/FR-CA/alice";
constexpr char kResponder[] = "spiffe://comity.dev/DE-BFJ/greta";

double Seconds(absl::Time since) { return absl::ToDoubleSeconds(absl::Now() - since); }

// Writes `bytes` to `path` in 4 MiB writes, each followed by fdatasync; returns the seconds.
double RawWrite(const std::string& path, int64_t bytes) {
  std::string buf(cli::kTransferChunkBytes, '\0');
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<char>((i * 2654435761u) >> 13);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return -1;
  const absl::Time start = absl::Now();
  for (int64_t at = 0; at < bytes; at += static_cast<int64_t>(buf.size())) {
    std::memcpy(buf.data(), &at, sizeof at);  // no two chunks alike
    const size_t n = static_cast<size_t>(std::min<int64_t>(buf.size(), bytes - at));
    if (write(fd, buf.data(), n) != static_cast<ssize_t>(n) || fdatasync(fd) != 0) {
      close(fd);
      return -1;
    }
  }
  const double seconds = Seconds(start);
  close(fd);
  return seconds;
}

int64_t RssKib(int pid) { return pid > 0 ? ResidentKib(pid) : 0; }

// The peak VmRSS of `pid` while it lives, sampled every 50 ms.
class RssPeak {
 public:
  explicit RssPeak(int pid) : pid_(pid), start_(RssKib(pid)), peak_(start_) {
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        const int64_t now = RssKib(pid_);
        if (now > peak_.load()) peak_.store(now);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
  }
  ~RssPeak() {
    stop_.store(true);
    thread_.join();
  }
  double GrowthMib() const { return static_cast<double>(peak_.load() - start_) / 1024.0; }

 private:
  const int pid_;
  const int64_t start_;
  std::atomic<int64_t> peak_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::shared_ptr<grpc::ChannelCredentials> Credentials(const std::string& principal, bool tls) {
  if (!tls) return grpc::InsecureChannelCredentials();
  std::vector<std::string> parts = absl::StrSplit(principal, '/');
  const std::string dir = absl::GetFlag(FLAGS_certs_dir);
  const std::string name = absl::StrCat(parts[3], "-", parts[4]);
  grpc::SslCredentialsOptions o;
  absl::StatusOr<std::string> ca = ReadFile(absl::StrCat(dir, "/ca.pem"));
  absl::StatusOr<std::string> cert = ReadFile(absl::StrCat(dir, "/", name, ".pem"));
  absl::StatusOr<std::string> key = ReadFile(absl::StrCat(dir, "/", name, ".key"));
  if (!ca.ok() || !cert.ok() || !key.ok()) return nullptr;
  o.pem_root_certs = *ca;
  o.pem_cert_chain = *cert;
  o.pem_private_key = *key;
  return grpc::SslCredentials(o);
}

struct Node {
  std::shared_ptr<grpc::Channel> requesting, receiving;
  bool tls = false;
  std::unique_ptr<grpc::ClientContext> Call(const std::string& principal) const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!tls) ctx->AddMetadata("x-comity-principal", principal);
    return ctx;
  }
};

Node Connect(const std::string& addr, bool tls) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(8 << 20);
  Node n;
  n.tls = tls;
  n.requesting = grpc::CreateCustomChannel(addr, Credentials(kRequester, tls), args);
  n.receiving = grpc::CreateCustomChannel(addr, Credentials(kResponder, tls), args);
  return n;
}

struct Result {
  double upload_s = 0, download_s = 0, rss_growth_mib = 0;
  bool ok = false;
};

// A request in execution with one package of the file; its upload, delivery and download.
Result Measure(const Node& node, int pid, const std::string& path, int64_t size,
               const std::string& sha256) {
  Result r;
  auto requests_q = v1::RequestService::NewStub(node.requesting);
  auto requests_r = v1::RequestService::NewStub(node.receiving);
  auto evidence_r = v1::EvidenceService::NewStub(node.receiving);
  auto evidence_q = v1::EvidenceService::NewStub(node.requesting);
  absl::StatusOr<std::string> text = ReadFile(absl::GetFlag(FLAGS_request_file));
  v1::CreateRequestRequest create;
  if (!text.ok() ||
      !google::protobuf::TextFormat::ParseFromString(*text, create.mutable_request())) {
    std::fprintf(stderr, "error: cannot read --request_file\n");
    return r;
  }
  v1::Request req;
  auto fail = [](const char* what, const grpc::Status& s) {
    std::fprintf(stderr, "error: %s: %s\n", what, s.error_message().c_str());
    return false;
  };
  grpc::Status s = requests_q->CreateRequest(node.Call(kRequester).get(), create, &req);
  if (!s.ok()) return fail("create", s), r;
  const std::string name = req.name();
  v1::SubmitRequestRequest submit;
  submit.set_name(name);
  if (!(s = requests_q->SubmitRequest(node.Call(kRequester).get(), submit, &req)).ok()) {
    return fail("submit", s), r;
  }
  v1::AcknowledgeRequestRequest ack;
  ack.set_name(name);
  if (!(s = requests_r->AcknowledgeRequest(node.Call(kResponder).get(), ack, &req)).ok()) {
    return fail("acknowledge", s), r;
  }
  v1::AcceptRequestRequest accept;
  accept.set_name(name);
  if (!(s = requests_r->AcceptRequest(node.Call(kResponder).get(), accept, &req)).ok()) {
    return fail("accept", s), r;
  }
  v1::CreatePackageRequest pkg;
  pkg.set_parent(name);
  v1::PackageItem* item = pkg.add_items();
  item->set_name("image.bin");
  item->set_category(v1::CONTENT);
  item->set_size_bytes(size);
  item->set_sha256(sha256);
  v1::EvidencePackage package;
  if (!(s = evidence_r->CreatePackage(node.Call(kResponder).get(), pkg, &package)).ok()) {
    return fail("create package", s), r;
  }
  RssPeak rss(pid);
  absl::Time start = absl::Now();
  auto call = node.Call(kResponder);
  if (!(s = cli::UploadFile(*evidence_r, call.get(), package.name(), "image.bin", path, 0, size,
                            nullptr))
           .ok()) {
    return fail("upload", s), r;
  }
  r.upload_s = Seconds(start);
  v1::DeliverEvidenceRequest deliver;
  deliver.set_name(name);
  deliver.mutable_delivery()->set_final(true);
  deliver.mutable_delivery()->add_packages(package.name());
  if (!(s = requests_r->DeliverEvidence(node.Call(kResponder).get(), deliver, &req)).ok()) {
    return fail("deliver", s), r;
  }
  const std::string out = path + ".download";
  std::remove(out.c_str());
  start = absl::Now();
  if (!(s = cli::DownloadFile(
            *evidence_q, [&node] { return node.Call(kRequester); }, package.name(),
            package.items(0), out, nullptr))
           .ok()) {
    return fail("download", s), r;
  }
  r.download_s = Seconds(start);
  r.rss_growth_mib = rss.GrowthMib();
  std::remove(out.c_str());
  r.ok = true;
  return r;
}

}  // namespace
}  // namespace comity

int main(int argc, char** argv) {
  using namespace comity;
  absl::ParseCommandLine(argc, argv);
  const int64_t size = static_cast<int64_t>(absl::GetFlag(FLAGS_size_mb)) << 20;
  const std::string path = absl::StrCat(absl::GetFlag(FLAGS_dir), "/comity-evidence-bench.bin");
  const double raw_s = RawWrite(path, size);
  if (raw_s <= 0) {
    std::fprintf(stderr, "error: cannot write %s\n", path.c_str());
    return 1;
  }
  std::string sha256;
  int64_t got = 0;
  if (!cli::HashFile(path, &sha256, &got) || got != size) return 1;
  const double mb = static_cast<double>(size) / 1e6;
  std::printf("item: %d MiB; raw sequential write, fdatasync every 4 MiB: %.0f MB/s\n",
              absl::GetFlag(FLAGS_size_mb), mb / raw_s);
  std::printf("%-10s %12s %10s %14s %12s\n", "transport", "upload MB/s", "of raw", "download MB/s",
              "RSS +MiB");
  struct Mode {
    const char* label;
    std::string addr;
    bool tls;
    int pid;
  };
  std::vector<Mode> modes = {
      {"plaintext", absl::GetFlag(FLAGS_addr), false, absl::GetFlag(FLAGS_plain_pid)}};
  if (!absl::GetFlag(FLAGS_tls_addr).empty()) {
    modes.push_back({"mTLS", absl::GetFlag(FLAGS_tls_addr), true, absl::GetFlag(FLAGS_tls_pid)});
  }
  int rc = 0;
  for (const Mode& m : modes) {
    const Result r = Measure(Connect(m.addr, m.tls), m.pid, path, size, sha256);
    if (!r.ok) {
      rc = 1;
      continue;
    }
    std::printf("%-10s %12.0f %10.2f %14.0f %12.1f\n", m.label, mb / r.upload_s, raw_s / r.upload_s,
                mb / r.download_s, r.rss_growth_mib);
  }
  std::remove(path.c_str());
  return rc;
}
