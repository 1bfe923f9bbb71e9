// Fuzz target: the aggregation windows portierd reads back from its own disk after a crash or
// tampering (gateway/store/window_store.h) are hostile input too. The input's first byte chooses
// the file (even: the journal, state_dir/windows.journal; odd: the snapshot, windows.pb), the rest
// is its content. Opening must never crash or hang, and must never use what does not authenticate:
// no input can carry a valid tag under the keys made here, so the store opens with no window at
// all, and keeps working (a sample added afterwards is released when its window closes).
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gateway/counters.h"
#include "gateway/store/spool.h"
#include "gateway/store/window_store.h"
#include "platform/ctr_drbg.h"
#include "platform/key_directory.h"
#include "policies/evaluator.h"
#include "policies/policy_compiler.h"
#include "tests/fuzz/fuzz_files.h"

namespace {

using namespace portier;

constexpr std::int64_t kT0 = 1'764'000'000'000;  // the start of a minute

using fuzz::write_file;

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "fuzz_window_recovery: %s\n", what);
  std::abort();
}

const policies::compiled_policy& policy() {
  static const auto compiled = [] {
    auto src = policies::parse_policy_source("w.textproto", R"(
      name: "w" version: 1
      purpose { id: "analytics" title: "A" legal_basis: CONTRACT retention_seconds: 3600 }
      device_class { id: "meter" topic: "meters/{device}"
        field { path: "energy" rule { purpose: "analytics"
          aggregate { function: SUM window_seconds: 60 spread_seconds: 0 step: 1 } } } })");
    if (!src) violated("policy source");
    std::vector<policies::policy_source> sources;
    sources.push_back(std::move(*src));
    auto c = policies::compile_policy(sources);
    if (!c.policy) violated("policy");
    return c.policy;
  }();
  return *compiled;
}

void fuzz_windows(const std::string& dir, bool snapshot, const std::uint8_t* data,
                  std::size_t size) {
  auto keys = platform::key_directory::open(dir + "/keys");
  if (!keys) violated("key directory");
  const std::vector<std::uint8_t> secret(32, 7);
  // A snapshot of the store's own making beside the input, so that the journal is read at all.
  if (!snapshot) {
    gateway::counters stats;
    gateway::window_store_options o;
    o.dir = dir;
    const std::uint8_t seed[] = {1};
    auto first = gateway::window_store::open(
        o, **keys, gateway::owned_drbg_source(platform::ctr_drbg::deterministic(seed)), stats);
    if (!first) violated("a fresh store would not open");
  }
  write_file(dir + (snapshot ? "/windows.pb" : "/windows.journal"), data, size);
  gateway::counters stats;
  gateway::window_store_options o;
  o.dir = dir;
  o.sync = gateway::spool_options::durability::none;
  const std::uint8_t seed[] = {2};
  auto store = gateway::window_store::open(
      o, **keys, gateway::owned_drbg_source(platform::ctr_drbg::deterministic(seed)), stats);
  if (!store) return;  // refused with a clear error: fine
  if ((*store)->open_windows() != 0) violated("a window that does not authenticate was loaded");
  // Still usable: a sample goes in, and its window comes out once.
  gateway::spool_options so;
  so.dir = dir + "/spool";
  so.max_bytes = 1 << 20;
  so.sync = gateway::spool_options::durability::none;
  auto out = gateway::spool::open(so, **keys, secret, stats);
  if (!out) violated("spool");
  policies::evaluator ev(std::shared_ptr<const policies::compiled_policy>(&policy(), [](auto*) {}),
                         policies::engine_identity{"gw", secret});
  policies::consent_snapshot consent;
  const auto& d = ev.evaluate("meters/a", R"({"energy":3})", consent, kT0 + 1'000);
  if (!(*store)->add(policy(), d, kT0 + 1'000)) violated("add failed");
  const auto all = [](std::size_t, std::string_view, std::string_view) { return true; };
  if ((*store)->tick(policy(), kT0 + 60'000, all, **out) != 1)
    violated("the window was not released");
  if ((*store)->tick(policy(), kT0 + 120'000, all, **out) != 0)
    violated("a window was released twice");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string dir = fuzz::work_dir("fuzz-windows") + "/run";
  fuzz::remove_tree(dir);
  ::mkdir(dir.c_str(), 0700);
  fuzz_windows(dir, (data[0] & 1) != 0, data + 1, size - 1);
  return 0;
}
