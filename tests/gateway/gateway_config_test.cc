#include "gateway/gateway_config.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <CppUTest/TestHarness.h>

using portier::gateway::load_gateway_config;

TEST_GROUP(gateway_config) {
  std::string dir;
  void setup() override {
    char tmpl[] = "/tmp/portier-config-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  void teardown() override {
    CHECK_EQUAL(0, std::system(("rm -rf " + dir).c_str()));
  }

  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  // The error text of loading `text`, with the temp dir replaced by "DIR".
  std::string error_of(const std::string& text) {
    auto r = load_gateway_config(write("portierd.conf", text));
    CHECK_FALSE(r.ok());
    std::string e = r.error_message();
    for (auto p = e.find(dir); p != std::string::npos; p = e.find(dir))
      e.replace(p, dir.size(), "DIR");
    return e;
  }
};

TEST(gateway_config, minimal_config_gets_documented_defaults) {
  auto r = load_gateway_config(
      write("c", "gateway_id: \"gw-1\"\nupstream { uri: \"ssl://cloud.example:8883\" }\n"));
  CHECK_TRUE(r.ok());
  const auto& c = r->proto;
  STRCMP_EQUAL("tcp://127.0.0.1:1883", c.local().uri().c_str());
  STRCMP_EQUAL("portier-gw-1-local", c.local().client_id().c_str());
  STRCMP_EQUAL("portier-gw-1", c.upstream().client_id().c_str());
  STRCMP_EQUAL("/etc/portier/policies", c.policy_dir().c_str());
  STRCMP_EQUAL("/var/lib/portier", c.state_dir().c_str());
  LONGS_EQUAL(64, c.upstream().max_inflight());
  LONGS_EQUAL(1, c.local().qos());
  LONGS_EQUAL(64ull << 20, c.spool().max_bytes());
  LONGS_EQUAL(portier::config::Spool::REFUSE_NEW, c.spool().when_full());
  LONGS_EQUAL(portier::config::Spool::FSYNC_BATCH, c.spool().durability());
  LONGS_EQUAL(20, c.spool().batch_ms());
  LONGS_EQUAL(30, c.status().interval_seconds());
  LONGS_EQUAL(65536, c.limits().max_payload_bytes());
  LONGS_EQUAL(16, c.limits().max_depth());
  LONGS_EQUAL(500, c.reconnect().initial_ms());
  LONGS_EQUAL(30000, c.reconnect().max_ms());
  LONGS_EQUAL(5000, c.drain_timeout_ms());
}

TEST(gateway_config, errors_name_file_line_column_and_field) {
  STRCMP_EQUAL(
      "DIR/portierd.conf:2:12: upstream.uri: upstream is always TLS: use ssl://HOST:PORT or "
      "mqtts://HOST:PORT, got \"tcp://cloud:1883\"",
      error_of("gateway_id: \"gw\"\nupstream { uri: \"tcp://cloud:1883\" }\n").c_str());
  STRCMP_EQUAL(
      "DIR/portierd.conf: gateway_id: gateway_id is required: 1 to 64 letters, digits, '-' or '_'\n"
      "DIR/portierd.conf: upstream.uri: upstream.uri is required: ssl://HOST:PORT",
      error_of("").c_str());
  STRCMP_EQUAL(
      "DIR/portierd.conf:1:1: gateway_id: gateway_id is required: 1 to 64 letters, digits, '-' or "
      "'_'",
      error_of("gateway_id: \"has space\" upstream { uri: \"ssl://c:1\" }").c_str());
}

TEST(gateway_config, every_problem_is_reported_at_once) {
  const std::string e = error_of(
      "gateway_id: \"gw\"\n"
      "upstream { uri: \"ssl://c:1\" max_inflight: 5000 client_cert_file: \"/nonexistent.crt\" }\n"
      "spool { max_bytes: 10 batch_ms: 0 }\n"
      "reconnect { initial_ms: 1000 max_ms: 10 }\n"
      "grant: \"analytics\" refuse: \"analytics\"\n");
  STRCMP_EQUAL(
      "DIR/portierd.conf:2:48: upstream.client_cert_file: cannot read \"/nonexistent.crt\"\n"
      "DIR/portierd.conf:2:1: upstream: client_cert_file and client_key_file go together: give "
      "both or neither\n"
      "DIR/portierd.conf:2:29: upstream.max_inflight: must be 1 to 1000, got 5000\n"
      "DIR/portierd.conf:5:20: refuse[0]: purpose \"analytics\" is both granted and refused\n"
      "DIR/portierd.conf:3:9: spool.max_bytes: must be 65536 to 68719476736, got 10\n"
      "DIR/portierd.conf:4:30: reconnect.max_ms: must be 1000 to 3600000, got 10",
      e.c_str());
}

TEST(gateway_config, a_local_uri_the_ingress_cannot_use_is_rejected) {
  STRCMP_EQUAL(
      "DIR/portierd.conf:2:9: local.uri: \"tcp://127.0.0.1:99999\": the port must be a "
      "number from 1 to 65535",
      error_of("gateway_id: \"gw\" upstream { uri: \"ssl://c:1\" }\n"
               "local { uri: \"tcp://127.0.0.1:99999\" }\n")
          .c_str());
}

TEST(gateway_config, syntax_errors_and_unknown_fields_are_rejected_with_position) {
  STRCMP_EQUAL(
      "DIR/portierd.conf:1:8: Message type \"portier.config.GatewayConfig\" has no field named "
      "\"gateway\".",
      error_of("gateway: \"x\"").c_str());
}

TEST(gateway_config, missing_file_is_named) {
  auto r = load_gateway_config(dir + "/missing.conf");
  CHECK_FALSE(r.ok());
  STRCMP_CONTAINS("missing.conf: cannot open", r.error_message().c_str());
}

TEST(gateway_config, password_comes_from_its_file_first_line) {
  const std::string pw = write("pw", "s3cret\nignored\n");
  auto r = load_gateway_config(write(
      "c", "gateway_id: \"gw\" upstream { uri: \"ssl://c:1\" password_file: \"" + pw + "\" }"));
  CHECK_TRUE(r.ok());
  STRCMP_EQUAL("s3cret", r->password_upstream.c_str());
}
