// The value transforms of the data path: round, bucket, coarsen_time, truncate,
// generalise_location, and the number helpers they share.
#include "policies/field_action.h"

#include <cmath>
#include <limits>
#include <string>

#include <CppUTest/TestHarness.h>

using namespace portier::policies;

namespace {

constexpr const char* kMismatch = "(type mismatch)";
constexpr const char* kImplausible = "(implausible)";

field_action round_action(double step) {
  field_action a;
  a.kind = action_kind::round;
  a.step = step;
  a.decimals = decimals_for_step(step);
  return a;
}

void check_round(double step, const char* number, const char* expected, const char* file,
                 int line) {
  std::string out = "garbage";
  const bool ok = apply_round(round_action(step), number, out);
  const std::string what = std::string(number) + " to step " + std::to_string(step);
  STRCMP_EQUAL_LOCATION(expected, ok ? out.c_str() : kMismatch, what.c_str(), file, line);
}

void check_bucket(const char* number, const char* expected, const char* file, int line) {
  field_action a;
  a.kind = action_kind::bucket;
  a.bounds = {10, 100, 1000};
  a.labels = {"dark", "dim", "bright", "daylight"};
  const std::string* label = nullptr;
  const bool ok = apply_bucket(a, number, &label);
  STRCMP_EQUAL_LOCATION(expected, ok ? label->c_str() : kMismatch, number, file, line);
}

// `value` is a number's text when `type` is number, a string's content when string. The result
// is printed as "n:<text>" for a number and "s:<text>" for a string.
void check_coarsen(time_unit unit, time_input input, value_type type, const char* value,
                   const char* expected, const char* file, int line) {
  field_action a;
  a.kind = action_kind::coarsen_time;
  a.unit = unit;
  a.input = input;
  std::string out;
  bool is_number = false;
  const time_result r = apply_coarsen_time(a, type, value, out, is_number);
  const std::string got = r == time_result::coarsened     ? (is_number ? "n:" : "s:") + out
                          : r == time_result::implausible ? kImplausible
                                                          : kMismatch;
  STRCMP_EQUAL_LOCATION(expected, got.c_str(), value, file, line);
}

void check_truncate(const char* text, std::uint32_t length, const char* expected, const char* file,
                    int line) {
  STRCMP_EQUAL_LOCATION(expected, std::string(truncate_utf8(text, length)).c_str(), text, file,
                        line);
}

// Expected centres are given to 4 decimals, as the rewriter prints them.
void check_cell(double cell_km, double lat, double lon, double cell_lat, double cell_lon,
                const char* file, int line) {
  double got_lat = 0, got_lon = 0;
  const std::string what =
      std::to_string(lat) + "," + std::to_string(lon) + " on " + std::to_string(cell_km) + " km";
  CHECK_TRUE_LOCATION(generalise_location(cell_km, lat, lon, got_lat, got_lon), "CELL",
                      "generalise_location", what.c_str(), file, line);
  DOUBLES_EQUAL_LOCATION(cell_lat, got_lat, 0.00005, what.c_str(), file, line);
  DOUBLES_EQUAL_LOCATION(cell_lon, got_lon, 0.00005, what.c_str(), file, line);
  // The centre is at most half a cell away in latitude: the grid does not move people around.
  CHECK_TRUE_LOCATION(std::fabs(got_lat - lat) <= cell_km / 111.32 / 2 + 1e-9, "CELL",
                      "within the cell", what.c_str(), file, line);
}

void check_out_of_range(double lat, double lon, const char* file, int line) {
  double got_lat = 0, got_lon = 0;
  const std::string what = std::to_string(lat) + "," + std::to_string(lon);
  CHECK_FALSE_LOCATION(generalise_location(5, lat, lon, got_lat, got_lon), "OUT_OF_RANGE",
                       "generalise_location", what.c_str(), file, line);
}

void check_number(const char* text, bool ok, double expected, const char* file, int line) {
  double got = -12345;
  CHECK_EQUAL_LOCATION(ok, parse_number(text, got), text, file, line);
  if (ok) DOUBLES_EQUAL_LOCATION(expected, got, 0, text, file, line);
}

void check_fixed(double v, int decimals, const char* expected, const char* file, int line) {
  std::string out = "x=";
  append_fixed(out, v, decimals);
  STRCMP_EQUAL_LOCATION((std::string("x=") + expected).c_str(), out.c_str(), expected, file, line);
}

#define ROUND(step, number, expected) check_round(step, number, expected, __FILE__, __LINE__)
#define BUCKET(number, expected) check_bucket(number, expected, __FILE__, __LINE__)
#define COARSEN(unit, input, type, value, expected)                                              \
  check_coarsen(time_unit::unit, time_input::input, value_type::type, value, expected, __FILE__, \
                __LINE__)
#define TRUNCATE(text, length, expected) check_truncate(text, length, expected, __FILE__, __LINE__)
#define CELL(km, lat, lon, cell_lat, cell_lon) \
  check_cell(km, lat, lon, cell_lat, cell_lon, __FILE__, __LINE__)
#define OUT_OF_RANGE(lat, lon) check_out_of_range(lat, lon, __FILE__, __LINE__)
#define NUMBER(text, value) check_number(text, true, value, __FILE__, __LINE__)
#define NOT_A_NUMBER(text) check_number(text, false, 0, __FILE__, __LINE__)
#define FIXED(v, decimals, expected) check_fixed(v, decimals, expected, __FILE__, __LINE__)

}  // namespace

TEST_GROUP(field_action){};

TEST(field_action, round_to_half_a_degree) {
  ROUND(0.5, "21.53", "21.5");
  ROUND(0.5, "21.43750", "21.5");
  ROUND(0.5, "21.74", "21.5");
  ROUND(0.5, "21.75", "22.0");  // tie: away from zero
  ROUND(0.5, "21.25", "21.5");  // tie: away from zero
  ROUND(0.5, "21", "21.0");     // printed with the step's decimals
  ROUND(0.5, "0", "0.0");
  ROUND(0.5, "1e2", "100.0");
  ROUND(0.5, "-21.25", "-21.5");  // tie: away from zero, also below zero
  ROUND(0.5, "-3.6", "-3.5");
  ROUND(0.5, "-0.2", "0.0");  // never "-0.0"
  ROUND(0.5, "-0", "0.0");
}

TEST(field_action, round_to_ten_watts) {
  ROUND(10, "1432.7", "1430");
  ROUND(10, "1435", "1440");
  ROUND(10, "1873.4", "1870");
  ROUND(10, "-1873.4", "-1870");
  ROUND(10, "-5", "-10");
  ROUND(10, "-4.9", "0");  // never "-0"
  ROUND(10, "4.9", "0");
  ROUND(600, "183452", "183600");
  ROUND(3600, "274329", "273600");
}

TEST(field_action, round_to_hundredths) {
  ROUND(0.01, "12.347", "12.35");
  ROUND(0.01, "4563.123", "4563.12");
  ROUND(0.01, "2310.004", "2310.00");
  ROUND(0.01, "0.004", "0.00");
  ROUND(0.01, "-0.004", "0.00");  // never "-0.00"
  ROUND(0.01, "-7.126", "-7.13");
  ROUND(0.1, "0.99", "1.0");
  ROUND(0.1, "6.112", "6.1");
  ROUND(1, "47.8", "48");
  ROUND(1, "-63", "-63");
}

TEST(field_action, round_to_a_tiny_step_keeps_nine_decimals) {
  ROUND(1e-10, "21.53", "21.530000000");
  ROUND(5e-10, "-0.25", "-0.250000000");
}

TEST(field_action, round_rejects_what_is_not_a_finite_number) {
  ROUND(0.5, "warm", kMismatch);
  ROUND(0.5, "", kMismatch);
  ROUND(0.5, "21.5C", kMismatch);
  ROUND(0.5, "1e400", kMismatch);
  ROUND(0.5, "1e308", kMismatch);  // 1e308 / 0.5 overflows
  // A huge but finite result is still printed as a valid number.
  ROUND(1, "1e300", "1.0000000000000001e+300");
}

TEST(field_action, decimals_follow_the_step) {
  LONGS_EQUAL(1, decimals_for_step(0.5));
  LONGS_EQUAL(0, decimals_for_step(10));
  LONGS_EQUAL(0, decimals_for_step(1));
  LONGS_EQUAL(2, decimals_for_step(0.01));
  LONGS_EQUAL(2, decimals_for_step(0.25));
  LONGS_EQUAL(1, decimals_for_step(0.1));
  LONGS_EQUAL(3, decimals_for_step(0.005));
  LONGS_EQUAL(9, decimals_for_step(1e-12));
}

TEST(field_action, append_fixed_never_writes_minus_zero) {
  FIXED(-0.0, 1, "0.0");
  FIXED(-0.04, 1, "0.0");
  FIXED(-0.0001, 0, "0");
  FIXED(-1.25, 2, "-1.25");
  FIXED(52.359863, 4, "52.3599");
  FIXED(4.862047, 4, "4.8620");
  FIXED(-33.878009, 4, "-33.8780");
}

TEST(field_action, bucket_labels) {
  BUCKET("-5", "dark");
  BUCKET("0", "dark");
  BUCKET("9.99", "dark");
  BUCKET("10", "dim");  // a value equal to a bound belongs to the next range
  BUCKET("34", "dim");
  BUCKET("100", "bright");
  BUCKET("999.9", "bright");
  BUCKET("1000", "daylight");
  BUCKET("1e6", "daylight");
  BUCKET("bright", kMismatch);
  BUCKET("", kMismatch);
}

TEST(field_action, coarsen_epoch_seconds) {
  COARSEN(minute, automatic, number, "1714551825", "n:1714551780");
  COARSEN(hour, automatic, number, "1714551825", "n:1714550400");
  COARSEN(day, automatic, number, "1714551825", "n:1714521600");
  COARSEN(minute, automatic, number, "1714551780", "n:1714551780");
  COARSEN(minute, epoch_seconds, number, "1714551825", "n:1714551780");
  COARSEN(minute, automatic, number, "1714551825.9", "n:1714551780");
  COARSEN(minute, automatic, number, "1.714551825e9", "n:1714551780");
}

TEST(field_action, coarsen_epoch_milli_micro_and_nanoseconds_keep_their_unit) {
  COARSEN(minute, automatic, number, "1714551825123", "n:1714551780000");
  COARSEN(hour, automatic, number, "1714551825123", "n:1714550400000");
  COARSEN(minute, epoch_millis, number, "1714551825123", "n:1714551780000");
  COARSEN(minute, automatic, number, "1714551825123456", "n:1714551780000000");
  COARSEN(day, epoch_micros, number, "1714551825123456", "n:1714521600000000");
  COARSEN(minute, automatic, number, "1714551825123456789", "n:1714551780000000000");
  COARSEN(hour, epoch_nanos, number, "1714551825123456789", "n:1714550400000000000");
  COARSEN(minute, automatic, number, "1714551825123.9", "n:1714551780000");
}

TEST(field_action, coarsen_takes_epoch_times_from_2000_to_2100_only) {
  // unit        first accepted           first refused above
  // s           946684800                4102444800
  // ms          946684800000             4102444800000
  // µs          946684800000000          4102444800000000
  // ns          946684800000000000       4102444800000000000
  COARSEN(day, automatic, number, "946684800", "n:946684800");
  COARSEN(day, automatic, number, "946684799", kImplausible);
  COARSEN(day, automatic, number, "4102444799", "n:4102358400");
  COARSEN(day, automatic, number, "4102444800", kImplausible);
  COARSEN(day, automatic, number, "946684800000", "n:946684800000");
  COARSEN(day, automatic, number, "946684799999", kImplausible);
  COARSEN(day, automatic, number, "4102444799999", "n:4102358400000");
  COARSEN(day, automatic, number, "4102444800000", kImplausible);
  COARSEN(day, automatic, number, "946684800000000", "n:946684800000000");
  COARSEN(day, automatic, number, "946684799999999", kImplausible);
  COARSEN(day, automatic, number, "4102444799999999", "n:4102358400000000");
  COARSEN(day, automatic, number, "4102444800000000", kImplausible);
  COARSEN(day, automatic, number, "946684800000000000", "n:946684800000000000");
  COARSEN(day, automatic, number, "946684799999999999", kImplausible);
  COARSEN(day, automatic, number, "4102444799999999999", "n:4102358400000000000");
  COARSEN(day, automatic, number, "4102444800000000000", kImplausible);
  COARSEN(minute, automatic, number, "946684799.5", kImplausible);  // 1999-12-31T23:59:59.5Z
  // Zero (no clock), small, negative and huge numbers.
  COARSEN(minute, automatic, number, "0", kImplausible);
  COARSEN(minute, automatic, number, "-0", kImplausible);
  COARSEN(minute, automatic, number, "0.5", kImplausible);
  COARSEN(minute, automatic, number, "86400", kImplausible);
  COARSEN(minute, automatic, number, "-1", kImplausible);
  COARSEN(minute, automatic, number, "-1714551825", kImplausible);
  COARSEN(minute, automatic, number, "-1714551825123456789", kImplausible);
  COARSEN(minute, automatic, number, "9223372036854775807", kImplausible);
  COARSEN(minute, automatic, number, "-9223372036854775808", kImplausible);
  COARSEN(minute, automatic, number, "99999999999999999999999", kImplausible);
  COARSEN(minute, automatic, number, "1e20", kImplausible);
  COARSEN(minute, automatic, number, "-1e20", kImplausible);
  COARSEN(minute, automatic, number, "1e400", kImplausible);
  COARSEN(minute, automatic, number, "1e-400", kImplausible);
}

TEST(field_action, coarsen_auto_refuses_magnitudes_between_units) {
  // 17145518251 is the year 2513 in seconds and 1970 in milliseconds: neither is plausible.
  COARSEN(minute, automatic, number, "17145518251", kImplausible);
  COARSEN(minute, automatic, number, "17145518251234", kImplausible);
  COARSEN(minute, automatic, number, "17145518251234567", kImplausible);
}

TEST(field_action, coarsen_declared_units_refuse_other_magnitudes) {
  COARSEN(minute, epoch_seconds, number, "1714551825123", kImplausible);
  COARSEN(minute, epoch_seconds, number, "1714551825123456789", kImplausible);
  COARSEN(minute, epoch_millis, number, "1714551825", kImplausible);
  COARSEN(minute, epoch_millis, number, "60001", kImplausible);
  COARSEN(minute, epoch_millis, number, "1714551825123456", kImplausible);
  COARSEN(minute, epoch_micros, number, "1714551825123", kImplausible);
  COARSEN(minute, epoch_micros, number, "1714551825123456789", kImplausible);
  COARSEN(minute, epoch_nanos, number, "1714551825123456", kImplausible);
  COARSEN(minute, epoch_nanos, number, "1714551825", kImplausible);
}

TEST(field_action, coarsen_rejects_values_that_are_no_time) {
  COARSEN(minute, automatic, number, "abc", kMismatch);
  COARSEN(minute, iso8601, number, "1714551825", kMismatch);
  COARSEN(minute, automatic, boolean, "true", kMismatch);
  COARSEN(minute, automatic, null, "null", kMismatch);
  COARSEN(minute, epoch_micros, string, "1714551825123456", kMismatch);
}

TEST(field_action, coarsen_iso8601_keeps_its_notation) {
  COARSEN(minute, automatic, string, "2024-05-01T10:23:45Z", "s:2024-05-01T10:23:00Z");
  COARSEN(hour, automatic, string, "2024-05-01T10:23:45Z", "s:2024-05-01T10:00:00Z");
  COARSEN(day, automatic, string, "2024-05-01T10:23:45Z", "s:2024-05-01T00:00:00Z");
  COARSEN(minute, iso8601, string, "2024-05-01T10:23:45Z", "s:2024-05-01T10:23:00Z");
  COARSEN(minute, automatic, string, "2024-05-01t10:23:45z", "s:2024-05-01t10:23:00z");
  // Offsets are kept and the cut is in that local time.
  COARSEN(hour, automatic, string, "2024-05-01T10:23:45.123+02:00", "s:2024-05-01T10:00:00+02:00");
  COARSEN(minute, automatic, string, "2024-05-01T10:23:45-05:30", "s:2024-05-01T10:23:00-05:30");
  COARSEN(minute, automatic, string, "2024-05-01T10:23:45+0200", "s:2024-05-01T10:23:00+0200");
  COARSEN(day, automatic, string, "2024-05-01T23:59:59-0800", "s:2024-05-01T00:00:00-0800");
  COARSEN(minute, automatic, string, "2024-05-01T10:23:45+02", "s:2024-05-01T10:23:00+02");
  COARSEN(minute, automatic, string, "2024-02-29T10:23:45Z", "s:2024-02-29T10:23:00Z");  // leap year
  // Fractions, with '.' or ','.
  COARSEN(minute, automatic, string, "2024-05-01T10:23:45.123456Z", "s:2024-05-01T10:23:00Z");
  COARSEN(minute, automatic, string, "2024-05-01T10:23:45,5Z", "s:2024-05-01T10:23:00Z");
  // Without seconds, without a zone (Tasmota's local time), with a space.
  COARSEN(minute, automatic, string, "2024-05-01T10:23Z", "s:2024-05-01T10:23:00Z");
  COARSEN(minute, automatic, string, "2024-05-01T10:23:45", "s:2024-05-01T10:23:00");
  COARSEN(hour, automatic, string, "2024-05-01 10:23:45", "s:2024-05-01 10:00:00");
  COARSEN(minute, automatic, string, "2016-12-31T23:59:60Z",
          "s:2016-12-31T23:59:00Z");  // leap second
  // A date alone is already as coarse as a day.
  COARSEN(hour, automatic, string, "2024-05-01", "s:2024-05-01");
  COARSEN(minute, iso8601, string, "2024-05-01", "s:2024-05-01");
}

TEST(field_action, coarsen_rejects_strings_that_are_no_iso8601_time) {
  COARSEN(minute, automatic, string, "", kMismatch);
  COARSEN(minute, automatic, string, "yesterday", kMismatch);
  COARSEN(minute, automatic, string, "1714551825", kMismatch);
  COARSEN(minute, automatic, string, "2024-5-1", kMismatch);
  COARSEN(minute, automatic, string, "2024/05/01", kMismatch);
  COARSEN(minute, automatic, string, "2024-13-01T10:23:45Z", kMismatch);
  COARSEN(minute, automatic, string, "2024-00-01T10:23:45Z", kMismatch);
  COARSEN(minute, automatic, string, "2024-05-32T10:23:45Z", kMismatch);
  COARSEN(minute, automatic, string, "2024-05-00T10:23:45Z", kMismatch);
  COARSEN(minute, automatic, string, "2024-05-01T24:00:00Z", kMismatch);
  COARSEN(minute, automatic, string, "2024-05-01T10:60:00Z", kMismatch);
  COARSEN(minute, automatic, string, "2024-05-01T10:23:61Z", kMismatch);
  COARSEN(minute, automatic, string, "2024-05-01T10", kMismatch);
  COARSEN(minute, automatic, string, "2024-05-01X10:23:45Z", kMismatch);
  COARSEN(minute, automatic, string, "2024-05-01T10:23:45.Z", kMismatch);
  COARSEN(minute, automatic, string, "2024-05-01T10:23.5Z", kMismatch);
  // Dates that do not exist, and offsets that are no offset.
  COARSEN(minute, automatic, string, "2024-02-31T10:23:45Z", kMismatch);
  COARSEN(minute, automatic, string, "2023-02-29T10:23:45Z", kMismatch);
  COARSEN(minute, automatic, string, "2024-04-31", kMismatch);
  COARSEN(minute, automatic, string, "2024-05-01T10:23:45+99:99", kMismatch);
  COARSEN(minute, automatic, string, "2024-05-01T10:23:45+0260", kMismatch);
  COARSEN(minute, automatic, string, "2024-05-01T10:23:45 UTC", kMismatch);
  COARSEN(minute, automatic, string, "2024-05-01T10:23:45+02:00junk", kMismatch);
  COARSEN(minute, automatic, string, "2024-05-01T1a:23:45Z", kMismatch);
  COARSEN(minute, automatic, string, "2024-05-01junk", kMismatch);
  COARSEN(minute, epoch_seconds, string, "2024-05-01T10:23:45Z", kMismatch);
  COARSEN(minute, epoch_millis, string, "2024-05-01T10:23:45Z", kMismatch);
}

TEST(field_action, coarsen_takes_iso8601_dates_from_2000_to_2099_only) {
  COARSEN(hour, automatic, string, "2000-01-01T00:00:00Z", "s:2000-01-01T00:00:00Z");
  COARSEN(hour, automatic, string, "2000-01-01", "s:2000-01-01");
  COARSEN(hour, automatic, string, "2099-12-31T23:59:59.999-12:00", "s:2099-12-31T23:00:00-12:00");
  COARSEN(hour, automatic, string, "1999-12-31T23:59:59Z", kImplausible);
  COARSEN(hour, automatic, string, "1970-01-01T00:00:12", kImplausible);  // a clock never set
  COARSEN(hour, iso8601, string, "2100-01-01T00:00:00Z", kImplausible);
  COARSEN(hour, iso8601, string, "2100-01-01", kImplausible);
  COARSEN(hour, iso8601, string, "0000-01-01", kImplausible);
  // What is no date stays a mismatch, whatever its year.
  COARSEN(hour, automatic, string, "1999-02-30", kMismatch);
  COARSEN(hour, automatic, string, "1970-01-01T25:00:00Z", kMismatch);
}

TEST(field_action, truncate_counts_unicode_characters) {
  TRUNCATE("Anna's room", 3, "Ann");
  TRUNCATE("WSDCGQ11LM", 4, "WSDC");
  TRUNCATE("héllo", 2, "hé");
  TRUNCATE("日本語です", 3, "日本語");
  TRUNCATE("😀😀x", 1, "😀");
  TRUNCATE("a😀", 2, "a😀");
  TRUNCATE("short", 10, "short");
  TRUNCATE("exact", 5, "exact");
  TRUNCATE("", 3, "");
  TRUNCATE("abc", 0, "");
}

TEST(field_action, generalise_location_gives_cell_centres) {
  // docs/POLICY.md's example, and two OwnTracks positions from the samples.
  CELL(5, 52.37403, 4.88969, 52.3599, 4.8620);
  CELL(5, 52.370216, 4.895168, 52.3599, 4.8620);
  CELL(5, 52.355742, 4.954213, 52.3599, 4.9356);
  // Southern and eastern hemispheres; cells are narrower in degrees of longitude nearer the
  // equator.
  CELL(5, -33.8688, 151.2093, -33.8780, 151.2296);
  CELL(1000, 0, 0, 4.3227, -4.3296);
  CELL(0.1, -0.00001, -0.00001, -0.0004, -0.0004);
}

TEST(field_action, generalise_location_at_the_poles_and_the_date_line) {
  // At the poles a cell spans every longitude: the longitude no longer tells anything.
  CELL(5, 90, 10, 89.9991, 0);
  CELL(5, 90, -170, 89.9991, 0);
  CELL(1000, 89.9, 10, 90, 0);
  CELL(5, -90, -180, -89.9775, -122.7042);
  // Range ends are inside the grid.
  CELL(5, 0, 180, -0.0117, 180);
}

TEST(field_action, generalise_location_rejects_positions_out_of_range) {
  OUT_OF_RANGE(90.0001, 0);
  OUT_OF_RANGE(-90.5, 0);
  OUT_OF_RANGE(0, 180.01);
  OUT_OF_RANGE(0, -181);
  OUT_OF_RANGE(std::numeric_limits<double>::quiet_NaN(), 0);
  OUT_OF_RANGE(0, std::numeric_limits<double>::quiet_NaN());
  OUT_OF_RANGE(std::numeric_limits<double>::infinity(), 0);
}

TEST(field_action, parse_number_reads_finite_json_numbers) {
  NUMBER("21.5", 21.5);
  NUMBER("-0", 0);
  NUMBER("1e3", 1000);
  NUMBER("-1.5E-2", -0.015);
  NUMBER("1714551825123", 1714551825123.0);
  NOT_A_NUMBER("");
  NOT_A_NUMBER("abc");
  NOT_A_NUMBER("1.5x");
  NOT_A_NUMBER(" 1");
  NOT_A_NUMBER("1 ");
  NOT_A_NUMBER("inf");
  NOT_A_NUMBER("-Infinity");
  NOT_A_NUMBER("nan");
  NOT_A_NUMBER("1e400");
  NOT_A_NUMBER("0x10");
}
