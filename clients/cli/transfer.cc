#include "clients/cli/transfer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"

namespace comity::cli {
namespace {

constexpr int kWindow = 3;  // chunks sent ahead of their acks

grpc::Status Local(grpc::StatusCode code, std::string message) {
  return grpc::Status(code, std::move(message));
}

}  // namespace

bool HashFile(const std::string& path, std::string* sha256, int64_t* size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  Sha256Stream hash;
  std::string buf(kTransferChunkBytes, '\0');
  *size = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize n = in.gcount();
    if (n <= 0) break;
    hash.Update(absl::string_view(buf.data(), static_cast<size_t>(n)));
    *size += n;
  }
  *sha256 = ToHex(hash.Finish());
  return true;
}

grpc::Status UploadFile(v1::EvidenceService::Stub& stub, grpc::ClientContext* call,
                        const std::string& package, const std::string& item,
                        const std::string& path, int64_t from, int64_t size,
                        const TransferProgress& progress) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Local(grpc::StatusCode::NOT_FOUND, absl::StrCat("cannot read ", path));
  in.seekg(from);
  auto stream = stub.Upload(call);
  int64_t at = from;
  int in_flight = 0;
  v1::UploadAck ack;
  std::string buf(kTransferChunkBytes, '\0');
  while (at < size) {
    in.read(buf.data(),
            static_cast<std::streamsize>(std::min<int64_t>(kTransferChunkBytes, size - at)));
    const std::streamsize n = in.gcount();
    if (n <= 0) {
      call->TryCancel();
      stream->Finish();
      return Local(grpc::StatusCode::DATA_LOSS,
                   absl::StrCat(path, " ended before ", size, " bytes"));
    }
    v1::UploadChunk chunk;
    if (at == from) chunk.set_package(package);
    chunk.set_item(item);
    chunk.set_offset(at);
    chunk.set_data(buf.data(), static_cast<size_t>(n));
    chunk.set_sha256(ToHex(Sha256(chunk.data())));
    if (!stream->Write(chunk)) break;  // the node ended the call: Finish says why
    at += n;
    if (++in_flight >= kWindow) {
      if (!stream->Read(&ack)) break;
      --in_flight;
      if (progress) progress(ack.durable_bytes(), false);
    }
  }
  stream->WritesDone();
  while (stream->Read(&ack)) {
    if (progress) progress(ack.durable_bytes(), ack.complete());
  }
  grpc::Status status = stream->Finish();
  if (!status.ok()) return status;
  if (!ack.complete()) {
    return Local(grpc::StatusCode::DATA_LOSS,
                 absl::StrCat("the node did not confirm ", item, " complete"));
  }
  return grpc::Status::OK;
}

grpc::Status DownloadFile(v1::EvidenceService::Stub& stub,
                          const std::function<std::unique_ptr<grpc::ClientContext>()>& new_call,
                          const std::string& package, const v1::PackageItem& item,
                          const std::string& path, const TransferProgress& progress) {
  std::error_code ec;
  int64_t have = std::filesystem::exists(path, ec)
                     ? static_cast<int64_t>(std::filesystem::file_size(path, ec))
                     : 0;
  if (have > item.size_bytes()) have = 0;  // not a prefix of this item: start again
  // The whole file's digest, as it grows: the bytes already there first.
  Sha256Stream whole;
  if (have > 0) {
    std::ifstream in(path, std::ios::binary);
    std::string buf(kTransferChunkBytes, '\0');
    int64_t read = 0;
    while (in && read < have) {
      in.read(buf.data(),
              static_cast<std::streamsize>(std::min<int64_t>(kTransferChunkBytes, have - read)));
      if (in.gcount() <= 0) break;
      whole.Update(absl::string_view(buf.data(), static_cast<size_t>(in.gcount())));
      read += in.gcount();
    }
    if (read != have) {
      return Local(grpc::StatusCode::UNAVAILABLE, absl::StrCat("cannot read ", path));
    }
  }
  if (have < item.size_bytes()) {
    std::ofstream out(
        path, have > 0 ? std::ios::binary | std::ios::app : std::ios::binary | std::ios::trunc);
    if (!out) return Local(grpc::StatusCode::UNAVAILABLE, absl::StrCat("cannot write ", path));
    v1::DownloadRequest req;
    req.set_name(package);
    req.set_item(item.name());
    req.set_offset(have);
    std::unique_ptr<grpc::ClientContext> call = new_call();
    auto reader = stub.Download(call.get(), req);
    v1::DownloadChunk chunk;
    while (reader->Read(&chunk)) {
      if (chunk.offset() != have || ToHex(Sha256(chunk.data())) != chunk.sha256()) {
        call->TryCancel();
        reader->Finish();
        return Local(grpc::StatusCode::DATA_LOSS,
                     absl::StrCat("the chunk at ", chunk.offset(), " of ", item.name(),
                                  " arrived damaged or out of place; run the download again"));
      }
      out.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()));
      whole.Update(chunk.data());
      have += static_cast<int64_t>(chunk.data().size());
      if (progress) progress(have, false);
    }
    out.flush();
    if (!out) return Local(grpc::StatusCode::UNAVAILABLE, absl::StrCat("cannot write ", path));
    if (grpc::Status s = reader->Finish(); !s.ok()) return s;
    if (progress) progress(have, true);
  }
  const std::string sha256 = ToHex(whole.Finish());
  if (sha256 != item.sha256() || have != item.size_bytes()) {
    std::filesystem::rename(path, path + ".mismatch", ec);
    return Local(grpc::StatusCode::DATA_LOSS,
                 absl::StrCat(item.name(), " hashes to ", sha256, ", not the delivered ",
                              item.sha256(), "; kept as ", path, ".mismatch"));
  }
  return grpc::Status::OK;
}

}  // namespace comity::cli
