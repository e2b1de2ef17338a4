#ifndef COMITY_TESTS_TESTING_CERTS_H_
#define COMITY_TESTS_TESTING_CERTS_H_

#include <string>
#include <vector>

namespace comity::testing {

// A PEM key and certificate made with OpenSSL for a test (EC P-256, SHA-256).
struct KeyAndCert {
  std::string key_pem;
  std::string cert_pem;
};

struct CertSpec {
  std::string common_name;
  std::vector<std::string> subject_alt_names;  // e.g. "URI:spiffe://...", "DNS:localhost"
  long valid_from_seconds = -3600;             // relative to now
  long valid_until_seconds = 24 * 3600;
};

// A self-signed certificate authority.
KeyAndCert MakeCa(const std::string& common_name);

// A leaf certificate for TLS clients and servers, signed by `ca`.
KeyAndCert MakeLeaf(const KeyAndCert& ca, const CertSpec& spec);

// Writes `content` to `path` (mode 0600).
void WriteFile(const std::string& path, const std::string& content);

}  // namespace comity::testing

#endif  // COMITY_TESTS_TESTING_CERTS_H_
