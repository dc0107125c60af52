// tests/unit/tls_fixtures.h — a throwaway P-256 key and self-signed certificate, made at
// test time (no private key is ever committed) and written as PEM into a fresh temporary
// directory that is removed again on destruction.
#pragma once

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace wsedge::test {

struct TlsFiles {
  std::string dir, cert, key, other_key;

  explicit TlsFiles(const char* common_name = "wsedge-test", long serial = 1) {
    char tmpl[] = "/tmp/wsedge-tls-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    cert = dir + "/cert.pem";
    key = dir + "/key.pem";
    other_key = dir + "/other-key.pem";
    EVP_PKEY* pkey = EVP_EC_gen("P-256");
    EVP_PKEY* other = EVP_EC_gen("P-256");
    REQUIRE(pkey != nullptr);
    REQUIRE(other != nullptr);
    X509* x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pkey);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
    X509_set_issuer_name(x, name);
    REQUIRE(X509_sign(x, pkey, EVP_sha256()) > 0);
    write_pem(cert, [&](FILE* f) { return PEM_write_X509(f, x); });
    write_pem(key, [&](FILE* f) {
      return PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr);
    });
    write_pem(other_key, [&](FILE* f) {
      return PEM_write_PrivateKey(f, other, nullptr, nullptr, 0, nullptr, nullptr);
    });
    X509_free(x);
    EVP_PKEY_free(pkey);
    EVP_PKEY_free(other);
  }
  ~TlsFiles() {
    for (const std::string& f : {cert, key, other_key})
      std::remove(f.c_str());
    ::rmdir(dir.c_str());
  }
  TlsFiles(const TlsFiles&) = delete;
  TlsFiles& operator=(const TlsFiles&) = delete;

 private:
  template <class Fn>
  static void write_pem(const std::string& path, Fn fn) {
    FILE* f = std::fopen(path.c_str(), "w");
    REQUIRE(f != nullptr);
    REQUIRE(fn(f) == 1);
    std::fclose(f);
  }
};

}  // namespace wsedge::test
