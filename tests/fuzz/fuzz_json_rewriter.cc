// libFuzzer target: the data path (evaluator + json_rewriter) under the shipped default policy.
//
// Input: the topic, a newline, then the payload (an input without a newline is a topic with an
// empty payload). Mutating the topic exercises the topic router (multi-level captures, ignores,
// '$' topics) as much as mutating the payload exercises the rewriter. Every purpose is granted, so
// every rule of every class is exercised. Each decision is checked against the invariants of
// fuzz_checks.h; a violation aborts.
//
// Seeds: corpus/fuzz_json_rewriter/ (hand-written and regressions) plus one seed per line of the
// shipped sample corpus (policies/defaults/samples*.jsonl), written by seed_from_samples.py when
// ctest runs the target, so every documented message format is a starting point.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include <google/protobuf/stubs/logging.h>

#include "policies/consent_snapshot.h"
#include "policies/evaluator.h"
#include "policies/policy_compiler.h"
#include "policies/policy_source.h"
#include "tests/fuzz/fuzz_checks.h"

namespace {

using namespace portier::policies;

constexpr std::int64_t kNowMs = 1714551825123;

struct fuzz_state {
  std::unique_ptr<evaluator> ev;
  consent_snapshot consent;
};

fuzz_state* state = nullptr;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "fuzz_json_rewriter: %s\n", message.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  const char* env = std::getenv("PORTIER_POLICY_DIR");
  const std::string dir = env != nullptr ? env : PORTIER_SOURCE_DIR "/policies/defaults";
  auto sources = load_policy_dir(dir);
  if (!sources) die(sources.error_message());
  compile_result compiled = compile_policy(*sources);
  if (!compiled.policy) die(dir + " does not compile: " + compiled.errors.front());

  engine_identity identity;
  identity.gateway_id = "gw-fuzz";
  identity.secret.assign(32, 0x5a);
  state = new fuzz_state;
  state->ev = std::make_unique<evaluator>(compiled.policy, identity);
  for (const auto& p : compiled.policy->purposes()) state->consent.set_household(p.id, consent_decision::granted);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  const std::string_view topic = input.substr(0, newline);
  const std::string_view payload =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  // Each input starts with no announcements; what it announces (a discovery message) is then
  // used at once: its state topic is evaluated with the same payload, so the announced classes'
  // predicates and a topic an attacker chose in a payload are fuzzed too.
  announcement_map announced;
  const decision& d = state->ev->evaluate(topic, payload, state->consent, kNowMs, &announced);
  portier::fuzz::check_decision(*state->ev, d, topic, true, kNowMs);
  if (const announcement* a = d.announced()) {
    if (a->state_topic.empty() || a->state_topic.find_first_of("+#") != std::string::npos) {
      die("announced a state topic that is no topic");
    }
    announced.record(*a, kNowMs);
    const std::string state_topic = a->state_topic;
    const decision& s = state->ev->evaluate(state_topic, payload, state->consent, kNowMs, &announced);
    portier::fuzz::check_decision(*state->ev, s, state_topic, true, kNowMs);
  }
  return 0;
}
