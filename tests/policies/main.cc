#include "policies/policy_source.h"

#include <CppUTest/CommandLineTestRunner.h>

int main(int argc, char** argv) {
  // Protobuf builds its descriptor pool and JSON type resolver on first use and keeps them for
  // the life of the process; build them here so that CppUTest's per-test leak check does not
  // count them against the first test that parses a policy.
  (void)portier::policies::parse_policy_source("warm-up.textproto", "purpose { id: \"a\" }");
  (void)portier::policies::parse_policy_source("warm-up.json", R"({"purpose": [{"id": "a"}]})");
  (void)portier::policies::parse_policy_source("warm-up.json", R"({"purpose": [{"idd": "a"}]})");
  (void)portier::policies::parse_policy_source("warm-up.json", R"({"purpose": [)");
  return CommandLineTestRunner::RunAllTests(argc, argv);
}
