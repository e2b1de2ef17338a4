#include "tests/testing/certs.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>

#include "absl/strings/str_join.h"

namespace comity::testing {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

void Check(bool ok) {
  if (!ok) std::abort();
}

std::string Pem(const Owned<EVP_PKEY>& key) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  Check(PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr));
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n);
}

std::string Pem(const Owned<X509>& cert) {
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  Check(PEM_write_bio_X509(bio.get(), cert.get()));
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n);
}

void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  Check(ext != nullptr);
  Check(X509_add_ext(cert, ext, -1));
  X509_EXTENSION_free(ext);
}

KeyAndCert Make(const std::string& cn, const CertSpec* spec, const KeyAndCert* ca) {
  static std::atomic<long> serial{1000};
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  Check(key != nullptr);
  Owned<X509> cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec ? spec->valid_from_seconds : -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec ? spec->valid_until_seconds : 7 * 86400);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  Owned<X509> ca_cert;
  Owned<EVP_PKEY> ca_key;
  if (ca != nullptr) {
    Owned<BIO> cb(BIO_new_mem_buf(ca->cert_pem.data(), static_cast<int>(ca->cert_pem.size())));
    ca_cert.reset(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
    Owned<BIO> kb(BIO_new_mem_buf(ca->key_pem.data(), static_cast<int>(ca->key_pem.size())));
    ca_key.reset(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
    Check(ca_cert != nullptr && ca_key != nullptr);
    X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()));
  } else {
    X509_set_issuer_name(cert.get(), name);
  }
  X509* issuer = ca != nullptr ? ca_cert.get() : cert.get();
  if (ca == nullptr) {
    AddExtension(cert.get(), issuer, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExtension(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE");
    AddExtension(cert.get(), issuer, NID_key_usage, "critical,digitalSignature");
    AddExtension(cert.get(), issuer, NID_ext_key_usage, "serverAuth,clientAuth");
    if (!spec->subject_alt_names.empty()) {
      AddExtension(cert.get(), issuer, NID_subject_alt_name,
                   absl::StrJoin(spec->subject_alt_names, ","));
    }
  }
  AddExtension(cert.get(), issuer, NID_subject_key_identifier, "hash");
  Check(X509_sign(cert.get(), ca != nullptr ? ca_key.get() : key.get(), EVP_sha256()) > 0);
  return {Pem(key), Pem(cert)};
}

}  // namespace

KeyAndCert MakeCa(const std::string& common_name) { return Make(common_name, nullptr, nullptr); }

KeyAndCert MakeLeaf(const KeyAndCert& ca, const CertSpec& spec) {
  return Make(spec.common_name, &spec, &ca);
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  chmod(path.c_str(), 0600);
}

}  // namespace comity::testing
