// window_aggregator: the open windows of aggregated fields (Aggregate in policy.proto), per
// device and purpose, and the differential-privacy budget their noisy releases spend.
//
//   agg.add(policy, decision, now_ms);                  // a message's windowed samples
//   agg.take_due(policy, now_ms, rng, permitted, out);  // windows whose release time has come
//
// A series is (purpose, class, device id, window length). It has at most one open window,
// [start, start + window_seconds), aligned to UTC (the length divides a day). A sample whose time
// falls in a later window closes the open one and opens that later one; a sample whose time falls
// before the open window (the clock stepped back) is added to the open window: a window never
// reopens and no sample is counted twice or lost. Every open window whose end has passed closes in
// take_due(); a closed window is given a release time `end + uniform[0, spread]` when it closes
// (a release time further ahead than window + spread, after the clock stepped back, is brought to
// now + spread). A window that has closed is never opened again: a sample from before it (the
// clock stepped back further) goes to the window after the last one closed. DELTA keeps the
// series' last reading across windows, so a window's increase runs from the last reading before
// it; a decrease is a reset (the new reading counts from 0) or, with wrap_at, a wrap (wrap_at -
// previous + new). A series' first reading only sets its base: DELTA's samples (for min_samples)
// are the increases measured. With noise, each sample (DELTA: each increase) is clamped to
// [lower, upper] when it is added.
//
// At its release time a window is computed with the policy then in force: an accumulator whose
// field the purpose no longer aggregates with the same function, window and clamp is dropped
// (window_policy_changed); a field with fewer than min_samples samples is left out, and a window
// left with no field is not released (window_sparse). Results are rounded to the field's step; with
// noise, discrete Laplace noise (discrete_laplace.h) is added on the step grid, its sensitivity
// (upper - lower, divided by the count for MEAN) in steps; every noisy field of the release spends
// its epsilon from the purpose's daily budget for the device (UTC day of now_ms). A release whose
// epsilon does not fit in what is left is not made (budget_exhausted), nor is any later one of that
// purpose and device that day. The spend of a day is never lowered: a clock stepped back to an
// earlier day keeps charging the later day, so stepping the clock never refills a budget.
//
// Bounded: at most `max_windows` windows (open and closed, waiting for release) at once; a sample
// that would open one more is refused (window_limit), as is one the state could not hold (a sum
// that would overflow, a spec or size load() would refuse). Series are bounded by `max_windows`
// too: a series without a window is kept (its DELTA readings, where its next window may start)
// until a new series needs the room, the longest idle first. Budget records (one per purpose and
// device) are bounded by `max_budgets`: the records of past days go first; a record of today is
// never evicted, and a release that would need one more is not made (budget_exhausted). Budgets
// are kept in millionths of ε, each field's ε rounded up.
//
// The payload of a release is JSON:
//   {"window_start":"2026-12-05T10:15:00Z","window_seconds":900,
//    "fields":{"power":{"mean":412.3},"energy":{"delta":0.25,"epsilon":0.5}}}
// keyed by field path, in the class's field order; "epsilon" appears on noisy values. Nothing of
// the samples' times leaves. Releases come out in one order (purpose, class, device, window), so
// a state saved and loaded draws the same delays and noise as the one that was saved.
//
// Pure: no I/O, no clock, no randomness of its own (random_source), no threads. Not thread-safe:
// the gateway serialises calls (gateway/store/window_store.h, which also makes it durable through
// save()/load()).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "platform/result.h"
#include "policies/compiled_policy.h"
#include "policies/decision.h"
#include "policies/field_action.h"
#include "policies/random_source.h"

namespace portier::windows {
class WindowState;  // proto/windows.proto
}

namespace portier::policies {

struct window_limits {
  std::size_t max_windows = 4096;
  std::size_t max_budgets = 16384;
};

// One number of one message for one windowed field, as add() and the gateway's journal take it:
// the field by path with the parts of its spec that shape the accumulation.
struct window_input_sample {
  std::string_view path;
  aggregate_spec spec;
  double value = 0;
};

// One message's samples for one purpose.
struct window_input {
  std::string_view purpose;       // purpose id
  std::string_view device_class;  // class id
  std::string_view device_id;     // raw device id (never upstream)
  std::string_view topic;         // the upstream topic the window's release takes
  std::int64_t time_ms = 0;       // when the message arrived (wall clock, UTC)
  std::span<const window_input_sample> samples;
};

// Calls `each` with the window_input of every windowed release of `d` (release::windowed), the
// fields' paths and specs taken from `policy` (the policy that made the decision). The views
// point into `policy` and `d` and live as long as they do.
void for_each_window_input(const compiled_policy& policy, const decision& d, std::int64_t now_ms,
                           const std::function<void(const window_input&)>& each);

struct window_release {
  std::size_t purpose = 0;  // index into the policy given to take_due()
  std::string device_class;
  std::string device_id;    // raw: for consent, the ledger and spool purges; never upstream
  std::string topic;
  std::string payload;      // JSON, as above
  std::int64_t window_start_ms = 0;
  std::uint32_t window_seconds = 0;
  std::int64_t expires_at_ms = 0;  // release time (as drawn, not now) + the retention
  double epsilon = 0;              // spent by this release (0 without noise)
  std::vector<std::string> fields; // paths released
};

// What take_due() and add() did not release, by reason (drop_reason names for the first three).
struct window_counts {
  std::uint64_t samples = 0;          // samples added
  std::uint64_t released = 0;         // windows released
  std::uint64_t window_sparse = 0;    // windows not released: too few samples
  std::uint64_t budget_exhausted = 0; // windows not released: the day's ε is spent
  std::uint64_t window_limit = 0;     // samples refused: max_windows reached
  std::uint64_t policy_changed = 0;   // accumulators dropped: the policy changed under them
  std::uint64_t not_permitted = 0;    // windows dropped at release: consent refused or suspended
};

// A purpose's budget for one device.
struct budget_use {
  double cap = 0;            // epsilon_per_day of the purpose (0: no budget)
  double spent_today = 0;    // in the UTC day of `now`
  double spent_lifetime = 0; // every day since the record was made
};

class window_aggregator {
 public:
  explicit window_aggregator(window_limits limits = {});
  ~window_aggregator();

  // The windowed releases of a decision (release::windowed), with the fields' specs from
  // `policy` (the policy that made the decision).
  void add(const compiled_policy& policy, const decision& d, std::int64_t now_ms);
  // One message's samples for one purpose (also how the gateway's journal replays).
  void add(const window_input& in);

  // Closes the windows that have ended, then computes and returns (appended to `out`) those whose
  // release time has come. `permitted(purpose index, device id, class id)` says whether the
  // purpose may still receive the device's data (consent, suspension); a window it refuses is
  // dropped (not_permitted); an empty `permitted` permits all. Draws noise and release delays
  // from `rng`; false (nothing changed, nothing appended) if rng fails: every draw is made
  // before anything changes.
  using permission = std::function<bool(std::size_t, std::string_view, std::string_view)>;
  bool take_due(const compiled_policy& policy, std::int64_t now_ms, random_source& rng, const permission& permitted,
                std::vector<window_release>& out);
  // The earliest time take_due() would do something: an open window's end or a release time;
  // INT64_MAX when nothing is open.
  std::int64_t next_due_ms() const;

  // Forgets what waits for `purpose` ("" = every purpose) of one device (device_id non-empty),
  // one class (device_class non-empty) or everything: the household withdrew consent or erased
  // a device. Budgets are never forgotten (that would refill them). Returns windows dropped.
  std::size_t purge(std::string_view purpose, std::string_view device_class, std::string_view device_id);

  budget_use budget(const compiled_policy& policy, std::string_view purpose, std::string_view device_id,
                    std::int64_t now_ms) const;
  // The device with the most spent today, and the sum over devices of the lifetime spend.
  struct budget_summary {
    double cap = 0;
    double most_spent_today = 0;
    double lifetime_total = 0;
    std::size_t devices = 0;
  };
  budget_summary summary(const compiled_policy& policy, std::string_view purpose, std::int64_t now_ms) const;

  std::size_t open_windows() const;    // open and closed-waiting
  const window_counts& counts() const { return counts_; }

  // The whole state (windows, readings carried for DELTA, budgets) as a message, and back. load()
  // treats its input as hostile: every bound and invariant is checked, and a state that breaks one
  // is refused with the reason (the caller starts afresh, keeping nothing of it). save() replaces
  // `out`'s series and budgets and leaves journal_seq to the caller.
  void save(windows::WindowState& out) const;
  static platform::result<std::unique_ptr<window_aggregator>> load(const windows::WindowState& in,
                                                                   window_limits limits = {});

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  window_limits limits_;
  window_counts counts_;
};

}  // namespace portier::policies
