// The compiled form of one field action, and the value transforms that run on the data path.
// Transforms write into a caller-owned buffer and report a type mismatch as a value (false);
// they never allocate for numbers and times, and never throw.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portier::policies {

enum class action_kind : std::uint8_t {
  none,                 // the purpose has no rule for this field: not sent (policy_drop)
  keep,                 // sent as the device wrote it
  drop,                 // explicitly not sent (policy_drop)
  pseudonymise,         // keyed HMAC pseudonym, base32
  round,                // nearest multiple of step
  bucket,               // label of the range
  coarsen_time,         // start of minute / hour / day, same notation
  truncate,             // first N Unicode characters
  generalise_location,  // latitude of a pair: both become the grid cell's centre
  location_longitude,   // longitude of a pair: held until its latitude is known
  aggregate,            // gathered per window (window_aggregator.h), never sent per message
};

enum class aggregate_fn : std::uint8_t { mean, min, max, sum, count, last, delta };

std::string_view aggregate_fn_name(aggregate_fn f);  // "mean", "min", ...

// A field's window for one purpose (Aggregate in policy.proto), validated by the compiler.
struct aggregate_spec {
  aggregate_fn fn = aggregate_fn::mean;
  std::uint32_t window_seconds = 0;  // divides 86400
  std::uint32_t min_samples = 1;
  double step = 0.001;               // grid of the result (COUNT: 1)
  int decimals = 3;                  // derived from step
  std::uint32_t spread_seconds = 0;  // the release waits 0..spread after the window closes
  double wrap_at = 0;                // delta: where the counter wraps (0: a decrease is a reset)
  bool noisy = false;                // noise: clamp to [lower, upper], discrete Laplace with epsilon
  double epsilon = 0;
  double lower = 0;
  double upper = 0;
};

// One number of a message, for a field a purpose receives per window (release::samples).
struct window_sample {
  std::uint16_t field = 0;  // index into the class's fields
  double value = 0;
};

enum class time_unit : std::uint8_t { minute, hour, day };
enum class time_input : std::uint8_t {
  automatic,
  epoch_seconds,
  epoch_millis,
  epoch_micros,
  epoch_nanos,
  iso8601
};

// The times coarsen_time accepts: from 2000-01-01T00:00:00Z (inclusive) to
// 2100-01-01T00:00:00Z (exclusive), in epoch seconds. Within it the ranges of seconds,
// milliseconds, microseconds and nanoseconds do not overlap, so AUTO can tell them apart.
inline constexpr std::int64_t kEarliestTime = 946'684'800;
inline constexpr std::int64_t kLatestTime = 4'102'444'800;

// What the device sent, as the JSON reader saw it (numbers keep their exact text).
enum class value_type : std::uint8_t { string, number, boolean, null };

// What apply_coarsen_time made of a value.
enum class time_result : std::uint8_t {
  coarsened,
  not_a_time,   // not a number, nor an ISO-8601 string the input takes: type_mismatch
  implausible,  // a time, but outside 2000..2100 or not in the declared unit: implausible_time
};

struct field_action {
  action_kind kind = action_kind::none;
  std::uint32_t length = 0;          // pseudonymise: characters; truncate: code points;
                                     // keep: at most this many characters (0: no limit)
  std::optional<value_type> type;    // keep: the only type that may leave (any when empty)
  double step = 0;                   // round
  int decimals = 0;                  // round: decimals printed, derived from step
  std::vector<double> bounds;        // bucket
  std::vector<std::string> labels;   // bucket
  time_unit unit = time_unit::hour;  // coarsen_time
  time_input input = time_input::automatic;
  double cell_km = 0;                // generalise_location
  std::string longitude;             // generalise_location: the sibling member's name
  int partner_field = -1;            // generalise_location: the longitude field's index
  aggregate_spec window;             // aggregate
};

// Round `number` (JSON number text) to the action's step. False if not a finite number.
bool apply_round(const field_action& a, std::string_view number, std::string& out);
// The label for `number`. False if not a finite number.
bool apply_bucket(const field_action& a, std::string_view number, const std::string** label);
// Whether a value may leave by a keep action: of its type (if it names one), and no longer than
// its length (if it has one; a string's characters, or a number's text). `value` as in
// apply_coarsen_time. Reads the value only when it is longer in bytes than the limit.
bool keep_fits(const field_action& a, value_type type, std::string_view value);
// Coarsen an epoch number (type number) or ISO-8601 string to the start of its minute, hour or
// day, in the unit and notation it arrived in. Epoch numbers are s, ms, µs or ns as the input
// declares, or by magnitude for AUTO; either way within kEarliestTime..kLatestTime, else
// implausible. ISO-8601 strings must have a year from 2000 to 2099 (the date as written).
// Writes a number's text or a string's content to `out`; `out_is_number` tells which.
time_result apply_coarsen_time(const field_action& a, value_type type, std::string_view value,
                               std::string& out, bool& out_is_number);
// The longest prefix of at most `length` code points of valid UTF-8 `text`.
std::string_view truncate_utf8(std::string_view text, std::uint32_t length);
// The centre of the cell of lat/lon on a grid of cell_km; false if out of range.
bool generalise_location(double cell_km, double lat, double lon, double& cell_lat, double& cell_lon);
// Parses a JSON number text; false unless it is finite.
bool parse_number(std::string_view text, double& out);
// Appends `v` with `decimals` digits after the point, without "-0".
void append_fixed(std::string& out, double v, int decimals);
// Number of decimals needed to print multiples of `step` exactly (at most 9).
int decimals_for_step(double step);

}  // namespace portier::policies
