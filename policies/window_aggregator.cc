#include "policies/window_aggregator.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "policies/discrete_laplace.h"
#include "policies/noise_cost.h"
#include "policies/json_text.h"
#include "windows.pb.h"

namespace portier::policies {

namespace {

constexpr std::int64_t kDayMs = 86'400'000;
// Times are taken within [0, 9999-12-31T23:59:59.999Z]: a clock outside it is broken, and the
// bound keeps every sum of times below int64's limit and every window_start printable.
constexpr std::int64_t kMaxTimeMs = 253'402'300'799'999;
// A release time is at most a window and a spread (each at most a day) after the latest time.
constexpr std::int64_t kMaxReleaseMs = kMaxTimeMs + 2 * kDayMs;
// A policy gives a window a field per aggregated path; more accumulators appear only when the
// policy changes an aggregated field mid-window (the old one is dropped at release).
constexpr std::size_t kMaxFieldsPerWindow = 256;
constexpr std::size_t kMaxIdBytes = 256;
constexpr std::size_t kMaxDeviceBytes = 1024;
constexpr std::size_t kMaxPathBytes = 1024;
constexpr std::size_t kMaxTopicBytes = 65535;
constexpr std::uint64_t kMaxCount = std::uint64_t{1} << 53;  // exact in a double
constexpr std::uint64_t kMaxSpentMicro = 10'000'000;         // epsilon_per_day is at most 10
constexpr std::uint64_t kMaxLifetimeMicro = std::uint64_t{1} << 62;
constexpr double kMaxGrid = 9007199254740992.0;  // 2^53: grid values add noise exactly in int64

std::int64_t clamp_time(std::int64_t t) {
  return std::clamp<std::int64_t>(t, 0, kMaxTimeMs);
}

bool valid_window_seconds(std::uint32_t w) {
  return w >= 60 && w <= 86400 && 86400 % w == 0;
}

// What a sample's spec must be for the state it makes to load again (the compiler guarantees it
// for the evaluator's samples; the gateway's journal is checked here).
bool valid_spec(const aggregate_spec& s) {
  if (!valid_window_seconds(s.window_seconds) || s.spread_seconds > s.window_seconds) return false;
  if (static_cast<unsigned>(s.fn) > static_cast<unsigned>(aggregate_fn::delta)) return false;
  if (!(s.wrap_at >= 0 && s.wrap_at <= 1e18)) return false;
  if (s.wrap_at != 0 && s.fn != aggregate_fn::delta) return false;
  if (!s.noisy) return true;
  return std::isfinite(s.lower) && std::isfinite(s.upper) && s.lower < s.upper &&
         (s.fn != aggregate_fn::delta || s.lower >= 0);
}

// ε charged in millionths, rounded up (a hair of tolerance, so that 0.3 is 300000, not 300001).
std::uint64_t micro_epsilon(double epsilon) {
  if (!(epsilon > 0)) return 0;
  return static_cast<std::uint64_t>(std::ceil(epsilon * 1e6 - 1e-6));
}

// Keys order series and budgets by their parts as text (so take_due() goes through them in one
// order, whatever the order they were made or loaded in): each part is written with its NUL bytes
// escaped (0x00 0xff) and ends with 0x00 0x00, so no two tuples share a key.
void append_key_part(std::string& key, std::string_view part) {
  if (part.find('\0') == std::string_view::npos) {
    key.append(part);
  } else {
    for (char c : part) {
      key += c;
      if (c == '\0') key += '\xff';
    }
  }
  key.append(2, '\0');
}

// The first part of a key, and where the rest starts.
std::string read_key_part(std::string_view key, std::size_t& pos) {
  std::string out;
  while (pos < key.size()) {
    const char c = key[pos++];
    if (c != '\0') {
      out += c;
      continue;
    }
    if (pos < key.size() && key[pos++] == '\0') break;
    out += '\0';
  }
  return out;
}

// (purpose, class, device, window length).
void series_key(std::string& key, std::string_view purpose, std::string_view device_class,
                std::string_view device_id, std::uint32_t window_seconds) {
  key.clear();
  append_key_part(key, purpose);
  append_key_part(key, device_class);
  append_key_part(key, device_id);
  for (int shift = 24; shift >= 0; shift -= 8)
    key += static_cast<char>((window_seconds >> shift) & 0xff);
}

// (purpose, device): a purpose's records are one range, from its encoded id.
void budget_key(std::string& key, std::string_view purpose, std::string_view device_id) {
  key.clear();
  append_key_part(key, purpose);
  key.append(device_id);
}

// "2026-12-05T10:15:00Z" for a time in [0, kMaxTimeMs].
void append_iso8601(std::string& out, std::int64_t ms) {
  const std::int64_t secs = ms / 1000;
  std::int64_t z = secs / 86400 + 719468;  // days from 0000-03-01 (H. Hinnant's civil_from_days)
  const std::int64_t rem = secs % 86400;
  const std::int64_t era = z / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  char buf[32];
  const int n =
      std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ",
                    static_cast<long long>(year), static_cast<long long>(month),
                    static_cast<long long>(day), static_cast<long long>(rem / 3600),
                    static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60));
  out.append(buf, static_cast<std::size_t>(n));
}

void append_shortest(std::string& out, double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

}  // namespace

namespace {

// The state's parts (outside impl: clang needs them complete where std::optional uses them).
struct accumulator {
  std::string path;
  aggregate_fn fn = aggregate_fn::mean;
  std::uint64_t count = 0;  // DELTA: increases measured (a first reading only sets the base)
  double sum = 0;
  double min = 0;
  double max = 0;
  double last = 0;
  double increase = 0;
  bool clamped = false;
  double lower = 0;
  double upper = 0;
  double wrap_at = 0;

  bool same(std::string_view p, const aggregate_spec& s) const {
    return fn == s.fn && clamped == s.noisy &&
           (!clamped || (lower == s.lower && upper == s.upper)) && path == p;
  }
};
struct window {
  std::int64_t start_ms = 0;
  std::int64_t release_at_ms = 0;  // closed: 0 until take_due() draws it
  std::vector<accumulator> fields;
  bool done = false;  // take_due(): released or dropped, to be erased
};
struct reading {
  std::string path;
  double value = 0;
};
struct series {
  std::string purpose;
  std::string device_class;
  std::string device_id;
  std::string topic;
  std::uint32_t window_seconds = 0;
  std::uint32_t spread_seconds = 0;
  std::optional<window> open;
  std::vector<window> closed;  // by start, ascending, all before `open`
  std::vector<reading> readings;
  std::int64_t next_start_ms = 0;  // windows_proto Series.next_start_ms

  std::int64_t length_ms() const { return std::int64_t{window_seconds} * 1000; }
  bool idle() const { return !open && closed.empty(); }
  std::size_t window_count() const { return closed.size() + (open ? 1 : 0); }
};
struct budget_record {
  std::int64_t day = 0;
  std::uint64_t spent_micro = 0;
  std::uint64_t lifetime_micro = 0;
  bool exhausted = false;
};

// A window's value of one field, before rounding and noise.
double result(const accumulator& a) {
  switch (a.fn) {
    case aggregate_fn::mean:
      return a.sum / static_cast<double>(a.count);
    case aggregate_fn::min:
      return a.min;
    case aggregate_fn::max:
      return a.max;
    case aggregate_fn::sum:
      return a.sum;
    case aggregate_fn::count:
      return static_cast<double>(a.count);
    case aggregate_fn::last:
      return a.last;
    case aggregate_fn::delta:
      return a.increase;
  }
  return 0;
}

}  // namespace

struct window_aggregator::impl {
  using accumulator = portier::policies::accumulator;
  using window = portier::policies::window;
  using reading = portier::policies::reading;
  using series = portier::policies::series;
  using budget_record = portier::policies::budget_record;

  std::map<std::string, series, std::less<>> series_;
  std::map<std::string, budget_record, std::less<>> budgets_;
  std::size_t windows_ = 0;
  std::string key_;  // reused by add(): finding a series allocates nothing

  static void save_window(const window& w, windows::Window& out);
  // load(): "" if valid, else why not.
  static std::string load_accumulator(const windows::Accumulator& in, accumulator& a);
  static std::string load_window(const windows::Window& in, const series& s, window& w);
  static std::string load_series(const windows::Series& in, series& s);

  // The series of `in` for `spec`'s window; null when the table is full and no idle series can
  // make room, or the input cannot be kept (sizes beyond what load() accepts).
  series* find_or_make(const window_input& in, const aggregate_spec& spec,
                       const window_limits& limits) {
    if (in.purpose.empty() || in.purpose.size() > kMaxIdBytes || in.device_class.empty() ||
        in.device_class.size() > kMaxIdBytes || in.device_id.size() > kMaxDeviceBytes ||
        in.topic.size() > kMaxTopicBytes) {
      return nullptr;
    }
    series_key(key_, in.purpose, in.device_class, in.device_id, spec.window_seconds);
    auto it = series_.find(key_);
    if (it == series_.end()) {
      // A new series needs a new window: refuse before evicting anything for it.
      if (windows_ >= limits.max_windows) return nullptr;
      if (series_.size() >= limits.max_windows && !evict_idle_series()) return nullptr;
      it = series_.emplace(key_, series{}).first;
      series& s = it->second;
      s.purpose = in.purpose;
      s.device_class = in.device_class;
      s.device_id = in.device_id;
      s.window_seconds = spec.window_seconds;
    }
    series& s = it->second;
    if (s.topic != in.topic) s.topic.assign(in.topic);
    s.spread_seconds = spec.spread_seconds;
    return &s;
  }

  // Series are bounded by max_windows too; those with no window (kept for DELTA's last reading
  // and next_start_ms) go, the longest idle first. With fewer windows than series, one is idle.
  bool evict_idle_series() {
    auto victim = series_.end();
    for (auto it = series_.begin(); it != series_.end(); ++it) {
      if (it->second.idle() &&
          (victim == series_.end() || it->second.next_start_ms < victim->second.next_start_ms)) {
        victim = it;
      }
    }
    if (victim == series_.end()) return false;
    series_.erase(victim);
    return true;
  }

  // Adds one sample at time t to its series; false if refused (window_limit).
  bool accept(series& s, const window_input_sample& in, std::int64_t t,
              const window_limits& limits) {
    const aggregate_spec& spec = in.spec;
    const std::int64_t len = s.length_ms();
    window* w = nullptr;
    std::int64_t start = t - t % len;
    if (s.open && start <= s.open->start_ms)
      w = &*s.open;  // this window, or the clock stepped back
    start = std::max(start, s.next_start_ms);
    if (w == nullptr && (windows_ >= limits.max_windows || start + len > kMaxTimeMs + 1))
      return false;

    accumulator* a = nullptr;
    if (w != nullptr) {
      for (auto& f : w->fields) {
        if (f.same(in.path, spec)) {
          a = &f;
          break;
        }
      }
      if (a == nullptr && w->fields.size() >= kMaxFieldsPerWindow) return false;
    }
    if (a == nullptr && (in.path.empty() || in.path.size() > kMaxPathBytes || !valid_utf8(in.path)))
      return false;
    reading* r = nullptr;
    if (spec.fn == aggregate_fn::delta) {
      for (auto& x : s.readings) {
        if (x.path == in.path) {
          r = &x;
          break;
        }
      }
      if (r == nullptr && s.readings.size() >= kMaxFieldsPerWindow) return false;
    }
    if (a != nullptr && a->count >= kMaxCount) return false;

    // What the sample adds, computed before anything changes: a sum that would overflow is
    // refused, so that every state stays finite (and loads again).
    double v = in.value;
    double increase = 0;
    bool measured = false;
    if (spec.fn == aggregate_fn::delta) {
      if (r != nullptr) {
        measured = true;
        const double prev = r->value;
        if (v >= prev) {
          increase = v - prev;
        } else if (spec.wrap_at > 0 && spec.wrap_at - prev + v >= 0) {
          increase = spec.wrap_at - prev + v;  // wrapped
        } else {
          increase = std::max(v, 0.0);  // reset: counts from 0
        }
        if (!std::isfinite(increase)) increase = std::max(v, 0.0);
        if (spec.noisy) increase = std::clamp(increase, spec.lower, spec.upper);
        if (a != nullptr && !std::isfinite(a->increase + increase)) return false;
      }
    } else {
      if (spec.noisy) v = std::clamp(v, spec.lower, spec.upper);
      if (a != nullptr && !std::isfinite(a->sum + v)) return false;
    }

    if (w == nullptr) {
      if (s.open) {
        s.next_start_ms = s.open->start_ms + len;
        s.closed.push_back(std::move(*s.open));
        s.closed.back().release_at_ms = 0;
      }
      s.open.emplace();
      s.open->start_ms = start;
      ++windows_;
      w = &*s.open;
    }
    if (a == nullptr) {
      accumulator& n = w->fields.emplace_back();
      n.path.assign(in.path);
      n.fn = spec.fn;
      n.clamped = spec.noisy;
      n.lower = spec.noisy ? spec.lower : 0;
      n.upper = spec.noisy ? spec.upper : 0;
      n.wrap_at = spec.wrap_at;
      a = &n;
    }
    if (spec.fn == aggregate_fn::delta) {
      if (r == nullptr) {
        s.readings.push_back({std::string(in.path), in.value});
      } else {
        r->value = in.value;
      }
      a->last = in.value;
      if (!measured) return true;
      a->increase += increase;
      ++a->count;
      return true;
    }
    if (a->count == 0) {
      a->min = v;
      a->max = v;
    } else {
      a->min = std::min(a->min, v);
      a->max = std::max(a->max, v);
    }
    a->sum += v;
    a->last = v;
    ++a->count;
    return true;
  }
};

void for_each_window_input(const compiled_policy& policy, const decision& d, std::int64_t now_ms,
                           const std::function<void(const window_input&)>& each) {
  const compiled_class* c = d.device_class();
  if (c == nullptr) return;
  // Per message: the samples go in a buffer on the stack unless a class aggregates many fields.
  constexpr std::size_t kInline = 16;
  std::array<window_input_sample, kInline> inline_samples;
  std::vector<window_input_sample> more;
  for (const release& r : d.releases()) {
    if (!r.windowed || r.purpose >= policy.purposes().size()) continue;
    std::span<window_input_sample> samples;
    if (r.samples.size() <= kInline) {
      samples = std::span(inline_samples.data(), r.samples.size());
    } else {
      more.resize(r.samples.size());
      samples = more;
    }
    std::size_t n = 0;
    for (const window_sample& s : r.samples) {
      if (s.field >= c->fields.size()) continue;
      const compiled_field& f = c->fields[s.field];
      const field_action& a = f.actions[r.purpose];
      if (a.kind != action_kind::aggregate) continue;
      samples[n++] = {f.path, a.window, s.value};
    }
    window_input in;
    in.purpose = policy.purposes()[r.purpose].id;
    in.device_class = c->id;
    in.device_id = d.device_id();
    in.topic = r.topic;
    in.time_ms = now_ms;
    in.samples = samples.first(n);
    each(in);
  }
}

window_aggregator::window_aggregator(window_limits limits)
    : impl_(std::make_unique<impl>()), limits_(limits) {}

window_aggregator::~window_aggregator() = default;

void window_aggregator::add(const compiled_policy& policy, const decision& d, std::int64_t now_ms) {
  for_each_window_input(policy, d, now_ms, [this](const window_input& in) { add(in); });
}

void window_aggregator::add(const window_input& in) {
  const std::int64_t t = clamp_time(in.time_ms);
  impl::series* s = nullptr;
  for (const window_input_sample& sample : in.samples) {
    if (!std::isfinite(sample.value) || !valid_spec(sample.spec)) {
      ++counts_.window_limit;  // not from the evaluator: a journal entry that cannot be kept
      continue;
    }
    // A message's samples usually share one window length: one lookup for all of them.
    if (s == nullptr || s->window_seconds != sample.spec.window_seconds) {
      s = impl_->find_or_make(in, sample.spec, limits_);
    }
    if (s == nullptr || !impl_->accept(*s, sample, t, limits_)) {
      ++counts_.window_limit;
      continue;
    }
    ++counts_.samples;
  }
}

bool window_aggregator::take_due(const compiled_policy& policy, std::int64_t now_ms,
                                 random_source& rng, const permission& permitted,
                                 std::vector<window_release>& out) {
  using series = impl::series;
  using window = impl::window;
  using accumulator = impl::accumulator;
  const std::int64_t now = clamp_time(now_ms);
  const std::int64_t today = now / kDayMs;

  // Nothing changes until every random draw has succeeded: first the release times of the
  // windows that close now (or were closed by add()), then the decisions and the noise of the
  // windows due, and only then the state.
  struct retime {
    window* w;
    std::int64_t release_at_ms;
  };
  std::vector<retime> retimes;
  std::vector<series*> closing;  // series whose open window has ended
  struct due_window {
    series* s;
    window* w;
    std::int64_t release_at_ms;
  };
  std::vector<due_window> due;

  for (auto& entry : impl_->series_) {
    series& s = entry.second;
    const std::int64_t len = s.length_ms();
    const std::int64_t spread_ms = std::int64_t{s.spread_seconds} * 1000;
    auto visit = [&](window& w) -> bool {
      std::int64_t at = w.release_at_ms;
      if (at == 0) {
        std::uint64_t delay = 0;
        if (spread_ms > 0 && !uniform_below(rng, static_cast<std::uint64_t>(spread_ms) + 1, delay))
          return false;
        at = w.start_ms + len + static_cast<std::int64_t>(delay);
      }
      // The clock stepped back: a release is never further ahead than a window and a spread.
      if (at - now > len + spread_ms) at = now + spread_ms;
      if (at != w.release_at_ms) retimes.push_back({&w, at});
      if (at <= now) due.push_back({&s, &w, at});
      return true;
    };
    for (window& w : s.closed) {
      if (!visit(w)) return false;
    }
    if (s.open && s.open->start_ms + len <= now) {
      closing.push_back(&s);
      if (!visit(*s.open)) return false;
    }
  }

  // The decision on each window due, in series order, with the budgets it would spend.
  enum class outcome : std::uint8_t { released, not_permitted, dropped, sparse, budget_exhausted };
  struct field_out {
    int field = -1;  // index in the class: the payload's order
    const accumulator* acc = nullptr;
    const aggregate_spec* spec = nullptr;
    double grid = 0;  // the result on the step grid, before noise
    std::int64_t noise = 0;
  };
  struct decided {
    outcome what = outcome::dropped;
    std::size_t policy_changed = 0;
    std::size_t purpose = 0;
    std::vector<field_out> fields;
  };
  std::vector<decided> decisions(due.size());
  std::map<std::string, impl::budget_record, std::less<>>
      touched;  // budgets as they would be after
  std::vector<std::string> evicted;
  std::size_t budget_count = impl_->budgets_.size();
  std::string key;

  // The record a release charges, as it would be now; null if a new one finds no room.
  auto budget_for = [&](const series& s) -> impl::budget_record* {
    budget_key(key, s.purpose, s.device_id);
    if (auto t = touched.find(key); t != touched.end()) return &t->second;
    impl::budget_record r;
    if (auto it = impl_->budgets_.find(key); it != impl_->budgets_.end()) {
      r = it->second;
    } else {
      if (budget_count >= limits_.max_budgets) {
        // Room from a record of a past day, the oldest first; never one of today.
        auto victim = impl_->budgets_.end();
        for (auto b = impl_->budgets_.begin(); b != impl_->budgets_.end(); ++b) {
          if (b->second.day >= today || touched.count(b->first) != 0 ||
              std::find(evicted.begin(), evicted.end(), b->first) != evicted.end()) {
            continue;
          }
          if (victim == impl_->budgets_.end() || b->second.day < victim->second.day) victim = b;
        }
        if (victim == impl_->budgets_.end()) return nullptr;
        evicted.push_back(victim->first);
        --budget_count;
      }
      ++budget_count;
      r.day = today;
    }
    // A new day starts afresh; a clock stepped back keeps charging the later day.
    if (r.day < today) r = {today, 0, r.lifetime_micro, false};
    return &touched.emplace(key, r).first->second;
  };

  for (std::size_t i = 0; i < due.size(); ++i) {
    const series& s = *due[i].s;
    const window& w = *due[i].w;
    decided& dec = decisions[i];
    const int p = policy.purpose_index(s.purpose);
    const compiled_class* c = p < 0 ? nullptr : policy.find_class(s.device_class);
    if (p >= 0 && permitted &&
        !permitted(static_cast<std::size_t>(p), s.device_id, s.device_class)) {
      dec.what = outcome::not_permitted;
      continue;
    }
    dec.purpose = static_cast<std::size_t>(std::max(p, 0));
    bool sparse = false;
    std::uint64_t micro = 0;
    for (const accumulator& a : w.fields) {
      const aggregate_spec* spec = nullptr;
      int field = -1;
      if (c != nullptr) {
        for (std::size_t f = 0; f < c->fields.size(); ++f) {
          if (c->fields[f].path != a.path) continue;
          const field_action& act = c->fields[f].actions[dec.purpose];
          const aggregate_spec& g = act.window;
          if (act.kind == action_kind::aggregate && g.fn == a.fn &&
              g.window_seconds == s.window_seconds && g.noisy == a.clamped &&
              (!g.noisy || (g.lower == a.lower && g.upper == a.upper))) {
            spec = &g;
            field = static_cast<int>(f);
          }
          break;
        }
      }
      if (spec == nullptr) {
        ++dec.policy_changed;
        continue;
      }
      if (a.count < spec->min_samples || a.count == 0) {
        sparse = true;
        continue;
      }
      const double value = result(a);
      const double grid = std::round(value / spec->step);  // ties away from zero
      // A result too large for the grid, or whose noise cannot be drawn, is left out like a
      // sparse one: nothing is released that is not what the policy says.
      if (!(std::fabs(grid) <= kMaxGrid)) {
        sparse = true;
        continue;
      }
      if (spec->noisy) {
        if (!discrete_laplace::make(spec->epsilon, noise_sensitivity_steps(*spec, a.count))) {
          sparse = true;
          continue;
        }
        micro += micro_epsilon(spec->epsilon);
      }
      dec.fields.push_back({field, &a, spec, grid, 0});
    }
    if (dec.fields.empty()) {
      dec.what = sparse ? outcome::sparse : outcome::dropped;
      continue;
    }
    impl::budget_record* b = nullptr;
    // A release without noise still waits for the next day once the day's budget is exhausted.
    budget_key(key, s.purpose, s.device_id);
    if (micro > 0 || impl_->budgets_.count(key) != 0 || touched.count(key) != 0) {
      b = budget_for(s);
      const auto cap = static_cast<std::int64_t>(
          std::llround(policy.purposes()[dec.purpose].epsilon_per_day * 1e6));
      if (b == nullptr || b->exhausted) {
        dec.what = outcome::budget_exhausted;
        continue;
      }
      if (micro > 0 &&
          cap - static_cast<std::int64_t>(b->spent_micro) < static_cast<std::int64_t>(micro)) {
        b->exhausted = true;
        dec.what = outcome::budget_exhausted;
        continue;
      }
      b->spent_micro += micro;
      b->lifetime_micro = std::min(b->lifetime_micro + micro, kMaxLifetimeMicro);
    }
    for (field_out& f : dec.fields) {
      if (!f.spec->noisy) continue;
      const double units = noise_sensitivity_steps(*f.spec, f.acc->count);
      if (!discrete_laplace::make(f.spec->epsilon, units)->sample(rng, f.noise)) return false;
    }
    std::sort(dec.fields.begin(), dec.fields.end(),
              [](const field_out& x, const field_out& y) { return x.field < y.field; });
    dec.what = outcome::released;
  }

  // Every draw succeeded: the state changes.
  for (const retime& r : retimes) r.w->release_at_ms = r.release_at_ms;
  for (std::size_t i = 0; i < due.size(); ++i) {
    const series& s = *due[i].s;
    window& w = *due[i].w;
    decided& dec = decisions[i];
    w.done = true;
    counts_.policy_changed += dec.policy_changed;
    switch (dec.what) {
      case outcome::not_permitted:
        ++counts_.not_permitted;
        continue;
      case outcome::sparse:
        ++counts_.window_sparse;
        continue;
      case outcome::budget_exhausted:
        ++counts_.budget_exhausted;
        continue;
      case outcome::dropped:
        continue;
      case outcome::released:
        break;
    }
    window_release& r = out.emplace_back();
    r.purpose = dec.purpose;
    r.device_class = s.device_class;
    r.device_id = s.device_id;
    r.topic = s.topic;
    r.window_start_ms = w.start_ms;
    r.window_seconds = s.window_seconds;
    r.expires_at_ms = due[i].release_at_ms +
                      std::int64_t{policy.purposes()[dec.purpose].retention_seconds} * 1000;
    std::string& j = r.payload;
    j = "{\"window_start\":\"";
    append_iso8601(j, w.start_ms);
    j += "\",\"window_seconds\":";
    j += std::to_string(s.window_seconds);
    j += ",\"fields\":{";
    for (const field_out& f : dec.fields) {
      if (&f != dec.fields.data()) j += ',';
      append_json_string(j, f.acc->path);
      j += ":{";
      append_json_string(j, aggregate_fn_name(f.acc->fn));
      j += ':';
      const double units = f.grid + static_cast<double>(f.noise);  // both exact below 2^57
      append_fixed(j, units * f.spec->step, f.spec->decimals);
      if (f.spec->noisy) {
        j += ",\"epsilon\":";
        append_shortest(j, f.spec->epsilon);
        r.epsilon += f.spec->epsilon;
      }
      j += '}';
      r.fields.push_back(f.acc->path);
    }
    j += "}}";
    ++counts_.released;
  }
  for (const std::string& k : evicted) impl_->budgets_.erase(k);
  for (auto& [k, b] : touched) impl_->budgets_[k] = b;
  for (series* s : closing) {
    s->next_start_ms = s->open->start_ms + s->length_ms();
    s->closed.push_back(std::move(*s->open));
    s->open.reset();
  }
  for (const due_window& d : due) {
    series& s = *d.s;
    const std::size_t before = s.closed.size();
    std::erase_if(s.closed, [](const window& w) { return w.done; });
    impl_->windows_ -= before - s.closed.size();
  }
  return true;
}

std::int64_t window_aggregator::next_due_ms() const {
  std::int64_t next = INT64_MAX;
  for (const auto& [key, s] : impl_->series_) {
    if (s.open) next = std::min(next, s.open->start_ms + s.length_ms());
    for (const auto& w : s.closed) {
      next = std::min(next, w.release_at_ms != 0 ? w.release_at_ms : w.start_ms + s.length_ms());
    }
  }
  return next;
}

std::size_t window_aggregator::purge(std::string_view purpose, std::string_view device_class,
                                     std::string_view device_id) {
  std::size_t dropped = 0;
  std::erase_if(impl_->series_, [&](const auto& entry) {
    const impl::series& s = entry.second;
    const bool match = (purpose.empty() || s.purpose == purpose) &&
                       (device_class.empty() || s.device_class == device_class) &&
                       (device_id.empty() || s.device_id == device_id);
    if (match) dropped += s.window_count();
    return match;
  });
  impl_->windows_ -= dropped;
  return dropped;
}

budget_use window_aggregator::budget(const compiled_policy& policy, std::string_view purpose,
                                     std::string_view device_id, std::int64_t now_ms) const {
  budget_use u;
  const int p = policy.purpose_index(purpose);
  if (p >= 0) u.cap = policy.purposes()[static_cast<std::size_t>(p)].epsilon_per_day;
  std::string key;
  budget_key(key, purpose, device_id);
  const auto it = impl_->budgets_.find(key);
  if (it == impl_->budgets_.end()) return u;
  const impl::budget_record& b = it->second;
  if (b.day >= clamp_time(now_ms) / kDayMs)
    u.spent_today = static_cast<double>(b.spent_micro) / 1e6;
  u.spent_lifetime = static_cast<double>(b.lifetime_micro) / 1e6;
  return u;
}

window_aggregator::budget_summary window_aggregator::summary(const compiled_policy& policy,
                                                             std::string_view purpose,
                                                             std::int64_t now_ms) const {
  budget_summary out;
  const int p = policy.purpose_index(purpose);
  if (p >= 0) out.cap = policy.purposes()[static_cast<std::size_t>(p)].epsilon_per_day;
  const std::int64_t today = clamp_time(now_ms) / kDayMs;
  std::string prefix;
  append_key_part(prefix, purpose);
  std::uint64_t most = 0;
  std::uint64_t lifetime = 0;
  for (auto it = impl_->budgets_.lower_bound(prefix);
       it != impl_->budgets_.end() && std::string_view(it->first).starts_with(prefix); ++it) {
    ++out.devices;
    if (it->second.day >= today) most = std::max(most, it->second.spent_micro);
    lifetime += it->second.lifetime_micro;
  }
  out.most_spent_today = static_cast<double>(most) / 1e6;
  out.lifetime_total = static_cast<double>(lifetime) / 1e6;
  return out;
}

std::size_t window_aggregator::open_windows() const {
  return impl_->windows_;
}

void window_aggregator::impl::save_window(const window& w, windows::Window& out) {
  out.set_start_ms(w.start_ms);
  out.set_release_at_ms(w.release_at_ms);
  for (const accumulator& a : w.fields) {
    windows::Accumulator& o = *out.add_field();
    o.set_path(a.path);
    o.set_function(static_cast<std::uint32_t>(a.fn));
    o.set_count(a.count);
    o.set_sum(a.sum);
    o.set_min(a.min);
    o.set_max(a.max);
    o.set_last(a.last);
    o.set_increase(a.increase);
    o.set_clamped(a.clamped);
    o.set_lower(a.lower);
    o.set_upper(a.upper);
    o.set_wrap_at(a.wrap_at);
  }
}

void window_aggregator::save(windows::WindowState& out) const {
  out.clear_series();
  out.clear_budget();
  for (const auto& [key, s] : impl_->series_) {
    windows::Series& o = *out.add_series();
    o.set_purpose(s.purpose);
    o.set_device_class(s.device_class);
    o.set_device_id(s.device_id);
    o.set_window_seconds(s.window_seconds);
    o.set_topic(s.topic);
    o.set_spread_seconds(s.spread_seconds);
    o.set_next_start_ms(s.next_start_ms);
    if (s.open) impl::save_window(*s.open, *o.mutable_open());
    for (const impl::window& w : s.closed) impl::save_window(w, *o.add_closed());
    for (const impl::reading& r : s.readings) {
      windows::Reading& x = *o.add_reading();
      x.set_path(r.path);
      x.set_value(r.value);
    }
  }
  for (const auto& [key, b] : impl_->budgets_) {
    windows::Budget& o = *out.add_budget();
    std::size_t pos = 0;
    o.set_purpose(read_key_part(key, pos));
    o.set_device_id(key.substr(pos));
    o.set_day(b.day);
    o.set_spent_micro(b.spent_micro);
    o.set_lifetime_micro(b.lifetime_micro);
    o.set_exhausted(b.exhausted);
  }
}

namespace {

bool valid_path(const std::string& p) {
  return !p.empty() && p.size() <= kMaxPathBytes && valid_utf8(p);
}

// Within [n·lower, n·upper], give or take the rounding of n additions.
bool within_sum(double sum, std::uint64_t n, double lower, double upper) {
  const double count = static_cast<double>(n);
  const double slack = 1e-9 * count * std::max({1.0, std::fabs(lower), std::fabs(upper)});
  return sum >= count * lower - slack && sum <= count * upper + slack;
}

}  // namespace

std::string window_aggregator::impl::load_accumulator(const windows::Accumulator& in,
                                                      accumulator& a) {
  if (!valid_path(in.path())) return "a field's path is empty, longer than 1024 bytes or not UTF-8";
  if (in.function() > static_cast<std::uint32_t>(aggregate_fn::delta)) {
    return "field \"" + in.path() + "\" has an unknown function " + std::to_string(in.function());
  }
  a.path = in.path();
  a.fn = static_cast<aggregate_fn>(in.function());
  a.count = in.count();
  a.sum = in.sum();
  a.min = in.min();
  a.max = in.max();
  a.last = in.last();
  a.increase = in.increase();
  a.clamped = in.clamped();
  a.lower = in.lower();
  a.upper = in.upper();
  a.wrap_at = in.wrap_at();
  const std::string field = "field \"" + a.path + "\": ";
  for (double v : {a.sum, a.min, a.max, a.last, a.increase, a.lower, a.upper, a.wrap_at}) {
    if (!std::isfinite(v)) return field + "a number is not finite";
  }
  if (a.count > kMaxCount) return field + "count " + std::to_string(a.count) + " is beyond 2^53";
  if (!(a.wrap_at >= 0 && a.wrap_at <= 1e18) || (a.wrap_at != 0 && a.fn != aggregate_fn::delta)) {
    return field + "wrap_at must be 0 to 1e18, and only for delta";
  }
  const bool delta = a.fn == aggregate_fn::delta;
  if (!delta && a.count == 0) return field + "no sample";
  if (!delta && (a.min > a.max || a.last < a.min || a.last > a.max))
    return field + "min, max and last disagree";
  if (delta && a.increase < 0 && a.clamped) return field + "a clamped increase is negative";
  if (a.clamped) {
    if (!(a.lower < a.upper) || (delta && a.lower < 0))
      return field + "the clamp bounds are not lower < upper";
    const bool inside = delta ? within_sum(a.increase, a.count, a.lower, a.upper)
                              : a.min >= a.lower && a.max <= a.upper &&
                                    within_sum(a.sum, a.count, a.lower, a.upper);
    if (!inside) return field + "a clamped value is outside its bounds";
  }
  return {};
}

std::string window_aggregator::impl::load_window(const windows::Window& in, const series& s,
                                                 window& w) {
  const std::int64_t len = s.length_ms();
  w.start_ms = in.start_ms();
  w.release_at_ms = in.release_at_ms();
  const std::string at = "window " + std::to_string(w.start_ms) + ": ";
  if (w.start_ms < 0 || w.start_ms > kMaxTimeMs + 1 - len) return at + "start out of range";
  if (w.start_ms % len != 0)
    return at + "start not aligned to " + std::to_string(s.window_seconds) + " s";
  if (w.release_at_ms < 0 || w.release_at_ms > kMaxReleaseMs)
    return at + "release time out of range";
  if (in.field_size() == 0) return at + "no field";
  if (static_cast<std::size_t>(in.field_size()) > kMaxFieldsPerWindow)
    return at + "more than 256 fields";
  w.fields.resize(static_cast<std::size_t>(in.field_size()));
  for (int i = 0; i < in.field_size(); ++i) {
    accumulator& a = w.fields[static_cast<std::size_t>(i)];
    if (std::string why = load_accumulator(in.field(i), a); !why.empty()) return at + why;
    for (int j = 0; j < i; ++j) {
      const accumulator& b = w.fields[static_cast<std::size_t>(j)];
      if (b.path == a.path && b.fn == a.fn && b.clamped == a.clamped && b.lower == a.lower &&
          b.upper == a.upper) {
        return at + "field \"" + a.path + "\" twice";
      }
    }
  }
  return {};
}

std::string window_aggregator::impl::load_series(const windows::Series& in, series& s) {
  s.purpose = in.purpose();
  s.device_class = in.device_class();
  s.device_id = in.device_id();
  s.topic = in.topic();
  s.window_seconds = in.window_seconds();
  s.spread_seconds = in.spread_seconds();
  s.next_start_ms = in.next_start_ms();
  if (s.purpose.empty() || s.purpose.size() > kMaxIdBytes)
    return "purpose empty or longer than 256 bytes";
  if (s.device_class.empty() || s.device_class.size() > kMaxIdBytes)
    return "class empty or longer than 256 bytes";
  if (s.device_id.size() > kMaxDeviceBytes) return "device id longer than 1024 bytes";
  if (s.topic.size() > kMaxTopicBytes) return "topic longer than 65535 bytes";
  if (!valid_window_seconds(s.window_seconds)) {
    return "window_seconds " + std::to_string(s.window_seconds) +
           " is not 60 to 86400 and a divisor of a day";
  }
  if (s.spread_seconds > s.window_seconds) return "spread_seconds beyond window_seconds";
  const std::int64_t len = s.length_ms();
  if (s.next_start_ms < 0 || s.next_start_ms > kMaxTimeMs + 1 || s.next_start_ms % len != 0) {
    return "next_start_ms out of range or not aligned";
  }
  for (const windows::Window& w : in.closed()) {
    if (std::string why = load_window(w, s, s.closed.emplace_back()); !why.empty())
      return "closed " + why;
    const std::size_t n = s.closed.size();
    if (n > 1 && s.closed[n - 2].start_ms >= s.closed[n - 1].start_ms)
      return "closed windows out of order";
  }
  if (!s.closed.empty())
    s.next_start_ms = std::max(s.next_start_ms, s.closed.back().start_ms + len);
  if (in.has_open()) {
    s.open.emplace();
    if (std::string why = load_window(in.open(), s, *s.open); !why.empty()) return "open " + why;
    if (s.open->release_at_ms != 0) return "the open window has a release time";
    if (s.open->start_ms < s.next_start_ms)
      return "the open window starts before the last closed one ended";
  }
  if (static_cast<std::size_t>(in.reading_size()) > kMaxFieldsPerWindow)
    return "more than 256 readings";
  for (const windows::Reading& r : in.reading()) {
    if (!valid_path(r.path()))
      return "a reading's path is empty, longer than 1024 bytes or not UTF-8";
    if (!std::isfinite(r.value())) return "reading \"" + r.path() + "\" is not finite";
    for (const reading& x : s.readings) {
      if (x.path == r.path()) return "reading \"" + r.path() + "\" twice";
    }
    s.readings.push_back({r.path(), r.value()});
  }
  return {};
}

platform::result<std::unique_ptr<window_aggregator>> window_aggregator::load(
    const windows::WindowState& in, window_limits limits) {
  auto fail = [](const std::string& why) {
    return platform::error{"window state refused: " + why};
  };
  auto agg = std::make_unique<window_aggregator>(limits);
  impl& m = *agg->impl_;
  if (static_cast<std::size_t>(in.series_size()) > limits.max_windows) {
    return fail(std::to_string(in.series_size()) + " series, more than max_windows " +
                std::to_string(limits.max_windows));
  }
  for (int i = 0; i < in.series_size(); ++i) {
    // Counted before the windows are read, so that a state cannot make load() build many.
    if (static_cast<std::size_t>(in.series(i).closed_size()) > limits.max_windows - m.windows_) {
      return fail("more windows than max_windows " + std::to_string(limits.max_windows));
    }
    impl::series s;
    if (std::string why = impl::load_series(in.series(i), s); !why.empty()) {
      return fail("series " + std::to_string(i) + ": " + why);
    }
    m.windows_ += s.window_count();
    if (m.windows_ > limits.max_windows) {
      return fail("more windows than max_windows " + std::to_string(limits.max_windows));
    }
    series_key(m.key_, s.purpose, s.device_class, s.device_id, s.window_seconds);
    if (!m.series_.emplace(m.key_, std::move(s)).second) {
      return fail("series " + std::to_string(i) + " repeats an earlier one");
    }
  }
  if (static_cast<std::size_t>(in.budget_size()) > limits.max_budgets) {
    return fail(std::to_string(in.budget_size()) + " budgets, more than max_budgets " +
                std::to_string(limits.max_budgets));
  }
  for (int i = 0; i < in.budget_size(); ++i) {
    const windows::Budget& b = in.budget(i);
    const std::string at = "budget " + std::to_string(i) + ": ";
    if (b.purpose().empty() || b.purpose().size() > kMaxIdBytes)
      return fail(at + "purpose empty or longer than 256 bytes");
    if (b.device_id().size() > kMaxDeviceBytes)
      return fail(at + "device id longer than 1024 bytes");
    if (b.day() < 0 || b.day() > kMaxTimeMs / kDayMs) return fail(at + "day out of range");
    if (b.spent_micro() > kMaxSpentMicro) return fail(at + "more spent in a day than 10");
    if (b.lifetime_micro() < b.spent_micro() || b.lifetime_micro() > kMaxLifetimeMicro) {
      return fail(at + "lifetime spend below the day's or out of range");
    }
    budget_key(m.key_, b.purpose(), b.device_id());
    const impl::budget_record r{b.day(), b.spent_micro(), b.lifetime_micro(), b.exhausted()};
    if (!m.budgets_.emplace(m.key_, r).second) return fail(at + "repeats an earlier one");
  }
  return agg;
}

}  // namespace portier::policies
