#include <google/protobuf/text_format.h>

#include "config.pb.h"
#include "platform/log.h"
#include "policies/policy_source.h"

#include <CppUTest/CommandLineTestRunner.h>

int main(int argc, char** argv) {
  // Protobuf builds descriptor pools and parsers on first use and keeps them for the life of the
  // process; build them here so CppUTest's per-test leak check does not count them against the
  // first test that parses a configuration or a policy.
  portier::config::GatewayConfig config;
  google::protobuf::TextFormat::ParseFromString(
      "gateway_id: \"warm-up\" local { uri: \"tcp://x:1\" password_file: \"p\" } "
      "upstream { uri: \"ssl://x:1\" password_file: \"p\" ca_file: \"c\" } grant: \"a\" refuse: \"b\" "
      "spool { max_bytes: 1 } status { interval_seconds: 1 } logging { level: DEBUG } "
      "limits { max_depth: 1 } reconnect { initial_ms: 1 }",
      &config);
  google::protobuf::LogSilencer quiet;  // the next parse fails on purpose
  google::protobuf::TextFormat::ParseFromString("unknown: 1", &config);
  (void)portier::policies::parse_policy_source("warm-up.textproto", "purpose { id: \"a\" }");
  portier::platform::log_init(portier::platform::log_level::error, false, "gateway_tests");
  return CommandLineTestRunner::RunAllTests(argc, argv);
}
