#ifndef COMITY_CLIENTS_CLI_TRANSFER_H_
#define COMITY_CLIENTS_CLI_TRANSFER_H_

// Evidence transfers for clients (the CLI, the benchmark): a file uploaded as a package's item in
// chunks from the node's durable offset, and an item downloaded into a file from the length it
// already has, every chunk and the whole file checked against their digests.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "comity/v1/evidence.grpc.pb.h"
#include "grpcpp/client_context.h"

namespace comity::cli {

inline constexpr size_t kTransferChunkBytes = 4 << 20;

// Called with the bytes done so far, and true once the item is done.
using TransferProgress = std::function<void(int64_t done, bool last)>;

// Uploads bytes [from, size) of the file at `path` as `item` of `package`, up to three chunks
// ahead of their acknowledgements. OK once the node confirms the item complete (its whole digest
// checked); the node's error otherwise; DATA_LOSS if the file ends early.
grpc::Status UploadFile(v1::EvidenceService::Stub& stub, grpc::ClientContext* call,
                        const std::string& package, const std::string& item,
                        const std::string& path, int64_t from, int64_t size,
                        const TransferProgress& progress);

// Downloads `item` of `package` into the file at `path`, resuming after the bytes it holds (a
// file longer than the item starts again), then checks the whole file: DATA_LOSS for a damaged
// chunk or a file whose digest is not the item's (then renamed to PATH.mismatch).
grpc::Status DownloadFile(v1::EvidenceService::Stub& stub,
                          const std::function<std::unique_ptr<grpc::ClientContext>()>& new_call,
                          const std::string& package, const v1::PackageItem& item,
                          const std::string& path, const TransferProgress& progress);

// SHA-256 (lowercase hex) and size of the file at `path`, read in chunks; false if unreadable.
bool HashFile(const std::string& path, std::string* sha256, int64_t* size);

}  // namespace comity::cli

#endif  // COMITY_CLIENTS_CLI_TRANSFER_H_
