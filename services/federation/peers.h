#ifndef COMITY_SERVICES_FEDERATION_PEERS_H_
#define COMITY_SERVICES_FEDERATION_PEERS_H_

// The federation's peers as configured, and who a caller on the federation listener is. Trust is
// per peer, as in SPIFFE federation: each peer's node certificate must chain to the CA configured
// for that peer, and name spiffe://<its trust domain>/node/<its node id>.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "comity/config/v1/config.pb.h"

namespace comity::federation {

struct Peer {
  std::string node;
  std::string address;
  std::string trust_domain;
  std::string ca_pem;            // its CA bundle
  std::string log_verifier_key;  // C2SP verifier key
};

// spiffe://<trust_domain>/node/<node>: the SPIFFE ID a node certificate carries.
std::string NodeSpiffeId(absl::string_view trust_domain, absl::string_view node);

class PeerSet {
 public:
  // This node (`config.node`, in `trust_domain`) and its peers, their CA files read and keys
  // checked. INVALID_ARGUMENT or FAILED_PRECONDITION naming the field and the problem: a node id
  // not of a-z, 0-9, -; a peer listed twice or named as this node; a trust domain shared; a CA
  // file missing or holding no certificate; a malformed verifier key.
  static absl::StatusOr<std::unique_ptr<PeerSet>> Load(const config::v1::FederationConfig& config,
                                                       absl::string_view trust_domain);

  const std::string& node() const { return node_; }
  const std::vector<Peer>& peers() const { return peers_; }
  const Peer* Find(absl::string_view node) const;

  // Every peer's CA bundle: the roots the federation listener accepts at the handshake, before
  // Identify tells which peer it is.
  std::string AllCaPem() const;

  // The peer a caller is, from the SPIFFE ID of its certificate and its chain (PEM, leaf first)
  // as the handshake presented them: the ID must be spiffe://<td>/node/<node> of a configured
  // peer, and the chain must verify against that peer's CA alone. PERMISSION_DENIED naming the
  // problem (a user's certificate, an unknown node, a certificate another peer's CA issued).
  absl::StatusOr<const Peer*> Identify(absl::string_view spiffe_id,
                                       absl::string_view pem_chain) const;

 private:
  std::string node_;
  std::string trust_domain_;
  std::vector<Peer> peers_;
};

}  // namespace comity::federation

#endif  // COMITY_SERVICES_FEDERATION_PEERS_H_
