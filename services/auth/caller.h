#ifndef COMITY_SERVICES_AUTH_CALLER_H_
#define COMITY_SERVICES_AUTH_CALLER_H_

#include <string>
#include <vector>

#include "comity/v1/resources.pb.h"

namespace comity::auth {

// Who is asking: an authenticated principal, the authority it belongs to and the roles the
// directory gives it there. The node's own timed actions use Caller::System().
struct Caller {
  std::string principal;  // spiffe://<trust domain>/<authority id>/<user>
  std::string authority;  // authorities/<id>
  std::vector<v1::Role> roles;
  bool system = false;
  // Federation: the peer node that relayed the call (its node certificate), if one did. For a
  // forwarded action the principal, authority and roles are those that node vouches for.
  std::string node;

  bool Has(v1::Role role) const {
    for (v1::Role r : roles) {
      if (r == role) return true;
    }
    return false;
  }

  static Caller System() { return Caller{"system", "", {}, true, ""}; }
};

}  // namespace comity::auth

#endif  // COMITY_SERVICES_AUTH_CALLER_H_
