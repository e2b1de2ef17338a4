// comity evidence upload | list | status | download | erase: evidence packages, in chunks that
// resume where an interrupted transfer stopped.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "clients/cli/commands.h"
#include "clients/cli/format.h"
#include "clients/cli/transfer.h"
#include "comity/v1/evidence.grpc.pb.h"
#include "common/sha256.h"

namespace comity::cli {
namespace {

// Transfers run as long as they need: their call has no deadline, only the caller's identity.
std::unique_ptr<grpc::ClientContext> TransferCall(const Context& ctx) {
  auto call = ctx.NewCall();
  call->set_deadline(std::chrono::system_clock::time_point::max());
  return call;
}

// "N" (with the request) or "requests/ID/packages/N" -> the package's name.
std::string PackageName(const std::string& request, const std::string& package) {
  if (package.find('/') != std::string::npos) return package;
  return absl::StrCat(RequestName(request), "/packages/", package);
}

// One line of progress on a terminal (stderr), at most a few times a second.
class Progress {
 public:
  Progress(std::string label, int64_t total, int64_t done)
      : label_(std::move(label)), total_(total), start_(done), started_(absl::Now()) {}
  void Show(int64_t done, bool last = false) {
    if (!tty_) return;
    const absl::Time now = absl::Now();
    if (!last && now - shown_ < absl::Milliseconds(200)) return;
    shown_ = now;
    const double seconds = absl::ToDoubleSeconds(now - started_);
    const double rate = seconds > 0 ? static_cast<double>(done - start_) / seconds / (1 << 20) : 0;
    std::fprintf(
        stderr, "\r%-32.32s %5.1f%%  %8.1f MiB  %7.1f MiB/s", label_.c_str(),
        total_ > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 100.0,
        static_cast<double>(done) / (1 << 20), rate);
    if (last) std::fprintf(stderr, "\n");
  }

 private:
  const bool tty_ = isatty(STDERR_FILENO) != 0;
  std::string label_;
  int64_t total_;
  int64_t start_;
  absl::Time started_;
  absl::Time shown_ = absl::InfinitePast();
};

int Upload(Context& ctx, const Args& args) {
  if (args.positional().size() < 2) return UsageError("expected REQUEST FILE...");
  const std::string request = RequestName(args.positional()[0]);
  absl::StatusOr<int> category =
      ParseEnum(v1::DataCategory_descriptor(), args.Get("category", "content"));
  if (!category.ok()) return UsageError(absl::StrCat("--category: ", category.status().message()));
  v1::CreatePackageRequest create;
  create.set_parent(request);
  create.set_request_id(args.Get("request-id"));
  std::vector<std::string> paths(args.positional().begin() + 1, args.positional().end());
  for (const std::string& path : paths) {
    v1::PackageItem* item = create.add_items();
    item->set_name(std::filesystem::path(path).filename().string());
    item->set_category(v1::DataCategory(*category));
    std::string sha256;
    int64_t size = 0;
    if (!HashFile(path, &sha256, &size)) {
      return PrintError(absl::NotFoundError(absl::StrCat("cannot read ", path)));
    }
    item->set_sha256(sha256);
    item->set_size_bytes(size);
  }
  auto stub = v1::EvidenceService::NewStub(ctx.channel);
  // Run again after an interruption, the same files resume the package that holds them.
  v1::ListPackagesRequest list;
  list.set_parent(request);
  v1::ListPackagesResponse existing;
  if (grpc::Status s = stub->ListPackages(ctx.NewCall().get(), list, &existing); !s.ok()) {
    return PrintError(s);
  }
  v1::EvidencePackage package;
  for (const v1::EvidencePackage& p : existing.packages()) {
    if (p.state() != v1::UPLOADING || p.items_size() != create.items_size()) continue;
    bool same = true;
    for (int i = 0; i < p.items_size() && same; ++i) {
      same = p.items(i).name() == create.items(i).name() &&
             p.items(i).sha256() == create.items(i).sha256() &&
             p.items(i).size_bytes() == create.items(i).size_bytes();
    }
    if (same) package = p;
  }
  if (package.name().empty()) {
    if (grpc::Status s = stub->CreatePackage(ctx.NewCall().get(), create, &package); !s.ok()) {
      return PrintError(s);
    }
  } else if (!ctx.id_only) {
    std::cerr << "resuming " << package.name() << "\n";
  }
  v1::GetPackageRequest get;
  get.set_name(package.name());
  v1::UploadStatus status;
  if (grpc::Status s = stub->GetUploadStatus(ctx.NewCall().get(), get, &status); !s.ok()) {
    return PrintError(s);
  }
  for (int i = 0; i < status.items_size(); ++i) {
    const v1::ItemStatus& item = status.items(i);
    if (item.complete()) continue;
    Progress progress(item.item(), item.size_bytes(), item.durable_bytes());
    auto call = TransferCall(ctx);
    grpc::Status sent =
        UploadFile(*stub, call.get(), package.name(), item.item(), paths[i], item.durable_bytes(),
                   item.size_bytes(), [&](int64_t done, bool last) { progress.Show(done, last); });
    if (!sent.ok()) return PrintError(sent);
  }
  const std::string number = package.name().substr(package.name().rfind('/') + 1);
  if (ctx.id_only) {
    std::cout << number << "\n";
  } else if (ctx.json) {
    PrintJson(package);
  } else {
    std::cout << package.name() << " uploaded: " << package.items_size()
              << " item(s), manifest sha256 " << package.digest() << "\n";
  }
  return 0;
}

int List(Context& ctx, const Args& args) {
  if (args.positional().size() != 1) return UsageError("expected exactly one request ID");
  auto stub = v1::EvidenceService::NewStub(ctx.channel);
  v1::ListPackagesRequest req;
  req.set_parent(RequestName(args.positional()[0]));
  v1::ListPackagesResponse out;
  if (grpc::Status s = stub->ListPackages(ctx.NewCall().get(), req, &out); !s.ok()) {
    return PrintError(s);
  }
  if (ctx.json) {
    PrintJson(out);
    return 0;
  }
  for (const v1::EvidencePackage& p : out.packages()) {
    std::cout << p.name().substr(p.name().rfind('/') + 1) << "  "
              << v1::PackageState_Name(p.state()) << "  " << p.items_size() << " item(s)";
    if (p.delivery() > 0) std::cout << "  delivery " << p.delivery();
    std::cout << "\n";
    for (const v1::PackageItem& item : p.items()) {
      std::cout << "    " << item.name() << "  " << item.size_bytes() << " bytes  " << item.sha256()
                << (item.complete() ? "" : "  (not uploaded)") << "\n";
    }
  }
  return 0;
}

int Status(Context& ctx, const Args& args) {
  if (args.positional().size() != 2) return UsageError("expected REQUEST PACKAGE");
  auto stub = v1::EvidenceService::NewStub(ctx.channel);
  v1::GetPackageRequest req;
  req.set_name(PackageName(args.positional()[0], args.positional()[1]));
  v1::UploadStatus out;
  if (grpc::Status s = stub->GetUploadStatus(ctx.NewCall().get(), req, &out); !s.ok()) {
    return PrintError(s);
  }
  if (ctx.json) {
    PrintJson(out);
    return 0;
  }
  std::cout << out.package() << "  " << v1::PackageState_Name(out.state()) << "\n";
  for (const v1::ItemStatus& item : out.items()) {
    std::cout << "    " << item.item() << "  " << item.durable_bytes() << "/" << item.size_bytes()
              << (item.complete() ? "  complete" : "")
              << (out.system_of_record().empty()
                      ? ""
                      : absl::StrCat("  fetched here from node ", out.system_of_record(), ": ",
                                     item.fetched_bytes(), "/", item.size_bytes()))
              << "\n";
  }
  return 0;
}

int Download(Context& ctx, const Args& args) {
  if (args.positional().size() != 2) return UsageError("expected REQUEST PACKAGE");
  auto stub = v1::EvidenceService::NewStub(ctx.channel);
  v1::GetPackageRequest get;
  get.set_name(PackageName(args.positional()[0], args.positional()[1]));
  v1::EvidencePackage package;
  if (grpc::Status s = stub->GetPackage(ctx.NewCall().get(), get, &package); !s.ok()) {
    return PrintError(s);
  }
  const std::string dir = args.Get("out", ".");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  for (const v1::PackageItem& item : package.items()) {
    const std::string path = (std::filesystem::path(dir) / item.name()).string();
    Progress progress(item.name(), item.size_bytes(), 0);
    grpc::Status got = DownloadFile(
        *stub, [&ctx] { return TransferCall(ctx); }, package.name(), item, path,
        [&](int64_t done, bool last) { progress.Show(done, last); });
    if (!got.ok()) return PrintError(got);
    if (!ctx.id_only && !ctx.json) std::cout << path << "  " << item.sha256() << "  verified\n";
  }
  return 0;
}

int Erase(Context& ctx, const Args& args) {
  if (args.positional().size() != 2) return UsageError("expected REQUEST PACKAGE");
  if (!args.Has("reasons")) return UsageError("--reasons is required: why it is erased");
  auto stub = v1::EvidenceService::NewStub(ctx.channel);
  v1::ErasePackageRequest req;
  req.set_name(PackageName(args.positional()[0], args.positional()[1]));
  req.set_reasons(args.Get("reasons"));
  req.set_request_id(args.Get("request-id"));
  v1::EvidencePackage out;
  if (grpc::Status s = stub->ErasePackage(ctx.NewCall().get(), req, &out); !s.ok()) {
    return PrintError(s);
  }
  if (ctx.json) {
    PrintJson(out);
  } else {
    std::cout << out.name() << " erased: its key is destroyed\n";
  }
  return 0;
}

}  // namespace

std::vector<CommandSpec> EvidenceCommands() {
  return {
      {"evidence",
       "upload",
       "REQUEST FILE... [--category C]",
       {{"category", "C", "data category of the files: subscriber, traffic, content (default)"},
        {"request-id", "ID", "idempotency key for the package's creation"}},
       Upload},
      {"evidence", "list", "REQUEST", {}, List},
      {"evidence", "status", "REQUEST PACKAGE", {}, Status},
      {"evidence",
       "download",
       "REQUEST PACKAGE [--out DIR]",
       {{"out", "DIR", "where the items are written (default .)"}},
       Download},
      {"evidence",
       "erase",
       "REQUEST PACKAGE --reasons TEXT",
       {{"reasons", "TEXT", "why (retention ended, an order)"},
        {"request-id", "ID", "idempotency key"}},
       Erase},
  };
}

}  // namespace comity::cli
