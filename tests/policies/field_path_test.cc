// Field paths: what the policy author writes, its canonical form, and every error message.
#include "policies/field_path.h"

#include <string>

#include <CppUTest/TestHarness.h>

using portier::policies::field_path_text;
using portier::policies::parse_field_path;
using portier::policies::path_step;

namespace {

// Steps as text: keys in <>, "[*]" for every element; "" for "$".
std::string describe(const std::vector<path_step>& steps) {
  std::string out;
  for (const auto& s : steps) out += s.each ? "[*]" : "<" + s.key + ">";
  return out;
}

// `text` parses into `steps`, prints as `canonical`, and the canonical text parses back to the
// same steps.
void check_path(const std::string& text, const char* steps, const char* canonical, const char* file,
                int line) {
  auto parsed = parse_field_path(text);
  CHECK_TRUE_LOCATION(parsed.ok(), "PATH", text.c_str(),
                      parsed.ok() ? "" : parsed.error_message().c_str(), file, line);
  STRCMP_EQUAL_LOCATION(steps, describe(*parsed).c_str(), text.c_str(), file, line);
  const std::string printed = field_path_text(*parsed);
  STRCMP_EQUAL_LOCATION(canonical, printed.c_str(), text.c_str(), file, line);
  auto again = parse_field_path(printed);
  CHECK_TRUE_LOCATION(again.ok(), "PATH", printed.c_str(), "canonical text does not parse", file,
                      line);
  CHECK_TRUE_LOCATION(*again == *parsed, "PATH", printed.c_str(), "round trip changed the steps",
                      file, line);
}

void check_error(const std::string& text, const char* message, const char* file, int line) {
  auto parsed = parse_field_path(text);
  CHECK_FALSE_LOCATION(parsed.ok(), "PATH_ERROR", text.c_str(),
                       ("\"" + text + "\" should not parse").c_str(), file, line);
  STRCMP_EQUAL_LOCATION(message, parsed.error_message().c_str(), text.c_str(), file, line);
}

#define PATH(text, steps, canonical) check_path(text, steps, canonical, __FILE__, __LINE__)
#define PATH_ERROR(text, message) check_error(text, message, __FILE__, __LINE__)

std::string deep_path(int steps) {
  std::string s = "a";
  for (int i = 1; i < steps; ++i) s += ".a";
  return s;
}

}  // namespace

TEST_GROUP(field_path){};

TEST(field_path, parses_and_prints_canonically) {
  PATH("$", "", "$");
  PATH("temperature", "<temperature>", "temperature");
  PATH("ENERGY.Power", "<ENERGY><Power>", "ENERGY.Power");
  PATH("update.state", "<update><state>", "update.state");
  PATH("aenergy.by_minute[*]", "<aenergy><by_minute>[*]", "aenergy.by_minute[*]");
  PATH("items[*].x", "<items>[*]<x>", "items[*].x");
  PATH("matrix[*][*]", "<matrix>[*][*]", "matrix[*][*]");
  PATH("[*].x", "[*]<x>", "[*].x");
  PATH("[*]", "[*]", "[*]");
  PATH("switch:0.apower", "<switch:0><apower>", "switch:0.apower");
  PATH("a b", "<a b>", "a b");
  PATH("température", "<température>", "température");
  PATH("_type", "<_type>", "_type");
  PATH("a$", "<a$>", "a$");
}

TEST(field_path, quoted_keys_hold_dots_brackets_quotes_and_backslashes) {
  PATH("ENERGY.\"Total.In\"", "<ENERGY><Total.In>", "ENERGY.\"Total.In\"");
  PATH("\"x[0]\"", "<x[0]>", "\"x[0]\"");
  PATH("\"a\\\"b\"", "<a\"b>", "\"a\\\"b\"");
  PATH("\"back\\\\slash\"", "<back\\slash>", "\"back\\\\slash\"");
  PATH("\"a]\"", "<a]>", "\"a]\"");
  // Quotes that are not needed are dropped from the canonical form.
  PATH("\"plain\"", "<plain>", "plain");
  PATH("\"a\".\"b\"", "<a><b>", "a.b");
}

TEST(field_path, limits) {
  PATH(std::string(128, 'k'), ("<" + std::string(128, 'k') + ">").c_str(),
       std::string(128, 'k').c_str());
  auto sixteen = parse_field_path(deep_path(16));
  CHECK_TRUE(sixteen.ok());
  LONGS_EQUAL(16, sixteen->size());
}

TEST(field_path, every_error_message) {
  PATH_ERROR("", "path is empty (use \"$\" for a bare value)");
  PATH_ERROR("a[0]", "only \"[*]\" may follow a key, at offset 1");
  PATH_ERROR("a[*", "only \"[*]\" may follow a key, at offset 1");
  PATH_ERROR("a.b[]", "only \"[*]\" may follow a key, at offset 3");
  PATH_ERROR("a.[*]", "\"[*]\" must follow a key, not '.'");
  PATH_ERROR("a]", "expected '.' or \"[*]\" at offset 1");
  PATH_ERROR("a[*]b", "expected '.' or \"[*]\" at offset 4");
  PATH_ERROR("a\"b\"", "expected '.' or \"[*]\" at offset 1");
  PATH_ERROR("a\\b", "expected '.' or \"[*]\" at offset 1");
  PATH_ERROR("\"a\"b", "expected '.' or \"[*]\" at offset 3");
  PATH_ERROR("a.", "path ends with '.'");
  PATH_ERROR("a[*].", "path ends with '.'");
  PATH_ERROR(".a", "empty key at offset 0");
  PATH_ERROR("a..b", "empty key at offset 2");
  PATH_ERROR("\"\"", "empty key at offset 2");
  PATH_ERROR("a.\"\"", "empty key at offset 4");
  PATH_ERROR("\"abc", "unterminated quoted key");
  PATH_ERROR("a.\"b\\\"", "unterminated quoted key");
  PATH_ERROR("$.a", "\"$\" stands alone: it is the whole bare value");
  PATH_ERROR("a.$", "\"$\" stands alone: it is the whole bare value");
  PATH_ERROR("items[*].$", "\"$\" stands alone: it is the whole bare value");
  PATH_ERROR("\"$\"", "\"$\" stands alone: it is the whole bare value");
  PATH_ERROR(std::string(129, 'k'), "key longer than 128 bytes");
  PATH_ERROR("a." + std::string(129, 'k'), "key longer than 128 bytes");
  PATH_ERROR(deep_path(17), "path deeper than 16 steps");
  std::string elements = "a";
  for (int i = 0; i < 16; ++i) elements += "[*]";
  PATH_ERROR(elements, "path deeper than 16 steps");
}
