// Helpers shared by the policy engine's tests: compile a policy written inline, evaluate
// messages, and print a decision in one line so a case fits on one line of a table.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policies/evaluator.h"
#include "policies/policy_compiler.h"
#include "policies/policy_source.h"

// Last: CppUTest's leak detector redefines `new`, which standard and protobuf headers must not see.
#include <CppUTest/TestHarness.h>

namespace portier::policies::test {

// The secret `portier-policy run` uses without --gateway-secret, so that pseudonyms in tests are
// the ones docs/POLICY.md shows.
inline std::vector<std::uint8_t> run_default_secret() {
  const std::string s = "portier-policy-run-default-secret";
  return {s.begin(), s.end()};
}

inline engine_identity test_identity(std::string secret = "portier-policy-run-default-secret") {
  return {"gw-test", std::vector<std::uint8_t>(secret.begin(), secret.end())};
}

// Every error of compiling `text` as one textproto file named `path`; a syntax error is the only
// entry.
inline std::vector<std::string> compile_errors(std::string_view text,
                                               const std::string& path = "test.textproto") {
  auto src = parse_policy_source(path, text);
  if (!src) return {src.error_message()};
  std::vector<policy_source> sources;
  sources.push_back(std::move(*src));
  return compile_policy(sources).errors;
}

inline std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// Compiles `text`, failing the test (with every error) unless it is valid.
inline std::shared_ptr<const compiled_policy> compile_ok(std::string_view text) {
  auto src = parse_policy_source("test.textproto", text);
  if (!src) FAIL(src.error_message().c_str());
  std::vector<policy_source> sources;
  sources.push_back(std::move(*src));
  auto r = compile_policy(sources);
  if (!r.errors.empty()) FAIL(("policy does not compile:\n" + joined(r.errors)).c_str());
  return r.policy;
}

// A decision in one line: each release as `purpose=payload` (in purpose order), then `|`, then
// each drop reason with a count, in drop_reason order:
//   service={"battery":97} analytics={"temperature":21.5} | unlisted_field=2
inline std::string summary(const decision& d, const compiled_policy& p) {
  std::string out;
  for (const auto& r : d.releases()) {
    out += p.purposes()[r.purpose].id + "=";
    if (r.windowed) {  // window{path:value,...}: the samples the message adds to its window
      out += "window{";
      for (std::size_t i = 0; i < r.samples.size(); ++i) {
        char v[32];  // the shortest text that reads back as the same double: 24571.832
        const auto end = std::to_chars(v, v + sizeof v, r.samples[i].value).ptr;
        out += (i ? "," : "") + d.device_class()->fields[r.samples[i].field].path + ":" +
               std::string(v, end);
      }
      out += "}";
    } else {
      out += r.payload;
    }
    out += " ";
  }
  out += "|";
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    if (d.drops()[i] == 0) continue;
    out += " " + std::string(drop_reason_name(static_cast<drop_reason>(i))) + "=" +
           std::to_string(d.drops()[i]);
  }
  return out;
}

// A compiled policy, an evaluator and a consent snapshot, as the gateway holds them.
struct engine {
  explicit engine(std::string_view policy_text, engine_identity id = test_identity(),
                  engine_limits limits = {})
      : policy(compile_ok(policy_text)), ev(policy, std::move(id), limits) {}

  // Evaluates with what earlier messages announced, and records what this one announces.
  const decision& eval(std::string_view topic, std::string_view payload,
                       std::int64_t now_ms = 1'000) {
    const decision& d = ev.evaluate(topic, payload, consent, now_ms, &announced);
    if (d.announced() != nullptr) announced.record(*d.announced(), now_ms);
    return d;
  }
  std::string run(std::string_view topic, std::string_view payload) {
    return summary(eval(topic, payload), *policy);
  }
  std::size_t purpose(std::string_view id) const {
    const int i = policy->purpose_index(id);
    if (i < 0) FAIL(("no purpose " + std::string(id)).c_str());
    return static_cast<std::size_t>(i);
  }

  std::shared_ptr<const compiled_policy> policy;
  evaluator ev;
  consent_snapshot consent;
  announcement_map announced;
};

}  // namespace portier::policies::test
