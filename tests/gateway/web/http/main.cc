#include <google/protobuf/text_format.h>

#include "platform/log.h"
#include "web_config.pb.h"

#include <CppUTest/CommandLineTestRunner.h>

int main(int argc, char** argv) {
  // Protobuf builds descriptor pools and parsers on first use and keeps them: build them here so
  // CppUTest's per-test leak check does not count them against the first test that parses.
  portier::web::WebConfig config;
  google::protobuf::TextFormat::ParseFromString(
      "listen { address: \"127.0.0.1\" port: 1 } names: \"a\" control_socket: \"s\" "
      "state_dir: \"d\" session_idle_timeout_seconds: 1 session_max_age_seconds: 1 "
      "max_sessions: 1",
      &config);
  google::protobuf::LogSilencer quiet;  // the next parse fails on purpose
  google::protobuf::TextFormat::ParseFromString("unknown: 1", &config);
  portier::platform::log_init(portier::platform::log_level::error, false, "web_http_tests");
  return CommandLineTestRunner::RunAllTests(argc, argv);
}
