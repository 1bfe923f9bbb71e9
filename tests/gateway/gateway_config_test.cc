#include "gateway/gateway_config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <CppUTest/TestHarness.h>

#include "gateway/startup_checks.h"
#include "policies/policy_compiler.h"
#include "policies/policy_source.h"

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
  LONGS_EQUAL(256, c.unmatched().max_shapes());
  LONGS_EQUAL(0, c.unmatched().observe_size());
}

TEST(gateway_config, unmatched_shapes_and_observed_filters) {
  STRCMP_EQUAL(
      "DIR/portierd.conf:2:13: unmatched.max_shapes: must be 16 to 4096, got 5000\n"
      "DIR/portierd.conf:2:30: unmatched.observe[0]: \"#\" must be the last level of "
      "\"rtl_433/#/x\"\n"
      "DIR/portierd.conf:2:30: unmatched.observe[1]: \"rtl_433/{device}\" is an MQTT filter "
      "here: \"+\" and \"#\", no {captures}",
      error_of("gateway_id: \"gw\" upstream { uri: \"ssl://c:1\" }\n"
               "unmatched { max_shapes: 5000 observe: [\"rtl_433/#/x\", \"rtl_433/{device}\"] }\n")
          .c_str());
  auto r = load_gateway_config(write("c",
                                     "gateway_id: \"gw\" upstream { uri: \"ssl://c:1\" }\n"
                                     "unmatched { max_shapes: 16 observe: \"rtl_433/#\" }\n"));
  CHECK_TRUE(r.ok());
  LONGS_EQUAL(16, r->proto.unmatched().max_shapes());
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

TEST(gateway_config, user_info_in_a_uri_is_rejected_without_repeating_it) {
  STRCMP_EQUAL(
      "DIR/portierd.conf:1:29: upstream.uri: a user name or password does not belong in the URI "
      "(it is logged): give them as upstream.username and upstream.password_file",
      error_of("gateway_id: \"gw\" upstream { uri: \"ssl://user:pass@cloud:8883\" }").c_str());
  STRCMP_EQUAL(
      "DIR/portierd.conf:1:56: local.uri: a user name or password does not belong in the URI "
      "(it is logged): give them as local.username and local.password_file",
      error_of("gateway_id: \"gw\" upstream { uri: \"ssl://c:1\" } local { uri: "
               "\"tcp://me:secret@127.0.0.1:1883\" }")
          .c_str());
}

TEST(gateway_config, the_upstream_uri_needs_host_and_port_only) {
  STRCMP_EQUAL(
      "DIR/portierd.conf:1:29: upstream.uri: \"ssl://cloud.example\": no port: expected "
      "ssl://HOST:PORT (MQTT over TLS is usually port 8883)",
      error_of("gateway_id: \"gw\" upstream { uri: \"ssl://cloud.example\" }").c_str());
  STRCMP_EQUAL(
      "DIR/portierd.conf:1:29: upstream.uri: \"mqtts://[::1]\": no port: expected "
      "ssl://HOST:PORT (MQTT over TLS is usually port 8883)",
      error_of("gateway_id: \"gw\" upstream { uri: \"mqtts://[::1]\" }").c_str());
  STRCMP_EQUAL(
      "DIR/portierd.conf:1:29: upstream.uri: \"ssl://cloud:8883/mqtt\": a broker URI has no "
      "path: expected ssl://HOST:PORT",
      error_of("gateway_id: \"gw\" upstream { uri: \"ssl://cloud:8883/mqtt\" }").c_str());
  STRCMP_EQUAL(
      "DIR/portierd.conf:1:29: upstream.uri: \"ssl://cloud:88830\": the port must be a number "
      "from 1 to 65535",
      error_of("gateway_id: \"gw\" upstream { uri: \"ssl://cloud:88830\" }").c_str());
  auto r = load_gateway_config(
      write("c", "gateway_id: \"gw\" upstream { uri: \"mqtts://[2001:db8::1]:8883\" }"));
  CHECK_TRUE(r.ok());
}

TEST(gateway_config, a_preset_that_is_no_purpose_id_is_rejected_and_not_repeated_whole) {
  STRCMP_EQUAL(
      "DIR/portierd.conf:1:100078: grant[1]: \"Bad?n?\" is not a purpose id: 1 to 32 lower-case "
      "letters, digits or '-', starting with a letter\n"
      "DIR/portierd.conf:1:48: refuse[0]: \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\" (100000 "
      "characters) is not a purpose id: 1 to 32 lower-case letters, digits or '-', starting with "
      "a letter",
      error_of("gateway_id: \"gw\" upstream { uri: \"ssl://c:1\" } refuse: \"" +
               std::string(100000, 'x') + "\" grant: \"analytics\" grant: \"Bad\\\\n\\n\"")
          .c_str());
}

// ---------------------------------------------------------------- start-up checks

namespace {

// Self-signed P-256 certificates (CN portier-test-a, -b) and keys, made once with openssl.
constexpr const char* kCertA = R"(-----BEGIN CERTIFICATE-----
MIIBijCCAS+gAwIBAgIUOVH+sTAR/KWHv2hZbCK2mvcYPMEwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOcG9ydGllci10ZXN0LWEwIBcNMjYxMjA0MTYzMDUyWhgPMjEy
NjExMTAxNjMwNTJaMBkxFzAVBgNVBAMMDnBvcnRpZXItdGVzdC1hMFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEkWUT0seugYj+XOs3mvTvQ8zf0AhUJOeNEWOrGd2n
CQ2Jgk0H6Xj7+XYukVL1Mo437SHqptJXTwr0cQHsnJdIIKNTMFEwHQYDVR0OBBYE
FKYJox/e7noIz8hNChxVx7S9TxD8MB8GA1UdIwQYMBaAFKYJox/e7noIz8hNChxV
x7S9TxD8MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAIoTIgWu
lAw71ga5AVKz5Nx4eZEplfjNNZhinbHTCBZmAiEAu1akKDb5EqUsbDoVcMOnhxij
XWABOIH7IZ5UM4VbHSM=
-----END CERTIFICATE-----
)";
constexpr const char* kKeyA = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgQDl49is6fSuQx+1/
/ZKPLjAJtakBmsX0ZV4qT2Qi5TWhRANCAASRZRPSx66BiP5c6zea9O9DzN/QCFQk
540RY6sZ3acJDYmCTQfpePv5di6RUvUyjjftIeqm0ldPCvRxAeycl0gg
-----END PRIVATE KEY-----
)";
constexpr const char* kKeyB = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgnMxNDDTE1D6C6OGY
OqlwtQ1BVZUiZbbymNTgLaJLzEmhRANCAARAlGMD/1o2rG7O2UttiBePMr+bhozv
YWhNhhPTsfMiWu0tEKsKYE9k66r2Jl8qQEWXmDL6x4a9t1RaMbvQfDC3
-----END PRIVATE KEY-----
)";
constexpr const char* kPublicKeyA = R"(-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEkWUT0seugYj+XOs3mvTvQ8zf0AhU
JOeNEWOrGd2nCQ2Jgk0H6Xj7+XYukVL1Mo437SHqptJXTwr0cQHsnJdIIA==
-----END PUBLIC KEY-----
)";

std::shared_ptr<const portier::policies::compiled_policy> home_policy() {
  std::vector<portier::policies::policy_source> src;
  src.push_back(portier::policies::parse_policy_source("p.textproto", R"(name: "home" version: 3
purpose { id: "analytics" title: "A" legal_basis: CONSENT retention_seconds: 60 }
purpose { id: "service" title: "S" legal_basis: CONTRACT retention_seconds: 60 }
device_class { id: "plug" topic: "plug/{device}" field { path: "power" rule { purpose: "analytics" keep {} } } })")
                    .value());
  return portier::policies::compile_policy(src).policy;
}

}  // namespace

TEST_GROUP_BASE(startup_checks, TEST_GROUP_CppUTestGroupgateway_config) {
  // A configuration that passes every check, with `extra` on line 5; state_dir, upstream and
  // control as written there if it has them.
  std::string config(const std::string& extra) {
    auto unless = [&](const char* field, const std::string& line) {
      return (extra.find(field) == std::string::npos ? line : "#") + "\n";
    };
    return "gateway_id: \"gw\"\n" + unless("state_dir", "state_dir: \"" + dir + "/state\"") +
           unless("upstream {", "upstream { uri: \"ssl://c:8883\" }") +
           unless("control {", "control { socket: \"" + dir + "/control.sock\" group: \"root\" }") +
           extra;
  }
  portier::gateway::startup_report report_of(const std::string& extra) {
    auto loaded = load_gateway_config(write("portierd.conf", config(extra)));
    if (!loaded) FAIL(loaded.error_message().c_str());
    auto report = portier::gateway::check_startup(*loaded, *home_policy());
    for (auto* list : {&report.errors, &report.warnings}) {
      for (auto& e : *list) {
        for (auto p = e.find(dir); p != std::string::npos; p = e.find(dir)) e.replace(p, dir.size(), "DIR");
      }
    }
    return report;
  }
  std::string errors_of(const std::string& extra) {
    std::string out;
    for (const auto& e : report_of(extra).errors) out += (out.empty() ? "" : "\n") + e;
    return out;
  }
  std::string write_mode(const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = write(name, text);
    CHECK_EQUAL(0, ::chmod(path.c_str(), mode));
    return path;
  }
};

TEST(startup_checks, a_sound_configuration_passes) {
  const std::string ca = write("ca.pem", std::string(kCertA) + kCertA);
  const std::string key = write_mode("client.key", kKeyA, 0600);
  const std::string root = write("root.pub", kPublicKeyA);
  const auto r = report_of("upstream { uri: \"ssl://c:8883\" ca_file: \"" + ca + "\" ca_path: \"" + dir +
                           "\" client_cert_file: \"" + ca + "\" client_key_file: \"" + key +
                           "\" }\nupdates { root_key_file: \"" + root +
                           "\" }\ngrant: \"analytics\" refuse: \"service\"\n");
  LONGS_EQUAL(0, r.errors.size());
  LONGS_EQUAL(0, r.warnings.size());
}

TEST(startup_checks, the_control_group_must_exist_and_the_socket_directory_too) {
  STRCMP_EQUAL(
      "DIR/portierd.conf:5:11: control.group: there is no group called \"portier-no-such\"; "
      "create it (groupadd --system portier-no-such) or name another group\n"
      "DIR/portierd.conf:5:36: control.socket: its directory \"DIR/run\" does not exist (with "
      "systemd, RuntimeDirectory=portier makes /run/portier)",
      errors_of("control { group: \"portier-no-such\" socket: \"" + dir + "/run/control.sock\" }")
          .c_str());
  STRCMP_EQUAL(
      "DIR/portierd.conf:5:11: control.socket: \"DIR/file\" exists and is not a socket (portierd "
      "never deletes it)",
      errors_of("control { socket: \"" + write("file", "x") + "\" group: \"root\" }").c_str());
  STRCMP_EQUAL("", errors_of("control { group: \"portier-no-such\" socket: \"/nonexistent/c.sock\" disabled: true }").c_str());
}

TEST(startup_checks, ca_file_must_hold_certificates) {
  ::mkdir((dir + "/cadir").c_str(), 0700);
  STRCMP_EQUAL(
      "DIR/portierd.conf:5:32: upstream.ca_file: \"DIR/cadir\" is a directory, not a PEM file",
      errors_of("upstream { uri: \"ssl://c:8883\" ca_file: \"" + dir + "/cadir\" }").c_str());
  STRCMP_EQUAL("DIR/portierd.conf:5:32: upstream.ca_file: \"DIR/ca.pem\" holds no PEM certificate",
               errors_of("upstream { uri: \"ssl://c:8883\" ca_file: \"" + write("ca.pem", "just text\n") + "\" }").c_str());
  std::string broken = kCertA;
  broken[100] = broken[100] == 'A' ? 'B' : 'A';
  broken.erase(200, 30);
  STRCMP_EQUAL(
      "DIR/portierd.conf:5:32: upstream.ca_file: \"DIR/ca.pem\": certificate 2 is not a valid PEM "
      "X.509 certificate",
      errors_of("upstream { uri: \"ssl://c:8883\" ca_file: \"" + write("ca.pem", std::string(kCertA) + broken) + "\" }")
          .c_str());
  STRCMP_EQUAL(
      "DIR/portierd.conf:5:32: upstream.ca_path: \"DIR/ca.pem\" is not a directory",
      errors_of("upstream { uri: \"ssl://c:8883\" ca_path: \"" + write("ca.pem", kCertA) + "\" }").c_str());
}

TEST(startup_checks, the_client_key_is_private_unencrypted_and_matches_its_certificate) {
  const std::string cert = write("client.crt", kCertA);
  STRCMP_EQUAL(
      "DIR/portierd.conf:5:95: upstream.client_key_file: DIR/client.key: private key is readable "
      "by group or others; chmod 600 it",
      errors_of("upstream { uri: \"ssl://c:8883\" client_cert_file: \"" + cert + "\" client_key_file: \"" +
                write_mode("client.key", kKeyA, 0640) + "\" }")
          .c_str());
  STRCMP_EQUAL(
      "DIR/portierd.conf:5:95: upstream.client_key_file: \"DIR/client.key\" is not the key of the "
      "certificate in upstream.client_cert_file",
      errors_of("upstream { uri: \"ssl://c:8883\" client_cert_file: \"" + cert + "\" client_key_file: \"" +
                write_mode("client.key", kKeyB, 0600) + "\" }")
          .c_str());
  STRCMP_EQUAL(
      "DIR/portierd.conf:5:95: upstream.client_key_file: \"DIR/client.key\" holds no unencrypted "
      "PEM private key",
      errors_of("upstream { uri: \"ssl://c:8883\" client_cert_file: \"" + cert + "\" client_key_file: \"" +
                write_mode("client.key", kCertA, 0600) + "\" }")
          .c_str());
}

TEST(startup_checks, the_root_key_is_a_public_key) {
  STRCMP_EQUAL(
      "DIR/portierd.conf:5:11: updates.root_key_file: DIR/root.pem: not a PEM public key",
      errors_of("updates { root_key_file: \"" + write("root.pem", kKeyA) + "\" }").c_str());
}

TEST(startup_checks, state_dir_must_be_a_directory_portierd_can_make) {
  write("file", "x");
  STRCMP_EQUAL("DIR/portierd.conf:5:1: state_dir: \"DIR/file\" is not a directory",
               errors_of("state_dir: \"" + dir + "/file/state\"").c_str());
  // Relative to the working directory, which portierd may write in.
  STRCMP_EQUAL("", errors_of("state_dir: \"portier-test-not-made/state\"").c_str());
}

TEST(startup_checks, a_preset_naming_no_purpose_of_the_policy_is_an_error_until_consent_exists) {
  const std::string extra = "grant: \"analytics\"\nrefuse: \"servce\"\n";
  STRCMP_EQUAL(
      "DIR/portierd.conf:6:1: refuse[0]: \"servce\" is not a purpose of policy \"home\" version 3 "
      "(its purposes: analytics, service)",
      errors_of(extra).c_str());
  // Once the household's consent exists the preset is ignored: a warning, not a refusal to start.
  ::mkdir((dir + "/state").c_str(), 0700);
  write("state/consent.pb", "");
  const auto r = report_of(extra);
  LONGS_EQUAL(0, r.errors.size());
  LONGS_EQUAL(1, r.warnings.size());
  STRCMP_EQUAL(
      "DIR/portierd.conf:6:1: refuse[0]: \"servce\" is not a purpose of policy \"home\" version 3 "
      "(its purposes: analytics, service); ignored: the household's consent is already in "
      "DIR/state/consent.pb",
      r.warnings[0].c_str());
}

TEST(gateway_config, the_announcement_table_has_a_default_and_a_range) {
  auto r =
      load_gateway_config(write("c", "gateway_id: \"gw-1\"\nupstream { uri: \"ssl://c:1\" }\n"));
  CHECK_TRUE(r.ok());
  LONGS_EQUAL(4096, r->proto.devices().max_announcements());
  STRCMP_CONTAINS("devices.max_announcements",
                  error_of("gateway_id: \"gw\" upstream { uri: \"ssl://c:1\" }\n"
                           "devices { max_announcements: 8 }\n")
                      .c_str());
}

TEST(gateway_config, aggregation_bounds_have_defaults_and_ranges) {
  auto r =
      load_gateway_config(write("c", "gateway_id: \"gw-1\"\nupstream { uri: \"ssl://c:1\" }\n"));
  CHECK_TRUE(r.ok());
  LONGS_EQUAL(4096, r->proto.aggregation().max_windows());
  LONGS_EQUAL(16384, r->proto.aggregation().max_budgets());
  STRCMP_EQUAL("DIR/portierd.conf:2:36: aggregation.max_budgets: must be 1 to 1000000, got 2000000",
               error_of("gateway_id: \"gw\" upstream { uri: \"ssl://c:1\" }\n"
                        "aggregation { max_windows: 1000000 max_budgets: 2000000 }\n")
                   .c_str());
  auto small = load_gateway_config(write("c",
                                         "gateway_id: \"gw\" upstream { uri: \"ssl://c:1\" }\n"
                                         "aggregation { max_windows: 1 max_budgets: 1 }\n"));
  CHECK_TRUE(small.ok());
  LONGS_EQUAL(1, small->proto.aggregation().max_windows());
}

TEST(gateway_config, home_assistant_is_off_unless_written_and_gets_defaults) {
  const std::string base = "gateway_id: \"gw-1\"\nupstream { uri: \"ssl://cloud.example:8883\" }\n";
  auto off = load_gateway_config(write("off", base));
  CHECK_TRUE(off.ok());
  CHECK_FALSE(off->proto.has_home_assistant());
  auto on = load_gateway_config(write("on", base + "home_assistant {}\n"));
  CHECK_TRUE(on.ok());
  CHECK_TRUE(on->proto.has_home_assistant());
  STRCMP_EQUAL("homeassistant", on->proto.home_assistant().discovery_prefix().c_str());
  STRCMP_EQUAL("portier-gw-1", on->proto.home_assistant().node_id().c_str());
  LONGS_EQUAL(60, on->proto.home_assistant().state_interval_seconds());
  auto set = load_gateway_config(
      write("set", base + "home_assistant { discovery_prefix: \"ha/disc\" node_id: \"box_1\" "
                          "state_interval_seconds: 5 }\n"));
  CHECK_TRUE(set.ok());
  STRCMP_EQUAL("ha/disc", set->proto.home_assistant().discovery_prefix().c_str());
  STRCMP_EQUAL("box_1", set->proto.home_assistant().node_id().c_str());
}

TEST(gateway_config, home_assistant_prefix_node_and_interval_are_checked) {
  STRCMP_EQUAL(
      "DIR/portierd.conf:2:18: home_assistant.discovery_prefix: \"home/#\" is not a discovery "
      "prefix: topic levels of letters, digits, '-' or '_' separated by '/', at most 64 "
      "characters\n"
      "DIR/portierd.conf:2:45: home_assistant.node_id: \"my box\" is not a node id: 1 to 72 "
      "letters, digits, '-' or '_'\n"
      "DIR/portierd.conf:2:63: home_assistant.state_interval_seconds: must be 5 to 3600, got 1",
      error_of("gateway_id: \"gw\" upstream { uri: \"ssl://c:1\" }\n"
               "home_assistant { discovery_prefix: \"home/#\" node_id: \"my box\" "
               "state_interval_seconds: 1 }\n")
          .c_str());
  for (const char* prefix : {"/homeassistant", "homeassistant/", "a//b", "a+b"}) {
    const std::string e = error_of(
        "gateway_id: \"gw\" upstream { uri: \"ssl://c:1\" }\n"
        "home_assistant { discovery_prefix: \"" +
        std::string(prefix) + "\" }\n");
    CHECK_TRUE(e.find("is not a discovery prefix") != std::string::npos);
  }
}
