#ifndef COMITY_TESTS_TESTING_NODE_CALLS_H_
#define COMITY_TESTS_TESTING_NODE_CALLS_H_

// Calls to an in-process node's public API (development header principals), for federation tests.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "comity/v1/audit.grpc.pb.h"
#include "comity/v1/requests.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "services/server/server.h"

namespace comity::testing {

// Calls `method` of RequestService on `s` as `principal`.
template <typename Req>
absl::StatusOr<v1::Request> Call(const server::Server& s, const std::string& principal,
                                 grpc::Status (v1::RequestService::Stub::*method)(
                                     grpc::ClientContext*, const Req&, v1::Request*),
                                 const Req& req) {
  auto stub = v1::RequestService::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", s.port()),
                                                              grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-comity-principal", principal);
  v1::Request out;
  grpc::Status st = ((*stub).*method)(&ctx, req, &out);
  if (!st.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
  }
  return out;
}

inline absl::StatusOr<v1::Request> Get(const server::Server& s, const std::string& principal,
                                       const std::string& name) {
  v1::GetRequestRequest req;
  req.set_name(name);
  return Call(s, principal, &v1::RequestService::Stub::GetRequest, req);
}

// `name`'s trail at `s` as `reader` sees it, its first 1000 entries: the system of record's
// (mirrored, on the requesting node), or with `local` the node's own.
inline v1::Trail TrailAt(const server::Server& s, const std::string& reader,
                         const std::string& name, bool local = false) {
  auto stub = v1::AuditService::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", s.port()),
                                                            grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-comity-principal", reader);
  v1::GetTrailRequest req;
  req.set_request(name);
  req.set_local(local);
  req.set_page_size(1000);
  v1::Trail trail;
  grpc::Status st = stub->GetTrail(&ctx, req, &trail);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return trail;
}

// The entries of TrailAt.
inline std::vector<v1::AuditEntry> EntriesAt(const server::Server& s, const std::string& reader,
                                             const std::string& name, bool local = false) {
  const v1::Trail trail = TrailAt(s, reader, name, local);
  std::vector<v1::AuditEntry> out;
  for (const v1::TrailEntry& e : trail.entries()) out.push_back(e.entry());
  return out;
}

// `name`'s own trail at `s` (GetTrail with `local`), as `reader` sees it.
inline std::vector<v1::AuditEntry> LocalTrail(const server::Server& s, const std::string& reader,
                                              const std::string& name) {
  return EntriesAt(s, reader, name, true);
}

// The last entry of `name`'s trail at `s` is `action` by `actor`, relayed as `key`.
inline void ExpectLastEntry(const server::Server& s, const std::string& reader,
                            const std::string& name, v1::Action action, const std::string& actor,
                            const std::string& key) {
  const std::vector<v1::AuditEntry> trail = EntriesAt(s, reader, name);
  ASSERT_FALSE(trail.empty());
  EXPECT_EQ(trail.back().action(), action);
  EXPECT_EQ(trail.back().actor().principal(), actor);
  EXPECT_EQ(trail.back().request_id(), key);
}

}  // namespace comity::testing

#endif  // COMITY_TESTS_TESTING_NODE_CALLS_H_
