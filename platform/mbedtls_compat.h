// The one place where Portier's code differs between mbedTLS 2.28 (Debian 12, the default build)
// and mbedTLS 3.6 (OpenWrt). Every other file calls these wrappers instead of the mbedTLS
// functions whose names or arguments changed in 3.0, so the version test lives only here.
// Only platform/ includes this header; gateway/ and policies/ use platform's own functions.
#pragma once

#include <cstddef>

#include <mbedtls/version.h>  // MBEDTLS_VERSION_NUMBER; pulls in config.h (2.x) or build_info.h (3.x)

#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#if MBEDTLS_VERSION_NUMBER >= 0x04000000
#error \
    "mbedTLS 4 removed the low-level PK/ECP/CTR_DRBG APIs Portier uses; build against 2.28 or 3.6"
#elif MBEDTLS_VERSION_NUMBER >= 0x03000000 && MBEDTLS_VERSION_NUMBER < 0x03060000
#error "Portier is built and tested against mbedTLS 2.28 and 3.6; 3.0 to 3.5 are not supported"
#elif MBEDTLS_VERSION_NUMBER < 0x021C0000
#error "Portier needs mbedTLS 2.28 or 3.6"
#endif

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define PORTIER_MBEDTLS_3 1
#else
#define PORTIER_MBEDTLS_3 0
#endif

namespace portier::platform::mbedtls_compat {

// A random generator in mbedTLS's callback form.
using rng_fn = int (*)(void*, unsigned char*, std::size_t);

// ------------------------------------------------------------------------------ SHA-256
// 2.x: mbedtls_sha256_*_ret return int (the names without _ret are deprecated and void);
// 3.x: the _ret names are gone and the plain names return int.

inline int sha256_starts(mbedtls_sha256_context* ctx) {
#if PORTIER_MBEDTLS_3
  return mbedtls_sha256_starts(ctx, 0);
#else
  return mbedtls_sha256_starts_ret(ctx, 0);
#endif
}

inline int sha256_update(mbedtls_sha256_context* ctx, const unsigned char* in, std::size_t n) {
#if PORTIER_MBEDTLS_3
  return mbedtls_sha256_update(ctx, in, n);
#else
  return mbedtls_sha256_update_ret(ctx, in, n);
#endif
}

inline int sha256_finish(mbedtls_sha256_context* ctx, unsigned char* out32) {
#if PORTIER_MBEDTLS_3
  return mbedtls_sha256_finish(ctx, out32);
#else
  return mbedtls_sha256_finish_ret(ctx, out32);
#endif
}

// ------------------------------------------------------------------------------ PK
// 3.x added a random generator to key parsing and pair checking (EC blinding) and the signature
// buffer's size to signing. 2.x ignores the generator.

// An unencrypted private key; for PEM, `len` counts the terminating NUL.
inline int pk_parse_key(mbedtls_pk_context* pk, const unsigned char* key, std::size_t len,
                        [[maybe_unused]] rng_fn f_rng, [[maybe_unused]] void* p_rng) {
#if PORTIER_MBEDTLS_3
  return mbedtls_pk_parse_key(pk, key, len, nullptr, 0, f_rng, p_rng);
#else
  return mbedtls_pk_parse_key(pk, key, len, nullptr, 0);
#endif
}

inline int pk_sign(mbedtls_pk_context* pk, mbedtls_md_type_t md_alg, const unsigned char* hash,
                   std::size_t hash_len, unsigned char* sig, [[maybe_unused]] std::size_t sig_size,
                   std::size_t* sig_len, rng_fn f_rng, void* p_rng) {
#if PORTIER_MBEDTLS_3
  return mbedtls_pk_sign(pk, md_alg, hash, hash_len, sig, sig_size, sig_len, f_rng, p_rng);
#else
  return mbedtls_pk_sign(pk, md_alg, hash, hash_len, sig, sig_len, f_rng, p_rng);
#endif
}

inline int pk_check_pair(const mbedtls_pk_context* pub, const mbedtls_pk_context* prv,
                         [[maybe_unused]] rng_fn f_rng, [[maybe_unused]] void* p_rng) {
#if PORTIER_MBEDTLS_3
  return mbedtls_pk_check_pair(pub, prv, f_rng, p_rng);
#else
  return mbedtls_pk_check_pair(pub, prv);
#endif
}

// The curve of an EC key, MBEDTLS_ECP_DP_NONE for any other key. 3.x made the keypair's group a
// private field and added an accessor for it.
inline mbedtls_ecp_group_id pk_ec_group(const mbedtls_pk_context& pk) {
  if (mbedtls_pk_get_type(&pk) != MBEDTLS_PK_ECKEY) return MBEDTLS_ECP_DP_NONE;
#if PORTIER_MBEDTLS_3
  return mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(pk));
#else
  return mbedtls_pk_ec(pk)->grp.id;
#endif
}

// ------------------------------------------------------------------------------ X.509
// 1 if a parsed certificate says it is a CA, 0 if not; 3.x made the field private.
inline int x509_crt_ca_istrue(const mbedtls_x509_crt& crt) {
#if PORTIER_MBEDTLS_3
  return mbedtls_x509_crt_get_ca_istrue(&crt);
#else
  return crt.ca_istrue;
#endif
}

// 3.x deprecated the bignum serial setter (and drops it with MBEDTLS_DEPRECATED_REMOVED) in
// favour of raw big-endian bytes. `serial` must be positive (top bit clear).
inline int x509write_crt_set_serial(mbedtls_x509write_cert* w, const unsigned char* serial,
                                    std::size_t len) {
#if PORTIER_MBEDTLS_3
  // The raw setter takes a non-const buffer but only copies it.
  return mbedtls_x509write_crt_set_serial_raw(w, const_cast<unsigned char*>(serial), len);
#else
  mbedtls_mpi m;
  mbedtls_mpi_init(&m);
  int rc = mbedtls_mpi_read_binary(&m, serial, len);
  if (rc == 0) rc = mbedtls_x509write_crt_set_serial(w, &m);
  mbedtls_mpi_free(&m);
  return rc;
#endif
}

// ------------------------------------------------------------------------------ SSL
// TLS 1.2 exactly: 2.x names versions by major/minor numbers, 3.x by an enum (and would offer 1.3,
// whose encrypted handshake hides the alerts tls_client's diagnosis reads).
inline void ssl_conf_tls12_only(mbedtls_ssl_config* conf) {
#if PORTIER_MBEDTLS_3
  mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
  mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
  mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif
}

}  // namespace portier::platform::mbedtls_compat
