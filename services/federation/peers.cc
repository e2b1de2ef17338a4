#include "services/federation/peers.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/text.h"
#include "services/audit/note.h"
#include "services/workflow/directory.h"

namespace comity::federation {
namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

// The certificates of a PEM bundle, in order.
std::vector<X509Ptr> ReadCertificates(absl::string_view pem) {
  std::vector<X509Ptr> out;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return out;
  while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) out.emplace_back(x);
  BIO_free(bio);
  return out;
}

// Whether the chain (leaf first) verifies against the CAs of `ca_pem` alone, for TLS clients.
bool ChainsTo(absl::string_view pem_chain, absl::string_view ca_pem) {
  std::vector<X509Ptr> chain = ReadCertificates(pem_chain);
  std::vector<X509Ptr> roots = ReadCertificates(ca_pem);
  if (chain.empty() || roots.empty()) return false;
  X509_STORE* store = X509_STORE_new();
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  bool ok = store != nullptr && untrusted != nullptr && ctx != nullptr;
  for (const X509Ptr& root : roots) ok = ok && X509_STORE_add_cert(store, root.get()) == 1;
  for (size_t i = 1; ok && i < chain.size(); ++i) {
    ok = sk_X509_push(untrusted, chain[i].get()) > 0;
  }
  ok = ok && X509_STORE_CTX_init(ctx, store, chain[0].get(), untrusted) == 1 &&
       X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) == 1 && X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);  // the certificates themselves are owned by `chain`
  X509_STORE_free(store);
  return ok;
}

}  // namespace

std::string NodeSpiffeId(absl::string_view trust_domain, absl::string_view node) {
  return absl::StrCat("spiffe://", trust_domain, "/node/", node);
}

absl::StatusOr<std::unique_ptr<PeerSet>> PeerSet::Load(const config::v1::FederationConfig& config,
                                                       absl::string_view trust_domain) {
  auto set = std::unique_ptr<PeerSet>(new PeerSet);
  if (!workflow::IsNodeId(config.node())) {
    return absl::InvalidArgumentError(
        "federation.node must be this node's id: 1-32 characters a-z, 0-9, -");
  }
  set->node_ = config.node();
  set->trust_domain_ = std::string(trust_domain);
  std::set<std::string> nodes = {config.node()}, domains = {std::string(trust_domain)};
  for (int i = 0; i < config.peers_size(); ++i) {
    const config::v1::PeerConfig& p = config.peers(i);
    const std::string field = absl::StrCat("federation.peers[", i, "]");
    auto bad = [&field](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
    };
    if (!workflow::IsNodeId(p.node())) return bad("node must be 1-32 characters a-z, 0-9, -");
    if (!nodes.insert(p.node()).second) {
      return bad(absl::StrCat("node ", p.node(), " is this node or is listed twice"));
    }
    if (p.address().empty())
      return bad("address (host:port of its federation listener) is required");
    if (p.trust_domain().empty() || absl::StrContains(p.trust_domain(), "/")) {
      return bad("trust_domain is required (a SPIFFE trust domain, e.g. de.comity.example)");
    }
    if (!domains.insert(p.trust_domain()).second) {
      return bad(absl::StrCat("trust_domain ", p.trust_domain(),
                              " is this node's or another peer's: each node has its own"));
    }
    absl::StatusOr<std::string> ca = ReadFile(p.ca_file());
    if (!ca.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(field, ".ca_file: ", ca.status().message()));
    }
    if (ReadCertificates(*ca).empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(field, ".ca_file ", p.ca_file(), " holds no PEM certificate"));
    }
    if (!audit::CheckVerifierKey(p.log_verifier_key()).ok()) {
      return bad("log_verifier_key must be the peer's verifier key, <name>+<hash>+<base64>");
    }
    set->peers_.push_back(
        {p.node(), p.address(), p.trust_domain(), *std::move(ca), p.log_verifier_key()});
  }
  return set;
}

const Peer* PeerSet::Find(absl::string_view node) const {
  for (const Peer& p : peers_) {
    if (p.node == node) return &p;
  }
  return nullptr;
}

std::string PeerSet::AllCaPem() const {
  std::string out;
  for (const Peer& p : peers_) {
    out += p.ca_pem;
    if (!out.empty() && out.back() != '\n') out += '\n';
  }
  return out;
}

absl::StatusOr<const Peer*> PeerSet::Identify(absl::string_view spiffe_id,
                                              absl::string_view pem_chain) const {
  absl::string_view rest = spiffe_id;
  const size_t slash = absl::ConsumePrefix(&rest, "spiffe://") ? rest.find('/') : rest.npos;
  if (slash == rest.npos) {
    return absl::PermissionDeniedError(
        "a peer presents its node certificate, whose SAN URI is spiffe://<trust domain>/node/<id>");
  }
  const absl::string_view domain = rest.substr(0, slash);
  absl::string_view path = rest.substr(slash);
  if (!absl::ConsumePrefix(&path, "/node/")) {
    return absl::PermissionDeniedError(absl::StrCat(
        Echo(spiffe_id), " is not a node certificate: the federation listener serves peers only"));
  }
  const Peer* peer = Find(path);
  if (peer == nullptr || peer->trust_domain != domain) {
    return absl::PermissionDeniedError(
        absl::StrCat(Echo(spiffe_id), " is not a peer of node ", node_));
  }
  if (!ChainsTo(pem_chain, peer->ca_pem)) {
    return absl::PermissionDeniedError(absl::StrCat("the certificate for ", Echo(spiffe_id),
                                                    " does not chain to node ", peer->node,
                                                    "'s CA: trust is per peer"));
  }
  return peer;
}

}  // namespace comity::federation
