// Fuzzes what an auditor's verifier reads: signed notes and checkpoints, and trail bundles in
// their JSON form through the full verification, with the key of the node that made the seeds.
// Every input goes to each.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "services/audit/bundle.h"
#include "services/audit/bundle_json.h"
#include "services/audit/note.h"

namespace {

// The seeds' node: log key file of 64 'a' hex digits, origin comity.fuzz/node.
const comity::audit::NoteSigner& Signer() {
  static const comity::audit::NoteSigner* signer = [] {
    auto s = comity::audit::NoteSigner::FromSeed("comity.fuzz/node", std::string(32, '\xaa'));
    if (!s.ok()) std::abort();
    return s->release();
  }();
  return *signer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::string key = Signer().VerifierKey();
  // A note as received.
  absl::StatusOr<std::string> text = comity::audit::OpenNote(input, key);
  if (text.ok()) comity::audit::ParseCheckpoint(*text).status().IgnoreError();
  comity::audit::OpenCheckpoint(input, key).status().IgnoreError();
  // Any text, signed: a text the signer accepts opens to itself, and a checkpoint that parses
  // parses again once written out.
  absl::StatusOr<std::string> opened = comity::audit::OpenNote(Signer().Sign(input), key);
  if (opened.ok() && *opened != input) std::abort();
  absl::StatusOr<comity::audit::Checkpoint> c = comity::audit::ParseCheckpoint(input);
  if (c.ok() && !comity::audit::ParseCheckpoint(comity::audit::CheckpointText(*c)).ok()) {
    std::abort();
  }
  // A bundle file.
  absl::StatusOr<comity::v1::TrailBundle> bundle = comity::audit::ParseBundleJson(input);
  if (bundle.ok()) comity::audit::VerifyBundle(*bundle, key).status().IgnoreError();
  return 0;
}
