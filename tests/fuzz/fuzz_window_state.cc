// libFuzzer target: the aggregation windows portierd reads back from its state directory
// (proto/windows.proto WindowState, policies/window_aggregator.h load()). The snapshot is sealed,
// but load() treats it as hostile all the same: the input is parsed as a WindowState and loaded.
//
// A refused state must say why. A loaded one must round-trip (save, load, save gives the same
// bytes) and keep working: samples are added to it, and take_due() runs with a fixed policy, a
// deterministic generator and a few clock readings (forward to every window's release, and back
// an hour), permitting some purposes and not others. Nothing may crash or hang; every release is
// JSON with the window it names and its fields; the number of windows never grows in take_due();
// and after each step the state saves and loads again (every state the aggregator reaches is one
// load() accepts).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "platform/ctr_drbg.h"
#include "policies/compiled_policy.h"
#include "policies/policy_compiler.h"
#include "policies/policy_source.h"
#include "policies/random_source.h"
#include "policies/window_aggregator.h"
#include "windows.pb.h"

namespace {

using namespace portier::policies;
using portier::windows::WindowState;

constexpr std::int64_t kNowMs = 1'796'464'800'000;  // 2026-12-05T10:00:00Z, the seeds' morning
constexpr window_limits kLimits{64, 64};

[[noreturn]] void violated(const std::string& what) {
  std::fprintf(stderr, "\n*** INVARIANT VIOLATED: fuzz_window_state: %s\n", what.c_str());
  std::abort();
}

void require(bool ok, const char* what) {
  if (!ok) violated(what);
}

// The shape of the seeds: a plain purpose with a MEAN and a DELTA per minute, and a noisy SUM per
// two minutes with a budget; "power" is also a field of a class the seeds name with another
// function, so that policy_changed runs.
const compiled_policy& policy() {
  static const std::shared_ptr<const compiled_policy> p = [] {
    auto src = parse_policy_source("fuzz.textproto", R"(
      purpose { id: "energy" title: "E" legal_basis: CONTRACT retention_seconds: 3600 }
      purpose { id: "stats" title: "S" legal_basis: CONTRACT retention_seconds: 600 epsilon_per_day: 1 }
      device_class {
        id: "meter"
        topic: "meter/{device}"
        field { path: "power" rule { purpose: "energy" aggregate { function: MEAN window_seconds: 60 step: 0.1 } } }
        field { path: "energy" rule { purpose: "energy" aggregate { function: DELTA window_seconds: 60 step: 0.01 wrap_at: 1000 } } }
        field { path: "v" rule { purpose: "stats" aggregate { function: SUM window_seconds: 120 step: 1 spread_seconds: 30
                                                               noise { epsilon: 0.3 lower: 0 upper: 10 } } } }
      }
      device_class {
        id: "plug"
        topic: "plug/{device}"
        field { path: "power" rule { purpose: "energy" aggregate { function: MAX window_seconds: 900 step: 1 min_samples: 2 } } }
      })");
    if (!src) violated(src.error_message());
    std::vector<policy_source> sources;
    sources.push_back(std::move(*src));
    auto r = compile_policy(sources);
    if (!r.policy) violated("the fuzz policy does not compile");
    return r.policy;
  }();
  return *p;
}

std::string serialized(const window_aggregator& agg) {
  WindowState st;
  agg.save(st);
  std::string out;
  require(st.SerializeToString(&out), "a saved state does not serialize");
  return out;
}

// The state saves, loads again, and saves to the same bytes.
void check_round_trip(const window_aggregator& agg) {
  WindowState st;
  agg.save(st);
  auto again = window_aggregator::load(st, kLimits);
  if (!again) violated("a state the aggregator reached does not load: " + again.error_message());
  require(serialized(agg) == serialized(**again), "save, load, save changes the state");
  require((*again)->open_windows() == agg.open_windows(), "load counts other windows");
  require((*again)->next_due_ms() == agg.next_due_ms(), "load gives another next due time");
}

void check_release(const window_release& r) {
  rapidjson::Document doc;
  doc.Parse(r.payload.data(), r.payload.size());
  require(!doc.HasParseError() && doc.IsObject(), "a release is not a JSON object");
  require(doc.MemberCount() == 3,
          "a release has other members than window_start, window_seconds, fields");
  require(doc.HasMember("window_start") && doc["window_start"].IsString() &&
              doc["window_start"].GetStringLength() == 20,
          "window_start is not an ISO-8601 time to the second");
  require(doc.HasMember("window_seconds") && doc["window_seconds"].IsUint() &&
              doc["window_seconds"].GetUint() == r.window_seconds,
          "window_seconds is not the release's");
  require(
      r.window_seconds >= 60 && r.window_start_ms % (std::int64_t{r.window_seconds} * 1000) == 0,
      "the window is not aligned");
  require(doc.HasMember("fields") && doc["fields"].IsObject(), "fields is not an object");
  const auto& fields = doc["fields"];
  require(fields.MemberCount() > 0 && fields.MemberCount() == r.fields.size(),
          "fields are not those released");
  double epsilon = 0;
  std::size_t i = 0;
  for (auto m = fields.MemberBegin(); m != fields.MemberEnd(); ++m, ++i) {
    require(std::string_view(m->name.GetString(), m->name.GetStringLength()) == r.fields[i],
            "a field is not the one named in the release");
    require(m->value.IsObject() && m->value.MemberCount() >= 1 && m->value.MemberCount() <= 2,
            "a field is not {function: value[, epsilon]}");
    require(m->value.MemberBegin()->value.IsNumber(), "a field's value is not a number");
    if (m->value.MemberCount() == 2) {
      require(m->value.HasMember("epsilon") && m->value["epsilon"].IsNumber(),
              "the second member is not epsilon");
      epsilon += m->value["epsilon"].GetDouble();
    }
  }
  require(epsilon <= r.epsilon + 1e-9 && epsilon >= r.epsilon - 1e-9,
          "epsilon is not the fields' sum");
  require(r.purpose < policy().purposes().size(), "a release names no purpose of the policy");
}

// Samples of the seeds' devices, at the time a clock reading gives.
void add_samples(window_aggregator& agg, std::int64_t t) {
  const compiled_class* meter = policy().find_class("meter");
  const std::vector<window_input_sample> energy = {
      {"power", meter->fields[0].actions[0].window, 412.5},
      {"energy", meter->fields[1].actions[0].window, 999.5},
  };
  const std::vector<window_input_sample> stats = {{"v", meter->fields[2].actions[1].window, 12}};
  for (std::string_view device : {"a", "b"}) {
    agg.add(window_input{"energy", "meter", device, "portier/gw/energy/meter/x", t, energy});
    agg.add(window_input{"stats", "meter", device, "portier/gw/stats/meter/x", t, stats});
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  WindowState in;
  if (!in.ParseFromArray(data, static_cast<int>(size))) return 0;
  auto loaded = window_aggregator::load(in, kLimits);
  if (!loaded) {
    require(!loaded.error_message().empty(), "a state is refused without a reason");
    return 0;
  }
  window_aggregator& agg = **loaded;
  require(agg.open_windows() <= kLimits.max_windows, "more windows loaded than the limit");
  check_round_trip(agg);

  static const std::uint8_t seed[] = {'f', 'u', 'z', 'z'};
  auto drbg = portier::platform::ctr_drbg::deterministic(seed);
  drbg_source rng(*drbg);
  std::vector<window_release> out;
  // Permits "energy" of device "a" and everything of other devices but "stats".
  const window_aggregator::permission permitted = [](std::size_t purpose, std::string_view device,
                                                     std::string_view) {
    return purpose == 0 ? device != "b" : device != "a";
  };
  std::int64_t now = kNowMs;
  for (int step = 0; step < 6; ++step) {
    if (step == 2) add_samples(agg, now);
    if (step == 4) now -= 3'600'000;  // the clock steps back an hour
    const std::size_t before = agg.open_windows();
    out.clear();
    require(agg.take_due(policy(), now, rng, permitted, out),
            "take_due failed with a working generator");
    require(agg.open_windows() <= before, "take_due opened a window");
    for (const auto& r : out) check_release(r);
    check_round_trip(agg);
    const std::int64_t next = agg.next_due_ms();
    now = next > now && next - now < 7 * 86'400'000LL ? next : now + 60'000;
  }
  return 0;
}
