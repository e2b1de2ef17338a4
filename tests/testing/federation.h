#ifndef COMITY_TESTS_TESTING_FEDERATION_H_
#define COMITY_TESTS_TESTING_FEDERATION_H_

// Federated nodes for tests: real CAs, node certificates and log keys made by the test.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "comity/config/v1/config.pb.h"
#include "common/sha256.h"
#include "services/audit/note.h"
#include "tests/testing/certs.h"
#include "tests/testing/fixtures.h"

namespace comity::testing {

// A loopback port nothing listens on now (the kernel's next ephemeral one).
inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::abort();
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// Waits for `done`, up to 20 s; false if it never held.
inline bool WaitFor(const std::function<bool()>& done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// One state's node: its CA, node certificate, log key and directory.
struct Node {
  std::string id, trust_domain, authority, country;
  KeyAndCert ca, cert;
  std::string seed;  // the log key's Ed25519 seed
  std::string verifier_key;
  int federation_port = 0;
  std::string dir;

  std::string Principal(const std::string& user) const {
    return absl::StrCat("spiffe://", trust_domain, "/", authority.substr(12), "/", user);
  }
};

// Three states' nodes, fr, de and xx, each with its own CA, node certificate, trust domain, log
// key and directory (one authority: admin, eve the auditor, clerk the submitter and responder),
// their files under a temporary directory; and each one's configuration.
class FederationNodes {
 public:
  FederationNodes() {
    for (auto [id, authority, country] :
         {std::tuple<const char*, const char*, const char*>{"fr", "authorities/FR-CA", "FR"},
          {"de", "authorities/DE-BFJ", "DE"},
          {"xx", "authorities/XX-CA", "XX"}}) {
      Node& n = nodes_[id];
      n.id = id;
      n.trust_domain = absl::StrCat(id, ".comity.test");
      n.authority = authority;
      n.country = country;
      n.ca = MakeCa(absl::StrCat("CA of ", id));
      n.cert = MakeLeaf(n.ca, {absl::StrCat("node ", id),
                               {"URI:spiffe://" + n.trust_domain + "/node/" + id, "DNS:localhost",
                                "IP:127.0.0.1"}});
      n.seed = Sha256(absl::StrCat("log key of ", id));
      n.verifier_key = (*audit::NoteSigner::FromSeed(absl::StrCat(n.trust_domain, "/log"), n.seed))
                           ->VerifierKey();
      n.federation_port = FreePort();
      n.dir = absl::StrCat(dir_.path(), "/", id);
      WriteFile(Path(n, "ca.pem"), n.ca.cert_pem);
      WriteFile(Path(n, "node.pem"), n.cert.cert_pem);
      WriteFile(Path(n, "node.key"), n.cert.key_pem);
      WriteFile(Path(n, "log.key"), absl::BytesToHexString(n.seed));
      WriteFile(Path(n, "directory.textproto"),
                absl::StrCat("trust_domain: \"", n.trust_domain, "\"\n", "authorities { name: \"",
                             authority, "\" country: \"", country,
                             "\" display_name: \"Central authority\" kind: CENTRAL_AUTHORITY_KIND",
                             " members { principal: \"", n.Principal("admin"),
                             "\" roles: [ADMIN] } members { principal: \"", n.Principal("eve"),
                             "\" roles: [AUDITOR] } members { principal: \"", n.Principal("clerk"),
                             "\" roles: [SUBMITTER, RESPONDER] } }\n", "reservations { country: \"",
                             country,
                             "\" instrument: \"budapest\" code: \"BUDAPEST_29_4\" kind: "
                             "RESERVATION text: \"art. 29(4)\" }\n"));
    }
  }

  std::string Path(const Node& n, const std::string& name) {
    return absl::StrCat(dir_.path(), "/", n.id, "-", name);
  }

  // `id`'s configuration, federated with `peers`.
  config::v1::ServerConfig Config(const std::string& id, const std::vector<std::string>& peers) {
    const Node& n = nodes_[id];
    config::v1::ServerConfig c = comity::testing::TestServerConfig(n.dir);
    c.set_directory_file(Path(n, "directory.textproto"));
    c.set_log_origin(absl::StrCat(n.trust_domain, "/log"));
    c.set_log_key_file(Path(n, "log.key"));
    c.set_timer_period_ms(-1);
    config::v1::FederationConfig* f = c.mutable_federation();
    f->set_node(id);
    f->set_listen_address(absl::StrCat("127.0.0.1:", n.federation_port));
    f->set_cert_file(Path(n, "node.pem"));
    f->set_key_file(Path(n, "node.key"));
    f->set_retry_max_seconds(1);
    f->set_witness_interval_ms(50);
    for (const std::string& p : peers) {
      const Node& peer = nodes_[p];
      config::v1::PeerConfig* pc = f->add_peers();
      pc->set_node(p);
      pc->set_address(absl::StrCat("127.0.0.1:", peer.federation_port));
      pc->set_ca_file(Path(peer, "ca.pem"));
      pc->set_trust_domain(peer.trust_domain);
      pc->set_log_verifier_key(peer.verifier_key);
    }
    return c;
  }

 protected:
  TempDir dir_;
  std::map<std::string, Node> nodes_;
};

}  // namespace comity::testing

#endif  // COMITY_TESTS_TESTING_FEDERATION_H_
