// comity-verify-bench: how long the offline verifier takes on a bundle of N entries.
//
//   comity-verify-bench [--entries 10000] [--runs 5]
//
// Builds a real bundle in memory: N chained audit entries of one request, leaves of a Merkle log,
// an inclusion proof for each, a signed checkpoint and trail note. Then times VerifyBundle.

#include <algorithm>
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/sha256.h"
#include "services/audit/bundle.h"
#include "services/audit/chain.h"
#include "services/audit/merkle.h"
#include "services/audit/note.h"

ABSL_FLAG(int, entries, 10000, "entries in the bundle");
ABSL_FLAG(int, runs, 5, "timed verifications");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int n = absl::GetFlag(FLAGS_entries);
  comity::v1::TrailBundle bundle;
  comity::v1::Trail* trail = bundle.mutable_trail();
  trail->set_request("requests/01M87BENCH0000000000000000");
  std::vector<std::string> leaves;
  std::string previous = comity::audit::GenesisHash();
  for (int i = 0; i < n; ++i) {
    comity::v1::AuditEntry e;
    e.set_request(trail->request());
    e.set_sequence(i + 1);
    e.set_previous_hash(previous);
    e.set_leaf_index(i);
    e.set_action(i == 0 ? comity::v1::CREATE : comity::v1::ADD_NOTE);
    e.set_reasons(absl::StrCat("status enquiry number ", i, ": any news on the preservation?"));
    e.mutable_actor()->set_principal("spiffe://comity.dev/FR-CA/alice");
    e.mutable_actor()->set_authority("authorities/FR-CA");
    e.mutable_time()->set_seconds(1795000000 + i);
    const std::string bytes = comity::audit::EntryBytes(e);
    auto* te = trail->add_entries();
    te->set_data(bytes);
    *te->mutable_entry() = e;
    leaves.push_back(comity::audit::LeafHash(bytes));
    previous = comity::Sha256(bytes);
  }
  trail->set_size(n);
  trail->set_head(previous);
  comity::audit::MerkleTree tree(leaves);
  for (int i = 0; i < n; ++i) {
    for (const std::string& h : tree.InclusionProof(i, n)) {
      trail->mutable_entries(i)->add_inclusion_proof(h);
    }
  }
  auto signer = comity::audit::NoteSigner::FromSeed("comity.bench/node", std::string(32, '\x05'));
  const comity::audit::Checkpoint cp{"comity.bench/node", static_cast<uint64_t>(n), tree.Root(n)};
  trail->mutable_checkpoint()->set_note((*signer)->Sign(comity::audit::CheckpointText(cp)));
  trail->mutable_checkpoint()->set_size(n);
  trail->mutable_checkpoint()->set_root_hash(cp.root_hash);
  bundle.set_trail_note((*signer)->Sign(comity::audit::TrailNoteText(*trail, n)));
  const std::string key = (*signer)->VerifierKey();

  std::vector<double> ms;
  for (int r = 0; r < absl::GetFlag(FLAGS_runs); ++r) {
    const absl::Time start = absl::Now();
    auto verdict = comity::audit::VerifyBundle(bundle, key);
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    if (!verdict.ok()) {
      std::fprintf(stderr, "verification failed: %s\n", verdict.status().ToString().c_str());
      return 1;
    }
  }
  std::sort(ms.begin(), ms.end());
  std::printf(
      "verify a bundle of %d entries (%zu bytes): median %.1f ms, best %.1f ms over %zu runs\n", n,
      bundle.ByteSizeLong(), ms[ms.size() / 2], ms[0], ms.size());
  return 0;
}
