// tls_client against an mbedTLS server on a socketpair, in one thread: both sides are
// non-blocking and take turns until the handshake ends. The server's certificate is made by
// platform/self_signed_cert (names "gw.example", address 127.0.0.1), and the client trusts it as
// its own CA.
#include "platform/tls_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "platform/mbedtls_compat.h"
#include "platform/self_signed_cert.h"

#include <CppUTest/TestHarness.h>

using namespace portier::platform;
namespace fs = std::filesystem;

namespace {

struct temp_dir {
  fs::path path;
  temp_dir() {
    char tmpl[] = "/tmp/portier-tls-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~temp_dir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return (path / name).string();
  }
};

// A TLS 1.2 server on one end of a socketpair, with the given identity.
class test_server {
 public:
  test_server(int fd, const tls_identity& id) : fd_(fd) {
    mbedtls_entropy_init(&entropy_);
    mbedtls_ctr_drbg_init(&drbg_);
    mbedtls_ssl_config_init(&conf_);
    mbedtls_ssl_init(&ssl_);
    mbedtls_x509_crt_init(&cert_);
    mbedtls_pk_init(&key_);
    CHECK_EQUAL(0, mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_, nullptr, 0));
    CHECK_EQUAL(0, mbedtls_x509_crt_parse(&cert_,
                                          reinterpret_cast<const unsigned char*>(id.cert_pem.c_str()),
                                          id.cert_pem.size() + 1));
    CHECK_EQUAL(0, mbedtls_compat::pk_parse_key(
                       &key_, reinterpret_cast<const unsigned char*>(id.key_pem.c_str()),
                       id.key_pem.size() + 1, mbedtls_ctr_drbg_random, &drbg_));
    CHECK_EQUAL(0, mbedtls_ssl_config_defaults(&conf_, MBEDTLS_SSL_IS_SERVER,
                                               MBEDTLS_SSL_TRANSPORT_STREAM,
                                               MBEDTLS_SSL_PRESET_DEFAULT));
    mbedtls_ssl_conf_rng(&conf_, mbedtls_ctr_drbg_random, &drbg_);
    mbedtls_compat::ssl_conf_tls12_only(&conf_);
    CHECK_EQUAL(0, mbedtls_ssl_conf_own_cert(&conf_, &cert_, &key_));
    CHECK_EQUAL(0, mbedtls_ssl_setup(&ssl_, &conf_));
    mbedtls_ssl_set_bio(&ssl_, &fd_, mbedtls_net_send, mbedtls_net_recv, nullptr);
  }
  ~test_server() {
    mbedtls_ssl_free(&ssl_);
    mbedtls_ssl_config_free(&conf_);
    mbedtls_x509_crt_free(&cert_);
    mbedtls_pk_free(&key_);
    mbedtls_ctr_drbg_free(&drbg_);
    mbedtls_entropy_free(&entropy_);
  }
  // One step of the handshake: 0 done, WANT_* to go on, another value failed.
  int step() { return mbedtls_ssl_handshake(&ssl_); }
  int read(unsigned char* buf, std::size_t n) { return mbedtls_ssl_read(&ssl_, buf, n); }

 private:
  mbedtls_net_context fd_;
  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context drbg_;
  mbedtls_ssl_config conf_;
  mbedtls_ssl_context ssl_;
  mbedtls_x509_crt cert_;
  mbedtls_pk_context key_;
};

struct handshake_outcome {
  bool done = false;
  tls_handshake_report report;
  std::string received;  // what the server read after the handshake
};

handshake_outcome run_handshake(const tls_identity& server_id, const std::string& ca_file,
                                const std::string& host) {
  int fds[2];
  CHECK_EQUAL(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds));
  handshake_outcome out;
  {
    std::string error;
    auto trust = tls_client_trust::load({ca_file, "", "", ""}, error);
    CHECK_TRUE_TEXT(trust != nullptr, error.c_str());
    test_server server(fds[1], server_id);
    tls_client_session client(trust, fds[0], host);
    bool client_done = false, server_done = false, client_failed = false;
    for (int i = 0; i < 200 && !(client_done && server_done) && !client_failed; ++i) {
      if (!client_done) {
        const auto r = client.handshake();
        client_done = r == tls_client_session::io::done;
        client_failed = r == tls_client_session::io::failed;
      }
      if (!server_done) {
        const int r = server.step();
        server_done = r == 0;
        if (r != 0 && r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE)
          server_done = true;  // the server gave up (the client's alert): nothing more to do
      }
    }
    out.done = client_done;
    out.report = client.report();
    if (client_done) {
      std::size_t wrote = 0;
      CHECK(client.write("hello", 5, wrote) == tls_client_session::io::done);
      CHECK_EQUAL(5u, wrote);
      unsigned char buf[16];
      const int n = server.read(buf, sizeof buf);
      if (n > 0) out.received.assign(reinterpret_cast<char*>(buf), static_cast<std::size_t>(n));
    }
  }
  ::close(fds[0]);
  ::close(fds[1]);
  return out;
}

tls_identity identity(const temp_dir& d, const std::string& sub) {
  fs::create_directories(d.path / sub);
  auto id = load_or_make_self_signed((d.path / sub).string(), {"gw.example"}, {"127.0.0.1"},
                                     1'700'000'000'000);
  CHECK_TRUE(id.ok());
  return id.value();
}

}  // namespace

TEST_GROUP(tls_client){};

TEST(tls_client, a_trusted_server_is_verified_by_dns_name_and_by_ip_address) {
  temp_dir d;
  const auto id = identity(d, "server");
  const auto ca = d.write("ca.pem", id.cert_pem);
  auto by_name = run_handshake(id, ca, "gw.example");
  CHECK_TRUE_TEXT(by_name.done, by_name.report.error.c_str());
  STRCMP_EQUAL("hello", by_name.received.c_str());
  auto by_ip = run_handshake(id, ca, "127.0.0.1");
  CHECK_TRUE_TEXT(by_ip.done, by_ip.report.error.c_str());
  CHECK_EQUAL(0u, by_ip.report.verify_problems);
}

TEST(tls_client, another_name_or_address_is_a_host_mismatch) {
  temp_dir d;
  const auto id = identity(d, "server");
  const auto ca = d.write("ca.pem", id.cert_pem);
  for (const char* host : {"other.example", "127.0.0.2", "::1"}) {
    const auto r = run_handshake(id, ca, host);
    CHECK_FALSE_TEXT(r.done, host);
    CHECK_EQUAL_TEXT(std::uint32_t{tls_host_mismatch}, r.report.verify_problems, host);
  }
}

TEST(tls_client, a_server_signed_by_another_ca_is_not_trusted) {
  temp_dir d;
  const auto id = identity(d, "server");
  const auto other = identity(d, "other");
  const auto ca = d.write("ca.pem", other.cert_pem);
  const auto r = run_handshake(id, ca, "gw.example");
  CHECK_FALSE(r.done);
  CHECK_TRUE((r.report.verify_problems & tls_not_trusted) != 0);
  CHECK_FALSE(r.report.verify_text.empty());
  CHECK_TRUE(r.report.verify_text.find('\n') == std::string::npos);
}

TEST(tls_client, trust_files_that_cannot_be_used_are_errors_that_name_them) {
  temp_dir d;
  const auto id = identity(d, "server");
  const auto other = identity(d, "other");
  std::string error;
  CHECK_TRUE(tls_client_trust::load({(d.path / "missing.pem").string(), "", "", ""}, error) ==
             nullptr);
  CHECK_TRUE(error.find("ca_file") != std::string::npos);
  error.clear();
  CHECK_TRUE(tls_client_trust::load({d.write("junk.pem", "not a certificate\n"), "", "", ""},
                                    error) == nullptr);
  CHECK_TRUE(error.find("junk.pem") != std::string::npos);
  error.clear();
  // A client certificate with a key that is not its own.
  const auto ca = d.write("ca.pem", id.cert_pem);
  const auto cert = d.write("client.pem", id.cert_pem);
  const auto wrong_key = d.write("client.key", other.key_pem);
  CHECK_TRUE(tls_client_trust::load({ca, "", cert, wrong_key}, error) == nullptr);
  STRCMP_CONTAINS("does not match", error.c_str());
  error.clear();
  const auto key = d.write("client-good.key", id.key_pem);
  CHECK_TRUE(tls_client_trust::load({ca, "", cert, key}, error) != nullptr);
  CHECK_TRUE(error.empty());
}

TEST(tls_client, a_ca_path_reads_each_file_once_whatever_links_point_at_it) {
  temp_dir d;
  const auto a = identity(d, "a");
  const auto b = identity(d, "b");
  fs::create_directories(d.path / "cas");
  d.write("cas/a.pem", a.cert_pem);
  d.write("cas/b.pem", b.cert_pem);
  d.write("cas/README", "not a certificate\n");
  fs::create_symlink("a.pem", d.path / "cas" / "1a2b3c4d.0");
  fs::create_symlink("b.pem", d.path / "cas" / "5e6f7a8b.0");
  std::string error;
  auto trust = tls_client_trust::load({"", (d.path / "cas").string(), "", ""}, error);
  CHECK_TRUE_TEXT(trust != nullptr, error.c_str());
  CHECK_EQUAL(2u, trust->ca_count());
}

TEST(tls_client, alert_names_follow_the_rfc) {
  STRCMP_EQUAL("handshake failure", tls_alert_name(40).c_str());
  STRCMP_EQUAL("unknown CA", tls_alert_name(48).c_str());
  STRCMP_EQUAL("certificate required", tls_alert_name(116).c_str());
  STRCMP_EQUAL("number 255", tls_alert_name(255).c_str());
}
